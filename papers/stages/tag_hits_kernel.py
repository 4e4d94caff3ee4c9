"""The compiled pass of tag_hits.py (numba: imported only by the builds that use it).

Text is UTF-8; a character's class and lower case come from tables that tag_hits.py derives
from polars itself (see tag_hits.tag_classes for the codes)."""

# mypy: ignore-errors
# ruff: noqa: PLR1714, SIM109 (set membership is slower than two compares in a compiled loop)

from __future__ import annotations

import numba
import numpy as np

from papers.stages.compiled_kernel import char_at, decode, find, kernel, lower_ascii, put, read8

# tag_hits.tag_classes' codes
_SEPARATOR, _SPACE, _WORD, _MARK, _DOT, _POISON, _UNHANDLED = 0, 1, 2, 3, 4, 5, 6
# span_hash's constants (tag_hits.span_hash, the same in Python)
_SEED = np.uint64(0x9E3779B97F4A7C15)
_K1 = np.uint64(0xBF58476D1CE4E5B9)
_K2 = np.uint64(0x94D049BB133111EB)
_BLOOM_SHIFT = np.uint64(40)


@numba.njit(nogil=True, cache=True, inline="always")
def span_hash(buf, start, end):
    """tag_hits.span_hash of buf[start:end]: eight bytes at a time, so a word costs a multiply
    or two, not one per byte. The eight are one load, the bytes past `end` masked off, where
    the buffer holds them (the scratch has room: tag_hits._scratch); byte by byte at its end."""
    h = _SEED ^ (np.uint64(end - start) * _K1)
    p = start
    last_load = buf.shape[0] - 8
    while p < end:
        top = min(p + 8, end)
        if p <= last_load:
            v = read8(buf, p)
            if top - p < 8:
                v &= (np.uint64(1) << np.uint64(8 * (top - p))) - np.uint64(1)
        else:
            v = np.uint64(0)
            for k in range(p, top):
                v |= np.uint64(buf[k]) << np.uint64(8 * (k - p))
        h = (h ^ v) * _K2
        h ^= h >> np.uint64(31)
        p = top
    h *= _K1
    return h ^ (h >> np.uint64(32))


@numba.njit(nogil=True, cache=True, inline="always")
def _maybe(bloom, h):
    """Whether the bloom filter (tag_hits.PrefixTable.bloom) may hold a word of hash h."""
    bit = (h >> _BLOOM_SHIFT) & np.uint64(bloom.shape[0] * 64 - 1)
    return (bloom[bit >> np.uint64(6)] >> (bit & np.uint64(63))) & np.uint64(1) != 0


@numba.njit(nogil=True, cache=True, inline="always")
def _match(table, text, words, n_words, row, out, n_out):
    """The pairs (row, key) of the keys among one text's words into out; returns the new
    n_out, or -1 when out is full. text: the words single-spaced; words: their (starts, ends)
    in it, which are no key's (a clause mark, the mark's character), which have a character
    that lower-casing changes."""
    slots, entries, entry_offsets, key_of, longest_key, bloom, cased_only = table
    starts, ends = words[0], words[1]
    poisoned, changed = words[2], words[3]
    out_rows, out_keys = out
    cap = out_rows.shape[0]
    for w in range(n_words):
        if poisoned[w] or (cased_only and not changed[w]):
            continue
        start = starts[w]
        end = ends[w]
        h = span_hash(text, start, end)
        if not _maybe(bloom, h):
            continue
        last = w
        while True:
            if end - start > longest_key:
                break
            index = find(text, start, end, h, False, slots, entries, entry_offsets)
            if index < 0:
                break
            key = key_of[index]
            if key >= 0:
                if n_out == cap:
                    return -1
                out_rows[n_out] = row
                out_keys[n_out] = key
                n_out += 1
            last += 1
            if last >= n_words or poisoned[last]:
                break
            end = ends[last]
            h = span_hash(text, start, end)
            if not _maybe(bloom, h):
                break
    return n_out


@numba.njit(nogil=True, cache=True, inline="always")
def _mark(spans, n_words, ul, uw):
    """A clause mark as a word of its own that no key holds, so no match runs across it."""
    starts_l, ends_l, starts_w, ends_w, poisoned = spans
    starts_l[n_words] = ul
    ends_l[n_words] = ul
    starts_w[n_words] = uw
    ends_w[n_words] = uw
    poisoned[n_words] = True
    return n_words + 1


@kernel
def hits(data, offsets, classes, lowers, lowered_table, written_table, first_row,
         lowered_out, written_out, unhandled, scratch):  # fmt: skip
    """Each vocabulary key's occurrences as whole words in each text from first_row on: the
    lower-cased text's words against lowered_table's keys (the terms), the text's words as
    written against written_table's (the acronyms), as (row, key) pairs into lowered_out and
    written_out. A table is (slots, entries, entry_offsets, key_of, longest_key, bloom,
    cased_only): its keys' word prefixes (key_of: the key a prefix is, or -1), so an n-gram is
    extended while it is a prefix; cased_only: only a word that lower-casing changes can start
    one of its keys. unhandled[row] = 1 for a text with a character of class _UNHANDLED, which
    gets none here. Returns (pairs written to each, the row to go on from: the number of rows
    when all are done, less when an output is full). scratch (tag_hits._scratch, sized by the
    longest text): a text's words single-spaced, lower-cased and as written, each word's spans
    in both, and whether no key holds it or lower-casing changes it."""
    n_rows = offsets.shape[0] - 1
    low, wrote, starts_l, ends_l, starts_w, ends_w, poisoned, changed = scratch
    spans = (starts_l, ends_l, starts_w, ends_w, poisoned)
    n_l = 0
    n_w = 0
    for row in range(first_row, n_rows):
        begin, finish = offsets[row], offsets[row + 1]
        n_words = 0
        ul = 0  # bytes in low
        uw = 0  # bytes in wrote
        bad = False
        i = begin
        while i < finish:
            cp, nb = char_at(data, i)
            c = classes[cp] if cp < 0x10000 else _UNHANDLED
            if c == _WORD or c == _POISON:
                # a word: its characters lower-cased into low and as written into wrote
                if n_words:
                    low[ul] = 32
                    wrote[uw] = 32
                    ul += 1
                    uw += 1
                starts_l[n_words] = ul
                starts_w[n_words] = uw
                poison = False
                change = False
                while True:
                    if cp < 0x80:
                        lb = lower_ascii(cp)
                        change = change or lb != cp
                        low[ul] = lb
                        wrote[uw] = cp
                        ul += 1
                        uw += 1
                    else:
                        poison = poison or c == _POISON
                        lc = lowers[cp]
                        change = change or lc != cp
                        ul = put(low, ul, lc)
                        uw = put(wrote, uw, cp)
                    i += nb
                    if i >= finish:
                        break
                    b = data[i]
                    if b < 0x80:
                        if classes[b] != _WORD:
                            break
                        cp, nb = np.int64(b), 1
                        continue
                    cp, nb = decode(data, i)
                    if cp >= 0x10000:
                        break
                    c = classes[cp]
                    if c != _WORD and c != _POISON:
                        break
                ends_l[n_words] = ul
                ends_w[n_words] = uw
                poisoned[n_words] = poison
                changed[n_words] = change
                n_words += 1
                continue
            if c == _UNHANDLED:
                bad = True
                break
            if c == _MARK:
                n_words = _mark(spans, n_words, ul, uw)
            elif c == _DOT:  # a full stop before whitespace or at the end
                mark = i + 1 >= finish
                if not mark:
                    b2 = data[i + 1]
                    cp2 = np.int64(b2) if b2 < 0x80 else decode(data, i + 1)[0]
                    mark = cp2 < 0x10000 and classes[cp2] == _SPACE
                if mark:
                    n_words = _mark(spans, n_words, ul, uw)
            i += nb
        if bad:
            unhandled[row] = 1
            continue
        got_l = _match(lowered_table, low, (starts_l, ends_l, poisoned, changed), n_words, row,
                       lowered_out, n_l)  # fmt: skip
        got_w = _match(written_table, wrote, (starts_w, ends_w, poisoned, changed), n_words,
                       row, written_out, n_w)  # fmt: skip
        if got_l < 0 or got_w < 0:
            return n_l, n_w, row
        n_l, n_w = got_l, got_w
    return n_l, n_w, n_rows
