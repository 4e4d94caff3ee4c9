"""Crashes: a real `papers run` SIGKILLed at several points leaves the last good dataset intact,
and the next run completes with the same bytes as an uninterrupted run.

Each kill runs the real CLI in a subprocess (its own temporary Prefect server), so these are slow.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

KILL_POINTS = ["parse", "enrich", "write", "publish"]
# No telemetry, and room for the temporary server to start on a loaded 2-core machine (20 s by
# default: it timed out there).
QUIET_PREFECT = {
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
}


def digests(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.iterdir())
        if p.is_file() and not p.name.startswith(".")
    }


def run(repo: Path, out: Path, tmp: Path, kill_at: str | None = None) -> tuple[int, str]:
    """(exit status, log) of a real `papers run` in its own process group.

    A SIGKILLed run cannot stop the temporary Prefect server it started, so the whole group is
    killed afterwards; the log goes to a file because the orphan would hold a pipe open.
    """
    env = {**os.environ, "PREFECT_HOME": str(tmp / "prefect"), **QUIET_PREFECT}
    env.pop("PREFECT_API_URL", None)
    if kill_at:
        env["PAPERS_KILL_AT"] = kill_at
    log = tmp / f"run-{kill_at or 'full'}.log"
    argv = [
        sys.executable, "-m", "papers", "run", "--raw", str(repo / "data/raw"),
        "--out", str(out), "--params", str(repo / "params.yaml"), "--no-cache",
    ]  # fmt: skip
    with log.open("w") as handle:
        proc = subprocess.Popen(
            argv, cwd=tmp, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            code = proc.wait(timeout=300)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
    return code, log.read_text()


@pytest.fixture(scope="module")
def baseline(repo: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    tmp = tmp_path_factory.mktemp("baseline")
    out = tmp / "out"
    code, log = run(repo, out, tmp)
    assert code == 0, log[-2000:]
    return out, digests(out)


@pytest.mark.parametrize("point", KILL_POINTS)
def test_sigkill_leaves_last_good_dataset(
    repo: Path, tmp_path: Path, baseline: tuple[Path, dict[str, str]], point: str
) -> None:
    good, expected = baseline
    out = tmp_path / "out"
    shutil.copytree(good, out)
    # an older dataset in place: make it differ so a half-publish would show
    (out / "metrics.json").write_text('{"older": true}\n')
    before = digests(out)
    code, log = run(repo, out, tmp_path, kill_at=point)
    assert code == -signal.SIGKILL, log[-2000:]
    if point == "publish":
        # killed between two renames: the journal lets the next run finish the set
        assert (out / ".publish-journal.json").exists()
    else:
        assert digests(out) == before  # nothing of the dead run is visible
    code, log = run(repo, out, tmp_path)
    assert code == 0, log[-2000:]
    assert digests(out) == expected  # same bytes as an uninterrupted run
    assert not list(out.glob(".staging-*"))
    assert not list(out.glob(".work-*"))
    assert not (out / ".publish-journal.json").exists()


def process_group(pgid: int) -> list[int]:
    """Live (non-zombie) processes in a process group, from /proc."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            text = stat.read_text()
            fields = text[text.rindex(")") + 2 :].split()  # after "pid (comm) "
            if int(fields[2]) == pgid and fields[0] != "Z":
                members.append(int(stat.parent.name))
    return members


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)")
def test_sigkilled_run_leaves_no_prefect_server_behind(repo: Path, tmp_path: Path) -> None:
    """Prefect's temporary server is started with a parent-death signal (papers/lifeline.py):
    when the run is SIGKILLed, the kernel kills the server too instead of orphaning it."""
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect"), **QUIET_PREFECT}
    env.pop("PREFECT_API_URL", None)
    env["PAPERS_KILL_AT"] = "parse"
    argv = [
        sys.executable, "-m", "papers", "run", "--raw", str(repo / "data/raw"),
        "--out", str(tmp_path / "out"), "--params", str(repo / "params.yaml"), "--no-cache",
    ]  # fmt: skip
    log = tmp_path / "run.log"
    with log.open("w") as handle:
        proc = subprocess.Popen(
            argv, cwd=tmp_path, env=env, stdout=handle, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        try:
            assert proc.wait(timeout=300) == -signal.SIGKILL, log.read_text()[-2000:]
            deadline = time.monotonic() + 10
            while process_group(proc.pid) and time.monotonic() < deadline:
                time.sleep(0.2)
            left = process_group(proc.pid)
            cmdlines = [Path(f"/proc/{pid}/cmdline").read_bytes() for pid in left]
            assert not left, f"orphaned after SIGKILL: {cmdlines}"
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
