"""DVC's state after a killed dvc command: an unreadable lock table is removed and an unreadable
dvc.lock put back as git has it, under DVC's locks; readable ones are left alone, and nothing is
touched while a dvc command holds the project. Each with real `dvc repro` before and after."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from papers.cli import app
from papers.dvcstate import dvc_root, recover, recover_lockfile, recover_rwlock
from papers.errors import PapersError


def run_dvc(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    return subprocess.run(
        ["dvc", *args], cwd=root, env=env, capture_output=True, text=True, check=False
    )


STAGES = """stages:
  hello:
    cmd: cat in.txt > out.txt
    deps: [in.txt]
    outs: [out.txt]
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A DVC project (no git) with one tiny stage: enough for `dvc repro` to read its state."""
    root = tmp_path / "project"
    root.mkdir()
    assert run_dvc(root, "init", "--no-scm").returncode == 0
    (root / "dvc.yaml").write_text(STAGES)
    (root / "in.txt").write_text("hi\n")
    return root


def git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=root, check=True,
        capture_output=True,
    )  # fmt: skip


@pytest.fixture
def built(tmp_path: Path) -> Path:
    """A git + DVC project built once, its dvc.lock committed."""
    root = tmp_path / "built"
    root.mkdir()
    git(root, "init", "-q")
    assert run_dvc(root, "init").returncode == 0
    (root / "dvc.yaml").write_text(STAGES)
    (root / "in.txt").write_text("hi\n")
    assert run_dvc(root, "repro").returncode == 0
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "built")
    return root


def cut(path: Path, keep: int) -> None:
    path.write_bytes(path.read_bytes()[:keep])


# where a killed write of dvc.lock can stop: nothing written, mid-key, mid-value (DVC refuses each)
LOCK_CUTS = [0, 10, 100]


@pytest.mark.parametrize("keep", LOCK_CUTS)
def test_a_cut_dvc_lock_is_put_back_as_committed(built: Path, keep: int) -> None:
    lock = built / "dvc.lock"
    committed = lock.read_text()
    (built / "in.txt").write_text("changed\n")  # a change the killed run was committing
    cut(lock, keep)
    stopped = run_dvc(built, "repro")
    assert stopped.returncode != 0, stopped.stdout

    done = CliRunner().invoke(app, ["recover", "--out", str(built), "--repo", str(built)])
    assert done.exit_code == 0, done.stderr
    assert f"dvc.lock: unreadable ({keep} bytes" in done.stdout
    assert "put back as the last commit has it" in done.stdout
    assert lock.read_text() == committed

    again = run_dvc(built, "repro")
    assert again.returncode == 0, again.stderr
    assert (built / "out.txt").read_text() == "changed\n"
    assert "up to date" in run_dvc(built, "status").stdout
    assert recover(built) == []


def test_a_cut_dvc_lock_git_has_not_is_removed(project: Path) -> None:
    assert run_dvc(project, "repro").returncode == 0
    cut(project / "dvc.lock", 10)
    assert recover_lockfile(project) == [
        "dvc.lock: unreadable (10 bytes: a dvc command was killed while writing it; kept as "
        ".dvc/tmp/dvc.lock.unreadable); removed (git has none), so `dvc repro` runs every stage"
    ]
    assert len((project / ".dvc" / "tmp" / "dvc.lock.unreadable").read_bytes()) == 10
    assert run_dvc(project, "repro").returncode == 0
    assert "up to date" in run_dvc(project, "status").stdout


def test_a_cut_lock_table_stops_dvc_and_recover_lets_it_run_again(project: Path) -> None:
    rwlock = project / ".dvc" / "tmp" / "rwlock"
    rwlock.parent.mkdir(exist_ok=True)
    rwlock.write_text('{"write": {"out.txt": {"pid": 4')  # a write killed half-way
    stopped = run_dvc(project, "repro")
    assert stopped.returncode != 0
    assert "JSON structure is corrupted" in stopped.stderr + stopped.stdout

    done = CliRunner().invoke(app, ["recover", "--out", str(project), "--repo", str(project)])
    assert done.exit_code == 0, done.stderr
    assert ".dvc/tmp/rwlock: removed DVC's lock table (31 bytes, not JSON" in done.stdout
    assert not rwlock.exists()

    again = run_dvc(project, "repro")
    assert again.returncode == 0, again.stderr
    assert (project / "out.txt").read_text() == "hi\n"
    assert rwlock.exists()  # DVC wrote its own, readable again
    assert recover(project) == []


@pytest.mark.parametrize("content", [b"", b"\xff\xfe", b"{", b"[1, 2"])
def test_any_unreadable_table_is_removed(project: Path, content: bytes) -> None:
    rwlock = project / ".dvc" / "tmp" / "rwlock"
    rwlock.parent.mkdir(exist_ok=True)
    rwlock.write_bytes(content)
    assert recover_rwlock(project) == [
        f".dvc/tmp/rwlock: removed DVC's lock table ({len(content)} bytes, not JSON: a dvc "
        "command was killed while writing it); DVC reads a missing one as no locks held"
    ]
    assert not rwlock.exists()


def test_a_readable_or_missing_table_is_left_alone(project: Path) -> None:
    rwlock = project / ".dvc" / "tmp" / "rwlock"
    assert recover_rwlock(project) == []  # none yet
    rwlock.parent.mkdir(exist_ok=True)
    held = '{"write": {"out.txt": {"pid": 1, "cmd": "dvc repro"}}}'
    rwlock.write_text(held)
    assert recover_rwlock(project) == []
    assert rwlock.read_text() == held


def test_nothing_is_touched_while_a_dvc_command_holds_the_project(project: Path) -> None:
    from dvc.lock import make_lock  # type: ignore[import-untyped]

    tmp = project / ".dvc" / "tmp"
    tmp.mkdir(exist_ok=True)
    (tmp / "rwlock").write_bytes(b"")
    held = make_lock(str(tmp / "lock"), tmp_dir=str(tmp))  # what a running dvc command holds
    with held, pytest.raises(PapersError, match="a running dvc command holds"):
        recover_rwlock(project)
    assert (tmp / "rwlock").read_bytes() == b""
    assert len(recover_rwlock(project)) == 1  # once it has ended


def test_dvc_root_is_the_nearest_folder_with_dvc(project: Path, tmp_path: Path) -> None:
    (project / "a" / "b").mkdir(parents=True)
    assert dvc_root(project / "a" / "b") == project.resolve()
    assert dvc_root(project) == project.resolve()
    assert dvc_root(tmp_path) is None
