"""Keyphrase candidates in one compiled pass (numba), for keyphrases.py.

keyphrase_candidates finds a text's phrases with five regex passes (lower-casing, whitespace,
punctuation, stop words, the split into runs), then drops vocabulary terms and counts each
paper's phrases with polars joins and a group-by: 1.14 CPU s per 25k papers. The same rules fit
one pass over each text's UTF-8 bytes, here, which also drops the terms and counts (0.6 CPU s
with the rest of keyphrase_candidates). What a letter, a number, whitespace and a lower case
are comes from polars itself (char_tables), so the two cannot disagree on Unicode; a text with a
character whose lower case depends on its neighbours or is not one character ("Σ", "İ") or one
beyond the BMP is left to the regex passes. Both give the same rows:
tests/stages/test_candidate_runs.py compares them on every character of the BMP, on real,
hypothesis and edge texts.

The rules, as keyphrases.py's regexes state them:
- text is lower-cased; whitespace separates words and is never part of one;
- a word is a run of letters and numbers with inner runs of apostrophes and hyphens
  ("state-of-the-art", "can't"); any other character run, and an apostrophe or hyphen run that
  starts or ends a word, ends a candidate run;
- a stop word (one of STOPWORDS, a word with no letter, a one-character word, a word of five or
  more characters ending in "ly") ends a candidate run;
- a candidate run of under 3 bytes (its words single-spaced) is dropped; a run's phrase is its
  last max_words words, single-spaced, kept when at least 3 characters long;
- a phrase that is a vocabulary key, or whose apostrophes and hyphens read as spaces make one,
  is dropped; the others are counted per text.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

import numpy as np
import polars as pl
import pyarrow as pa

_WS, _LETTER, _NUMBER, _JOIN, _OTHER, _UNHANDLED = 0, 1, 2, 3, 4, 5


@functools.cache
def char_tables() -> tuple[np.ndarray, np.ndarray]:
    """(class, lower case) of every code point of the BMP, as polars' regex engine and
    lower-casing see it: derived from polars itself, so the compiled pass cannot disagree with
    the regex passes on what a letter, a number or whitespace is (their Unicode tables are not
    Python's). The class is that of the lower-cased character (the regexes run on lower-cased
    text): 0 whitespace, 1 letter, 2 number, 3 apostrophe or hyphen, 4 other; 5 (left to the
    regex passes) where lower-casing is not one character to one: "İ" (two characters), "Σ"
    (final or not by what follows), surrogates, a lower case beyond the BMP."""
    points = [c for c in range(0x10000) if not 0xD800 <= c <= 0xDFFF]
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
    """A set of strings as an open-addressed hash table of their bytes (FNV-1a), for the
    compiled lookups: slots hold index + 1 into data/offsets, 0 when empty."""

    def __init__(self, words: Iterable[str]) -> None:
        encoded = sorted({w.encode("utf-8") for w in words})
        self.data = np.frombuffer(b"".join(encoded), dtype=np.uint8).copy()
        self.offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum([len(w) for w in encoded], out=self.offsets[1:])
        size = 16
        while size < 2 * len(encoded):
            size *= 2
        self.slots = np.zeros(size, dtype=np.int32)
        for index, word in enumerate(encoded):
            slot = fnv(word) & (size - 1)
            while self.slots[slot]:
                slot = (slot + 1) & (size - 1)
            self.slots[slot] = index + 1
        self.longest = max((len(w) for w in encoded), default=0)


def candidate_runs(
    text: pl.Series, stop_words: Iterable[str], keys: Iterable[str], max_words: int
) -> tuple[pl.DataFrame, pl.Series]:
    """((row, phrase, tf) of every text it handles, row numbers of the others).

    `text` holds title and abstract as keyphrase_candidates joins them, URLs already cut; `keys`
    the vocabulary's lower-cased keys. A text's phrases come in the order of their first
    occurrence."""
    from papers.stages.candidate_runs_kernel import runs

    stops = _table(frozenset(stop_words))
    terms = _table(frozenset(keys))
    classes, lowers = char_tables()
    array = text.rechunk().to_arrow(compat_level=pl.CompatLevel.oldest())
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    buffers = array.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int64)[array.offset :][: len(array) + 1]
    data = np.frombuffer(buffers[2] or b"\0", dtype=np.uint8)
    size = int(offsets[-1] - offsets[0]) if len(array) else 0
    longest_text = int(np.diff(offsets).max()) if len(array) else 0
    most = size // 2 + 1  # a phrase takes 3 bytes and a separator at least
    out_rows = np.empty(most, dtype=np.uint32)
    out_tf = np.empty(most, dtype=np.uint32)
    out_data = np.empty(2 * size + 1, dtype=np.uint8)  # lower case can be longer (Ⱥ -> ⱥ)
    out_offsets = np.empty(most + 1, dtype=np.int64)
    slots = 16
    while slots < longest_text // 2 + 2:  # twice the phrases one text can hold
        slots *= 2
    wide = np.zeros(len(array), dtype=np.uint8)
    count, used = runs(
        data, offsets, classes, lowers, stops.slots, stops.data, stops.offsets, stops.longest,
        terms.slots, terms.data, terms.offsets, terms.longest, max_words, slots,
        out_rows, out_tf, out_data, out_offsets, wide,
    )  # fmt: skip
    phrases = pa.LargeStringArray.from_buffers(
        count, pa.py_buffer(out_offsets[: count + 1]), pa.py_buffer(out_data[:used])
    )
    found = pl.DataFrame(
        {
            "row": pl.Series("row", out_rows[:count]),
            "phrase": pl.Series("phrase", phrases, dtype=pl.String),
            "tf": pl.Series("tf", out_tf[:count]),
        }
    )
    return found, pl.Series("row", np.flatnonzero(wide).astype(np.uint32))


_TABLES: dict[frozenset[str], WordTable] = {}


def _table(words: frozenset[str]) -> WordTable:
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
