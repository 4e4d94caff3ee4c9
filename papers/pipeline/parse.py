"""The parse step: one raw file read into record and reject shards, cached by content.

Steps are path-in, path-out wrappers around the pure stages: what each Prefect task runs. They
read their inputs from Parquet files in the run's work folder or the cache, call stage
functions, and write their outputs back as files, returning only paths and small counts.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import polars as pl

from papers import io
from papers.config import Params
from papers.pipeline.version import code_sha256
from papers.readers import iter_file

# A parse shard's raw-text file (raw-NNNNN.parquet): the records' keys and raw text, by position
RAW_COLUMNS = ("source_file", "record_index", "raw")


def parse_cache_key(file_sha256: str, relative: str, params: Params) -> str:
    """What a parsed shard depends on: the file's bytes and name, the read params, the code."""
    blob = json.dumps(
        {
            "file": file_sha256,
            "name": relative,  # listing dates and lineage come from the name
            "read": params.read.model_dump(mode="json"),
            "parse": params.parse.model_dump(mode="json"),
            "code": code_sha256(),
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def parse_step(
    raw_dir: str,
    relative: str,
    params: Params,
    work: str,
    cache_dir: str | None = None,
    sha256: str | None = None,
) -> dict[str, Any]:
    """Read one raw file into record, raw-text and reject shards (three files per batch): paths
    and counts.

    With a cache_dir, shards are kept there under a key of the file's content, name, the read
    and parse params and the code, so a rerun parses only new or changed files.
    """
    path = Path(raw_dir) / relative
    if not cache_dir:
        # Nothing needs the file's hash before the end: it is taken on a thread while the file
        # is parsed (hashlib releases the GIL; 2.3 s of the 1.9 GB 1M snapshot, which the parse
        # stage's idle share of the two cores absorbs, instead of a pass before it).
        with ThreadPoolExecutor(max_workers=1) as hasher:
            hashing = hasher.submit(io.sha256_file, path) if sha256 is None else None
            name = hashlib.sha256(relative.encode()).hexdigest()[:16]
            target = Path(work) / f"parsed-{name}"
            target.mkdir(parents=True, exist_ok=True)
            meta = _parse_into(target, path, relative, params)
            sha = hashing.result() if hashing is not None else str(sha256)
        key = parse_cache_key(sha, relative, params)
        return {**meta, "sha256": sha, **_shards(target), "cached": False, "key": key}
    sha = sha256 or io.sha256_file(path)
    key = parse_cache_key(sha, relative, params)
    entry = Path(cache_dir) / key[:2] / key
    hit = _cache_hit(entry)
    if hit is not None:
        return {**hit, "key": key}
    target = io.cache_tmp_dir(entry)
    meta = {**_parse_into(target, path, relative, params), "sha256": sha}
    io.write_json(meta, target / "meta.json")
    target = io.commit_cache_entry(target, entry)
    return {**meta, **_shards(target), "cached": False, "key": key}


def _parse_into(target: Path, path: Path, relative: str, params: Params) -> dict[str, Any]:
    """Parse one raw file into record and reject shards in target; its meta (no hash)."""
    reader, batches = iter_file(path, relative, params)
    raw_records = 0
    shards = 0

    def write(number: int, records: pl.DataFrame, rejects: pl.DataFrame) -> None:
        # each record's raw text apart from its parsed fields: the normalize step reads the
        # fields (and only then the raw text of its rejects), the publish reads the raw text of
        # the records rejected at validation; a build without a cache deletes the fields once
        # normalized (normalize_shard_step), keeping the raw text
        io.write_frame(records.drop(RAW_COLUMNS[-1]), target / f"records-{number:05d}.parquet")
        io.write_frame(records.select(RAW_COLUMNS), target / f"raw-{number:05d}.parquet")
        io.write_frame(rejects, target / f"rejects-{number:05d}.parquet")

    # A batch is written while the next one is read (a snapshot is one file: its batches were
    # the one task of the parse stage, and reading and writing each used about one core).
    # Memory: two batches.
    with ThreadPoolExecutor(max_workers=1) as writer:
        writing: Future[None] | None = None
        for number, (records, rejects) in enumerate(batches):
            if writing is not None:
                writing.result()
            writing = writer.submit(write, number, records, rejects)
            raw_records += records.height + rejects.height
            shards += 1
            del records, rejects
        if writing is not None:
            writing.result()
    return {"file": relative, "reader": reader, "raw_records": raw_records, "shards": shards}


def _cache_hit(entry: Path) -> dict[str, Any] | None:
    """A cache entry's result, or None when it is absent or incomplete (then it is rebuilt).

    An entry is trusted only when every shard its meta.json names is there: a copied or
    damaged cache must cost a re-parse, never a silently emptier dataset.
    """
    if not (entry / "meta.json").exists():
        return None
    meta: dict[str, Any] = io.read_json(entry / "meta.json")
    shards = _shards(entry)
    expected = meta.get("shards")
    if not isinstance(expected, int) or any(len(paths) != expected for paths in shards.values()):
        shutil.rmtree(entry, ignore_errors=True)
        return None
    return {**meta, **shards, "cached": True}


def _shards(folder: Path) -> dict[str, list[str]]:
    return {
        "records": [str(p) for p in sorted(folder.glob("records-*.parquet"))],
        "raw": [str(p) for p in sorted(folder.glob("raw-*.parquet"))],
        "rejects": [str(p) for p in sorted(folder.glob("rejects-*.parquet"))],
    }
