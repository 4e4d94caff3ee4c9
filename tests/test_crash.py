"""Crashes: a real `papers run` SIGKILLed at several points leaves the last good dataset intact,
and the next run completes with the same bytes as an uninterrupted run.

Each kill runs the real CLI in a subprocess (its own temporary Prefect server), so these are slow.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

KILL_POINTS = ["parse", "enrich", "write", "staged", "adding", "committed"]
# after these the journal of the publish is on disk (io.publish)
JOURNALED = {"staged", "adding", "committed", "gc"}
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


_PINNED: dict[Path, Path] = {}


def pinned_code(repo: Path) -> Path:
    """A copy of the pipeline's packages taken once per session, first on the runs' path: the
    editable install imports the working tree, whose code (and so the bytes it writes) may change
    between the baseline and a later run while someone edits it."""
    if repo not in _PINNED:
        import atexit
        import tempfile

        root = Path(tempfile.mkdtemp(prefix="papers-pinned-code-"))
        atexit.register(shutil.rmtree, root, ignore_errors=True)
        for package in ("papers", "schemas", "flows"):
            shutil.copytree(
                repo / package, root / package, ignore=shutil.ignore_patterns("__pycache__")
            )
        _PINNED[repo] = root
    return _PINNED[repo]


def run(
    repo: Path,
    out: Path,
    tmp: Path,
    kill_at: str | None = None,
    raw: Path | None = None,
    params: Path | None = None,
) -> tuple[int, str]:
    """(exit status, log) of a real `papers run` in its own process group (the repo's raw
    folder and params.yaml unless given).

    A SIGKILLed run cannot stop the temporary Prefect server it started, so the whole group is
    killed afterwards; the log goes to a file because the orphan would hold a pipe open.
    """
    env = {**os.environ, "PREFECT_HOME": str(tmp / "prefect"), **QUIET_PREFECT}
    env["PYTHONPATH"] = str(pinned_code(repo))
    env.pop("PREFECT_API_URL", None)
    if kill_at:
        env["PAPERS_KILL_AT"] = kill_at
    log = tmp / f"run-{kill_at or 'full'}.log"
    argv = [
        sys.executable, "-m", "papers", "run", "--raw", str(raw or repo / "data/raw"),
        "--out", str(out), "--params", str(params or repo / "params.yaml"), "--no-cache",
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
    # an older dataset in place: make it differ so a half-publish would show (a key the quality
    # gates do not read: they compare the new build with this one's metrics)
    metrics = json.loads((out / "metrics.json").read_text())
    (out / "metrics.json").write_text(json.dumps({**metrics, "older": True}) + "\n")
    before = digests(out)
    code, log = run(repo, out, tmp_path, kill_at=point)
    assert code == -signal.SIGKILL, log[-2000:]
    if point in JOURNALED:
        # killed inside the commit: the journal lets the next run finish the set
        assert (out / ".publish-journal.json").exists()
    else:
        assert digests(out) == before  # nothing of the dead run is visible
    code, log = run(repo, out, tmp_path)
    assert code == 0, log[-2000:]
    assert digests(out) == expected  # same bytes as an uninterrupted run
    assert not list(out.glob(".staging-*"))
    assert not list(out.glob(".work-*"))
    assert not (out / ".publish-journal.json").exists()


# --- SIGKILL inside the commit of a partitioned version (docs/design/partitioned-versions.md §4) --


def _partitioned_params(repo: Path, folder: Path) -> Path:
    """params.yaml with every table partitioned at 20 rows (the seed then spans several files
    per table), vocabulary and IDF made absolute so the file can live in folder."""
    import yaml

    params = yaml.safe_load((repo / "params.yaml").read_text("utf-8"))
    params["write"]["layout"] = "partitioned"
    params["write"]["partition_max_rows"] = dict.fromkeys(
        ("papers", "links", "tags", "provenance", "rejected"), 20
    )
    for key in ("vocabulary", "keyphrase_idf"):
        params["tags"][key] = str(repo / params["tags"][key])
    path = folder / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False), "utf-8")
    return path


def _tree(out: Path) -> dict[str, str]:
    """Every visible file under out, by relative path (the table directories included)."""
    return {
        str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(out).parts)
    }


def _read(out: Path, manifest: dict[str, object]) -> dict[str, object]:
    """Every table of the version a manifest names, read through its file list, sorted."""
    import polars as pl

    from papers.dataset import manifest_tables
    from schemas import PUBLISHED

    tables = manifest_tables(manifest)
    return {
        name: pl.read_parquet([out / e["path"] for e in tables[name]]).sort(list(sort_by))
        for name, (_, sort_by) in PUBLISHED.items()
    }


@pytest.fixture(scope="module")
def partitioned_versions(repo: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """An old partitioned version (the seed), and the new one an uninterrupted run publishes
    over it (the seed plus a day of the HF API: new node files, a changed rejected node)."""
    tmp = tmp_path_factory.mktemp("partitioned")
    params = _partitioned_params(repo, tmp)
    raw = tmp / "raw"
    shutil.copytree(repo / "data" / "raw", raw)
    old = tmp / "old"
    code, log = run(repo, old, tmp, raw=raw, params=params)
    assert code == 0, log[-2000:]
    new_raw = tmp / "new-raw"
    shutil.copytree(raw, new_raw)
    (new_raw / "hf_api").mkdir()
    for day in ("2024-05-27.json", "2024-12-13.json"):  # clean days: the quality gates pass
        shutil.copy(repo / "tests" / "fixtures" / "hf_api" / day, new_raw / "hf_api" / day)
    new = tmp / "new"
    shutil.copytree(old, new)
    code, log = run(repo, new, tmp, raw=new_raw, params=params)
    assert code == 0, log[-2000:]
    return {"old": old, "new": new, "raw": new_raw, "params": params}


@pytest.mark.parametrize("point", ["staged", "adding", "committed", "gc"])
def test_sigkill_inside_a_partitioned_commit(
    repo: Path, tmp_path: Path, partitioned_versions: dict[str, Path], point: str
) -> None:
    """Killed at each step of the commit: the manifest in place lists files that are all there
    with their sha256, and reading through it gives the old version (before the commit) or the
    new one (after); `io.recover` then finishes the new version: a glob of each table reads
    what the manifest lists, no unlisted file is left, and every file equals the
    uninterrupted run's."""
    import polars as pl

    from papers import io
    from papers.dataset import manifest_tables

    old, new = partitioned_versions["old"], partitioned_versions["new"]
    old_tables = _read(old, json.loads((old / "manifest.json").read_text()))
    new_tables = _read(new, json.loads((new / "manifest.json").read_text()))
    out = tmp_path / "out"
    shutil.copytree(old, out)
    code, log = run(repo, out, tmp_path, kill_at=point, raw=partitioned_versions["raw"],
                    params=partitioned_versions["params"])  # fmt: skip
    assert code == -signal.SIGKILL, log[-2000:]
    assert (out / io.JOURNAL).exists()
    manifest = json.loads((out / "manifest.json").read_text())
    for entries in manifest_tables(manifest).values():
        for entry in entries:
            path = out / entry["path"]
            assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"], entry["path"]
    seen = _read(out, manifest)
    expected = new_tables if point in ("committed", "gc") else old_tables
    for name, frame in seen.items():
        assert frame.equals(expected[name]), f"{name} after a kill at {point}"  # type: ignore[attr-defined]

    with io.output_lock(out):
        io.recover(out)
    assert _tree(out) == _tree(new)
    assert not io.unreferenced(out)
    assert not list(out.glob(".staging-*"))
    assert not (out / io.JOURNAL).exists()
    manifest = json.loads((out / "manifest.json").read_text())
    for name, entries in manifest_tables(manifest).items():
        globbed = pl.read_parquet(out / name / "*.parquet")
        listed = pl.read_parquet([out / e["path"] for e in entries])
        assert globbed.height == listed.height
        assert globbed.sort(globbed.columns).equals(listed.sort(listed.columns))


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
    """Prefect's temporary server is started with a parent-death signal (papers/cli/lifeline.py):
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


# --- SIGKILL while DVC commits the build's outputs ----------------------------------------------

# When to kill: seconds after the build process (papers run) has exited, or "cache": the moment
# DVC has written its first file of the new outputs into its cache (mid-commit by construction).
DVC_KILL_POINTS: list[float | str] = [0.0, "cache", 1.2]


def _clone_env(clone: Path) -> dict[str, str]:
    """The clone's own code first on the path: the editable install would otherwise import this
    checkout's, which may change between two builds (and with it the bytes)."""
    env = {**os.environ, **QUIET_PREFECT, "PYTHONPATH": str(clone)}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env.pop("PREFECT_API_URL", None)
    env.pop("PAPERS_KILL_AT", None)
    return env


def dvc(clone: Path, *args: str) -> str:
    proc = subprocess.run(
        ["dvc", *args], cwd=clone, env=_clone_env(clone), capture_output=True, text=True,
        check=False, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, f"dvc {args}: {proc.stdout}\n{proc.stderr}"
    return proc.stdout + proc.stderr


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError):
            text = stat.read_text()
            fields = text[text.rindex(")") + 2 :].split()
            if int(fields[1]) == pid:
                found.append(int(stat.parent.name))
    return found


def process_alive(pid: int) -> bool:
    """Whether pid runs (an exited, not yet reaped process is not running)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return text[text.rindex(")") + 2 :].split()[0] != "Z"


def cmdline(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    return ""


def cache_files(clone: Path) -> int:
    return sum(1 for p in (clone / ".dvc" / "cache").rglob("*") if p.is_file())


def dvc_repro_killed_after_build(clone: Path, offset: float | str) -> str:
    """`dvc repro` in `clone`, SIGKILLed (with its whole process group) `offset` seconds after the
    build stage's command (papers run) exits, i.e. while DVC hashes and commits its outputs; or,
    with offset "cache", as soon as DVC has added a file to its cache."""
    cached = cache_files(clone)
    log = clone.parent / f"dvc-killed-{offset}.log"
    with log.open("w") as handle:
        proc = subprocess.Popen(
            ["dvc", "repro"], cwd=clone, env=_clone_env(clone), stdout=handle,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            build: int | None = None
            deadline = time.monotonic() + 900
            while time.monotonic() < deadline and proc.poll() is None:
                kids = [k for k in children(proc.pid) if " run " in cmdline(k)]
                if build is None and kids:
                    build = kids[0]
                elif build is not None and not process_alive(build):
                    break
                time.sleep(0.02)
            assert build is not None, f"the build never started:\n{log.read_text()[-3000:]}"
            if isinstance(offset, str):
                while proc.poll() is None and cache_files(clone) == cached:
                    time.sleep(0.005)
            else:
                time.sleep(offset)
            assert proc.poll() is None, f"dvc finished before the kill:\n{log.read_text()[-2000:]}"
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)
    return log.read_text()


def check_published(out: Path) -> dict[str, str]:
    """A complete, readable dataset: every file the manifest lists has its sha256 and row count."""
    import pyarrow.parquet as pq

    from papers.dataset import manifest_tables

    manifest = json.loads((out / "manifest.json").read_text())
    for entry in (e for entries in manifest_tables(manifest).values() for e in entries):
        path = out / entry["path"]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"], entry["path"]
        assert pq.read_metadata(path).num_rows == entry["rows"], entry["path"]
    return digests(out)


@pytest.fixture(scope="module")
def dvc_clone(repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project built once by `dvc repro`: the previously published version."""
    from tests.test_reproduce import IGNORED

    clone = tmp_path_factory.mktemp("dvc") / "before" / "clone"
    shutil.copytree(repo, clone, ignore=IGNORED)
    subprocess.run(["git", "init", "-q"], cwd=clone, check=True)
    dvc(clone, "repro")
    return clone


def add_listing(clone: Path) -> None:
    """A new raw file: the next build publishes a different dataset."""
    source = clone / "tests" / "fixtures" / "arxiv" / "snapshot.jsonl"
    target = clone / "data" / "raw" / "arxiv_snapshot" / "snapshot.jsonl"
    target.parent.mkdir(parents=True)
    shutil.copyfile(source, target)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)")
@pytest.mark.parametrize("offset", DVC_KILL_POINTS)
def test_sigkill_during_dvc_commit(dvc_clone: Path, offset: float | str) -> None:
    """dvc repro killed while it hashes and caches the outputs the build just published: the
    folder holds one complete version, and the next `make run` (papers recover, dvc repro)
    completes and leaves DVC clean.

    """
    previous = check_published(dvc_clone / "data" / "processed")
    clone = dvc_clone.parent.parent / f"killed-{offset}" / "clone"
    shutil.copytree(dvc_clone, clone, symlinks=True)
    add_listing(clone)
    out = clone / "data" / "processed"

    lock_before = (clone / "dvc.lock").read_text()
    cached_before = cache_files(clone)
    log = dvc_repro_killed_after_build(clone, offset)
    # where the kill landed, for the record (-s shows it)
    cached = cache_files(clone) - cached_before
    lock_written = (clone / "dvc.lock").read_text() != lock_before
    print(f"killed at {offset} after the build: {cached} cache files added, lock written: "
          f"{lock_written}, dvc's last line: {log.strip().splitlines()[-1][:80]!r}")  # fmt: skip
    killed = check_published(out)  # one complete version, every file as its manifest says
    assert killed != previous, log[-2000:]  # the build had published the new version

    # what `make run` does next: `papers recover` (a kill inside DVC's rewrite of its lock table
    # leaves it unreadable, and DVC would refuse to run), then `dvc repro`
    recover = subprocess.run(
        [sys.executable, "-m", "papers", "recover", "--out", str(out), "--repo", str(clone)],
        cwd=clone, env=_clone_env(clone), capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert recover.returncode == 0, recover.stderr
    print(f"papers recover: {recover.stdout.strip()!r}")
    dvc(clone, "repro")
    recovered = check_published(out)
    status = dvc(clone, "status")
    assert "up to date" in status, status
    # the cache holds what dvc.lock names: a fresh checkout restores the same bytes
    shutil.rmtree(out / "papers")
    dvc(clone, "checkout", "data/processed/papers")
    assert check_published(out) == recovered
    # an uninterrupted rebuild gives the same bytes, and the killed run had published them too
    dvc(clone, "repro", "--force", "build-dataset")
    assert check_published(out) == recovered == killed
    assert "up to date" in dvc(clone, "status")
