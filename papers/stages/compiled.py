"""Shared pieces of the compiled text passes (numba kernels: candidate_runs_kernel.py for the
keyphrase candidates, tag_hits_kernel.py for the tags, clean_kernel.py and shingle_kernel.py for
the near-duplicate signatures): per-character tables derived from polars itself, hash tables of
word sets, a string column's Arrow buffers, and when a compiled pass is worth its fixed cost.

A kernel's rules are those of the regex passes it replaces, which stay as its specification and
handle what it leaves (a text with a character it does not handle); tests compare the two."""

from __future__ import annotations

import functools
import importlib
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

# Papers per call from which a compiled pass runs: from ALWAYS_FROM on, always; from WARM_FROM on
# when this process has loaded numba and the tables already (another call paid for them). Below,
# numba's import, the tables and the kernels' cached compiles (~0.8 s a process, see
# docs/performance.md) cost more than the passes save (~50 µs a paper, the four together).
ALWAYS_FROM = 16_000
WARM_FROM = 2_000


def kernels() -> dict[str, Any]:
    """The compiled passes' numba dispatchers a build calls (papers/stages/*_kernel.py; the
    helpers they inline are not called on their own), by "module.name". Imports numba and
    every kernel module; `len(dispatcher.signatures)` is how many types each has compiled or
    loaded in this process (the benchmark's kernel build, tests/pipeline/test_warm.py)."""
    from numba.core.registry import CPUDispatcher

    found: dict[str, Any] = {}
    for path in sorted(Path(__file__).parent.glob("*_kernel.py")):
        module = importlib.import_module(f"{__package__}.{path.stem}")
        for name, value in vars(module).items():
            if (
                isinstance(value, CPUDispatcher)
                and value.__module__ == module.__name__
                and value.targetoptions.get("inline") != "always"
            ):
                found[f"{path.stem}.{name}"] = value
    return found


def worth_compiling(n: int, compiled: bool | None = None) -> bool:
    """Whether a call over n papers should take the compiled passes (see ALWAYS_FROM), unless
    the caller's `compiled` says (a stage's `compiled=` parameter: tests, the warm-up)."""
    if compiled is not None:
        return compiled
    if n >= ALWAYS_FROM:
        return True
    return n >= WARM_FROM and "numba" in sys.modules and char_tables.cache_info().currsize > 0


_WS, _LETTER, _NUMBER, _JOIN, _OTHER, _UNHANDLED = 0, 1, 2, 3, 4, 5


@functools.cache
def bmp_points() -> np.ndarray:
    """Every code point of the BMP that is a character (the surrogates left out), the ones the
    per-character tables are derived for."""
    points = np.arange(0x10000)
    return points[(points < 0xD800) | (points > 0xDFFF)]


@functools.cache
def char_tables() -> tuple[np.ndarray, np.ndarray]:
    """(class, lower case) of every code point of the BMP, as polars' regex engine and
    lower-casing see it: derived from polars itself, so the compiled pass cannot disagree with
    the regex passes on what a letter, a number or whitespace is (their Unicode tables are not
    Python's). The class is that of the lower-cased character (the regexes run on lower-cased
    text): 0 whitespace, 1 letter, 2 number, 3 apostrophe or hyphen, 4 other; 5 (left to the
    regex passes) where lower-casing is not one character to one: "İ" (two characters), "Σ"
    (final or not by what follows), surrogates, a lower case beyond the BMP."""
    points = bmp_points().tolist()
    lowered = pl.Series("c", [chr(c) for c in points], dtype=pl.String).str.to_lowercase()
    low = pl.col("low")
    classes = pl.DataFrame({"low": lowered}).select(
        pl.when(low.str.len_chars() != 1)
        .then(_UNHANDLED)
        .when(low.str.contains(r"^\s$"))
        .then(_WS)
        .when(low.is_in(["'", "-"]))
        .then(_JOIN)
        .when(low.str.contains(r"^\p{L}$"))
        .then(_LETTER)
        .when(low.str.contains(r"^\p{N}$"))
        .then(_NUMBER)
        .otherwise(_OTHER)
    )
    table = np.full(0x10000, _UNHANDLED, dtype=np.uint8)
    lowers = np.zeros(0x10000, dtype=np.int64)
    for point, low_char, kind in zip(points, lowered, classes.to_series(), strict=True):
        code = ord(low_char[0])
        if kind != _UNHANDLED and code < 0x10000 and point != 0x3A3:  # Σ: see above
            table[point] = kind
            lowers[point] = code
    return table, lowers


def fnv(word: bytes) -> int:
    """FNV-1a, 64 bits: how the compiled pass hashes a word's or phrase's lower-cased bytes."""
    h = 0xCBF29CE484222325
    for c in word:
        h = ((h ^ c) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


class WordTable:
    """A set of strings as an open-addressed hash table of their bytes, for the compiled
    lookups (hash_of: FNV-1a, or the 64-bit hash the kernel computes): a slot holds index + 1
    into data/offsets in its low 32 bits and the high 32 bits of the word's hash above (a lookup
    compares bytes only where those agree), 0 when empty. At most a quarter of the slots are
    used, so a word not there mostly costs one read."""

    def __init__(self, words: Iterable[str], hash_of: Callable[[bytes], int] = fnv) -> None:
        encoded = sorted({w.encode("utf-8") for w in words})
        self.data = np.frombuffer(b"".join(encoded), dtype=np.uint8).copy()
        self.offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum([len(w) for w in encoded], out=self.offsets[1:])
        size = 16
        while size < 4 * len(encoded):
            size *= 2
        self.slots = np.zeros(size, dtype=np.int64)
        for index, word in enumerate(encoded):
            h = hash_of(word)
            slot = h & (size - 1)
            while self.slots[slot]:
                slot = (slot + 1) & (size - 1)
            self.slots[slot] = ((h >> 32) << 32 | (index + 1)) - (1 << 64 if h >> 63 else 0)
        self.longest = max((len(w) for w in encoded), default=0)
        self.encoded = encoded  # entry i's bytes


_TABLES: dict[frozenset[str], WordTable] = {}


def word_table(words: frozenset[str]) -> WordTable:
    """The table of a set of words, built once per set (the stop words, a vocabulary's keys).
    Two partitions' threads may call it at once: each uses the table it got or built, never a
    lookup that the other's clearing could empty in between."""
    table = _TABLES.get(words)
    if table is None:
        table = WordTable(words)
        if len(_TABLES) >= 8:
            _TABLES.clear()
        _TABLES[words] = table
    return table


def string_buffers(text: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """(UTF-8 bytes, int64 offsets with one per row and one more) of a string column, without a
    copy where its Arrow array allows. Fill nulls first: a null's bytes are not defined."""
    array = text.rechunk().to_arrow(compat_level=pl.CompatLevel.oldest())
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    buffers = array.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int64)[array.offset :][: len(array) + 1]
    data = np.frombuffer(buffers[2] or b"\0", dtype=np.uint8)
    return data, offsets
