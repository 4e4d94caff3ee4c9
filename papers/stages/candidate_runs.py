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

from collections.abc import Iterable

import numpy as np
import polars as pl
import pyarrow as pa

from papers.stages.compiled import char_tables, string_buffers, word_table


def candidate_runs(
    text: pl.Series, stop_words: Iterable[str], keys: Iterable[str], max_words: int
) -> tuple[pl.DataFrame, pl.Series]:
    """((row, phrase, tf) of every text it handles, row numbers of the others).

    `text` holds title and abstract as keyphrase_candidates joins them, URLs already cut; `keys`
    the vocabulary's lower-cased keys. A text's phrases come in the order of their first
    occurrence."""
    from papers.stages.candidate_runs_kernel import runs  # numba: see compiled.worth_compiling

    stops = word_table(frozenset(stop_words))
    terms = word_table(frozenset(keys))
    classes, lowers = char_tables()
    data, offsets = string_buffers(text)
    size = int(offsets[-1] - offsets[0]) if len(text) else 0
    longest_text = int(np.diff(offsets).max()) if len(text) else 0
    most = size // 2 + 1  # a phrase takes 3 bytes and a separator at least
    out_rows = np.empty(most, dtype=np.uint32)
    out_tf = np.empty(most, dtype=np.uint32)
    out_data = np.empty(2 * size + 1, dtype=np.uint8)  # lower case can be longer (Ⱥ -> ⱥ)
    out_offsets = np.empty(most + 1, dtype=np.int64)
    slots = 16
    while slots < longest_text // 2 + 2:  # twice the phrases one text can hold
        slots *= 2
    wide = np.zeros(len(text), dtype=np.uint8)
    count, used = runs(
        data, offsets, classes, lowers, stops.slots, stops.data, stops.offsets, stops.longest,
        terms.slots, terms.data, terms.offsets, terms.longest, max_words,
        out_rows, out_tf, out_data, out_offsets, wide,
        *(np.empty(max_words, dtype=np.int64) for _ in range(3)),  # a run's words: a ring
        np.zeros(slots, dtype=np.int64), np.zeros(slots, dtype=np.int64),  # phrases seen
        np.empty(2 * longest_text + 2, dtype=np.uint8),
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
