"""Tag matching in one compiled pass (numba), for tags.py.

tags._hits finds the vocabulary keys in a field by padding it (two regex passes: clause marks to
a mark word, other non-word runs to a space) and one Aho-Corasick pass over the padded string,
per field and case: 0.66 of the tag stage's 0.93 CPU s per 25k papers. A padded string is its
words single-spaced between two spaces, and a key is words between two spaces, so a key occurs
exactly where the field's words, in a row, are the key's words. Here each field's words are
found in one pass over its UTF-8 bytes and looked up a word n-gram at a time in a hash table of
the keys' word prefixes (an n-gram is extended only while it is the start of some key, so most
words cost one lookup).

What a word character, whitespace and a lower case are comes from polars itself (tag_classes),
so the pass and the regexes cannot disagree on Unicode; a field with a character whose lower
case depends on its neighbours or is not one character ("Σ", "İ"), or one beyond the BMP, is
left to the regex passes (tags._regex_hits, the specification). Both give the same pairs:
tests/stages/test_tag_hits.py compares them on every character of the BMP, on real, hypothesis
and edge texts.
"""

from __future__ import annotations

import functools
import re

import numpy as np
import polars as pl

from papers.stages.compiled import WordTable, char_tables, string_buffers

# a class per character: 0 other (a separator), 1 whitespace, 2 letter or number, 3 a clause
# mark (tags._BOUNDARY's characters), 4 a full stop (a clause mark before whitespace or at the
# end), 5 the mark word's own character (a word character no key holds), 6 not handled here
_SEPARATOR, _SPACE, _WORD, _MARK, _DOT, _POISON, _UNHANDLED = range(7)
_MARKS = [",", ";", ":", "!", "?", "(", ")", '"', "“", "”"]
# a key the table can hold: words of anything but a space or the mark, single-spaced, padded
_KEY = re.compile(r" [^ ¶]+(?: [^ ¶]+)* ", re.DOTALL)


def _classes(chars: pl.Series) -> np.ndarray:
    c = pl.col("c")
    return (
        pl.DataFrame({"c": chars})
        .select(
            pl.when(c == "¶")
            .then(_POISON)
            .when(c.str.contains(r"^[\p{L}\p{N}]$"))
            .then(_WORD)
            .when(c.str.contains(r"^\s$"))
            .then(_SPACE)
            .when(c.is_in(_MARKS))
            .then(_MARK)
            .when(c == ".")
            .then(_DOT)
            .otherwise(_SEPARATOR)
        )
        .to_series()
        .cast(pl.UInt8)
        .to_numpy()
    )


@functools.cache
def tag_classes() -> tuple[np.ndarray, np.ndarray]:
    """(class of each BMP character as written, class of its lower case), as polars' regex
    engine sees them (codes above); a character compiled.char_tables leaves to the regex passes
    (a lower case that is not one character of the BMP, or depends on its neighbours) is class
    6 in the second."""
    points = np.array([c for c in range(0x10000) if not 0xD800 <= c <= 0xDFFF])
    chars = pl.Series("c", [chr(c) for c in points], dtype=pl.String)
    written = np.full(0x10000, _UNHANDLED, dtype=np.uint8)
    written[points] = _classes(chars)
    handled, lowers = char_tables()
    lowered = np.full(0x10000, _UNHANDLED, dtype=np.uint8)
    ok = points[handled[points] != 5]
    lowered[ok] = _classes(pl.Series("c", [chr(c) for c in lowers[ok]], dtype=pl.String))
    return written, lowered


class PrefixTable:
    """The keys' word prefixes ("deep", "deep learning" for the key " deep learning ") in a
    WordTable; key_of[i]: the index in `keys` of the key its entry i is, or -1."""

    def __init__(self, keys: tuple[str, ...]) -> None:
        prefixes: dict[str, int] = {}
        for index, key in enumerate(keys):
            words = key[1:-1].split(" ")
            for n in range(1, len(words)):
                prefixes.setdefault(" ".join(words[:n]), -1)
            prefixes[" ".join(words)] = index
        self.table = WordTable(prefixes)
        index_of = {p.encode("utf-8"): i for p, i in prefixes.items()}
        self.key_of = np.array([index_of[w] for w in self.table.encoded], dtype=np.int32)


@functools.lru_cache(maxsize=8)
def prefix_table(keys: tuple[str, ...]) -> PrefixTable | None:
    """The prefix table of one pass's keys, or None when a key has another form than words
    single-spaced between two spaces, or is there twice (the regex passes then take the whole
    field)."""
    if len(set(keys)) != len(keys) or not all(_KEY.fullmatch(key) for key in keys):
        return None
    return PrefixTable(keys)


def tag_hits(
    text: pl.Series, keys: tuple[str, ...], *, lower: bool
) -> tuple[pl.DataFrame, pl.Series] | None:
    """((row, key) of each occurrence of a key in a text, rows in order; the texts it leaves to
    the regex passes), or None when the keys do not fit (prefix_table). `keys` are padded, as
    tags.compile_vocabulary makes them; `key` is an index into them; `lower`: the texts are
    matched lower-cased (the terms), else as written (the acronyms)."""
    from papers.stages.tag_hits_kernel import hits  # numba: see compiled.worth_compiling

    table = prefix_table(keys)
    if table is None:
        return None
    written, lowered = tag_classes()
    _, lowers = char_tables()
    data, offsets = string_buffers(text.fill_null(""))
    n = len(text)
    longest = int(np.diff(offsets).max()) if n else 0
    max_words = max(key.count(" ") - 1 for key in keys) if keys else 1
    cap = max(int(offsets[-1] - offsets[0]) // 8, (longest + 1) * max_words) + 1024
    out_rows = np.empty(cap, dtype=np.uint32)
    out_keys = np.empty(cap, dtype=np.int32)
    unhandled = np.zeros(n, dtype=np.uint8)
    words = table.table
    found_rows, found_keys = [], []
    row = 0
    while row < n:
        count, row = hits(
            data, offsets, lowered if lower else written, lowers, lower, words.slots,
            words.data, words.offsets, table.key_of, words.longest, row, out_rows, out_keys,
            unhandled,
        )  # fmt: skip
        found_rows.append(out_rows[:count].copy())
        found_keys.append(out_keys[:count].copy())
    found = pl.DataFrame(
        {
            "row": np.concatenate(found_rows) if found_rows else np.empty(0, np.uint32),
            "key": np.concatenate(found_keys) if found_keys else np.empty(0, np.int32),
        },
        schema={"row": pl.UInt32, "key": pl.Int32},
    )
    return found, pl.Series("row", np.flatnonzero(unhandled).astype(np.uint32))
