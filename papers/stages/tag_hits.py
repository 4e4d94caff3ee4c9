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

from papers.stages.compiled import WordTable, bmp_points, char_tables, string_buffers

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
    points = bmp_points()
    chars = pl.Series("c", [chr(c) for c in points], dtype=pl.String)
    written = np.full(0x10000, _UNHANDLED, dtype=np.uint8)
    written[points] = _classes(chars)
    handled, lowers = char_tables()
    lowered = np.full(0x10000, _UNHANDLED, dtype=np.uint8)
    ok = points[handled[points] != 5]
    lowered[ok] = _classes(pl.Series("c", [chr(c) for c in lowers[ok]], dtype=pl.String))
    return written, lowered


_MASK = (1 << 64) - 1
_SEED, _K1, _K2 = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB


def span_hash(word: bytes) -> int:
    """The 64-bit hash the compiled pass gives a word or n-gram's bytes (tag_hits_kernel's
    span_hash, which must agree): eight bytes at a time, little-endian, multiply and shift."""
    h = _SEED ^ (len(word) * _K1 & _MASK)
    for p in range(0, len(word), 8):
        h = ((h ^ int.from_bytes(word[p : p + 8], "little")) * _K2) & _MASK
        h ^= h >> 31
    h = (h * _K1) & _MASK
    return h ^ (h >> 32)


class PrefixTable:
    """The keys' word prefixes ("deep", "deep learning" for the key " deep learning ") in a
    WordTable; key_of[i]: the index in `keys` of the key its entry i is, or -1; bloom: a bit
    per hash (bits 40 and up) that an entry has, so most words are ruled out by one read of a
    small array before the table's. cased_only: every key's first word has a character that
    lower-casing changes (the acronyms: "GAN"), so only such a text word can start a key."""

    def __init__(self, keys: tuple[str, ...]) -> None:
        prefixes: dict[str, int] = {}
        for index, key in enumerate(keys):
            words = key[1:-1].split(" ")
            for n in range(1, len(words)):
                prefixes.setdefault(" ".join(words[:n]), -1)
            prefixes[" ".join(words)] = index
        self.table = WordTable(prefixes, span_hash)
        self.max_words = max((key.count(" ") - 1 for key in keys), default=1)
        index_of = {p.encode("utf-8"): i for p, i in prefixes.items()}
        self.key_of = np.array([index_of[w] for w in self.table.encoded], dtype=np.int32)
        bits = 64
        while bits < min(32 * len(prefixes), 1 << 18):
            bits *= 2
        self.bloom = np.zeros(bits // 64, dtype=np.uint64)
        for word in self.table.encoded:
            bit = (span_hash(word) >> 40) & (bits - 1)
            self.bloom[bit >> 6] |= np.uint64(1 << (bit & 63))
        handled, lowers = char_tables()

        def changes(char: str) -> bool:
            code = ord(char)
            return code < 0x10000 and handled[code] != 5 and int(lowers[code]) != code

        self.cased_only = bool(keys) and all(
            any(changes(c) for c in key[1:-1].split(" ")[0]) for key in keys
        )

    def arrays(
        self,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int, np.ndarray, bool]:
        """What the kernel reads of it (tag_hits_kernel.hits' tables)."""
        words = self.table
        return (words.slots, words.data, words.offsets, self.key_of, words.longest, self.bloom,
                self.cased_only)  # fmt: skip


@functools.lru_cache(maxsize=8)
def prefix_table(keys: tuple[str, ...]) -> PrefixTable | None:
    """The prefix table of one pass's keys, or None when a key has another form than words
    single-spaced between two spaces, or is there twice (the regex passes then take the whole
    field)."""
    if len(set(keys)) != len(keys) or not all(_KEY.fullmatch(key) for key in keys):
        return None
    return PrefixTable(keys)


@functools.cache
def _fused_classes() -> np.ndarray:
    """The class the compiled pass splits a text's words by: its lower case's, and not handled
    where that differs from the character's own (two code points) or is not handled."""
    written, lowered = tag_classes()
    fused = lowered.copy()
    fused[written != lowered] = _UNHANDLED
    return fused


Pairs = pl.DataFrame


def _scratch(longest: int) -> tuple[np.ndarray, ...]:
    """The kernel's scratch for texts of up to `longest` bytes (it allocates none): a text's
    words single-spaced, lower-cased (a lower case can be longer: Ⱥ -> ⱥ) and as written; each
    word's start and end in both; whether no key holds it, whether lower-casing changes it.
    The texts have 8 bytes more, so span_hash loads a text's last bytes eight at a time too."""
    texts = tuple(np.empty(3 * longest + 5 + 8, dtype=np.uint8) for _ in range(2))
    spans = tuple(np.empty(longest + 2, dtype=np.int64) for _ in range(4))
    flags = tuple(np.zeros(longest + 2, dtype=np.bool_) for _ in range(2))
    return texts + spans + flags


def tag_hits(
    text: pl.Series, terms: tuple[str, ...], acronyms: tuple[str, ...]
) -> tuple[Pairs, Pairs, pl.Series] | None:
    """((row, key) of each occurrence of a term in the lower-cased texts, the same of the
    acronyms in the texts as written, rows in order; the rows of the texts left to the regex
    passes), or None when the keys do not fit (prefix_table). Keys are padded, as
    tags.compile_vocabulary makes them; `key` is an index into them."""
    from papers.stages.tag_hits_kernel import hits  # numba: see compiled.worth_compiling

    lowered_table, written_table = prefix_table(terms), prefix_table(acronyms)
    if lowered_table is None or written_table is None:
        return None
    _, lowers = char_tables()
    data, offsets = string_buffers(text.fill_null(""))
    n = len(text)
    longest = int(np.diff(offsets).max()) if n else 0
    max_words = max(lowered_table.max_words, written_table.max_words)
    cap = max(int(offsets[-1] - offsets[0]) // 8, (longest + 1) * max_words) + 1024
    outs = [(np.empty(cap, dtype=np.uint32), np.empty(cap, dtype=np.int32)) for _ in range(2)]
    unhandled = np.zeros(n, dtype=np.uint8)
    scratch = _scratch(longest)
    found: list[list[tuple[np.ndarray, np.ndarray]]] = [[], []]
    row = 0
    while row < n:
        n_l, n_w, row = hits(
            data, offsets, _fused_classes(), lowers, lowered_table.arrays(),
            written_table.arrays(), row, outs[0], outs[1], unhandled, scratch,
        )  # fmt: skip
        for got, (rows, keys), count in zip(found, outs, (n_l, n_w), strict=True):
            got.append((rows[:count].copy(), keys[:count].copy()))
    pairs = [
        pl.DataFrame(
            {
                "row": np.concatenate([r for r, _ in got] or [np.empty(0, np.uint32)]),
                "key": np.concatenate([k for _, k in got] or [np.empty(0, np.int32)]),
            },
            schema={"row": pl.UInt32, "key": pl.Int32},
        )
        for got in found
    ]
    return pairs[0], pairs[1], pl.Series("row", np.flatnonzero(unhandled).astype(np.uint32))
