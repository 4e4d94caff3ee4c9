"""`papers validate --changed-only` after one more day on a partitioned seed build: it runs GX
only on the day's new and rewritten files, and still catches what spans files (real GX).

Seed build (every table at 20 rows a file), validated in full; then the day of
tests/pipeline/test_incremental_publish.py (three new 2407 papers, one re-listing) is built on
top, and each test validates a copy of that second version with a copy of the first run's
reports, after tampering with it.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from papers import io
from papers.dataset import manifest_tables
from papers.quality import QualityResult, validate_published
from tests.conftest import SEED, build_local
from tests.pipeline.test_incremental_publish import (
    LISTING,
    TARGET_ROWS,
    next_day,
    partitioned_params,
)


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("validate-day")
    params = partitioned_params(root)
    raw, out, cache = root / "raw", root / "out", root / "cache"
    (raw / "hf").mkdir(parents=True)
    shutil.copy(SEED, raw / "seed.txt")
    shutil.copy(LISTING, raw / "hf" / LISTING.name)
    build_local(raw, out, params, cache_dir=str(cache), target_rows=TARGET_ROWS)
    first = io.read_json(out / io.MANIFEST)
    full = validate_published(out, root / "reports", cache_dir=root / "hashes")
    assert full.success, full.failures
    (raw / "hf" / "2024-07-02.json").write_text(json.dumps(next_day(), indent=1), "utf-8")
    build_local(raw, out, params, cache_dir=str(cache), target_rows=TARGET_ROWS)
    second = io.read_json(out / io.MANIFEST)
    before = {e["sha256"] for entries in manifest_tables(first).values() for e in entries}
    files = {e["path"]: e for entries in manifest_tables(second).values() for e in entries}
    changed = {path for path, e in files.items() if e["sha256"] not in before}
    return {"root": root, "out": out, "files": files, "changed": changed, "full": full}


def after_the_day(
    day: dict[str, Any],
    tmp_path: Path,
    tamper: Callable[[Path], None] | None = None,
    *,
    rehash: bool = False,
) -> QualityResult:
    """Validate a copy of the second version, changed-only, against the first run's record."""
    out, reports = tmp_path / "out", tmp_path / "reports"
    shutil.copytree(day["out"], out)
    shutil.copytree(day["root"] / "reports", reports)
    if tamper is not None:
        tamper(out)
    hashes = None if rehash else tmp_path / "hashes"
    return validate_published(out, reports, changed_only=True, cache_dir=hashes)


def rewrite(out: Path, path: str, frame: pl.DataFrame) -> None:
    """Replace a listed file's rows, and make its manifest entry match (a consistent but wrong
    version, as a buggy writer would commit it)."""
    frame.write_parquet(out / path)
    manifest = io.read_json(out / io.MANIFEST)
    for table in manifest["tables"].values():
        for entry in table["files"]:
            if entry["path"] == path:
                entry["sha256"] = io.sha256_file(out / path)
                entry["bytes"] = (out / path).stat().st_size
    (out / io.MANIFEST).write_text(json.dumps(manifest), "utf-8")


def of_table(paths: set[str], table: str) -> list[str]:
    return sorted(p for p in paths if p.startswith(f"{table}/"))


def test_the_day_runs_gx_on_the_new_and_rewritten_files_only(
    day: dict[str, Any], tmp_path: Path
) -> None:
    changed: set[str] = day["changed"]
    kept = set(day["files"]) - changed
    assert of_table(changed, "papers")
    assert of_table(kept, "papers")

    result = after_the_day(day, tmp_path)

    assert result.success, result.failures
    report = json.loads(result.result_json.read_text("utf-8"))
    validated = {path for path, f in report["files"].items() if f["validated"]}
    assert validated == changed
    assert set(result.validated) == changed
    assert set(result.skipped) == kept
    # every file's checks are counted, whether run or recorded
    assert result.checks_run >= day["full"].checks_run
    assert result.data_docs_index is not None
    assert result.data_docs_index.is_file()


def test_a_kept_file_whose_bytes_changed_is_named_with_rehash(
    day: dict[str, Any], tmp_path: Path
) -> None:
    kept = of_table(set(day["files"]) - day["changed"], "papers")[0]

    def corrupt(out: Path) -> None:
        # Same size, one byte flipped in a data page, mtime put back: only a rehash sees it.
        path = out / kept
        stat = path.stat()
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))

    result = after_the_day(day, tmp_path, corrupt, rehash=True)

    assert not result.success
    assert any(line.startswith(f"{kept}: sha256 ") for line in result.failures), result.failures
    assert kept not in result.skipped


def test_a_new_file_repeating_a_kept_papers_id_is_named(
    day: dict[str, Any], tmp_path: Path
) -> None:
    new = of_table(day["changed"], "papers")
    kept = of_table(set(day["files"]) - day["changed"], "papers")[0]
    target = new[0]

    def duplicate(out: Path) -> None:
        taken = pl.read_parquet(out / kept, columns=["paper_id"])["paper_id"][0]
        frame = pl.read_parquet(out / target)
        ids = frame["paper_id"].to_list()
        ids[0] = taken
        rewrite(out, target, frame.with_columns(paper_id=pl.Series(ids, dtype=pl.String)))

    result = after_the_day(day, tmp_path, duplicate)

    assert not result.success
    assert kept in result.skipped  # the kept file is not re-run through GX ...
    # ... and still the repeated id is found, in the file that repeats it
    lines = [line for line in result.failures if line.startswith(f"{target}: ")]
    assert any("belongs to another node" in line or "holds leaf" in line for line in lines), (
        result.failures
    )


def test_a_tags_row_of_a_missing_paper_is_named(day: dict[str, Any], tmp_path: Path) -> None:
    tags = of_table(day["changed"], "tags")[0]

    def orphan(out: Path) -> None:
        frame = pl.read_parquet(out / tags)
        first = str(frame["paper_id"][0])
        missing = f"{first[:-2]}99" if first[-2:] != "99" else f"{first[:-2]}98"
        ids = frame["paper_id"].to_list()
        ids[0] = missing
        rewrite(out, tags, frame.with_columns(paper_id=pl.Series(ids, dtype=pl.String)))

    result = after_the_day(day, tmp_path, orphan)

    assert not result.success
    assert any(
        line.startswith(f"{tags}: ") and "paper_id not found in papers/*.parquet" in line
        for line in result.failures
    ), result.failures


def test_a_kept_tags_file_of_a_paper_removed_by_the_day_is_named(
    day: dict[str, Any], tmp_path: Path
) -> None:
    """A kept tags file is not re-run through GX, but its orphan check depends on the papers
    files that hold its leaves: when one of those changes, its ids are checked again."""
    kept_tags = of_table(set(day["files"]) - day["changed"], "tags")
    if not kept_tags:
        pytest.skip("the day rewrote every tags file")
    tags = kept_tags[0]

    def remove_paper(out: Path) -> None:
        gone = str(pl.read_parquet(out / tags, columns=["paper_id"])["paper_id"][0])
        for path in sorted(p for p in day["files"] if p.startswith("papers/")):
            frame = pl.read_parquet(out / path)
            if gone in frame["paper_id"].to_list():
                rewrite(out, path, frame.filter(pl.col("paper_id") != gone))
                manifest = io.read_json(out / io.MANIFEST)
                for table in manifest["tables"].values():
                    for entry in table["files"]:
                        if entry["path"] == path:
                            entry["rows"] -= 1
                manifest["counts"]["papers"] -= 1
                manifest["tables"]["papers"]["rows"] -= 1
                (out / io.MANIFEST).write_text(json.dumps(manifest), "utf-8")
                return
        raise AssertionError(gone)

    result = after_the_day(day, tmp_path, remove_paper)

    assert not result.success
    assert tags in result.skipped
    assert any(
        line.startswith(f"{tags}: ") and "paper_id not found in papers/*.parquet" in line
        for line in result.failures
    ), result.failures
