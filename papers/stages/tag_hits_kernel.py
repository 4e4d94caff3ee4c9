"""The compiled pass of tag_hits.py (numba: imported only by the builds that use it).

Text is UTF-8; a character's class (and, for the lower-cased pass, its lower case) comes from
tables that tag_hits.py derives from polars itself (see tag_hits.tag_classes for the codes)."""

# mypy: ignore-errors
# ruff: noqa: PLR1714, SIM109 (set membership is slower than two compares in a compiled loop)

from __future__ import annotations

import numba
import numpy as np

from papers.stages.compiled_kernel import FNV_PRIME, FNV_START, decode, find, put

# tag_hits.tag_classes' codes
_SEPARATOR, _SPACE, _WORD, _MARK, _DOT, _POISON, _UNHANDLED = 0, 1, 2, 3, 4, 5, 6


@numba.njit(nogil=True, cache=True)
def hits(data, offsets, classes, lowers, lower, slots, words, word_offsets, key_of, longest_key,
         first_row, out_rows, out_keys, unhandled):  # fmt: skip
    """Each vocabulary key's occurrences as whole words in each text from first_row on, as
    (row, key) pairs into out_rows/out_keys: the text's words (lower-cased when `lower`) are
    looked up a word n-gram at a time in the table of the keys' word prefixes (slots, words,
    word_offsets; key_of: the key a prefix is, or -1), an n-gram extended while it is a prefix.
    unhandled[row] = 1 for a text with a character of class _UNHANDLED, which gets none here.
    Returns (pairs written, the row to go on from: the number of rows when all are done, less
    when out_rows is full)."""
    n_rows = offsets.shape[0] - 1
    longest = 1
    for row in range(first_row, n_rows):
        longest = max(longest, offsets[row + 1] - offsets[row])
    # a text's words, single-spaced and lower-cased (a lower case can be longer: Ⱥ -> ⱥ)
    scratch = np.empty(3 * longest + 2, dtype=np.uint8)
    starts = np.empty(longest + 1, dtype=np.int64)
    ends = np.empty(longest + 1, dtype=np.int64)
    hashes = np.empty(longest + 1, dtype=np.uint64)
    poisoned = np.empty(longest + 1, dtype=np.bool_)  # a word no key holds
    cap = out_rows.shape[0]
    n_out = 0
    for row in range(first_row, n_rows):
        begin, finish = offsets[row], offsets[row + 1]
        n_words = 0
        used = 0
        bad = False
        i = begin
        while i < finish:
            b = data[i]
            if b < 0x80:
                cp, nb = np.int64(b), 1
            else:
                cp, nb = decode(data, i)
                if cp >= 0x10000:
                    bad = True
                    break
            c = classes[cp]
            if c == _WORD or c == _POISON:
                # a word: its characters (lower-cased) into scratch, single-spaced, hashed
                if n_words:
                    scratch[used] = 32
                    used += 1
                starts[n_words] = used
                h = FNV_START
                poison = False
                while True:
                    if b < 0x80:
                        if lower and 65 <= b <= 90:
                            b += 32
                        scratch[used] = b
                        used += 1
                        h = (h ^ np.uint64(b)) * FNV_PRIME
                    else:
                        poison = poison or c == _POISON
                        mark = used
                        used = put(scratch, used, lowers[cp] if lower else cp)
                        for k in range(mark, used):
                            h = (h ^ np.uint64(scratch[k])) * FNV_PRIME
                    i += nb
                    if i >= finish:
                        break
                    b = data[i]
                    if b < 0x80:
                        if classes[b] != _WORD:
                            break
                        cp, nb, c = np.int64(b), 1, _WORD
                        continue
                    cp, nb = decode(data, i)
                    if cp >= 0x10000:
                        break
                    c = classes[cp]
                    if c != _WORD and c != _POISON:
                        break
                ends[n_words] = used
                hashes[n_words] = h
                poisoned[n_words] = poison
                n_words += 1
                continue
            if c == _UNHANDLED:
                bad = True
                break
            mark = c == _MARK
            if c == _DOT:
                if i + 1 >= finish:
                    mark = True
                else:
                    b2 = data[i + 1]
                    cp2 = np.int64(b2) if b2 < 0x80 else decode(data, i + 1)[0]
                    mark = cp2 < 0x10000 and classes[cp2] == _SPACE
            if mark:  # a clause mark: a word no key holds, so no match runs across it
                starts[n_words] = used
                ends[n_words] = used
                poisoned[n_words] = True
                n_words += 1
            i += nb
        if bad:
            unhandled[row] = 1
            continue
        row_out = n_out
        for w in range(n_words):
            if poisoned[w]:
                continue
            start = starts[w]
            h = hashes[w]
            last = w
            while True:
                end = ends[last]
                if end - start > longest_key:
                    break
                index = find(scratch, start, end, h, False, slots, words, word_offsets)
                if index < 0:
                    break
                key = key_of[index]
                if key >= 0:
                    if n_out == cap:
                        return row_out, row
                    out_rows[n_out] = row
                    out_keys[n_out] = key
                    n_out += 1
                last += 1
                if last >= n_words or poisoned[last]:
                    break
                for k in range(end, ends[last]):  # the space and the next word
                    h = (h ^ np.uint64(scratch[k])) * FNV_PRIME
    return n_out, n_rows
