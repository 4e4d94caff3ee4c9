"""A daily version costs what changed: with `write.layout: partitioned`, a build over yesterday's
inputs plus one day's raw file rewrites only the node files whose rows changed. The others keep
their name, bytes and inode (not even rewritten), and the result equals a from-scratch build of
the same inputs file for file (docs/design/partitioned-versions.md §2, §4)."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from papers import io
from papers.changes import apply_changes
from papers.dataset import manifest_tables
from schemas import PUBLISHED
from tests.conftest import FIXTURES, SEED, build_local, every_file, params_file

TARGET_ROWS = 10  # small partitions: a new day's records land in few of them
LISTING = FIXTURES / "hf_api" / "2024-05-27.json"


def partitioned_params(folder: Path) -> Path:
    """params.yaml with every table partitioned at 20 rows (the seed then spans several files)."""
    return params_file(
        folder, layout="partitioned", partition_max_rows=dict.fromkeys(PUBLISHED, 20)
    )


def next_day() -> list[dict[str, Any]]:
    """A day's HF listing: three papers of a month the seed build has not seen (2407) and a
    re-listing of one paper of the first build (more upvotes: its merged row changes)."""
    listing = json.loads(LISTING.read_text("utf-8"))
    relisted = copy.deepcopy(listing[0])
    relisted["paper"]["upvotes"] = int(relisted["paper"].get("upvotes") or 0) + 5
    day = [relisted]
    for number, source in enumerate(listing, start=1):
        new = copy.deepcopy(source)
        new["paper"]["id"] = f"2407.{number:05d}"
        new["paper"]["title"] = f"A new paper number {number} on sparse tensor compilers"
        new["title"] = new["paper"]["title"]
        day.append(new)
    return day


def tree(out: Path) -> dict[str, Any]:
    """Each table file of a build: relative path -> (sha256, inode, mtime_ns)."""
    found = {}
    for name in PUBLISHED:
        for path in sorted((out / name).iterdir()):
            st = path.stat()
            found[f"{name}/{path.name}"] = (io.sha256_file(path), st.st_ino, st.st_mtime_ns)
    return found


@pytest.fixture(scope="module")
def versions(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("incremental")
    params = partitioned_params(root)
    raw = root / "raw"
    (raw / "hf").mkdir(parents=True)
    shutil.copy(SEED, raw / "seed.txt")
    shutil.copy(LISTING, raw / "hf" / LISTING.name)
    out, cache = root / "out", root / "cache"
    build_local(raw, out, params, cache_dir=str(cache), target_rows=TARGET_ROWS)
    first = tree(out)
    first_manifest = io.read_json(out / io.MANIFEST)
    first_papers = pl.read_parquet(out / "papers" / "*.parquet")
    (raw / "hf" / "2024-07-02.json").write_text(json.dumps(next_day(), indent=1), "utf-8")
    summary = build_local(raw, out, params, cache_dir=str(cache), target_rows=TARGET_ROWS)
    fresh = root / "fresh"
    build_local(raw, fresh, params, target_rows=TARGET_ROWS)
    return {"out": out, "fresh": fresh, "first": first, "first_manifest": first_manifest,
            "first_papers": first_papers,
            "second": tree(out), "summary": summary}  # fmt: skip


def test_unchanged_node_files_are_not_rewritten(versions: dict[str, Any]) -> None:
    first, second = versions["first"], versions["second"]
    kept = set(first) & set(second)
    assert any(path.startswith("papers/") for path in kept), "the seed's papers nodes must stay"
    assert any(path.startswith("provenance/") for path in kept), "the seed file's provenance too"
    for path in kept:
        assert second[path] == first[path], f"{path} was rewritten (sha256, inode, mtime_ns)"
    new = set(second) - set(first)
    assert any(path.startswith("papers/arxiv") for path in new), "the new month's papers"
    assert any(path.startswith("provenance/") for path in new)
    # the previous version's changed files are gone: a glob reads the new version only
    assert not set(first) - set(second) & set(every_file(versions["out"]))
    # the kept nodes were not even read: their keys matched, so they were linked, not written
    assert versions["summary"]["files"] == {"kept": len(kept), "written": len(new)}


def test_manifest_lists_the_files_with_valid_checksums(versions: dict[str, Any]) -> None:
    out = versions["out"]
    manifest = io.read_json(out / io.MANIFEST)
    first = versions["first_manifest"]["dataset"]
    assert manifest["dataset"]["number"] == first["number"] + 1 == 2
    assert manifest["dataset"]["parent"] == first["version"]
    listed = {e["path"]: e for files in manifest_tables(manifest).values() for e in files}
    assert set(listed) == set(versions["second"])
    for path, entry in listed.items():
        assert io.sha256_file(out / path) == entry["sha256"], path
        assert (out / path).stat().st_size == entry["bytes"], path


def test_incremental_equals_from_scratch(versions: dict[str, Any]) -> None:
    """File for file; only the lineage differs: the manifest's number, parent and change feed
    (version 2's feed against version 1's everything-added one), and the card, which quotes the
    feed. Node keys are equal too: they hash each leaf's rows (partition.leaf_stats), not the
    partitions that held them, whose boundaries an incremental build keeps from its cache."""

    def data(files: dict[str, str]) -> dict[str, str]:
        lineage = (io.MANIFEST, "README.md")
        return {k: v for k, v in files.items() if k not in lineage and not k.startswith("changes/")}

    assert data(every_file(versions["out"])) == data(every_file(versions["fresh"]))

    def bare(folder: Path) -> dict[str, Any]:
        manifest: dict[str, Any] = io.read_json(folder / io.MANIFEST)
        manifest["dataset"].pop("number")
        manifest["dataset"].pop("parent")
        manifest.pop("changes")
        return manifest

    assert bare(versions["out"]) == bare(versions["fresh"])


def test_a_rebuild_of_the_same_version_writes_no_file(
    versions: dict[str, Any], tmp_path: Path
) -> None:
    """Every node key equal (the same inputs and partitions as the from-scratch build): the
    publish writes no table file and the commit keeps them all as they are."""
    out = tmp_path / "out"
    shutil.copytree(versions["fresh"], out)
    before = tree(out)
    raw = versions["out"].parent / "raw"
    params = versions["out"].parent / "params.yaml"
    summary = build_local(raw, out, params, target_rows=TARGET_ROWS)
    assert summary["files"] == {"kept": len(before), "written": 0}
    assert tree(out) == before
    assert every_file(out) == every_file(versions["fresh"])


def test_the_change_feed_turns_the_first_version_into_the_second(versions: dict[str, Any]) -> None:
    """Version 2's feed (changes/v000002-….parquet, in its manifest) lists the new month's papers
    as added and the re-listed one as updated; applied to version 1 it gives version 2."""
    out = versions["out"]
    manifest = io.read_json(out / io.MANIFEST)
    assert manifest["dataset"]["number"] == 2
    assert manifest["dataset"]["parent"] == versions["first_manifest"]["dataset"]["version"]
    entry = manifest["changes"]
    assert entry["path"].startswith("changes/v000002-")
    feed = pl.read_parquet(out / entry["path"])
    ops = dict(feed.group_by("op").len().iter_rows())
    assert (ops.get("added", 0), ops.get("updated", 0), ops.get("removed", 0)) == (
        entry["added"], entry["updated"], entry["removed"],
    )  # fmt: skip
    assert set(feed.filter(pl.col("op") == "added")["paper_id"]) >= {"2407.00001", "2407.00002"}
    assert entry["updated"] >= 1
    assert entry["removed"] == 0
    second = pl.read_parquet(out / "papers" / "*.parquet").sort("paper_id")
    applied = apply_changes(versions["first_papers"], feed, second)
    assert applied.equals(second)


def test_the_first_feed_lists_every_paper_as_added(tmp_path: Path) -> None:
    """Version 1's feed is read from the papers ids alone (publish._change_feed: the whole
    rows are not held); it equals what changes.version_changes gives over the full files."""
    from papers.changes import feed_frame, version_changes

    raw = tmp_path / "raw"
    raw.mkdir()
    shutil.copy(SEED, raw / "seed.txt")
    out = tmp_path / "out"
    build_local(raw, out, partitioned_params(tmp_path), target_rows=TARGET_ROWS)
    manifest = io.read_json(out / io.MANIFEST)
    entries = manifest_tables(manifest)["papers"]
    expected = feed_frame(
        1, manifest["dataset"]["version"], version_changes(None, [], out, entries)
    )
    feed = pl.read_parquet(out / manifest["changes"]["path"])
    assert feed.equals(expected)
    assert feed.height == manifest["tables"]["papers"]["rows"]
