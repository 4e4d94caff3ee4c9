"""The near-duplicate step's text cleaning in one compiled pass (numba), for neardup.py: each
paper's title and abstract lower-cased with their words (runs of word characters) single-spaced
and joined, and each without spaces: what neardup._cleaned_texts does with a lower-casing, a
regex pass, a join, a strip and a space removal per field. A character's lower case and whether
that is a word character come from tables derived from polars itself (neardup._word_classes); a
paper with a character whose lower case is not one character or depends on its neighbours
("İ", "Σ"), or one beyond the BMP, is left to the polars expressions. Imported only by the
builds that use it (compiled.worth_compiling)."""

# mypy: ignore-errors

from __future__ import annotations

import numba

from papers.stages.compiled_kernel import decode, kernel, lower_ascii, put

_OTHER, _WORD, _UNHANDLED = 0, 1, 2


@numba.njit(nogil=True, cache=True, inline="always")
def _field(data, begin, finish, classes, lowers, out, used, start, bare, bare_used):
    """One field's words, lower-cased, into out from `used` (a space before each word when out
    holds bytes from `start` on) and without spaces into bare. Returns (used, bare_used), or
    (-1, -1) for a field with a character of class _UNHANDLED."""
    gap = True
    i = begin
    while i < finish:
        b = data[i]
        if b < 0x80:
            if classes[b] == _WORD:
                if gap and used > start:
                    out[used] = 32
                    used += 1
                gap = False
                low = lower_ascii(b)
                out[used] = low
                bare[bare_used] = low
                used += 1
                bare_used += 1
            else:
                gap = True
            i += 1
            continue
        cp, nb = decode(data, i)
        c = classes[cp] if cp < 0x10000 else _UNHANDLED
        if c == _UNHANDLED:
            return -1, -1
        if c == _WORD:
            if gap and used > start:
                out[used] = 32
                used += 1
            gap = False
            mark = used
            used = put(out, used, lowers[cp])
            for k in range(mark, used):
                bare[bare_used] = out[k]
                bare_used += 1
        else:
            gap = True
        i += nb
    return used, bare_used


@kernel
def cleaned(titles, abstracts, classes, lowers, outs, unhandled):
    """Each paper's title and abstract cleaned (neardup._cleaned_texts' text, t and ab): into
    outs = ((text, text_offsets), (t, t_offsets), (ab, ab_offsets)), row i of each from its
    offsets[i] to offsets[i + 1]. titles and abstracts: (UTF-8 bytes, offsets). unhandled[row]
    = 1 for a paper with a character of class _UNHANDLED, which gets empty strings here.
    Returns the bytes written to each."""
    t_data, t_offsets = titles
    a_data, a_offsets = abstracts
    (text, text_offsets), (t, t_offsets_out), (ab, ab_offsets) = outs
    used = 0
    t_used = 0
    ab_used = 0
    text_offsets[0] = 0
    t_offsets_out[0] = 0
    ab_offsets[0] = 0
    for row in range(t_offsets.shape[0] - 1):
        start = used
        got, got_t = _field(t_data, t_offsets[row], t_offsets[row + 1], classes, lowers, text,
                            used, start, t, t_used)  # fmt: skip
        got_ab = 0
        if got >= 0:
            got, got_ab = _field(a_data, a_offsets[row], a_offsets[row + 1], classes, lowers,
                                 text, got, start, ab, ab_used)  # fmt: skip
        if got < 0:
            unhandled[row] = 1
        else:
            used, t_used, ab_used = got, got_t, got_ab
        text_offsets[row + 1] = used
        t_offsets_out[row + 1] = t_used
        ab_offsets[row + 1] = ab_used
    return used, t_used, ab_used
