"""The build-dataset flow: parse, normalize, identity, shuffle, enrich, write, as Prefect tasks.

Per file or shard: parse, normalize, shuffle; per paper-id range: enrich (merge, links, tags,
validation); global: identity (narrow), similarity (near-duplicates and related papers,
incremental with a cache) and write (streamed). See papers/pipeline/.
Tasks exchange file paths and small counts, never DataFrames. The params file is read here,
once: the tasks get the loaded params and vocabulary (as opaque inputs: Prefect does not walk
them). The flow runs against the Prefect API in PREFECT_API_URL when set, and otherwise on a
temporary local server Prefect starts itself.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Any, TypeVar

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NONE
from prefect.context import FlowRunContext
from prefect.futures import as_completed
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.utilities.annotations import opaque

from flows.inputs import read_inputs
from papers import io
from papers.config import KeyphraseIdf, Params, load_build_config
from papers.pipeline import warm
from papers.pipeline.identity import identity_step
from papers.pipeline.normalize import normalize_shard_step, record_shards
from papers.pipeline.parallel import IN_FLIGHT, return_freed_memory
from papers.pipeline.parse import parse_step
from papers.pipeline.partition import partition_step
from papers.pipeline.publish import publish_step, unchanged
from papers.pipeline.shuffle import partition_inputs, shuffle_step
from papers.pipeline.similarity import similarity_step
from papers.pipeline.version import dataset_version

# Files per parse task: one task per file would spend more time in orchestration than in parsing
# when a folder holds hundreds of small daily files. Likewise shards per normalize/shuffle task.
FILES_PER_PARSE_TASK = 64
SHARDS_PER_TASK = 64
# Tasks of a stage running at once in this process (see _in_flight and pipeline.parallel).
LOCAL_IN_FLIGHT = IN_FLIGHT


@task(name="parse", cache_policy=NONE)
def parse(
    raw_dir: str,
    relatives: list[str],
    params: Params,
    work: str,
    cache_dir: str | None,
    hashes: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    return [
        parse_step(raw_dir, r, params, work, cache_dir, (hashes or {}).get(r)) for r in relatives
    ]


@task(name="normalize", cache_policy=NONE)
def normalize(
    shards: list[dict[str, Any]], params: Params, work: str, cache_dir: str | None
) -> list[dict[str, Any]]:
    return [normalize_shard_step(s, params, work, cache_dir) for s in shards]


@task(name="dedup-identity", cache_policy=NONE)
def identity(
    normalized: list[dict[str, Any]], params: Params, work: str, cache_dir: str | None
) -> dict[str, Any]:
    return identity_step(normalized, params, work, cache_dir)


@task(name="merge-shuffle", cache_policy=NONE)
def shuffle(
    normalized: list[dict[str, Any]],
    identity_path: str,
    boundaries: list[str],
    work: str,
    cache_dir: str | None,
) -> list[dict[str, Any]]:
    return [shuffle_step(n, identity_path, boundaries, work, cache_dir) for n in normalized]


@task(name="enrich", cache_policy=NONE)
def enrich(
    pieces: list[tuple[str, str]],
    params: Params,
    vocabulary: dict[str, Any],
    work: str,
    cache_dir: str | None,
    idf: KeyphraseIdf | None = None,
) -> dict[str, Any]:
    return partition_step(pieces, params, vocabulary, work, cache_dir, idf)


@task(name="similarity", cache_policy=NONE)
def similarity(
    partitions: list[dict[str, Any]], params: Params, work: str, cache_dir: str | None
) -> dict[str, Any]:
    return similarity_step(partitions, params, work, cache_dir)


@task(name="write", cache_policy=NONE)
def write(
    parsed: list[dict[str, Any]],
    normalized: list[dict[str, Any]],
    shuffled: list[dict[str, Any]],
    partitions: list[dict[str, Any]],
    params: Params,
    vocabulary: dict[str, Any],
    out_dir: str,
    run_id: str,
    gates: bool = True,
    idf: KeyphraseIdf | None = None,
    similar: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return publish_step(
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


@flow(name="build-dataset", validate_parameters=True)
def build_dataset(
    raw_dir: str = "data/raw",
    out_dir: str = "data/processed",
    params_path: str = "params.yaml",
    cache_dir: str | None = None,
    wait_s: float = 0.0,
    gates: bool = True,
) -> dict[str, Any]:
    """Build the curated dataset from every file under raw_dir into out_dir (atomically).

    With gates (params.yaml: gates), a build that falls too far behind the dataset already in
    out_dir fails with the reasons and publishes nothing.

    One run at a time per out_dir: a second run waits up to wait_s seconds for the lock, then
    fails with a clear error. A publish interrupted by a crash is completed first.
    """
    files, params, vocabulary, idf = read_inputs(Path(raw_dir), Path(params_path))
    out = Path(out_dir)
    with io.output_lock(out, wait_s):
        return _build(raw_dir, files, out, params, vocabulary, cache_dir, gates, idf)


def _build(
    raw_dir: str,
    files: list[str],
    out: Path,
    params: Params,
    vocabulary: dict[str, Any],
    cache_dir: str | None,
    gates: bool = True,
    idf: KeyphraseIdf | None = None,
) -> dict[str, Any]:
    logger = get_run_logger()
    out_dir = str(out)
    for line in io.recover(out):
        logger.warning("%s", line)
    hashes: dict[str, str] = {}  # without a cache each file is hashed as it is parsed
    if cache_dir:
        # With a cache a run is incremental: the same inputs, params, vocabulary and code as the
        # published (intact) dataset mean there is nothing to do.
        hashes = io.sha256_files({f: Path(raw_dir) / f for f in files}, cache_dir)
        idf_sha256 = idf.sha256 if idf is not None else None
        version = dataset_version(list(hashes.values()), params, vocabulary, idf_sha256)
        done = unchanged(out, version, cache_dir)
        if done is not None:
            logger.info("dataset version %s is already published in %s: nothing to do",
                        version, out_dir)  # fmt: skip
            return done
    run_id = uuid.uuid4().hex[:12]
    work = out / f".work-{run_id}"
    work.mkdir()
    in_flight = _in_flight()
    # opaque: passed to submitted tasks as they are, not walked for futures twice per task
    # (visiting the vocabulary's nested items took ~35 ms per task). Not on Dask: distributed
    # rebuilds the tuples in task arguments as plain tuples, and the annotation (a namedtuple)
    # would reach the task as one.
    params_in: Any = opaque(params) if in_flight is not None else params
    vocabulary_in: Any = opaque(vocabulary) if in_flight is not None else vocabulary
    idf_in: Any = opaque(idf) if in_flight is not None else idf
    # The tasks called directly run in this thread whatever the runner: opaque inputs there too
    # (Prefect walked the vocabulary twice per call, ~40 ms each; the params ~2 ms)
    params_here: Any = opaque(params)
    vocabulary_here: Any = opaque(vocabulary)
    idf_here: Any = opaque(idf)
    try:
        batches = _chunks(files, FILES_PER_PARSE_TASK, in_flight)
        parsed = _flatten(_bounded(
            parse, [(raw_dir, b, params_in, str(work), cache_dir, hashes) for b in batches],
            in_flight,
        ))  # fmt: skip
        io.fault_point("parse")
        logger.info(
            "parsed %d files (%d from the parse cache), %d raw records",
            len(parsed), sum(bool(p["cached"]) for p in parsed),
            sum(p["raw_records"] for p in parsed),
        )  # fmt: skip
        groups = _groups(record_shards(parsed), params.parse.batch_rows, parsed)
        normalized = _flatten(_bounded(
            normalize, [(g, params_in, str(work), cache_dir) for g in groups], in_flight
        ))  # fmt: skip
        plan = identity(normalized, params_here, str(work), cache_dir)
        shuffled = _flatten(_bounded(
            shuffle,
            [(chunk, plan["identity"], plan["boundaries"], str(work), cache_dir)
             for chunk in _chunks(normalized, SHARDS_PER_TASK, in_flight)],
            in_flight,
        ))  # fmt: skip
        pieces = partition_inputs(shuffled, plan["boundaries"])
        partitions = _bounded(
            enrich,
            [
                (piece, params_in, vocabulary_in, str(work), cache_dir, idf_in)
                for piece in pieces
                if piece
            ],
            in_flight,
        )
        logger.info(
            "%d partitions of about %d records (%d recomputed, %d papers enriched)",
            len(partitions), params.parse.partition_rows,
            sum(1 for p in partitions if not p.get("cached")),
            sum(int(p.get("enriched", 0)) for p in partitions if not p.get("cached")),
        )  # fmt: skip
        io.fault_point("enrich")
        similar = similarity(partitions, params_here, str(work), cache_dir)
        logger.info(
            "similarity over %d papers (%s changed since the cached state; %d texts embedded)",
            similar["papers"], "all" if similar["changed"] is None else similar["changed"],
            similar["embedded"],
        )  # fmt: skip
        summary = write(parsed, normalized, shuffled, partitions, params_here,
                        vocabulary_here, out_dir, run_id, gates, idf_here, similar)  # fmt: skip
        logger.info("published dataset version %s: %s", summary["dataset_version"],
                    summary["counts"])  # fmt: skip
        return summary
    finally:
        shutil.rmtree(work, ignore_errors=True)


def warm_up(params_path: Path, raw_dir: Path | None = None) -> None:
    """Load ahead what this flow's run loads on first use: Prefect's encoder of the flow's
    parameters (fastapi's, ~0.1 s) and the build's own (papers.pipeline.warm: the compiled
    passes' kernels too when raw_dir's files are large). `papers run` calls it while Prefect's
    temporary server boots (papers.cli.lifeline.serving)."""
    from fastapi.encoders import jsonable_encoder  # noqa: F401 (Flow.serialize_parameters)

    config = load_build_config(params_path)
    size = sum(p.stat().st_size for p in io.list_inputs(raw_dir)) if raw_dir is not None else 0
    warm.warm_up(config.params, config.vocabulary, size)


T = TypeVar("T")


def _flatten(lists: list[list[T]]) -> list[T]:
    return [item for items in lists for item in items]


def _chunks(items: list[T], most: int, in_flight: int | None) -> list[list[T]]:
    """items in consecutive chunks of at most `most`, and at least as many chunks as tasks run
    at once (when there are that many items): the items of one task run one after another, so
    a few input files in one parse task are parsed one at a time. (For the 1M build's ten
    shuffle shards, two tasks measured the same 8.7 s as one: polars keeps both cores busy
    within a shard there.)"""
    size = max(1, min(most, -(-len(items) // (in_flight or 1))))
    return [items[i : i + size] for i in range(0, len(items), size)]


def _in_flight() -> int | None:
    """Tasks of one stage run at once: all of them on a cluster (each worker has its own
    memory); LOCAL_IN_FLIGHT in this process, whose memory they share (polars already uses
    every core within a task)."""
    runner = getattr(FlowRunContext.get(), "task_runner", None)
    return LOCAL_IN_FLIGHT if isinstance(runner, ThreadPoolTaskRunner) else None


def _bounded(work: Any, calls: list[tuple[Any, ...]], in_flight: int | None) -> list[Any]:
    """Submit `work` once per argument tuple, at most in_flight at a time; results in call order.

    The next task goes in as soon as any running one ends, not the oldest: with uneven tasks
    (a big snapshot batch beside small daily files, a dense partition) waiting for the oldest
    left a core idle. A failed task raises as soon as it ends, and nothing more is submitted.
    Run here (in threads), the stage ends as pipeline.parallel's do: the heap its threads freed
    is handed back (return_freed_memory)."""
    if in_flight is None:
        return [f.result() for f in [work.submit(*args) for args in calls]]
    futures: list[Any] = []
    running: set[Any] = set()
    try:
        for args in calls:
            if len(running) >= in_flight:
                ended = next(as_completed(list(running)))
                ended.result()  # raises if it failed
                running.discard(ended)
            futures.append(work.submit(*args))
            running.add(futures[-1])
        return [f.result() for f in futures]
    finally:
        return_freed_memory()


def _groups(
    shards: list[dict[str, Any]], rows: int, parsed: list[dict[str, Any]]
) -> list[list[dict[str, Any]]]:
    """Shards per normalize task: up to SHARDS_PER_TASK shards of about `rows` records in all
    (many small daily files are one task; each big snapshot batch is one task)."""
    per_file = {p["file"]: max(int(p["raw_records"]), 1) / max(len(p["records"]), 1)
                for p in parsed}  # fmt: skip
    groups: list[list[dict[str, Any]]] = []
    held = 0.0
    for shard in shards:
        size = per_file[shard["source_file"]]
        if not groups or len(groups[-1]) >= SHARDS_PER_TASK or held + size > rows:
            groups.append([])
            held = 0.0
        groups[-1].append(shard)
        held += size
    return groups
