"""Curated research-paper dataset: pure polars stage functions, I/O and the CLI."""

import os

# Polars' allocator (its own jemalloc, configured by this variable when polars loads, so set
# before any module of the package imports polars; a value already set is kept): freed memory
# is kept for reuse for 30 s instead of handed back to the system within about 10 s. The build
# frees and re-allocates gigabytes per stage, and handing it back made the kernel zero and map
# the same pages again: 14.4M page faults and 46-52 s of system CPU in a 1M-record `papers run`,
# 21-24 s with this; its wall time 199-209 s -> 159-187 s in alternating runs. Peak RSS 2.4 ->
# 3.1-3.2 GiB at 1M (freed memory counts until it is handed back). docs/performance.md has the runs.
os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:30000,muzzy_decay_ms:30000")

__version__ = "0.1.0"
