"""shingle_kernel: the compiled pass hashes each text's word shingles as rensa hashes the shingle
strings, and as neardup._shingle_hashes (the numpy passes) does (the shingle strings of several
texts, k = 1 to 5: tests/stages/test_neardup.py, both ways)."""

from __future__ import annotations

import numpy as np
import polars as pl
import rensa  # type: ignore[import-untyped]
from hypothesis import given, settings
from hypothesis import strategies as st

from papers.config import NeardupParams
from papers.stages import neardup as nd


def test_every_length_hashes_as_rensa_hashes_a_token() -> None:
    """One-word texts (no space) of 0 to 70 bytes, ASCII and two-byte characters: each is one
    shingle, hashed as rensa hashes the token (every length class of the hash)."""
    tokens = ["é" * (n // 2) + "q" * (n % 2) for n in range(70)] + ["a" * n for n in range(70)]
    hashes, offsets = nd._compiled_shingle_hashes(pl.Series(tokens), 3)
    want = rensa.RMinHash.hash_token_sets([[t] for t in tokens if t])
    assert hashes.tolist() == [h for e in want for h in e]
    assert np.diff(offsets).tolist() == [int(bool(t)) for t in tokens]


_WORDS = st.text(
    alphabet=st.sampled_from([*"abcxyz0189_éßΣ漢", "😀", "\u0301"]), min_size=1, max_size=40
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(_WORDS, max_size=12).map(" ".join), max_size=8), st.integers(1, 4))
def test_the_same_hashes_as_the_numpy_passes(texts: list[str], k: int) -> None:
    series = pl.Series("t", texts, dtype=pl.String)
    got = nd._compiled_shingle_hashes(series, k)
    want = nd._shingle_hashes(series, k)
    assert got[1].tolist() == want[1].tolist()
    assert got[0].tolist() == want[0].tolist()


def test_signatures_are_the_same_either_way() -> None:
    texts = pl.Series(["alpha beta gamma delta", "", "alpha beta gamma", "one two three four five"])
    params = NeardupParams()
    numpy_passes = nd.signatures(texts, params, compiled=False)
    assert np.array_equal(nd.signatures(texts, params, compiled=True), numpy_passes)


def _rensa(hashes: np.ndarray, offsets: np.ndarray, num_perm: int, seed: int) -> np.ndarray:
    matrix = rensa.RMinHash.digest_matrix_from_flat_token_hashes(
        hashes, offsets, num_perm=num_perm, seed=seed
    )
    return np.asarray(matrix.to_rows(), dtype=np.uint32).reshape(len(offsets) - 1, num_perm)


def _sketches(hashes: np.ndarray, offsets: np.ndarray, num_perm: int, seed: int) -> np.ndarray:
    from papers.stages.shingle_kernel import sketches

    out = np.empty((len(offsets) - 1, num_perm), dtype=np.uint32)
    a, b = nd.rensa_permutations(num_perm, seed)
    sketches(hashes, offsets, a, b, out, np.empty(num_perm, dtype=np.int64))
    return out


_HASHES = st.one_of(st.integers(0, 2**64 - 1), st.sampled_from([0, 1, 2**32, 2**63, 2**64 - 1]))


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.lists(_HASHES, max_size=300), min_size=1, max_size=6),
    st.sampled_from([1, 2, 3, 7, 16, 100, 128, 256]),
    st.sampled_from([0, 42, 2**64 - 1]),
)
def test_the_compiled_signatures_are_rensas(
    rows: list[list[int]], num_perm: int, seed: int
) -> None:
    """shingle_kernel.sketches gives rensa's R-MinHash signatures: rows of no hash, one hash,
    repeated hashes, few (coordinates only the fallback reaches) and many; widths that are and
    are not powers of two (the bucket draw's rejection); several seeds (the permutations)."""
    hashes = np.array([h for row in rows for h in row], dtype=np.uint64)
    offsets = np.concatenate([[0], np.cumsum([len(r) for r in rows])]).astype(np.uint64)
    assert np.array_equal(
        _sketches(hashes, offsets, num_perm, seed), _rensa(hashes, offsets, num_perm, seed)
    )


def test_the_compiled_signatures_of_real_shingles_are_rensas() -> None:
    """A few thousand shingle hashes of texts like the papers' (many per row: every coordinate
    from the bucket rounds) and of one-word texts (most from the fallback)."""
    rng = np.random.default_rng(7)
    words = [f"w{i}" for i in range(400)]
    texts = [" ".join(rng.choice(words, size=n)) for n in rng.integers(1, 220, size=60)]
    hashes, offsets = nd._compiled_shingle_hashes(pl.Series(texts), 3)
    assert np.array_equal(
        _sketches(hashes, offsets, 128, nd.SEED), _rensa(hashes, offsets, 128, nd.SEED)
    )


def _unsplitmix64(out: int) -> int:
    """The input SplitMix64's finaliser maps to `out` (each step undone)."""
    mask = (1 << 64) - 1

    def unshift(value: int, shift: int) -> int:
        result = value
        for _ in range(64 // shift + 1):
            result = value ^ (result >> shift)
        return result & mask

    z = unshift(out, 31)
    z = (z * pow(0x94D049BB133111EB, -1, 1 << 64)) & mask
    z = unshift(z, 27)
    z = (z * pow(0xBF58476D1CE4E5B9, -1, 1 << 64)) & mask
    z = unshift(z, 30)
    return (z - 0x9E3779B97F4A7C15) & mask


def test_a_biased_bucket_draw_is_drawn_again_as_rensa_does() -> None:
    """With 3 coordinates a mix whose low word is 0 falls in the multiply-shift's biased part
    (2^32 is not a multiple of 3) and is mixed again before it picks a coordinate: hashes made
    to do that in the first round, beside ordinary ones."""
    from papers.stages.shingle_kernel import _BUCKET_DOMAIN

    _, b = nd.rensa_permutations(3, nd.SEED)
    round_seed = int(b[0]) ^ int(_BUCKET_DOMAIN)
    biased = [_unsplitmix64(high << 32) ^ round_seed for high in (1, 7, 12345, 2**31)]
    rows = [[h] for h in biased] + [[*biased, 5, 6, 7]]
    hashes = np.array([h for row in rows for h in row], dtype=np.uint64)
    offsets = np.concatenate([[0], np.cumsum([len(r) for r in rows])]).astype(np.uint64)
    assert np.array_equal(
        _sketches(hashes, offsets, 3, nd.SEED), _rensa(hashes, offsets, 3, nd.SEED)
    )
