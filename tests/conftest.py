"""Shared fixtures: repo paths, parameters, a tiny vocabulary, and an isolated Prefect."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Before anything imports Prefect or Great Expectations: a throwaway Prefect home (its SQLite
# database is created fresh, so no "database is locked" from a shared one) and no telemetry.
os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="papers-test-prefect-")
atexit.register(shutil.rmtree, os.environ["PREFECT_HOME"], ignore_errors=True)
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.pop("PREFECT_API_URL", None)

import polars as pl
import pytest
import yaml

from papers import io
from papers.config import Params, load_build_config, load_params, load_vocabulary
from papers.pipeline.local import run_local
from papers.stages.tags import compile_vocabulary

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SEED = REPO / "data" / "raw" / "hf_papers_page" / "daily-papers.txt"


def build_local(
    raw: Path, out: Path, params_path: Path = REPO / "params.yaml", **options: Any
) -> dict[str, Any]:
    """The build flow's steps in this process (run_local), with params, vocabulary and IDF
    loaded from params_path as the flow loads them (config.load_build_config)."""
    config = load_build_config(params_path)
    return run_local(
        str(raw), str(out), config.params, config.vocabulary, idf=config.idf, **options
    )


def build_with(raw: Path, out: Path, params: Params, **options: Any) -> dict[str, Any]:
    """run_local with params changed in memory (a layout, partition sizes); the vocabulary and
    IDF those params name are resolved against the repo's params.yaml."""
    config = load_build_config(REPO / "params.yaml")
    return run_local(str(raw), str(out), params, config.vocabulary, idf=config.idf, **options)


def params_file(folder: Path, **write: Any) -> Path:
    """params.yaml with `write` keys replaced, in folder; its vocabulary and IDF still the repo's."""
    params = yaml.safe_load((REPO / "params.yaml").read_text("utf-8"))
    params["write"].update(write)
    for key in ("vocabulary", "keyphrase_idf"):
        params["tags"][key] = str(REPO / params["tags"][key])
    path = folder / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False), "utf-8")
    return path


def every_file(out: Path) -> dict[str, str]:
    """Every file under out (relative path -> sha256), hidden work folders and run state aside."""
    return {
        str(p.relative_to(out)): io.sha256_file(p)
        for p in sorted(out.rglob("*"))
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(out).parts)
    }


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def params() -> Params:
    return load_params(REPO / "params.yaml")


@pytest.fixture(scope="session")
def vocab_terms() -> pl.DataFrame:
    return compile_vocabulary(load_vocabulary(REPO / "vocab" / "topics.yaml"))


@pytest.fixture(scope="session")
def seed_text() -> str:
    return SEED.read_text("utf-8")


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One temporary Prefect server for the whole session (it takes seconds to start)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def hf_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Hugging Face `datasets`, offline (no hub lookups), its home in tmp_path; returns the module.

    The env vars alone are read at import: a session that already imported `datasets` keeps its
    flags, so they are patched on the loaded modules too."""
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    import datasets
    import huggingface_hub.constants

    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True, raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    datasets.disable_progress_bars()
    return datasets


def read_table(folder: Path, name: str, **options: Any) -> pl.DataFrame:
    """A built folder's table `name`, in either layout: `name.parquet` or `name/*.parquet`."""
    from papers.io import table_path

    path = table_path(folder, name)
    assert path is not None, f"no {name} table in {folder}"
    return pl.read_parquet(path, **options)
