"""Cached step results: one folder per content key, trusted only once its meta.json is written.

Under cache_dir an entry is built in a temporary folder and committed by a rename (io); without a
cache it is built in place in the run's work folder.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from papers import io


def cache_key(*parts: Any) -> str:
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def cache_entry(cache_dir: str | None, work: str, kind: str, key: str) -> tuple[Path, bool]:
    """(folder for a cached result, whether it is complete): under cache_dir, else in work."""
    entry = Path(cache_dir) / kind / key[:2] / key if cache_dir else Path(work) / kind / key
    return entry, (entry / "meta.json").exists()


def build_entry(entry: Path, cache_dir: str | None) -> Path:
    """Where to build an entry: a temporary folder committed by commit_entry (cache), else in
    place."""
    if cache_dir:
        return io.cache_tmp_dir(entry)
    entry.mkdir(parents=True, exist_ok=True)
    return entry


def commit_entry(target: Path, entry: Path, meta: dict[str, Any]) -> dict[str, Any]:
    io.write_json(meta, target / "meta.json")  # last: an entry without it is never trusted
    if target != entry:
        io.commit_cache_entry(target, entry)
    return meta


def read_meta(entry: Path) -> dict[str, Any]:
    meta: dict[str, Any] = io.read_json(entry / "meta.json")
    return meta


def drop_scratch(paths: Iterable[str], work: str) -> None:
    """Delete those of paths in this build's work folder, once their last reader is done.

    A build without a cache writes every intermediate there and keeps none for a later build:
    each step deletes its inputs there as it commits its output, so the folder's peak holds no
    intermediate twice (docs/performance.md, How it scales). A cache's entries are elsewhere
    and kept."""
    for path in paths:
        if Path(path).is_relative_to(work):
            Path(path).unlink(missing_ok=True)
