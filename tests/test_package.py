"""Importing the package: what it sets up before polars loads."""

from __future__ import annotations

import os
import subprocess
import sys

SHOW = "import papers, os, sys; print(os.environ.get('_RJEM_MALLOC_CONF')); print('polars' in sys.modules)"


def _run(env: dict[str, str]) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", SHOW], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.splitlines()


def test_polars_allocator_keeps_freed_memory_longer_unless_told_otherwise() -> None:
    env = {k: v for k, v in os.environ.items() if k != "_RJEM_MALLOC_CONF"}
    # set by the package's first import, before any of its modules has loaded polars
    assert _run(env) == ["dirty_decay_ms:30000,muzzy_decay_ms:0", "False"]
    assert _run({**env, "_RJEM_MALLOC_CONF": "narenas:2"}) == ["narenas:2", "False"]
