"""All file I/O in one place: deterministic Parquet and JSON, hashing, atomic publish."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandera.polars as pa
import polars as pl
import pyarrow.parquet as pq

from papers.config import WriteParams
from schemas import arrow_schema, polars_schema

_CHUNK = 1 << 20
MANIFEST = "manifest.json"
METRICS = "metrics.json"


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes, read in chunks (inputs can be large)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def list_inputs(raw_dir: Path) -> list[Path]:
    """Every regular input file under raw_dir, sorted by relative path; dotfiles are skipped."""
    files = [
        p
        for p in raw_dir.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(raw_dir).parts)
    ]
    return sorted(files, key=lambda p: p.relative_to(raw_dir).as_posix())


def write_parquet(
    frame: pl.DataFrame,
    model: type[pa.DataFrameModel],
    path: Path,
    params: WriteParams,
    metadata: Mapping[str, str],
    sort_by: Iterable[str],
) -> None:
    """Write a published table with deterministic bytes.

    Rows sorted by `sort_by`, columns and types from the table's model (one schema source),
    fixed compression and row-group size, `metadata` in the Parquet key-value metadata.
    """
    ordered = frame.select(polars_schema(model).names()).sort(list(sort_by), nulls_last=True)
    schema = arrow_schema(model).with_metadata(dict(sorted(metadata.items())))
    table = ordered.to_arrow().cast(schema)
    pq.write_table(
        table,
        path,
        compression=params.compression,
        compression_level=params.compression_level,
        row_group_size=params.row_group_size,
        use_dictionary=True,
        write_statistics=True,
    )


def write_json(obj: Any, path: Path) -> None:
    """Deterministic JSON: sorted keys, two-space indent, trailing newline."""
    path.write_text(json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False) + "\n", "utf-8")


def read_json(path: Path) -> Any:
    return json.loads(path.read_text("utf-8"))


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def cache_tmp_dir(entry: Path) -> Path:
    """A fresh folder beside a cache entry, to build it in before committing it."""
    entry.parent.mkdir(parents=True, exist_ok=True)
    tmp = entry.parent / f".tmp-{entry.name}-{os.getpid()}-{threading.get_ident()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    return tmp


def commit_cache_entry(tmp: Path, entry: Path) -> Path:
    """Rename a fully written entry into place; return where it now is.

    Built under a temporary name and renamed only when complete, a crash or a concurrent run
    never leaves a half-written entry that a later run would trust.
    """
    try:
        os.rename(tmp, entry)
    except OSError:
        # another run committed the same entry first; both are identical by construction
        shutil.rmtree(tmp, ignore_errors=True)
    return entry


def staging_dir(out_dir: Path, run_id: str) -> Path:
    """A fresh folder inside out_dir (same file system, so renames out of it are atomic)."""
    path = out_dir / f".staging-{run_id}"
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def clean_stale(out_dir: Path) -> list[Path]:
    """Remove staging and work folders left by runs that crashed; return what was removed."""
    removed = []
    if out_dir.exists():
        for path in sorted(out_dir.glob(".staging-*")) + sorted(out_dir.glob(".work-*")):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def publish(staging: Path, out_dir: Path, names: list[str]) -> None:
    """Move the staged files into out_dir, the manifest last.

    Every file is complete and fsynced before the first rename; each rename is atomic, and the
    manifest (which names every output's sha256) replaces the old one only after all the data
    files, so a reader that checks the manifest never accepts a mixed set.
    """
    for name in names:
        _fsync(staging / name)
    data_first = [n for n in names if n != MANIFEST] + [n for n in names if n == MANIFEST]
    for name in data_first:
        os.replace(staging / name, out_dir / name)
    dir_fd = os.open(out_dir, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    shutil.rmtree(staging, ignore_errors=True)
