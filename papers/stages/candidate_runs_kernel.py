"""The compiled pass of candidate_runs.py (numba: imported only by the builds that use it, which
pay for the import and the load of the cached compile).

Text is UTF-8; a character's class and lower case come from tables that candidate_runs.py
derives from polars itself (classes: 0 whitespace, 1 letter, 2 number, 3 apostrophe or hyphen,
4 other, 5 not handled here: the text goes to the regex passes)."""

# mypy: ignore-errors
# ruff: noqa: PLR1714 (set membership is slower than two compares in a compiled loop)

from __future__ import annotations

import numba
import numpy as np

from papers.stages.compiled_kernel import (
    FNV_PRIME,
    FNV_START,
    UNHANDLED,
    char_at,
    char_class,
    decode,
    fnv_hash,
    hash_cp,
    kernel,
    lower_ascii,
    member,
    put,
    utf8_width,
)


@numba.njit(nogil=True, cache=True, inline="always")
def _lowered(data, start, end, lowers, out, at):
    """data[start:end] lower-cased into out[at:]; returns the next position."""
    i = start
    while i < end:
        b = data[i]
        if b < 0x80:
            out[at] = lower_ascii(b)
            at += 1
            i += 1
        else:
            cp, nb = decode(data, i)
            at = put(out, at, lowers[cp])
            i += nb
    return at


@numba.njit(nogil=True, cache=True, inline="always")
def _is_term(out, mark, used, h, key_slots, keys, key_offsets, key_longest, scratch):
    """Whether the phrase out[mark:used] is a vocabulary key, as written or with its apostrophe
    and hyphen runs (and the spaces next to them) read as one space."""
    if used - mark <= key_longest and member(
        out, mark, used, h, False, key_slots, keys, key_offsets
    ):
        return True
    joined = False
    for k in range(mark, used):
        if out[k] == 39 or out[k] == 45:
            joined = True
            break
    if not joined:
        return False
    m = 0
    gap = False
    for k in range(mark, used):
        c = out[k]
        if c == 39 or c == 45 or c == 32:
            gap = True
            continue
        if gap and m:
            scratch[m] = 32
            m += 1
        gap = False
        scratch[m] = c
        m += 1
    if m > key_longest:
        return False
    return member(scratch, 0, m, fnv_hash(scratch, 0, m), False, key_slots, keys, key_offsets)


@numba.njit(nogil=True, cache=True, inline="always")
def _emit(data, lowers, row, words, run, max_words, terms, scratch, seen, out, n_out, used):
    """The run's phrase (its last max_words words, single-spaced, lower-cased) when it is 3
    characters or more and no vocabulary key: counted once more if the row has it already,
    else written. Returns the new (n_out, used)."""
    starts, ends, chars = run
    key_slots, keys, key_offsets, key_longest = terms
    seen_row, seen_index = seen
    out_rows, out_tf, out_data, out_offsets = out
    first = words - max_words if words > max_words else 0
    n_chars = words - first - 1
    for w in range(first, words):
        n_chars += chars[w % max_words]
    if n_chars < 3:
        return n_out, used
    mark = used
    for w in range(first, words):
        if w > first:
            out_data[used] = 32
            used += 1
        used = _lowered(data, starts[w % max_words], ends[w % max_words], lowers, out_data, used)
    h = fnv_hash(out_data, mark, used)
    if _is_term(out_data, mark, used, h, key_slots, keys, key_offsets, key_longest, scratch):
        return n_out, mark
    mask = seen_row.shape[0] - 1
    slot = np.int64(h & np.uint64(mask))
    n = used - mark
    while seen_row[slot] == row + 1:
        j = seen_index[slot]
        a = out_offsets[j]
        if out_offsets[j + 1] - a == n:
            same = True
            for k in range(n):
                if out_data[a + k] != out_data[mark + k]:
                    same = False
                    break
            if same:
                out_tf[j] += 1
                return n_out, mark
        slot = (slot + 1) & mask
    seen_row[slot] = row + 1
    seen_index[slot] = n_out
    out_rows[n_out] = row
    out_tf[n_out] = 1
    out_offsets[n_out + 1] = used
    return n_out + 1, used


@kernel
def runs(data, offsets, classes, lowers, stop_slots, stops, stop_offsets, stop_longest,
         key_slots, keys, key_offsets, key_longest, max_words, out_rows, out_tf, out_data,
         out_offsets, unhandled, starts, ends, chars, seen_row, seen_index, scratch):  # fmt: skip
    """Each text's counted phrases into out_rows/out_tf/out_data/out_offsets (see
    candidate_runs.py for the rules); unhandled[row] = 1 for a text with a character of class 5,
    which gets none here. Returns (phrases, bytes written).

    Scratch, from the caller (a kernel allocates nothing: compiled_kernel.kernel): starts, ends
    and chars of max_words; seen_row and seen_index zeroed, a power of two of slots (the row + 1
    of the phrase in each slot, and its index), over twice the phrases one text can hold;
    scratch twice the longest text's bytes + 2."""
    n_out = 0
    used = 0
    out_offsets[0] = 0
    run = (starts, ends, chars)  # the current run's words (a ring of its last max_words)
    terms = (key_slots, keys, key_offsets, key_longest)
    seen = (seen_row, seen_index)
    out = (out_rows, out_tf, out_data, out_offsets)
    for row in range(offsets.shape[0] - 1):
        begin, finish = offsets[row], offsets[row + 1]
        row_out, row_used = n_out, used
        words = 0  # words in the current run
        length = 0  # its bytes lower-cased, single-spaced
        bad = False
        i = begin
        while i < finish:
            cp, nb = char_at(data, i)
            c = char_class(cp, classes)
            if c == 0:  # whitespace separates words
                i += nb
                continue
            if c == 1 or c == 2:
                # a word: letters and numbers, with inner apostrophe/hyphen runs
                start = i
                n = 0  # characters
                width = 0  # bytes lower-cased
                letter = False
                plain = True  # ASCII only
                h = FNV_START
                last = 0
                before = 0
                while i < finish:
                    b = data[i]
                    if b < 0x80:
                        c = classes[b]
                        if c == 1 or c == 2:  # the common case, without the tables' lookups
                            low = np.int64(lower_ascii(b))
                            letter = letter or c == 1
                            h = (h ^ np.uint64(low)) * FNV_PRIME
                            width += 1
                            n += 1
                            before, last = last, low
                            i += 1
                            continue
                        cp, nb = np.int64(b), 1
                    else:
                        cp, nb = decode(data, i)
                        c = char_class(cp, classes)
                    if c == 1 or c == 2:
                        low = lowers[cp]
                        letter = letter or c == 1
                        plain = plain and cp < 0x80
                        h = hash_cp(h, low)
                        width += utf8_width(low)
                        n += 1
                        before, last = last, low
                        i += nb
                        continue
                    if c == 3:
                        k = i
                        while k < finish and (data[k] == 39 or data[k] == 45):
                            k += 1
                        if k < finish:
                            cp2, _ = decode(data, k)
                            c2 = char_class(cp2, classes)
                            if c2 == 1 or c2 == 2:
                                for j in range(i, k):
                                    h = (h ^ np.uint64(data[j])) * FNV_PRIME
                                    before, last = last, np.int64(data[j])
                                n += k - i
                                width += k - i
                                i = k
                                continue
                    if c == UNHANDLED:
                        bad = True
                    break
                if bad:
                    break
                end = i
                stop = n == 1 or not letter or (n >= 5 and before == 108 and last == 121)
                if not stop and width <= stop_longest:
                    if plain:
                        stop = member(data, start, end, h, True, stop_slots, stops, stop_offsets)
                    else:
                        m = _lowered(data, start, end, lowers, scratch, 0)
                        stop = member(scratch, 0, m, h, False, stop_slots, stops, stop_offsets)
                if stop:
                    if length >= 3:
                        n_out, used = _emit(data, lowers, row, words, run, max_words, terms,
                                            scratch, seen, out, n_out, used)  # fmt: skip
                    words = 0
                    length = 0
                else:
                    starts[words % max_words] = start
                    ends[words % max_words] = end
                    chars[words % max_words] = n
                    length += width + (1 if words else 0)
                    words += 1
                continue
            if c == UNHANDLED:
                bad = True
                break
            # any other character run (with an apostrophe/hyphen run at a word's edge) ends it
            if length >= 3:
                n_out, used = _emit(data, lowers, row, words, run, max_words, terms, scratch,
                                    seen, out, n_out, used)  # fmt: skip
            words = 0
            length = 0
            i += nb
        if bad:
            n_out, used = row_out, row_used
            unhandled[row] = 1
            continue
        if length >= 3:
            n_out, used = _emit(data, lowers, row, words, run, max_words, terms, scratch,
                                seen, out, n_out, used)  # fmt: skip
    return n_out, used
