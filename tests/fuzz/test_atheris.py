"""Run the atheris reader harness (tests/fuzz/atheris_readers.py) for a bounded number of inputs.

A smoke slice by default (the fixtures as seeds plus a hundred mutants); `-m slow` runs 10,000
inputs (about 5 minutes at ~35 inputs/s on 2 cores). A finding fails the test with the crashing
input's file and the harness's traceback.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

HARNESS = Path(__file__).resolve().parent / "atheris_readers.py"


def fuzz(tmp_path: Path, runs: int, max_seconds: int) -> tuple[int, float]:
    """(inputs run, seconds) of one harness run; fails the test on any finding."""
    corpus, artifacts = tmp_path / "corpus", tmp_path / "artifacts"
    artifacts.mkdir()
    seeded = subprocess.run(
        [sys.executable, str(HARNESS), "--seed-corpus", str(corpus)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert seeded.returncode == 0, seeded.stderr[-3000:]
    proc = subprocess.run(
        [
            sys.executable,
            str(HARNESS),
            str(corpus),
            f"-runs={runs}",
            f"-max_total_time={max_seconds}",
            "-max_len=65536",
            "-timeout=30",
            "-rss_limit_mb=4096",
            "-seed=1",
            f"-artifact_prefix={artifacts}/",
        ],
        capture_output=True,
        text=True,
        timeout=max_seconds + 300,
        check=False,
    )
    found = sorted(p.name for p in artifacts.iterdir())
    assert not found, f"finding(s) {found}:\n{proc.stderr[-5000:]}"
    assert proc.returncode == 0, proc.stderr[-5000:]
    done = re.search(r"Done (\d+) runs in (\d+) second", proc.stderr)
    assert done is not None, proc.stderr[-3000:]
    return int(done.group(1)), float(done.group(2))


def test_atheris_smoke(tmp_path: Path) -> None:
    runs, _ = fuzz(tmp_path, runs=100, max_seconds=60)
    assert runs >= 100


@pytest.mark.slow
@pytest.mark.long
def test_atheris_long(tmp_path: Path) -> None:
    runs, seconds = fuzz(tmp_path, runs=10_000, max_seconds=900)
    print(f"atheris: {runs} inputs in {seconds:.0f} s, no finding")
    assert runs >= 1000
