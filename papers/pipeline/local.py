"""The build-dataset flow's steps in this process, in order, without Prefect (benchmarks, tests)."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from papers import io
from papers.config import KeyphraseIdf, Params
from papers.pipeline.identity import identity_step
from papers.pipeline.normalize import normalize_shard_step, record_shards
from papers.pipeline.parallel import parallel_map
from papers.pipeline.parse import parse_step
from papers.pipeline.partition import partition_step
from papers.pipeline.publish import publish_step, unchanged
from papers.pipeline.shuffle import partition_inputs, shuffle_step
from papers.pipeline.similarity import similarity_step
from papers.pipeline.version import dataset_version


def run_local(
    raw_dir: str,
    out_dir: str,
    params: Params,
    vocabulary: dict[str, Any],
    cache_dir: str | None = None,
    gates: bool = False,
    target_rows: int | None = None,
    on_stage: Callable[[str], None] | None = None,
    idf: KeyphraseIdf | None = None,
) -> dict[str, Any]:
    """The build-dataset flow's steps in this process, in order, without Prefect (benchmarks,
    tests). on_stage(name) is called as each stage ends. Same outputs as the flow.

    params, vocabulary and the keyphrase IDF come loaded (papers.config: load_params,
    load_vocabulary, load_keyphrase_idf; None ranks keyphrases against this build)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    done = on_stage or (lambda _: None)
    files = [f.relative_to(raw_dir).as_posix() for f in io.list_inputs(Path(raw_dir))]
    hashes: dict[str, str] = {}  # without a cache each file is hashed as it is parsed
    if cache_dir:
        hashes = io.sha256_files({f: Path(raw_dir) / f for f in files}, cache_dir)
        version = dataset_version(
            list(hashes.values()), params, vocabulary, idf.sha256 if idf is not None else None
        )
        if (same := unchanged(out, version, cache_dir)) is not None:
            done("unchanged")
            return {**same, "partitions": []}
    run_id = hashlib.sha256(f"{os.getpid()}-{out}".encode()).hexdigest()[:12]
    work = out / f".work-{run_id}"
    work.mkdir(exist_ok=True)
    w, c = str(work), cache_dir
    try:
        parsed = parallel_map(parse_step, [(raw_dir, f, params, w, c, hashes.get(f))
                                           for f in files])  # fmt: skip
        done("parse")
        normalized = parallel_map(
            normalize_shard_step, [(s, params, w, c) for s in record_shards(parsed)]
        )
        done("normalize")
        plan = identity_step(normalized, params, w, c, target_rows)
        done("identity")
        shuffled = parallel_map(
            shuffle_step, [(n, plan["identity"], plan["boundaries"], w, c) for n in normalized]
        )
        done("shuffle")
        pieces = partition_inputs(shuffled, plan["boundaries"])
        partitions = parallel_map(
            partition_step, [(piece, params, vocabulary, w, c, idf) for piece in pieces if piece]
        )
        done("enrich")
        similar = similarity_step(partitions, params, w, c)
        done("similarity")
        summary = publish_step(
            parsed,
            normalized,
            shuffled,
            partitions,
            params,
            vocabulary,
            out_dir,
            run_id,
            gates,
            idf,
            similar,
        )
        done("write")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {**summary, "partitions": partitions}
