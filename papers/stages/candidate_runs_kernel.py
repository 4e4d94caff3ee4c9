"""The compiled pass of candidate_runs.py (numba: imported only by the builds that use it, which
pay for the import and the load of the cached compile)."""

# mypy: ignore-errors
# ruff: noqa: PLR1714 (set membership is slower than two compares in a compiled loop)

from __future__ import annotations

import numba
import numpy as np

_FNV_START = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)


@numba.njit(nogil=True, cache=True, inline="always")
def _lower(c):
    return c + 32 if 65 <= c <= 90 else c


@numba.njit(nogil=True, cache=True, inline="always")
def _member(buf, start, end, h, lower, slots, words, offsets):
    """Whether buf[start:end] (lower-cased first when `lower`), of FNV-1a hash h, is in the
    table (candidate_runs.WordTable)."""
    n = end - start
    mask = slots.shape[0] - 1
    slot = np.int64(h & np.uint64(mask))
    while slots[slot] != 0:
        index = slots[slot] - 1
        a = offsets[index]
        if offsets[index + 1] - a == n:
            same = True
            for k in range(n):
                c = _lower(buf[start + k]) if lower else buf[start + k]
                if words[a + k] != c:
                    same = False
                    break
            if same:
                return True
        slot = (slot + 1) & mask
    return False


@numba.njit(nogil=True, cache=True, inline="always")
def _hash(buf, start, end):
    h = _FNV_START
    for k in range(start, end):
        h = (h ^ np.uint64(buf[k])) * _FNV_PRIME
    return h


@numba.njit(nogil=True, cache=True, inline="always")
def _is_term(out, mark, used, h, key_slots, keys, key_offsets, key_longest, scratch):
    """Whether the phrase out[mark:used] is a vocabulary key, as written or with its apostrophe
    and hyphen runs (and the spaces next to them) read as one space."""
    n = used - mark
    if n <= key_longest and _member(out, mark, used, h, False, key_slots, keys, key_offsets):
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
    return _member(scratch, 0, m, _hash(scratch, 0, m), False, key_slots, keys, key_offsets)


@numba.njit(nogil=True, cache=True, inline="always")
def _emit(data, row, words, length, starts, ends, max_words, key_slots, keys, key_offsets,
          key_longest, scratch, seen_row, seen_index, out_rows, out_tf, out_data, out_offsets,
          n_out, used):  # fmt: skip
    """The run's phrase (its last max_words words, single-spaced, lower-cased), when the run and
    the phrase are 3 bytes or more and the phrase is no vocabulary key: counted once more if
    the row has it already, else written. Returns the new (n_out, used)."""
    if words == 0 or length < 3:
        return n_out, used
    first = words - max_words if words > max_words else 0
    mark = used
    for w in range(first, words):
        if w > first:
            out_data[used] = 32
            used += 1
        for k in range(starts[w % max_words], ends[w % max_words]):
            out_data[used] = _lower(data[k])
            used += 1
    if used - mark < 3:
        return n_out, mark
    h = _hash(out_data, mark, used)
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


@numba.njit(nogil=True, cache=True)
def runs(data, offsets, classes, stop_slots, stops, stop_offsets, stop_longest, key_slots, keys,
         key_offsets, key_longest, max_words, seen_slots, out_rows, out_tf, out_data,
         out_offsets, wide):  # fmt: skip
    """Each ASCII text's counted phrases into out_rows/out_tf/out_data/out_offsets (see
    candidate_runs.py for the rules); wide[row] = 1 for a text with a non-ASCII byte, which
    gets none here. classes: 0 whitespace, 1 letter, 2 digit, 3 apostrophe or hyphen, 4 other.
    Returns (phrases, bytes written)."""
    n_out = 0
    used = 0
    out_offsets[0] = 0
    starts = np.empty(max_words, dtype=np.int64)
    ends = np.empty(max_words, dtype=np.int64)
    seen_row = np.zeros(seen_slots, dtype=np.int64)  # row + 1 of the phrase in each slot
    seen_index = np.zeros(seen_slots, dtype=np.int64)
    longest = 1
    for row in range(offsets.shape[0] - 1):
        longest = max(longest, offsets[row + 1] - offsets[row] + 1)
    scratch = np.empty(longest, dtype=np.uint8)
    for row in range(offsets.shape[0] - 1):
        begin, finish = offsets[row], offsets[row + 1]
        wide_row = False
        for i in range(begin, finish):
            if data[i] >= 128:
                wide_row = True
                break
        if wide_row:
            wide[row] = 1
            continue
        words = 0  # words in the current run
        length = 0  # its bytes, single-spaced
        i = begin
        while i < finish:
            c = classes[data[i]]
            if c == 0:  # whitespace separates words
                i += 1
                continue
            if c == 1 or c == 2:
                # a word: letters and digits, with inner apostrophe/hyphen runs
                letter = c == 1
                h = (_FNV_START ^ np.uint64(_lower(data[i]))) * _FNV_PRIME
                end = i + 1
                while end < finish:
                    c = classes[data[end]]
                    if c == 1 or c == 2:
                        letter = letter or c == 1
                        h = (h ^ np.uint64(_lower(data[end]))) * _FNV_PRIME
                        end += 1
                        continue
                    if c == 3:
                        k = end
                        while k < finish and classes[data[k]] == 3:
                            k += 1
                        if k < finish and (classes[data[k]] == 1 or classes[data[k]] == 2):
                            for j in range(end, k):
                                h = (h ^ np.uint64(data[j])) * _FNV_PRIME
                            end = k
                            continue
                    break
                n = end - i
                stop = (
                    n == 1
                    or not letter
                    or (n >= 5 and _lower(data[end - 2]) == 108 and _lower(data[end - 1]) == 121)
                    or (n <= stop_longest
                        and _member(data, i, end, h, True, stop_slots, stops, stop_offsets))
                )  # fmt: skip
                if stop and length >= 3:
                    n_out, used = _emit(
                        data, row, words, length, starts, ends, max_words, key_slots, keys,
                        key_offsets, key_longest, scratch, seen_row, seen_index, out_rows,
                        out_tf, out_data, out_offsets, n_out, used,
                    )  # fmt: skip
                if stop:
                    words = 0
                    length = 0
                else:
                    starts[words % max_words] = i
                    ends[words % max_words] = end
                    length += n + (1 if words else 0)
                    words += 1
                i = end
                continue
            # any other character run (with an apostrophe/hyphen run at a word's edge) ends it
            if length >= 3:
                n_out, used = _emit(
                    data, row, words, length, starts, ends, max_words, key_slots, keys,
                    key_offsets, key_longest, scratch, seen_row, seen_index, out_rows, out_tf,
                    out_data, out_offsets, n_out, used,
                )  # fmt: skip
            words = 0
            length = 0
            while i < finish and classes[data[i]] >= 3:
                i += 1
        n_out, used = _emit(
            data, row, words, length, starts, ends, max_words, key_slots, keys, key_offsets,
            key_longest, scratch, seen_row, seen_index, out_rows, out_tf, out_data, out_offsets,
            n_out, used,
        )  # fmt: skip
    return n_out, used
