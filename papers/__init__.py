"""Curated research-paper dataset: pure polars stage functions, I/O and the CLI."""

import os

# Polars' allocator (its own jemalloc, configured by this variable when polars loads, so set
# before any module of the package imports polars; a value already set is kept): freed memory
# is kept for reuse for 30 s instead of handed back to the system within about 10 s. The build
# frees and re-allocates gigabytes per stage, and handing it back made the kernel zero and map
# the same pages again: 14.4M page faults and 46-52 s of system CPU in a 1M-record `papers run`,
# 21-24 s with this; its wall time 199-209 s -> 159-187 s in alternating runs. Memory unused for
# those 30 s is then handed back at once (muzzy_decay_ms 0): left "muzzy" (lazily freed) it still
# counted in RSS and nothing reused it, so peaks grew with the build's length (the 5M parse step
# 3.1-3.2 GiB against 2.7; a 1M build 3.3-3.4 against 2.9-3.0 GiB, the same speed in
# alternating runs). docs/performance.md has the runs.
os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:30000,muzzy_decay_ms:0")

__version__ = "0.1.0"
