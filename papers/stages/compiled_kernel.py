"""The compiled text passes' shared pieces (numba): UTF-8 decoding and encoding, little-endian
loads, FNV-1a hashing and lookups in compiled.WordTable's hash tables. Imported only by the
kernels, which only the builds that use them import (see compiled.worth_compiling)."""

# mypy: ignore-errors

from __future__ import annotations

import numba
import numpy as np


def kernel(function):
    """A compiled pass's entry point: numba without its reference-counted runtime (NRT).

    With the runtime, every array handed to an inlined helper is reference-counted (an atomic
    add and a call per array, per call, where the helpers sit in the inner loops), and the
    counts of the arrays both threads share (the character and word tables) bounce between the
    cores: measured on the keyphrase pass, that was more than half its time (0.8 -> 0.4 CPU s per
    25k papers). Without it a kernel cannot allocate (numba refuses to compile one that does):
    its callers pass in every array, scratch included."""
    return numba.njit(nogil=True, cache=True, _nrt=False)(function)


FNV_START = np.uint64(0xCBF29CE484222325)
FNV_PRIME = np.uint64(0x100000001B3)
UNHANDLED = 5


@numba.njit(nogil=True, cache=True, inline="always")
def lower_ascii(c):
    return c + 32 if 65 <= c <= 90 else c


@numba.njit(nogil=True, cache=True, inline="always")
def decode(data, i):
    """(code point, bytes) at data[i]; a character beyond the BMP reads as 0x10000."""
    b = np.int64(data[i])
    if b < 0x80:
        return b, 1
    if b < 0xE0:
        return ((b & 0x1F) << 6) | (np.int64(data[i + 1]) & 0x3F), 2
    if b < 0xF0:
        middle = (np.int64(data[i + 1]) & 0x3F) << 6
        return ((b & 0x0F) << 12) | middle | (np.int64(data[i + 2]) & 0x3F), 3
    return 0x10000, 4


@numba.njit(nogil=True, cache=True, inline="always")
def char_at(data, i):
    """(code point, bytes) at data[i]: an ASCII byte without the decoding."""
    b = data[i]
    if b < 0x80:
        return np.int64(b), 1
    return decode(data, i)


@numba.njit(nogil=True, cache=True, inline="always")
def char_class(cp, classes):
    return classes[cp] if cp < 0x10000 else UNHANDLED


@numba.njit(nogil=True, cache=True, inline="always")
def utf8_width(cp):
    return 1 if cp < 0x80 else 2 if cp < 0x800 else 3


@numba.njit(nogil=True, cache=True, inline="always")
def put(out, at, cp):
    """cp (in the BMP) UTF-8 encoded at out[at]; returns the next position."""
    if cp < 0x80:
        out[at] = cp
        return at + 1
    if cp < 0x800:
        out[at] = 0xC0 | (cp >> 6)
        out[at + 1] = 0x80 | (cp & 0x3F)
        return at + 2
    out[at] = 0xE0 | (cp >> 12)
    out[at + 1] = 0x80 | ((cp >> 6) & 0x3F)
    out[at + 2] = 0x80 | (cp & 0x3F)
    return at + 3


@numba.njit(nogil=True, cache=True, inline="always")
def read4(buf, at):
    """The little-endian unsigned integer of the 4 bytes at buf[at] (written out, so the
    compiler makes it one load)."""
    return (
        np.uint64(buf[at])
        | (np.uint64(buf[at + 1]) << np.uint64(8))
        | (np.uint64(buf[at + 2]) << np.uint64(16))
        | (np.uint64(buf[at + 3]) << np.uint64(24))
    )


@numba.njit(nogil=True, cache=True, inline="always")
def read8(buf, at):
    """The little-endian unsigned integer of the 8 bytes at buf[at] (one load)."""
    return read4(buf, at) | (read4(buf, at + 4) << np.uint64(32))


@numba.njit(nogil=True, cache=True, inline="always")
def hash_cp(h, cp):
    """h updated (FNV-1a) with cp's UTF-8 bytes."""
    if cp < 0x80:
        return (h ^ np.uint64(cp)) * FNV_PRIME
    if cp < 0x800:
        h = (h ^ np.uint64(0xC0 | (cp >> 6))) * FNV_PRIME
        return (h ^ np.uint64(0x80 | (cp & 0x3F))) * FNV_PRIME
    h = (h ^ np.uint64(0xE0 | (cp >> 12))) * FNV_PRIME
    h = (h ^ np.uint64(0x80 | ((cp >> 6) & 0x3F))) * FNV_PRIME
    return (h ^ np.uint64(0x80 | (cp & 0x3F))) * FNV_PRIME


@numba.njit(nogil=True, cache=True, inline="always")
def fnv_hash(buf, start, end):
    h = FNV_START
    for k in range(start, end):
        h = (h ^ np.uint64(buf[k])) * FNV_PRIME
    return h


@numba.njit(nogil=True, cache=True, inline="always")
def find(buf, start, end, h, lower, slots, words, offsets):
    """The index of buf[start:end] (ASCII-lower-cased first when `lower`), of FNV-1a hash h, in
    the table (compiled.WordTable), or -1."""
    n = end - start
    mask = slots.shape[0] - 1
    slot = np.int64(h & np.uint64(mask))
    high = np.int64(h >> np.uint64(32))
    while slots[slot] != 0:
        entry = slots[slot]
        if ((entry >> 32) & 0xFFFFFFFF) == high:
            index = (entry & 0xFFFFFFFF) - 1
            a = offsets[index]
            if offsets[index + 1] - a == n:
                same = True
                for k in range(n):
                    c = lower_ascii(buf[start + k]) if lower else buf[start + k]
                    if words[a + k] != c:
                        same = False
                        break
                if same:
                    return index
        slot = (slot + 1) & mask
    return -1


@numba.njit(nogil=True, cache=True, inline="always")
def member(buf, start, end, h, lower, slots, words, offsets):
    """Whether buf[start:end] (as in find) is in the table."""
    return find(buf, start, end, h, lower, slots, words, offsets) >= 0
