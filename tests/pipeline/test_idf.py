"""The pinned keyphrase IDF (papers/pipeline/idf.py, config.load_keyphrase_idf and
load_build_config, io.write_keyphrase_idf): refreshed with the same bytes from the same build, part of the dataset
version, and each paper's keyphrases the same whether it is built alone or with others."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import polars as pl
import pytest

from papers import io
from papers.config import Params, load_build_config, load_keyphrase_idf, load_params
from papers.errors import PapersError
from papers.pipeline.idf import refresh_idf
from papers.pipeline.version import dataset_version
from tests.conftest import FIXTURES, REPO, SEED, build_local, read_table


@pytest.fixture(scope="module")
def seed_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    raw, out = tmp_path_factory.mktemp("raw"), tmp_path_factory.mktemp("out")
    shutil.copy(SEED, raw / "seed.txt")
    build_local(raw, out)
    return out


def test_the_shipped_params_pin_the_shipped_idf() -> None:
    idf = load_build_config(REPO / "params.yaml").idf
    assert idf is not None
    assert idf.table.schema == pl.Schema({"phrase": pl.String, "df": pl.UInt32})
    assert idf.table["df"].min() == 2  # a missing phrase means df 1
    assert idf.n_docs > idf.table["df"].max()  # type: ignore[operator]
    assert idf.table["phrase"].is_unique().all()


def test_refresh_writes_the_same_bytes_twice_and_loads_back(
    seed_build: Path, tmp_path: Path, params: Params
) -> None:
    vocabulary = load_build_config(REPO / "params.yaml").vocabulary
    first = refresh_idf(seed_build, params, vocabulary, tmp_path / "a" / "idf.parquet")
    second = refresh_idf(seed_build, params, vocabulary, tmp_path / "b" / "idf.parquet")
    assert (tmp_path / "a" / "idf.parquet").read_bytes() == (
        tmp_path / "b" / "idf.parquet"
    ).read_bytes()
    assert first["n_docs"] == read_table(seed_build, "papers").height == 57
    manifest = io.read_json(seed_build / io.MANIFEST)
    assert first["version"] == second["version"] == manifest["dataset"]["version"]
    idf = load_keyphrase_idf(tmp_path / "a" / "idf.parquet")
    assert idf is not None
    assert (idf.n_docs, idf.version, idf.table.height) == (57, first["version"], first["phrases"])
    assert idf.sha256 == io.sha256_file(tmp_path / "a" / "idf.parquet")
    assert idf.table["phrase"].is_sorted()
    assert manifest["idf"]["sha256"] == io.sha256_file(REPO / "vocab" / "keyphrase_idf.parquet")


def test_a_missing_idf_file_is_a_readable_error(tmp_path: Path) -> None:
    with pytest.raises(PapersError, match="papers idf refresh"):
        load_keyphrase_idf(tmp_path / "none.parquet")
    with pytest.raises(PapersError, match="no published dataset"):
        refresh_idf(tmp_path, Params(), {}, tmp_path / "idf.parquet")


def test_dataset_version_changes_with_the_idf_file(params: Params) -> None:
    inputs = ["ab" * 32]
    vocabulary = {"version": "1"}
    versions = {
        dataset_version(inputs, params, vocabulary, sha) for sha in (None, "0" * 64, "1" * 64)
    }
    assert len(versions) == 3
    assert dataset_version(inputs, params, vocabulary, "0" * 64) == dataset_version(
        inputs, params, {"version": "1"}, "0" * 64
    )


def test_each_paper_keeps_its_keyphrases_built_alone_or_with_others(
    seed_build: Path, tmp_path: Path
) -> None:
    """With the shipped IDF, the seed's papers get the same keyphrases when other sources'
    papers are built with them (those whose text a merge did not change)."""
    raw = tmp_path / "raw"
    for folder in ("hf_api", "arxiv", "scrapes"):
        shutil.copytree(FIXTURES / folder, raw / folder, ignore=shutil.ignore_patterns("*.md"))
    shutil.copy(SEED, raw / "seed.txt")
    build_local(raw, tmp_path / "out")
    columns = ["paper_id", "title", "abstract", "keyphrases"]
    alone = read_table(seed_build, "papers", columns=columns)
    together = read_table(tmp_path / "out", "papers", columns=columns)
    assert together.height > alone.height
    same_text = alone.join(together, on=["paper_id", "title", "abstract"], suffix="_with")
    assert same_text.height >= 40
    assert same_text["keyphrases"].to_list() == same_text["keyphrases_with"].to_list()
    assert (same_text["keyphrases"].list.len() > 0).all()


def test_without_a_pinned_idf_the_build_ranks_against_itself(tmp_path: Path) -> None:
    text = (REPO / "params.yaml").read_text("utf-8")
    params_path = tmp_path / "params.yaml"
    params_path.write_text(text.replace("  keyphrase_idf: vocab/keyphrase_idf.parquet\n", ""))
    shutil.copytree(REPO / "vocab", tmp_path / "vocab")
    assert load_params(params_path).tags.keyphrase_idf is None
    raw = tmp_path / "raw"
    raw.mkdir()
    shutil.copy(SEED, raw / "seed.txt")
    build_local(raw, tmp_path / "out", params_path=params_path)
    manifest = io.read_json(tmp_path / "out" / io.MANIFEST)
    assert manifest["idf"] is None
    papers = read_table(tmp_path / "out", "papers")
    assert (papers["keyphrases"].list.len() > 0).all()


def test_build_config_resolves_files_beside_the_params_file(tmp_path: Path) -> None:
    params_path = tmp_path / "conf" / "params.yaml"
    params_path.parent.mkdir()
    params_path.write_text((REPO / "params.yaml").read_text("utf-8"))
    # nothing beside it yet: the vocabulary is looked for (and missed) first, then the IDF
    with pytest.raises(
        PapersError, match=f"vocabulary file not found: {re.escape(str(tmp_path))}/conf/vocab/"
    ):
        load_build_config(params_path)
    (tmp_path / "conf" / "vocab").mkdir()
    shutil.copy(REPO / "vocab" / "topics.yaml", tmp_path / "conf" / "vocab" / "topics.yaml")
    with pytest.raises(
        PapersError, match=f"IDF file not found: {re.escape(str(tmp_path))}/conf/vocab/.*refresh"
    ):
        load_build_config(params_path)
    idf_file = tmp_path / "conf" / "vocab" / "keyphrase_idf.parquet"
    shutil.copy(REPO / "vocab" / "keyphrase_idf.parquet", idf_file)
    config = load_build_config(params_path)
    shipped = load_build_config(REPO / "params.yaml")
    assert config.params == shipped.params
    assert config.vocabulary == shipped.vocabulary
    assert config.idf is not None
    assert shipped.idf is not None
    assert config.idf.sha256 == shipped.idf.sha256


def test_build_config_takes_absolute_paths_as_they_are(tmp_path: Path) -> None:
    text = (REPO / "params.yaml").read_text("utf-8")
    text = text.replace("vocab/topics.yaml", str(REPO / "vocab" / "topics.yaml"))
    text = text.replace("keyphrase_idf: vocab/", f"keyphrase_idf: {REPO}/vocab/")
    params_path = tmp_path / "params.yaml"
    params_path.write_text(text)
    config = load_build_config(params_path)
    assert config.params.tags.vocabulary.is_absolute()
    assert config.idf is not None
    assert config.idf.version
    with pytest.raises(PapersError, match="params file not found"):
        load_build_config(tmp_path / "none.yaml")
