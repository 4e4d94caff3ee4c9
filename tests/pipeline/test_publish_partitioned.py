"""`write.layout: partitioned`: the seed build publishes all five tables as directories of
content-named node files, read back as the single-file build's rows, byte-identical on a rebuild,
and listed file by file in the format-2 manifest (docs/design/partitioned-versions.md)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from papers import io
from papers.config import (
    Params,
    load_params,
)
from papers.dataset import manifest_tables, node_of_file
from schemas import PUBLISHED
from tests.conftest import REPO, SEED, build_with, every_file

TABLES = tuple(PUBLISHED)
LIMITS = dict.fromkeys(TABLES, 20)


def _params(layout: str, **write: Any) -> Params:
    params = load_params(REPO / "params.yaml")
    return params.model_copy(
        update={"write": params.write.model_copy(update={"layout": layout, **write})}
    )


def _build(raw: Path, out: Path, params: Params) -> dict[str, Any]:
    return build_with(raw, out, params)


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    raw = tmp_path_factory.mktemp("raw")
    shutil.copy(SEED, raw / "seed.txt")
    root = tmp_path_factory.mktemp("builds")
    # max_rows 20 so the seed's 57 papers split into several node files
    partitioned = _params("partitioned", partition_max_rows=LIMITS)
    _build(raw, root / "single", _params("single"))
    _build(raw, root / "partitioned", partitioned)
    _build(raw, root / "again", partitioned)
    return {"single": root / "single", "partitioned": root / "partitioned", "again": root / "again"}


def test_default_layout_is_partitioned_and_single_still_builds(builds: dict[str, Path]) -> None:
    assert load_params(REPO / "params.yaml").write.layout == "partitioned"
    out = builds["single"]
    for name in PUBLISHED:
        assert (out / f"{name}.parquet").is_file()
    assert not any((out / name).exists() for name in TABLES)


@pytest.mark.parametrize("name", TABLES)
def test_directories_read_back_as_the_single_file(builds: dict[str, Path], name: str) -> None:
    out = builds["partitioned"]
    assert not (out / f"{name}.parquet").exists()
    files = sorted((out / name).glob("*.parquet"))
    assert files
    if name in ("papers", "provenance"):
        assert len(files) > 1, f"max_rows 20 must split the seed's {name}"
    _, sort_by = PUBLISHED[name]
    got = pl.scan_parquet(out / name / "*.parquet").collect().sort(list(sort_by))
    want = pl.read_parquet(builds["single"] / f"{name}.parquet").sort(list(sort_by))
    assert got.columns == want.columns
    assert got.equals(want)
    # no dataset version in a partition file's footer: it would change every file every version
    for path in files:
        meta = pl.read_parquet_metadata(path)
        assert "papers.dataset_version" not in meta
        assert meta["papers.table"] == name


def test_rebuild_gives_identical_names_and_bytes(builds: dict[str, Path]) -> None:
    first, again = every_file(builds["partitioned"]), every_file(builds["again"])
    assert first == again
    assert any(path.startswith("papers/") for path in first)


def test_manifest_lists_every_file_with_its_checksum(builds: dict[str, Path]) -> None:
    out = builds["partitioned"]
    manifest = io.read_json(out / io.MANIFEST)
    assert manifest["format"] == 2
    assert "outputs" not in manifest
    assert manifest["dataset"]["number"] == 1
    assert manifest["dataset"]["parent"] is None
    assert manifest["layout"] == {"name": "partitioned", "max_rows": LIMITS}
    assert set(manifest["tables"]) == set(TABLES)
    for name in TABLES:
        table = manifest["tables"][name]
        listed = {entry["path"]: entry for entry in table["files"]}
        on_disk = {f"{name}/{p.name}" for p in (out / name).iterdir()}
        assert on_disk == set(listed)
        for path, entry in listed.items():
            file = out / path
            assert set(entry) == {"path", "node", "rows", "bytes", "sha256", "key"}
            assert entry["sha256"] == io.sha256_file(file)
            assert entry["bytes"] == file.stat().st_size
            assert entry["rows"] == pl.scan_parquet(file).select(pl.len()).collect().item()
            assert entry["node"] == node_of_file(file.name)
            assert file.name.removesuffix(".parquet").endswith(entry["sha256"][:12])
            assert isinstance(entry["key"], str)
        assert table["rows"] == sum(e["rows"] for e in listed.values())
        assert table["bytes"] == sum(e["bytes"] for e in listed.values())
    counts = manifest["counts"]
    for name in ("papers", "links", "tags", "rejected"):
        assert manifest["tables"][name]["rows"] == counts[name]
    assert manifest["tables"]["provenance"]["rows"] == counts["records_in_papers"]


def test_single_layout_manifest_is_format_2_too(builds: dict[str, Path]) -> None:
    out = builds["single"]
    manifest = io.read_json(out / io.MANIFEST)
    assert manifest["format"] == 2
    assert manifest["layout"] == {"name": "single", "max_rows": {}}
    for name in TABLES:
        (entry,) = manifest["tables"][name]["files"]
        assert entry["path"] == f"{name}.parquet"
        assert entry["node"] == "all"
        assert entry["sha256"] == io.sha256_file(out / entry["path"])
        assert entry["bytes"] == (out / entry["path"]).stat().st_size


def test_metrics_see_the_same_tables(builds: dict[str, Path]) -> None:
    single, partitioned = builds["single"], builds["partitioned"]
    for name in (io.METRICS, "papers_by_date.json"):
        assert io.read_json(partitioned / name) == io.read_json(single / name)


def test_card_lists_the_table_directories(builds: dict[str, Path]) -> None:
    card = (builds["partitioned"] / "README.md").read_text("utf-8")
    counts = io.read_json(builds["partitioned"] / io.MANIFEST)["counts"]
    assert f"| `papers/*.parquet` | {counts['papers']:,} |" in card
    assert f"| `tags/*.parquet` | {counts['tags']:,} |" in card


def test_republish_leaves_only_the_listed_files(builds: dict[str, Path], tmp_path: Path) -> None:
    """single -> partitioned -> partitioned with another plan -> single, into one folder: after
    each publish a glob of a table directory reads exactly the files the manifest lists."""
    raw = tmp_path / "raw"
    raw.mkdir()
    shutil.copy(SEED, raw / "seed.txt")
    out = tmp_path / "out"
    _build(raw, out, _params("single"))
    for max_rows in (20, 1_000_000):
        limits = dict.fromkeys(TABLES, max_rows)
        _build(raw, out, _params("partitioned", partition_max_rows=limits))
        manifest = io.read_json(out / io.MANIFEST)
        listed = {e["path"] for files in manifest_tables(manifest).values() for e in files}
        for name in TABLES:
            assert not (out / f"{name}.parquet").exists()
            on_disk = {f"{name}/{p.name}" for p in (out / name).iterdir()}
            assert on_disk == {p for p in listed if p.startswith(f"{name}/")}
            _, sort_by = PUBLISHED[name]
            got = pl.scan_parquet(out / name / "*.parquet").collect().sort(list(sort_by))
            assert got.equals(
                pl.read_parquet(builds["single"] / f"{name}.parquet").sort(list(sort_by))
            )
    # and back to single files: the directories go, the files are the single build's
    _build(raw, out, _params("single"))
    for name in TABLES:
        assert not (out / name).exists()
        assert io.sha256_file(out / f"{name}.parquet") == io.sha256_file(
            builds["single"] / f"{name}.parquet"
        )


def test_an_intact_partitioned_version_is_unchanged(
    builds: dict[str, Path], tmp_path: Path
) -> None:
    """publish.unchanged checks every node file the manifest lists; a changed byte in one of
    them makes the version not intact."""
    from papers.pipeline.publish import unchanged

    out = tmp_path / "out"
    shutil.copytree(builds["partitioned"], out)
    version = io.read_json(out / io.MANIFEST)["dataset"]["version"]
    assert unchanged(out, version) is not None
    victim = sorted((out / "papers").glob("*.parquet"))[0]
    victim.write_bytes(victim.read_bytes()[:-1] + b"\0")
    assert unchanged(out, version) is None
