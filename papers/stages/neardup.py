"""Near-duplicates: MinHash of title + abstract word shingles, LSH banding, pair kinds.

Pure functions over polars frames and numpy arrays; the pipeline runs them in its partition
step (signatures, band keys, pair features) and similarity step (pairs). rensa computes the
signatures in one call per batch of distinct texts (no Python object per record), or for a
large build its algorithm's compiled port (shingle_kernel); the band keys and the pair
classification are polars expressions; the candidate self-join is a polars join, or for a
large build a compiled pass over each band's sorted keys, and the Jaccard estimates are numpy
comparisons, or a compiled pass.
"""

from __future__ import annotations

import functools
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
import polars_hash as plh
import pyarrow as pa
import rensa  # type: ignore[import-untyped]

from papers.config import NeardupParams
from papers.errors import PapersError
from papers.stages.compiled import bmp_points, char_tables, string_buffers, worth_compiling
from papers.stages.text import runs_outside
from papers.tasks import TaskMap, one_by_one

SEED = 42  # fixed: signatures must be the same bytes in every run and process
NUM_PERM = 128  # 32 bands x 4 rows: S-curve midpoint (1/32)^(1/4) ~ 0.42


def shingle_text(title: pl.Expr, abstract: pl.Expr) -> pl.Expr:
    r"""Lower-cased title + abstract, word characters only, single spaces: the shingled text.

    Each run of non-word characters becomes one space (`text.runs_outside`). The spec:
    `paper_signatures` cleans the two fields apart (`_cleaned_texts`)."""
    return _cleaned(pl.concat_str([title.fill_null(""), abstract.fill_null("")], separator=" "))


def _cleaned(text: pl.Expr) -> pl.Expr:
    """Lower-cased, each run of non-word characters one space, stripped."""
    return text.str.to_lowercase().str.replace_all(runs_outside(r"\w"), " ").str.strip_chars()


def _shingles(text: str, k: int) -> list[str]:
    """A text's word k-shingles as strings (the reference `_shingle_hashes` must agree with)."""
    words = text.split()
    if len(words) < k:
        return [" ".join(words)] if words else []
    return [" ".join(words[i : i + k]) for i in range(len(words) - k + 1)]


_U64 = np.uint64
# Shingles hashed per chunk: numpy's temporaries of 64k uint64 stay in the CPU cache (2.8x faster
# than one pass over a batch's ~800k shingles).
HASH_CHUNK = 65536
_LOW32 = _U64(0xFFFFFFFF)
# FxHasher's seeds and its 16-byte round constant (rustc-hash 2, as rensa 0.5.0 uses it)
_K0, _K1, _ROUND = _U64(0x243F6A8885A308D3), _U64(0x13198A2E03707344), _U64(0xA4093822299F31D0)


def _mix(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The low and high halves of the 128-bit product x * y, xor-ed (rensa's multiply_mix)."""
    xl, xh, yl, yh = x & _LOW32, x >> _U64(32), y & _LOW32, y >> _U64(32)
    ll, lh, hl = xl * yl, xl * yh, xh * yl
    mid = (ll >> _U64(32)) + (lh & _LOW32) + (hl & _LOW32)
    lo = (ll & _LOW32) | (mid << _U64(32))
    hi = xh * yh + (lh >> _U64(32)) + (hl >> _U64(32)) + (mid >> _U64(32))
    out: np.ndarray = lo ^ hi
    return out


def _read(buf: np.ndarray, at: np.ndarray, width: int) -> np.ndarray:
    """Little-endian unsigned integers of `width` (4 or 8) bytes at the byte offsets `at`."""
    view = np.ndarray(
        shape=(len(buf) - 7,), dtype="<u8", buffer=buf, strides=(1,)
    )  # an unaligned u64 at every byte offset (buf is padded)
    out: np.ndarray = view[at]
    return out & _LOW32 if width == 4 else out


def token_hashes(buf: np.ndarray, start: np.ndarray, length: np.ndarray) -> np.ndarray:
    """rensa 0.5.0's hash of each byte slice buf[start:start+length] (rustc-hash FxHasher over
    the UTF-8 bytes, what rensa computes for a str token), vectorised over the slices.

    `buf` must carry 16 bytes of padding after the last slice. Checked against
    `rensa.RMinHash.hash_token_sets` (tests/stages/test_neardup.py). The slices are taken by
    length class (over 16 bytes, 8-16, 4-7, 1-3, empty), each class's state computed on its own
    compact arrays and placed once: masked in-place updates of the whole chunk per class cost
    twice the time.
    """
    n = len(start)
    s0 = np.empty(n, dtype=_U64)
    s1 = np.empty(n, dtype=_U64)
    with np.errstate(over="ignore"):
        empty = length == 0
        s0[empty], s1[empty] = _K0, _K1
        mid8 = np.flatnonzero((length >= 8) & (length <= 16))
        at, ln = start[mid8], length[mid8]
        s0[mid8] = _read(buf, at, 8) ^ _K0
        s1[mid8] = _read(buf, at + ln - 8, 8) ^ _K1
        mid4 = np.flatnonzero((length >= 4) & (length < 8))
        at, ln = start[mid4], length[mid4]
        s0[mid4] = _read(buf, at, 4) ^ _K0
        s1[mid4] = _read(buf, at + ln - 4, 4) ^ _K1
        few = np.flatnonzero((length > 0) & (length < 4))
        at, ln = start[few], length[few]
        s0[few] = buf[at].astype(_U64) ^ _K0
        s1[few] = (
            (buf[at + ln - 1].astype(_U64) << _U64(8)) | buf[at + ln // 2].astype(_U64)
        ) ^ _K1
        big = np.flatnonzero(length > 16)
        at, ln = start[big], length[big]
        # 16-byte rounds while more than 16 bytes remain: the first one every slice here has
        b0 = np.full(len(big), _K1, dtype=_U64)
        b1 = _mix(_read(buf, at, 8) ^ _K0, _read(buf, at + 8, 8) ^ _ROUND)
        off = 16
        act = np.flatnonzero(ln > off + 16)
        while len(act):
            t = _mix(
                b0[act] ^ _read(buf, at[act] + off, 8), _read(buf, at[act] + off + 8, 8) ^ _ROUND
            )
            b0[act] = b1[act]
            b1[act] = t
            off += 16
            act = act[ln[act] > off + 16]
        tail = at + ln - 16
        s0[big] = b0 ^ _read(buf, tail, 8)
        s1[big] = b1 ^ _read(buf, tail + 8, 8)
        h = (_mix(s0, s1) ^ length.astype(_U64)) * _U64(0xF1357AEA2E62A9C5)
    return (h << _U64(26)) | (h >> _U64(38))


def _shingle_hashes(texts: pl.Series, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each text's word k-shingles as rensa token hashes: (flat uint64 hashes, uint64 row offsets).

    The texts are single-spaced words with no space at either end (as `shingle_text` makes them).
    A shingle of such a text is the byte slice from its first word's start to its k-th
    word's end, so shingles are found and hashed on the texts' UTF-8 buffer with no string per
    shingle. Fewer than k words: the whole text is one shingle; an empty text has none (as
    `_shingles`).
    """
    arr = texts.to_arrow().cast(pa.large_string())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    n = len(arr)
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset : arr.offset + n + 1]
    data = arr.buffers()[2]
    raw = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, np.uint8)
    buf = np.concatenate([raw[offsets[0] : offsets[-1]], np.zeros(16, dtype=np.uint8)])
    offs = offsets - offsets[0]
    size = int(offs[-1])
    if size == 0:
        return np.zeros(0, dtype=_U64), np.zeros(n + 1, dtype=_U64)
    # A word ends (exclusive) at a space or at the end of its text; the texts are single-spaced
    # with no space at either end, so the next word starts after that space, or right there at
    # the next text's start: two passes over the bytes.
    bound = buf[: size + 1] == 32  # buf[size] is padding (0)
    text_ends = offs[1:]
    bound[text_ends[text_ends > 0]] = True  # an empty text marks its neighbour's end again
    ends = np.flatnonzero(bound)
    starts = np.concatenate([[0], ends[:-1] + (buf[ends[:-1]] == 32)])
    # text i's words are those ending in (offs[i], offs[i + 1]]: found per text, not per word
    first_word = np.searchsorted(ends, offs, side="right")
    nwords = np.diff(first_word)
    # a text's shingles start at each of its words but the last k - 1; fewer than k words: one
    shingles = np.where(nwords >= k, nwords - k + 1, np.minimum(nwords, 1))
    row_offsets = np.concatenate([[0], np.cumsum(shingles)])
    word = np.arange(row_offsets[-1]) + np.repeat(first_word[:-1] - row_offsets[:-1], shingles)
    first = starts[word]
    length = ends[np.minimum(word + k - 1, np.repeat(first_word[1:] - 1, shingles))] - first
    hashes = np.concatenate(
        [np.zeros(0, dtype=_U64)]
        + [
            token_hashes(buf, first[i : i + HASH_CHUNK], length[i : i + HASH_CHUNK])
            for i in range(0, len(first), HASH_CHUNK)
        ]
    )
    return hashes, row_offsets.astype(np.uint64)


def _compiled_shingle_hashes(texts: pl.Series, k: int) -> tuple[np.ndarray, np.ndarray]:
    """_shingle_hashes in one compiled pass over the texts' bytes (papers/stages/
    shingle_kernel.py: the same hashes, 5x less CPU)."""
    from papers.stages.shingle_kernel import shingle_hashes  # numba: see worth_compiling

    data, offsets = string_buffers(texts)
    n = len(texts)
    size = int(offsets[-1] - offsets[0]) if n else 0
    out = np.empty(size // 2 + 2 * n + 1, dtype=_U64)  # a shingle per word at most
    row_offsets = np.empty(n + 1, dtype=_U64)
    longest = int(np.diff(offsets).max()) + 1 if n else 1  # a text's words at most
    words = (np.empty(longest, dtype=np.int64), np.empty(longest, dtype=np.int64))
    count = shingle_hashes(data, offsets, k, out, row_offsets, *words)
    return out[:count], row_offsets


# Texts signed per batch: their shingle hashes (8 bytes per shingle and a few temporaries)
# are held one batch at a time.
SIGN_BATCH = 4096


def signatures(texts: pl.Series, params: NeardupParams, compiled: bool | None = None) -> np.ndarray:
    """Distinct texts -> uint32 signatures (len(texts) x num_perm), a batch at a time.

    Shingles are hashed in numpy on the texts' bytes (`_shingle_hashes`, the same token hashes
    rensa computes for the shingle strings, so the same signatures) and handed to rensa as one
    flat buffer per batch: no Python object per shingle. A signature depends on its text alone,
    so batches change no byte. An empty text gets an all-max signature that matches nothing
    (see `band_keys`). Where a compiled pass is worth it (compiled.worth_compiling, or when
    `compiled` says so) the shingles are hashed by one (_compiled_shingle_hashes) and signed by
    another (shingle_kernel.sketches, rensa's algorithm), with the same hashes and signatures:
    rensa's matrix comes back as one Python list per text (`to_rows`), which cost more than
    rensa's own work and held the GIL the other partition's thread needs.
    """
    out = np.empty((len(texts), params.num_perm), dtype=np.uint32)
    compiled = worth_compiling(len(texts), compiled)
    if compiled:
        from papers.stages.shingle_kernel import sketches  # numba: see worth_compiling

        a, b = rensa_permutations(params.num_perm, SEED)
        missing = np.empty(params.num_perm, dtype=np.int64)
    for start in range(0, len(texts), SIGN_BATCH):
        batch = texts.slice(start, SIGN_BATCH)
        rows = out[start : start + len(batch)]
        if compiled:
            hashes, row_offsets = _compiled_shingle_hashes(batch, params.shingle)
            sketches(hashes, row_offsets, a, b, rows, missing)
        else:
            hashes, row_offsets = _shingle_hashes(batch, params.shingle)
            matrix = rensa.RMinHash.digest_matrix_from_flat_token_hashes(
                hashes, row_offsets, num_perm=params.num_perm, seed=SEED
            )
            rows[:] = np.asarray(matrix.to_rows(), dtype=np.uint32).reshape(rows.shape)
        rows[row_offsets[1:] == row_offsets[:-1]] = np.iinfo(np.uint32).max
    return out


@functools.cache
def rensa_permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The (a, b) pairs of rensa's RMinHash(num_perm, seed), as two read-only uint64 arrays:
    drawn in turn from xoshiro256++ seeded by SplitMix64 (rand_xoshiro's seed_from_u64), a made
    odd. tests/stages/test_shingle_kernel.py checks the signatures they give against rensa's."""
    mask = (1 << 64) - 1

    def rotl(value: int, bits: int) -> int:
        return ((value << bits) | (value >> (64 - bits))) & mask

    state, x = [], seed
    for _ in range(4):  # SplitMix64's outputs seed the generator
        x = (x + 0x9E3779B97F4A7C15) & mask
        z = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        state.append(z ^ (z >> 31))
    s0, s1, s2, s3 = state
    draws = []
    for _ in range(2 * num_perm):  # a, b, a, b, ...
        draws.append((rotl((s0 + s3) & mask, 23) + s0) & mask)
        t = (s1 << 17) & mask
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = rotl(s3, 45)
    a = np.array(draws[0::2], dtype=np.uint64) | np.uint64(1)
    b = np.array(draws[1::2], dtype=np.uint64)
    a.flags.writeable = b.flags.writeable = False  # cached: shared by every caller
    return a, b


def paper_signatures(
    papers: pl.DataFrame, params: NeardupParams, compiled: bool | None = None
) -> pl.DataFrame:
    """(paper_id, signature, t, ab, au): each paper's MinHash signature of its title + abstract
    (`shingle_text`, `signatures`) and its `pair_features`, in the papers' order. They depend on
    the paper's row alone, so they are computed once per paper where the paper is enriched, and
    kept with it. The title and abstract are cleaned once for both. compiled: by the compiled
    passes or the polars ones (default: by size, compiled.worth_compiling)."""
    texts = _cleaned_texts(papers, compiled)
    signed = pl.DataFrame(
        {"paper_id": papers["paper_id"], "signature": signatures(texts["text"], params, compiled)},
        schema={"paper_id": pl.String(), "signature": pl.Array(pl.UInt32(), params.num_perm)},
    )
    return pl.concat([signed, _features_of(texts, papers["authors"])], how="horizontal")


def _band_key(sig: np.ndarray, band: int, params: NeardupParams) -> pl.Series:
    """Each signature's key (UInt64) in one band: the hash of its `rows` minhashes there."""
    names = [f"h{band * params.rows + r}" for r in range(params.rows)]
    # the band's columns copied out together first: a column alone strides over every row's
    # whole signature (128 x 4 bytes), reading the matrix once per column instead of per band
    block = np.ascontiguousarray(sig[:, band * params.rows : (band + 1) * params.rows])
    cols = {name: block[:, r] for r, name in enumerate(names)}
    return pl.DataFrame(cols).select(pl.struct(names).hash(SEED).alias("key"))["key"]


def _signed(sig: np.ndarray) -> np.ndarray:
    """Rows with a text: an empty text's all-max signature gets no keys (never a candidate)."""
    if not sig.shape[0]:
        return np.zeros(0, dtype=bool)
    out: np.ndarray = sig[:, 0] != np.iinfo(np.uint32).max
    return out


def _check_bands(sig: np.ndarray, params: NeardupParams) -> None:
    if params.bands * params.rows > sig.shape[1]:
        raise ValueError("bands * rows exceeds num_perm")
    if sig.shape[0] >= 2**32:
        raise ValueError(f"{sig.shape[0]} signatures: rows are UInt32")


def band_names(params: NeardupParams) -> list[str]:
    """The band key columns of `band_key_columns`, one a band."""
    return [f"band_{b}" for b in range(params.bands)]


def band_key_columns(sig: np.ndarray, params: NeardupParams) -> pl.DataFrame:
    """Signatures -> one UInt64 column a band (`band_names`): each signature's key there, null
    for an empty text (never a candidate). The partition step keeps them beside the signatures,
    so the similarity step reads one band's keys at a time (8 bytes a paper) instead of holding
    every paper's signature (num_perm x 4 bytes) to compute them."""
    _check_bands(sig, params)
    signed = pl.Series("signed", _signed(sig))
    names = band_names(params)
    keys = pl.DataFrame([_band_key(sig, b, params).alias(name) for b, name in enumerate(names)])
    return keys.select(pl.when(signed).then(pl.col(n)).alias(n) for n in keys.columns)


@dataclass(frozen=True)
class BandKeys:
    """The LSH band keys of `rows` signature rows, a band at a time: `key(band)` is (each row's
    key there, uint64; whether it has one, bool: not for a row with no text). From a signature
    matrix (`banded`) or read band by band from the partitions' files (the similarity step)."""

    rows: int
    key: Callable[[int], tuple[np.ndarray, np.ndarray]]


def banded(sig: np.ndarray, params: NeardupParams) -> BandKeys:
    """The band keys of a signature matrix held in memory, computed a band at a time."""
    _check_bands(sig, params)
    signed = _signed(sig)

    def key(band: int) -> tuple[np.ndarray, np.ndarray]:
        return _band_key(sig, band, params).to_numpy(), signed

    return BandKeys(sig.shape[0], key)


def band_keys(sig: np.ndarray, params: NeardupParams) -> pl.DataFrame:
    """Signatures -> rows (row UInt32, band UInt8, key UInt64): one key per band of `rows`
    minhashes; `row` is the signature's row (the paper's position). For inspection and the
    benchmark: `candidate_pairs` computes the same keys one band at a time.

    Papers with an empty text get no keys, so they are never candidates.
    """
    _check_bands(sig, params)
    rows = pl.Series("row", np.flatnonzero(_signed(sig)).astype(np.uint32))
    parts = [
        pl.DataFrame(
            {
                "row": rows,
                "band": pl.repeat(b, len(rows), dtype=pl.UInt8, eager=True),
                "key": _band_key(sig, b, params).gather(rows),
            }
        )
        for b in range(params.bands)
    ]
    return pl.concat(parts).sort("row", "band")


_SHIFT = 1 << 32  # a pair of UInt32 rows packed as a * 2^32 + b

# Rows from which the candidate pairs take the compiled pass (shingle_kernel.band_pairs), as the
# estimates do (COMPILED_PAIRS): ~2 us a row over the 32 bands saved against ~1 s of numba a
# process; from WARM_ROWS on when numba is loaded already.
COMPILED_ROWS = 1_000_000
WARM_ROWS = 16_000


def _compiled(n: int, always: int, warm: int) -> bool:
    """Whether a pass over n items takes its compiled version: from `always` on, or from `warm`
    on when this process has loaded numba already (another pass paid for it)."""
    return n >= always or (n >= warm and "numba" in sys.modules)


def candidate_pairs(
    new_rows: np.ndarray,
    keys: np.ndarray | BandKeys,
    params: NeardupParams,
    index_rows: np.ndarray | None = None,
    map_tasks: TaskMap[np.ndarray] | None = None,
) -> pl.DataFrame:
    """Pairs (row_a < row_b, UInt32) of signature rows that share a band key, one of them in
    `new_rows`, both in `index_rows` (default: every row; new rows outside it pair nothing).
    `keys`: the rows' band keys (`BandKeys`), or their signature matrix (`banded`).

    One band at a time: the band's keys of the index (a key no other row has is dropped: most
    rows), the new rows' joined to them, each pair packed into one UInt64 (row_a * 2^32 + row_b);
    the bands' pairs are made unique once. Only integers are joined and held: at the 1M generated
    records (34M band-pair rows, 270 MB) a join of string ids in both directions took 8 GB.
    Over many rows (COMPILED_ROWS) a band's join is one compiled pass over its sorted keys
    instead (`_compiled_band_pairs`), the same pairs; map_tasks (papers.tasks) then runs the
    bands, so the pipeline's thread map keeps one band's compiled pass (numba, without the GIL)
    on one core while the next band's keys are read and sorted. The polars joins stay one band
    at a time (two would hold two bands' joins).
    """
    if isinstance(keys, np.ndarray):
        keys = banded(keys, params)
    n = keys.rows
    if n >= 2**32:
        raise ValueError(f"{n} signatures: rows are UInt32")
    first = keys.key(0)  # bands >= 1 (params)
    member = first[1].copy()  # a row with no text has no key in any band
    if index_rows is not None:
        listed = np.zeros(n, dtype=bool)
        listed[index_rows] = True
        member &= listed
    fresh = np.zeros(n, dtype=bool)
    fresh[new_rows] = True
    rows = np.flatnonzero(member).astype(np.uint32)
    base = pl.DataFrame({"row": rows, "new": fresh[rows]})
    a, b = pl.col("row"), pl.col("row_o")
    # both ends new: the pair comes from both sides, kept once (a < b); one end old: only from the
    # new side, kept either way round
    keep = (a < b) | ((a > b) & ~pl.col("new_o"))
    packed = pl.min_horizontal(a, b).cast(pl.UInt64) * _SHIFT + pl.max_horizontal(a, b)
    parts = [np.zeros(0, dtype=np.uint64)]
    # the rows that can pair with a new one: a key another row has (every row new, a full
    # build), or a key of a new row (few new rows, a daily build: a smaller set to test against)
    few = len(new_rows) * 4 < len(rows)
    compiled = _compiled(len(rows), COMPILED_ROWS, WARM_ROWS)
    new_of_rows = fresh[rows]
    budget = PairBudget(params.max_candidate_pairs)

    def band_pairs(band: int) -> np.ndarray:
        values, valid = first if band == 0 else keys.key(band)
        if len(rows) < n:
            values, valid = values[rows], valid[rows]
        if not valid.all():  # keys are missing in every band or none (no text)
            raise ValueError(f"band {band}: a row without a key that band 0 keys")
        if compiled:
            return _compiled_band_pairs(values, rows, new_of_rows, budget, band)
        keyed = base.with_columns(pl.Series("key", values, dtype=pl.UInt64))
        del values, valid
        if few:
            keyed = keyed.filter(pl.col("key").is_in(keyed.filter("new")["key"].implode()))
        else:
            keyed = keyed.filter(pl.col("key").is_duplicated())
        other = keyed.rename({"row": "row_o", "new": "new_o"})
        joined = keyed.filter("new").select("row", "key").join(other, on="key").filter(keep)
        budget.take(joined.height, band, lambda: _largest_run(np.sort(keyed["key"].to_numpy())))
        out: np.ndarray = joined.select(packed.alias("pair"))["pair"].to_numpy()
        return out

    # the compiled passes side by side on the caller's map; the polars joins one band at a time
    run = map_tasks if compiled and map_tasks is not None else one_by_one
    parts.extend(run(band_pairs, [(band,) for band in range(params.bands)]))
    pairs = _unique_sorted(parts)
    return pl.DataFrame(
        {
            "row_a": (pairs >> np.uint64(32)).astype(np.uint32),
            "row_b": (pairs & np.uint64(_SHIFT - 1)).astype(np.uint32),
        }
    )


class PairBudget:
    """The candidate pairs candidate_pairs may make (params.max_candidate_pairs), counted over
    the bands (which map_tasks may run at once) before each band's pairs are held, so a corpus
    with a huge group of near-identical texts stops with a readable error, not out of memory."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.taken = 0
        self._lock = threading.Lock()

    def take(self, count: int, band: int, largest: Callable[[], int]) -> None:
        """Count a band's `count` pairs; PapersError past the limit (largest(): the most papers
        sharing one of the band's keys, for the message)."""
        with self._lock:
            self.taken += count
            taken = self.taken
        if taken > self.limit:
            raise PapersError(
                f"near-duplicates: {taken:,} candidate pairs by band {band} (neardup."
                f"max_candidate_pairs = {self.limit:,}); {largest():,} papers share one of that "
                "band's keys, i.e. nearly the same title and abstract. Look for a source that "
                "repeats one text, or raise neardup.max_candidate_pairs (docs/neardup.md)"
            )


def _largest_run(sorted_keys: np.ndarray) -> int:
    """The longest run of equal values in a sorted array."""
    if not len(sorted_keys):
        return 0
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1], True])
    return int(np.diff(starts).max())


def _compiled_band_pairs(
    keys: np.ndarray, rows: np.ndarray, new: np.ndarray, budget: PairBudget, band: int
) -> np.ndarray:
    """One band's pairs (packed as candidate_pairs packs them) by a sort of its keys and one
    compiled pass over the runs of equal keys (shingle_kernel.band_pairs): the polars path's
    duplicate test and self-join in one. The pass counts them first (budget), then makes them."""
    from papers.stages.shingle_kernel import band_pairs  # numba: see COMPILED_ROWS

    # any order within a key: the pairs are packed min, max. Polars sorts on every core (32
    # bands of 1M keys: numpy 2.56 s, polars 1.0 s wall and 1.9 CPU s)
    order = pl.Series(keys, dtype=pl.UInt64).arg_sort().to_numpy()
    keys, rows, new = keys[order], rows[order], new[order]
    count = band_pairs(keys, rows, new, np.zeros(0, dtype=np.uint64))
    budget.take(count, band, lambda: _largest_run(keys))
    out = np.empty(count, dtype=np.uint64)
    band_pairs(keys, rows, new, out)
    return out


def _unique_sorted(parts: list[np.ndarray]) -> np.ndarray:
    """The distinct values of the parts, sorted; the parts list is emptied as it is read (the
    bands' pairs are the step's largest arrays: two copies of them held at most, the parts'
    and the sorted one). Sorted by polars, on every core: numpy sorts on one (60M packed
    pairs, three bands' worth of repeats: np.sort 4.4 s, polars 1.2-1.4 s wall and 2.1 CPU s)."""
    values = np.concatenate(parts)
    parts.clear()
    if len(values) < 2:
        return values
    values = pl.Series(values, dtype=pl.UInt64).sort().to_numpy()
    first = np.empty(len(values), dtype=bool)
    first[0] = True
    np.not_equal(values[1:], values[:-1], out=first[1:])
    return values[first]


ESTIMATE_BATCH = 65_536  # candidate pairs compared at once (~64 MB of signature rows)
ESTIMATE_TASK = 16 * ESTIMATE_BATCH  # candidate pairs of one task (papers.tasks)


@dataclass(frozen=True)
class SignatureRows:
    """Signatures read on demand: `gather(rows)` gives the matrix of the given rows (distinct,
    ascending) in that order; `block_rows` is how many one block may hold (two are held at
    once). The similarity step reads them from the partitions' files."""

    rows: int
    gather: Callable[[np.ndarray], np.ndarray]
    block_rows: int


@dataclass(frozen=True)
class Signed:
    """What the pairs are found from: the rows' band keys (`candidate_pairs`) and their
    signatures (`estimate_jaccard`)."""

    keys: BandKeys
    signatures: SignatureRows


def estimate_jaccard(
    pairs: pl.DataFrame,
    sig: np.ndarray | SignatureRows,
    map_tasks: TaskMap[None] | None = None,
) -> pl.DataFrame:
    """Adds `jaccard` (Float32) to pairs of signature rows (row_a, row_b): the share of equal
    minhashes of the two signatures. map_tasks runs its ranges of pairs (papers.tasks; the
    pipeline's thread map runs two at once: numpy's gathers and comparisons release the GIL).

    `sig`: the matrix, or its rows read on demand (`SignatureRows`): every row when they fit
    in one block, else only the rows in a pair, a block of them at a time (block i read once,
    each later block j once beside it for the pairs between them), so two blocks are held at
    most whatever the corpus's size."""
    ia, ib = pairs["row_a"].to_numpy(), pairs["row_b"].to_numpy()
    est = np.zeros(len(pairs), dtype=np.float32)
    if isinstance(sig, np.ndarray) or sig.rows <= sig.block_rows:
        matrix = sig if isinstance(sig, np.ndarray) else sig.gather(np.arange(sig.rows))
        _estimate(est, None, ia, ib, matrix, matrix, map_tasks)
        return pairs.with_columns(pl.Series("jaccard", est, dtype=pl.Float32))
    listed = np.zeros(sig.rows, dtype=bool)
    listed[ia] = True
    listed[ib] = True
    needed = np.flatnonzero(listed)  # the rows in a pair, ascending
    del listed
    index = np.zeros(sig.rows, dtype=np.int64)
    index[needed] = np.arange(len(needed))
    block, position = index // sig.block_rows, index % sig.block_rows
    blocks = -(-len(needed) // sig.block_rows)

    def load(i: int) -> np.ndarray:
        return sig.gather(needed[i * sig.block_rows : (i + 1) * sig.block_rows])

    low = np.minimum(block[ia], block[ib])
    for i in range(blocks):
        at = np.flatnonzero(low == i)
        if not len(at):
            continue
        # each pair's end in block i as "a", its other end (in a block j >= i) as "b"; the
        # pairs grouped by j, so that block is read once beside block i
        a_in_i = block[ia[at]] == i
        ra, rb = np.where(a_in_i, ia[at], ib[at]), np.where(a_in_i, ib[at], ia[at])
        other = block[rb]
        order = np.argsort(other, kind="stable")
        at, ra, rb, other = at[order], ra[order], rb[order], other[order]
        first = load(i)
        for j in np.unique(other):
            lo, hi = np.searchsorted(other, [j, j + 1])
            second = first if j == i else load(int(j))
            _estimate(est, at[lo:hi], position[ra[lo:hi]], position[rb[lo:hi]],
                      first, second, map_tasks)  # fmt: skip
            del second
        del first
    return pairs.with_columns(pl.Series("jaccard", est, dtype=pl.Float32))


# Pairs from which the estimates take the compiled pass (shingle_kernel.shares, ~4x less CPU
# than numpy's copies of both rows): numba's import and the kernel's cached compile cost ~1 s a
# process, ~0.4 us a pair saved; from WARM_PAIRS on when this process has loaded numba already
# (a build's partitions took the compiled passes).
COMPILED_PAIRS = 4_000_000
WARM_PAIRS = 100_000


def _estimate(
    est: np.ndarray,
    at: np.ndarray | None,
    pa: np.ndarray,
    pb: np.ndarray,
    first: np.ndarray,
    second: np.ndarray,
    map_tasks: TaskMap[None] | None,
) -> None:
    """est[at] (at None: est) = the share of equal minhashes of rows pa of `first` and pb of
    `second`."""
    num_perm = np.float32(first.shape[1])
    tasks = [(lo, min(lo + ESTIMATE_TASK, len(pa))) for lo in range(0, len(pa), ESTIMATE_TASK)]
    if _compiled(len(pa), COMPILED_PAIRS, WARM_PAIRS):
        from papers.stages.shingle_kernel import shares  # numba: see COMPILED_PAIRS

        where = np.zeros(0, dtype=np.int64) if at is None else at

        def compiled(lo: int, hi: int) -> None:
            shares(first, second, pa, pb, where, est, lo, hi)

        (map_tasks or one_by_one)(compiled, tasks)
        return

    def estimate(lo: int, hi: int) -> None:
        # per batch: every candidate's rows at once would be len(pairs) x num_perm x 4 bytes,
        # and the 1M generated records (spliced from a pool of 13.5k real texts) give 22M
        for start in range(lo, hi, ESTIMATE_BATCH):
            end = min(start + ESTIMATE_BATCH, hi)
            same = np.take(first, pa[start:end], axis=0) == np.take(second, pb[start:end], axis=0)
            # k equal of num_perm: k / num_perm is exact in float32, as the mean was
            share = np.count_nonzero(same, axis=1) / num_perm
            if at is None:
                est[start:end] = share
            else:
                est[at[start:end]] = share

    (map_tasks or one_by_one)(estimate, tasks)


PAIR_FEATURES = pl.Schema(
    [
        ("paper_id", pl.String()),
        ("t", pl.Binary()),
        ("ab", pl.Binary()),
        ("au", pl.List(pl.String())),
    ]
)
"""What the pair kinds read of a paper (`pair_features`)."""


def _cleaned_texts(
    papers: pl.DataFrame | pl.LazyFrame, compiled: bool | None = None
) -> pl.DataFrame:
    """text (`shingle_text`), t and ab (the title and the abstract as the pair kinds compare
    them: lower case, word characters only; null when null), from one cleaning of each field.

    Lower-cased, non-word runs made one space and stripped, a title and an abstract joined by a
    space are the shingled text of the two (the run around the join becomes that one space, and
    lower-casing sees no context across a space); without their spaces, each is its compared
    text. Tests check both against the one-pass regexes. Where a compiled pass is worth it
    (compiled.worth_compiling, or when `compiled` says so) the fields are cleaned by one
    (_compiled_cleaned_texts), with the same strings."""
    frame = papers.lazy().select("title", "abstract").collect()
    if worth_compiling(frame.height, compiled):
        return _compiled_cleaned_texts(frame)
    return _expression_cleaned_texts(frame)


def _expression_cleaned_texts(frame: pl.DataFrame) -> pl.DataFrame:
    """_cleaned_texts by polars expressions."""
    title, abstract = pl.col("title"), pl.col("abstract")
    return frame.select(
        _cleaned(title.fill_null("")).alias("_t"),
        _cleaned(abstract.fill_null("")).alias("_ab"),
        title.is_null().alias("_t_null"),
        abstract.is_null().alias("_ab_null"),
    ).select(
        pl.concat_str(["_t", "_ab"], separator=" ").str.strip_chars().alias("text"),
        *(
            pl.when(~pl.col(f"_{name}_null"))
            .then(pl.col(f"_{name}").str.replace_all(" ", "", literal=True))
            .alias(name)
            for name in ("t", "ab")
        ),
    )


@functools.cache
def _word_classes() -> np.ndarray:
    r"""Per code point of the BMP: 1 when its lower case is a word character (`\w` as polars'
    regex engine reads it), 0 when not, 2 where compiled.char_tables leaves the character to
    the regex passes (its lower case is not one character or depends on its neighbours)."""
    handled, lowers = char_tables()
    points = bmp_points()
    kept = points[handled[points] != 5]
    table = np.full(0x10000, 2, dtype=np.uint8)
    lowered = pl.Series("c", [chr(c) for c in lowers[kept]], dtype=pl.String)
    table[kept] = lowered.str.contains(r"^\w$").cast(pl.UInt8).to_numpy()
    return table


def _compiled_cleaned_texts(frame: pl.DataFrame) -> pl.DataFrame:
    """_cleaned_texts in one compiled pass over each paper's title and abstract (papers/stages/
    clean_kernel.py); the few papers it leaves, by the polars expressions."""
    from papers.stages.clean_kernel import cleaned  # numba: see worth_compiling

    _, lowers = char_tables()
    fields = [string_buffers(frame[name].fill_null("")) for name in ("title", "abstract")]
    n = frame.height
    sizes = [int(offsets[-1] - offsets[0]) if n else 0 for _, offsets in fields]
    # a lower case can be longer (Ⱥ -> ⱥ); the text holds both fields and a space
    capacity = [2 * (sizes[0] + sizes[1]) + 1, 2 * sizes[0] + 1, 2 * sizes[1] + 1]
    outs = tuple((np.empty(c, dtype=np.uint8), np.empty(n + 1, dtype=np.int64)) for c in capacity)
    unhandled = np.zeros(n, dtype=np.uint8)
    used = cleaned(fields[0], fields[1], _word_classes(), lowers, outs, unhandled)
    columns = {
        name: pl.Series(
            name,
            pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data[:size])),
            dtype=pl.String,
        )
        for name, (data, offsets), size in zip(("text", "t", "ab"), outs, used, strict=True)
    }
    rows = pl.Series(np.flatnonzero(unhandled).astype(np.uint32))
    if rows.len():
        rest = _expression_cleaned_texts(frame[rows])
        columns = {name: column.scatter(rows, rest[name]) for name, column in columns.items()}
    return pl.DataFrame(columns).with_columns(
        pl.when(frame[field].is_not_null()).then(pl.col(name)).alias(name)
        for name, field in (("t", "title"), ("ab", "abstract"))
    )


def _features_of(texts: pl.DataFrame, authors: pl.Series) -> pl.DataFrame:
    """t, ab (SHA-256 of the compared texts in `texts`, 32 bytes) and au (lower-cased
    `authors`)."""
    return texts.with_columns(authors.alias("au")).select(
        plh.col("t").chash.sha2_256().str.decode("hex"),
        plh.col("ab").chash.sha2_256().str.decode("hex"),
        pl.col("au").list.eval(pl.element().str.to_lowercase()),
    )


def pair_features(papers: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """paper_id, t and ab (SHA-256 of the compared title and abstract, `_cleaned_texts`; null text:
    null), au (lower-cased author names): what `classify` reads of a paper.

    `paper_signatures` gives them with the signature, from the same cleaning of the text, and
    the partition step keeps them beside it, so the similarity step reads digests instead of
    every pair's texts, twice. Equal digests are equal texts as far as SHA-256 is collision-free,
    which the memo keys already rely on (related.text_hashes)."""
    frame = papers.lazy().select("paper_id", "title", "abstract", "authors").collect()
    return pl.concat(
        [frame.select("paper_id"), _features_of(_cleaned_texts(frame), frame["authors"])],
        how="horizontal",
    )


def _author_ids(side: pl.DataFrame) -> pl.Series:
    """Each row's lower-cased author names as UInt32 ids, equal ids for equal names (null
    authors stay null, an empty list stays empty): pairs compare ids, not names."""
    every = side.select(pl.int_range(pl.len(), dtype=pl.UInt32).alias("_p"))
    # polars may drop or null-fill empty and null lists: set below
    flat = every.with_columns(side["au"]).explode("au")
    # each distinct name one id, by a join (a dense rank sorts every name: 4x the time); which
    # id is a name's does not matter, only which names are equal
    ids = flat.select(pl.col("au").drop_nulls().unique()).with_row_index("_id")
    grouped = (
        flat.join(ids, on="au", how="left", maintain_order="left")
        .group_by("_p", maintain_order=True)
        .agg(pl.col("_id").alias("au"))
    )
    names = every.join(grouped, on="_p", how="left", maintain_order="left")["au"]
    listed = pl.col("au").list.len()
    return side.select(
        pl.when(listed > 0)
        .then(pl.lit(names))
        .when(listed == 0)
        .then(pl.lit([], dtype=pl.List(pl.UInt32)))
        .alias("au")
    )["au"]


def classify(pairs: pl.DataFrame, features: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """Pairs (paper_id_a, paper_id_b, jaccard) + the papers' `pair_features`.

    Output: paper_id_a, paper_id_b, jaccard, kind, evidence.

    Rules, read from the real data:
    - boilerplate: same abstract, different titles and no shared author (a template abstract);
    - same_work: same or near-same title and a shared author (one work under two ids);
    - reposted: a shared author but the title changed (a new version posted under a new id);
    - otherwise similar_text.

    Titles and abstracts are compared lower-cased, word characters only (by their digests); a
    null text is unknown, neither the same nor different; author names lower-cased, as ids
    over the pairs' papers.
    """
    side = features.lazy().select(PAIR_FEATURES.names()).collect()
    side = side.with_columns(_author_ids(side))
    j = pairs.join(side, left_on="paper_id_a", right_on="paper_id", how="left").join(
        side, left_on="paper_id_b", right_on="paper_id", how="left", suffix="_b"
    )
    # == of two digests: null when either text is null
    same_t, same_ab = pl.col("t") == pl.col("t_b"), pl.col("ab") == pl.col("ab_b")
    # the shared authors counted once (the rules read them four times: 1.6 s at 1M)
    j = j.with_columns(shared_authors(pl.col("au"), pl.col("au_b")).alias("_shared"))
    return j.select("paper_id_a", "paper_id_b", "jaccard", *kind_and_evidence(
        same_t, same_ab, pl.col("_shared")
    ))  # fmt: skip


def shared_authors(authors: pl.Expr, authors_b: pl.Expr) -> pl.Expr:
    """How many authors two papers' lists share (a null list shares none)."""
    return authors.list.set_intersection(authors_b).list.len().fill_null(0)


def kind_and_evidence(
    same_title: pl.Expr, same_abs: pl.Expr, shared: pl.Expr
) -> tuple[pl.Expr, pl.Expr]:
    """The rules of `classify`: `kind` and `evidence` from whether the titles and the abstracts
    are the same (null: unknown) and how many authors the two papers share (`shared_authors`,
    best a column: the rules read it four times)."""
    kind = (
        pl.when(same_abs & ~same_title & (shared == 0))
        .then(pl.lit("boilerplate"))
        .when(same_title & (shared > 0))
        .then(pl.lit("same_work"))
        .when(shared > 0)
        .then(pl.lit("reposted"))
        .otherwise(pl.lit("similar_text"))
    )
    evidence = pl.format(
        "jaccard={}; title {}; abstract {}; shared authors {}",
        pl.col("jaccard").round(3),
        pl.when(same_title).then(pl.lit("same")).otherwise(pl.lit("differs")),
        pl.when(same_abs).then(pl.lit("same")).otherwise(pl.lit("differs")),
        shared,
    )
    return kind.alias("kind"), evidence.alias("evidence")


def scored_pairs(
    new: pl.DataFrame,
    papers: pl.DataFrame,
    sig_of: np.ndarray | Signed,
    params: NeardupParams,
    index: pl.DataFrame | None = None,
    map_tasks: TaskMap[Any] | None = None,
) -> pl.DataFrame:
    """(paper_id_a < paper_id_b, jaccard >= min_jaccard): the pairs of `new` papers among
    `index` (default: all `papers`; `candidate_pairs`) and their estimated Jaccard
    (`estimate_jaccard`); map_tasks runs the tasks of both.

    `papers` and `sig_of` are row-aligned: every paper that can appear in a pair, and its signature
    (a matrix, or its band keys and its rows read on demand: `Signed`).
    """
    keys: np.ndarray | BandKeys = sig_of.keys if isinstance(sig_of, Signed) else sig_of
    signatures: np.ndarray | SignatureRows = (
        sig_of.signatures if isinstance(sig_of, Signed) else sig_of
    )
    ids = papers["paper_id"]
    numbered = ids.to_frame().with_row_index("row")

    def rows_of(frame: pl.DataFrame) -> np.ndarray:
        out: np.ndarray = numbered.join(frame.select("paper_id"), on="paper_id", how="semi")[
            "row"
        ].to_numpy()
        return out

    index_rows = None if index is None else rows_of(index)
    candidates = candidate_pairs(rows_of(new), keys, params, index_rows, map_tasks)
    pairs = estimate_jaccard(candidates, signatures, map_tasks)
    pairs = pairs.filter(pl.col("jaccard") >= params.min_jaccard)
    a, b = ids.gather(pairs["row_a"]), ids.gather(pairs["row_b"])
    return pairs.select(
        pl.min_horizontal(a, b).alias("paper_id_a"),  # by id, whatever the rows' order
        pl.max_horizontal(a, b).alias("paper_id_b"),
        "jaccard",
    )


def pair_kinds(pairs: pl.DataFrame, features: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """`classify` reading the `pair_features` of the papers in a pair only (the caller need not
    hold every paper's), sorted by the pair."""
    needed = pl.concat([pairs["paper_id_a"], pairs["paper_id_b"]]).unique().to_frame("paper_id")
    side = features.lazy().join(needed.lazy(), on="paper_id", how="semi")
    return classify(pairs, side).sort("paper_id_a", "paper_id_b")


def find_duplicates(
    new: pl.DataFrame,
    papers: pl.DataFrame,
    sig_of: np.ndarray,
    params: NeardupParams,
    texts: pl.LazyFrame | None = None,
    index: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """`scored_pairs` then `pair_kinds` (title, abstract and authors from `texts`, default
    `papers`)."""
    pairs = scored_pairs(new, papers, sig_of, params, index)
    return pair_kinds(pairs, pair_features(papers if texts is None else texts))
