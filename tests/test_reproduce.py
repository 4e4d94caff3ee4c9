"""Reproduction end to end: a copy of the project, `dvc repro`, then nothing left to do.

Slow (a real Prefect temporary server and the Great Expectations gate): run with -m slow.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

# .git too: in a git worktree it is a file pointing at the shared repository, and git
# commands in the copy would commit there (each test runs `git init` in its copy instead)
_BUILT = shutil.ignore_patterns(
    ".git", ".venv", "__pycache__", "*.pyc", ".pytest_cache", ".mypy_cache", ".ruff_cache", "reports",
    ".prefect", "*.egg-info", "cache", "tmp", "interim", "*.parquet", "manifest.json",
)  # fmt: skip


def IGNORED(folder: str, names: list[str]) -> set[str]:  # noqa: N802 - used like a constant
    """What a fresh clone would not have: built outputs and caches. vocab/'s Parquet file (the
    pinned keyphrase IDF) is in git, so it is kept."""
    ignored = set(_BUILT(folder, names))
    if Path(folder).name == "vocab":
        ignored -= {name for name in names if name.endswith(".parquet")}
    return ignored


def sh(cwd: Path, *args: str) -> str:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run(
        list(args), cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=900
    )
    assert proc.returncode == 0, f"{args}: {proc.stdout}\n{proc.stderr}"
    return proc.stdout + proc.stderr


def digests(folder: Path) -> dict[str, str]:
    """The dataset's files, table directories included (relative path -> sha256); not run
    state such as .lock (which holds the last run's pid)."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    }


def test_dvc_repro_then_nothing_to_do(repo: Path, tmp_path: Path) -> None:
    if shutil.which("papers", path=str(Path(sys.executable).parent)) is None:
        pytest.fail("the `papers` console script is not installed next to this Python")
    clone = tmp_path / "clone"
    shutil.copytree(repo, clone, ignore=IGNORED)
    sh(clone, "git", "init", "-q")
    sh(clone, "dvc", "repro")
    out = clone / "data" / "processed"
    first = digests(out)
    assert any(name.startswith("papers/") for name in first)
    status = sh(clone, "dvc", "status")
    assert "up to date" in status, status
    again = sh(clone, "dvc", "repro")
    assert "didn't change, skipping" in again, again
    # forcing a rebuild gives the same bytes, so dvc.lock does not change either
    lock = (clone / "dvc.lock").read_text()
    sh(clone, "dvc", "repro", "--force", "build-dataset")
    assert digests(out) == first
    assert (clone / "dvc.lock").read_text() == lock
