"""DVC tracks the published tables as directories: one more day adds only the files that changed
to the cache and to the remote, and checking out the older version restores it exactly.

Real git, real DVC (a local remote, `cache.type copy`) and `dvc repro` of the project's own
build stage in a copy of the project. Slow (two builds on Prefect's temporary server).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

import pytest
import yaml

from schemas import PUBLISHED
from tests.test_reproduce import IGNORED, sh

pytestmark = pytest.mark.slow

DAYS = Path(__file__).resolve().parent / "fixtures" / "fetch"
TABLES = tuple(PUBLISHED)


def listing(out: Path) -> dict[str, str]:
    """Every file of the published table directories: relative path -> sha256."""
    return {
        str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for table in TABLES
        for p in sorted((out / table).glob("*"))
    }


def md5_object(path: Path) -> str:
    """Where DVC's cache keeps a file's content: files/md5/<2 hex>/<30 hex>."""
    digest = hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()
    return f"files/md5/{digest[:2]}/{digest[2:]}"


def cache_objects(cache: Path) -> set[str]:
    return {str(p.relative_to(cache)) for p in cache.rglob("*") if p.is_file()}


def test_one_more_day_adds_only_the_changed_files_and_checkout_restores(
    repo: Path, tmp_path: Path
) -> None:
    if shutil.which("papers", path=str(Path(sys.executable).parent)) is None:
        pytest.fail("the `papers` console script is not installed next to this Python")
    clone = tmp_path / "clone"
    shutil.copytree(repo, clone, ignore=IGNORED)
    # several files per table from the 57-paper seed
    params = yaml.safe_load((clone / "params.yaml").read_text())
    params["write"]["partition_max_rows"] = {
        "papers": 8, "links": 20, "tags": 60, "provenance": 10, "rejected": 10,
    }  # fmt: skip
    (clone / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    remote = tmp_path / "remote"
    for args in (
        ("git", "init", "-q"),
        ("git", "config", "user.email", "t@example.org"),
        ("git", "config", "user.name", "t"),
        ("dvc", "init", "-q", "-f"),
        ("dvc", "config", "core.analytics", "false"),
        ("dvc", "config", "cache.type", "copy"),
        ("dvc", "remote", "add", "-f", "-d", "local", str(remote)),
        ("dvc", "repro", "build-dataset"),
        ("dvc", "push", "-q"),
        ("git", "add", "-A"),
        ("git", "commit", "-q", "-m", "v1"),
    ):
        sh(clone, *args)
    out = clone / "data" / "processed"
    cache = clone / ".dvc" / "cache"
    v1_files, v1_cache, v1_remote = listing(out), cache_objects(cache), cache_objects(remote)
    v1_manifest = json.loads((out / "manifest.json").read_text())
    assert len([p for p in v1_files if p.startswith("papers/")]) > 3

    # one more day: three fetched HF daily listings (new papers and re-listed old ones)
    day_dir = clone / "data" / "raw" / "hf_daily_papers"
    day_dir.mkdir()
    for day in ("2024-09-03", "2025-01-21", "2025-07-07"):
        shutil.copy(DAYS / f"hf-{day}.json", day_dir / f"{day}.json")
    for args in (
        ("dvc", "repro", "build-dataset"),
        ("dvc", "push", "-q"),
        ("git", "add", "-A"),
        ("git", "commit", "-q", "-m", "v2"),
    ):
        sh(clone, *args)
    v2_files = listing(out)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["dataset"]["parent"] == v1_manifest["dataset"]["version"]
    new_files = {p for p in v2_files if p not in v1_files}
    kept = {p for p in v2_files if p in v1_files}
    assert new_files, "one more day should write some files"
    assert kept, "one more day should keep some files"
    # the new cache objects: the new table files, the manifest and the day's change feed file,
    # and one .dir object per changed directory (the tables whose file list changed, changes/)
    changed_tables = {p.partition("/")[0] for p in new_files} | {
        t
        for t in TABLES
        if {p for p in v1_files if p.startswith(f"{t}/")}
        != {p for p in v2_files if p.startswith(f"{t}/")}
    }
    feed = manifest["changes"]["path"]
    assert (out / feed).is_file()
    added = cache_objects(cache) - v1_cache
    assert len([o for o in added if o.endswith(".dir")]) == len(changed_tables) + 1
    # the file objects added are exactly the contents of the new table files, the manifest and
    # the feed file that the cache did not hold yet (DVC stores each content once)
    wanted = {md5_object(out / p) for p in (*new_files, "manifest.json", feed)}
    assert {o for o in added if not o.endswith(".dir")} == wanted - v1_cache
    assert len(wanted - v1_cache) >= len(new_files)  # at most a renamed node's bytes dedupe
    assert cache_objects(remote) - v1_remote == added
    # what the day cost: the new objects' bytes against the dataset's
    dataset_bytes = sum((out / p).stat().st_size for p in v2_files)
    new_bytes = sum((out / p).stat().st_size for p in new_files)
    assert new_bytes < dataset_bytes

    # back to v1: dvc checkout restores its files exactly (and drops the ones v1 did not have)
    sh(clone, "git", "checkout", "-q", "HEAD~1", "--", "dvc.lock")
    sh(clone, "dvc", "checkout", "-f", "build-dataset")
    assert listing(out) == v1_files
    assert json.loads((out / "manifest.json").read_text()) == v1_manifest
