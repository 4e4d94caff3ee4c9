"""papers recover: what a crash left in a published folder goes, the version stays."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from papers.cli import app
from tests.conftest import SEED, build_with, every_file


@pytest.fixture(scope="module")
def seed(params: object, tmp_path_factory: pytest.TempPathFactory) -> Path:
    raw = tmp_path_factory.mktemp("raw")
    shutil.copy(SEED, raw / SEED.name)
    out = tmp_path_factory.mktemp("seed") / "out"
    build_with(raw, out, params)  # type: ignore[arg-type]
    return out


def test_recover_removes_leftovers_and_keeps_the_version(seed: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(seed, out)
    before = every_file(out)
    # what a killed run leaves: a staging folder, a work folder, a table file no manifest lists
    (out / ".staging-run1" / "papers").mkdir(parents=True)
    (out / ".staging-run1" / "papers" / "x.parquet").write_bytes(b"half")
    (out / ".work-run1").mkdir()
    (out / "papers" / "zz-000000000000.parquet").write_bytes(b"orphan")
    done = CliRunner().invoke(app, ["recover", "--out", str(out)])
    assert done.exit_code == 0, done.stderr
    assert "zz-000000000000.parquet" in done.stdout
    assert "removed .staging-run1" in done.stdout
    assert every_file(out) == before
    assert not list(out.glob(".staging-*"))
    assert not list(out.glob(".work-*"))
    again = CliRunner().invoke(app, ["recover", "--out", str(out)])
    assert again.exit_code == 0
    assert "nothing to recover" in again.stdout


def test_recover_of_a_missing_folder_is_a_readable_error(tmp_path: Path) -> None:
    done = CliRunner().invoke(app, ["recover", "--out", str(tmp_path / "nope")])
    assert done.exit_code != 0
    assert "is not a folder" in done.stderr
    assert "Traceback" not in done.stderr
