"""The near-duplicate signatures in compiled passes (numba), for neardup.py: each text's word
k-shingles hashed as rensa 0.5.0 hashes a token (rustc-hash's FxHasher over the UTF-8 bytes), the
same values as neardup._shingle_hashes computes with numpy passes; then each text's signature
from its shingle hashes as rensa 0.5.0's R-MinHash computes it (`sketches`), written straight
into a uint32 matrix, with no Python list per text and without holding the GIL
(tests/stages/test_shingle_kernel.py checks both against rensa). Then the pairs: a band's
candidate pairs from its sorted keys (`band_pairs`) and the pairs' Jaccard estimates
(`shares`), for neardup.candidate_pairs and neardup.estimate_jaccard (tests/stages/
test_neardup.py runs both paths). Imported only by the builds that use it
(compiled.worth_compiling, neardup.COMPILED_ROWS and COMPILED_PAIRS)."""

# mypy: ignore-errors

from __future__ import annotations

import numba
import numpy as np

from papers.stages.compiled_kernel import kernel, read4, read8

_U64 = np.uint64
_LOW32 = _U64(0xFFFFFFFF)
_S32 = _U64(32)
_K0, _K1, _ROUND = _U64(0x243F6A8885A308D3), _U64(0x13198A2E03707344), _U64(0xA4093822299F31D0)
_FINAL = _U64(0xF1357AEA2E62A9C5)


@numba.njit(nogil=True, cache=True, inline="always")
def _mix(x, y):
    """The low and high halves of the 128-bit product x * y, xor-ed (rensa's multiply_mix)."""
    xl, xh, yl, yh = x & _LOW32, x >> _S32, y & _LOW32, y >> _S32
    ll, lh, hl = xl * yl, xl * yh, xh * yl
    mid = (ll >> _S32) + (lh & _LOW32) + (hl & _LOW32)
    lo = (ll & _LOW32) | (mid << _S32)
    hi = xh * yh + (lh >> _S32) + (hl >> _S32) + (mid >> _S32)
    return lo ^ hi


@numba.njit(nogil=True, cache=True, inline="always")
def token_hash(buf, at, length):
    """rensa's hash of the bytes buf[at:at + length] (neardup.token_hashes, one slice)."""
    if length > 16:
        b0 = _K1
        b1 = _mix(read8(buf, at) ^ _K0, read8(buf, at + 8) ^ _ROUND)
        off = 16
        while length > off + 16:
            t = _mix(b0 ^ read8(buf, at + off), read8(buf, at + off + 8) ^ _ROUND)
            b0 = b1
            b1 = t
            off += 16
        tail = at + length - 16
        s0 = b0 ^ read8(buf, tail)
        s1 = b1 ^ read8(buf, tail + 8)
    elif length >= 8:
        s0 = read8(buf, at) ^ _K0
        s1 = read8(buf, at + length - 8) ^ _K1
    elif length >= 4:
        s0 = read4(buf, at) ^ _K0
        s1 = read4(buf, at + length - 4) ^ _K1
    elif length > 0:
        s0 = _U64(buf[at]) ^ _K0
        s1 = ((_U64(buf[at + length - 1]) << _U64(8)) | _U64(buf[at + length // 2])) ^ _K1
    else:
        s0 = _K0
        s1 = _K1
    h = (_mix(s0, s1) ^ _U64(length)) * _FINAL
    return (h << _U64(26)) | (h >> _U64(38))


@kernel
def shingle_hashes(data, offsets, k, out, row_offsets, starts, ends):
    """Each text's word k-shingles' hashes into out, row_offsets[i]..row_offsets[i + 1] for
    text i (neardup._shingle_hashes' rules: words are split at each space; a text of fewer
    than k words is one shingle, an empty one none). Returns the hashes written. starts and
    ends: scratch for a text's words, the longest text's bytes + 1 each."""
    n_rows = offsets.shape[0] - 1
    n = 0
    row_offsets[0] = 0
    for row in range(n_rows):
        begin, finish = offsets[row], offsets[row + 1]
        if finish > begin:
            words = 0
            start = begin
            for i in range(begin, finish):
                if data[i] == 32:
                    starts[words] = start
                    ends[words] = i
                    words += 1
                    start = i + 1
            starts[words] = start
            ends[words] = finish
            words += 1
            if words < k:
                out[n] = token_hash(data, begin, finish - begin)
                n += 1
            else:
                for w in range(words - k + 1):
                    first = starts[w]
                    out[n] = token_hash(data, first, ends[w + k - 1] - first)
                    n += 1
        row_offsets[row + 1] = n
    return n


# rensa 0.5.0's R-MinHash (its src/rminhash/bucket.rs): each shingle hash, mixed (SplitMix64's
# finaliser) with a seed per round, falls in one coordinate and offers a rank there (the round in
# the top two bits, 30 bits of the mix below); three rounds; a coordinate no round reached gets
# the least of a fallback rank over all the shingles (an affine map of another mix, per
# coordinate, tagged with round 3). A coordinate keeps its least rank.
_BUCKET_DOMAIN = _U64(0x6A09E667F3BCC909)
_ROUND_DOMAIN = _U64(0x3C6EF372FE94F82B)
_FALLBACK_DOMAIN = _U64(0xBB67AE8584CAA73B)
_ROUNDS = 3
_RANK_SHIFT = _U64(34)  # 32 + the two bits of the round
_FALLBACK = _U64(3 << 30)
_FRACTION = _U64((1 << 30) - 1)
_EMPTY = np.uint32(0xFFFFFFFF)


@numba.njit(nogil=True, cache=True, inline="always")
def _splitmix64(v):
    v = v + _U64(0x9E3779B97F4A7C15)
    v = (v ^ (v >> _U64(30))) * _U64(0xBF58476D1CE4E5B9)
    v = (v ^ (v >> _U64(27))) * _U64(0x94D049BB133111EB)
    return v ^ (v >> _U64(31))


@kernel
def sketches(hashes, row_offsets, a, b, out, missing):
    """Row i of out: the R-MinHash signature of hashes[row_offsets[i]:row_offsets[i + 1]], as
    rensa 0.5.0 computes it with the permutations (a, b) (neardup.rensa_permutations); a row
    with no hash stays all 0xFFFFFFFF, as rensa leaves it. missing: scratch of out's width."""
    m = a.shape[0]
    count = _U64(m)
    threshold = (_U64(1) << _S32) % count  # the multiply-shift's biased low words: drawn again
    for row in range(row_offsets.shape[0] - 1):
        lo = row_offsets[row]
        hi = row_offsets[row + 1]
        for i in range(m):
            out[row, i] = _EMPTY
        if hi == lo:
            continue
        for r in range(_ROUNDS):
            seed = b[0] ^ _BUCKET_DOMAIN ^ (_U64(r) * _ROUND_DOMAIN)
            prefix = _U64(r) << _U64(30)
            for t in range(lo, hi):
                mixed = _splitmix64(hashes[t] ^ seed)
                product = (mixed & _LOW32) * count
                drawn = mixed
                while (product & _LOW32) < threshold:
                    drawn = _splitmix64(drawn)
                    product = (drawn & _LOW32) * count
                bucket = np.int64(product >> _S32)
                rank = np.uint32(prefix | (mixed >> _RANK_SHIFT))
                out[row, bucket] = min(out[row, bucket], rank)
        n_missing = 0
        for i in range(m):
            if out[row, i] == _EMPTY:
                missing[n_missing] = i
                n_missing += 1
        if n_missing:
            seed = a[0] ^ _FALLBACK_DOMAIN
            for t in range(lo, hi):
                mixed = _splitmix64(hashes[t] ^ seed)
                for j in range(n_missing):
                    i = missing[j]
                    fraction = ((a[i] * mixed + b[i]) >> _RANK_SHIFT) & _FRACTION
                    out[row, i] = min(out[row, i], np.uint32(_FALLBACK | fraction))
    return row_offsets.shape[0] - 1


@kernel
def shares(first, second, pa, pb, at, est, lo, hi):
    """For k in lo..hi: the share of equal minhashes of row pa[k] of first and row pb[k] of
    second, into est[at[k]] (est[k] when at is empty): neardup.estimate_jaccard's estimate
    compared in place, with no copy of the rows (numpy's take copies both sides first)."""
    width = first.shape[1]
    scale = np.float32(width)
    for k in range(lo, hi):
        a, b = pa[k], pb[k]
        same = 0
        for j in range(width):
            same += first[a, j] == second[b, j]
        est[at[k] if at.shape[0] else k] = same / scale
    return hi - lo


@kernel
def band_pairs(keys, rows, new, out):
    """The pairs of rows sharing a key in one LSH band, one of them new, each once as
    min * 2^32 + max (neardup.candidate_pairs): `keys` sorted, `rows` and `new` in their order.
    With `out` empty only counts them (the caller then allocates `out` and calls again)."""
    count = 0
    fill = out.shape[0] > 0
    n = keys.shape[0]
    start = 0
    while start < n:
        end = start + 1
        fresh = new[start]
        while end < n and keys[end] == keys[start]:
            fresh |= new[end]
            end += 1
        if not fresh:  # no new row in the group (a daily build's old rows): no pair
            start = end
            continue
        for i in range(start, end):
            for j in range(i + 1, end):
                if new[i] or new[j]:
                    if fill:
                        a, b = np.uint64(rows[i]), np.uint64(rows[j])
                        out[count] = (min(a, b) << np.uint64(32)) | max(a, b)
                    count += 1
        start = end
    return count
