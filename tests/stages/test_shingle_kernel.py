"""shingle_kernel: the compiled pass hashes each text's word shingles as rensa hashes the shingle
strings, and as neardup._shingle_hashes (the numpy passes) does (the shingle strings of several
texts, k = 1 to 5: tests/stages/test_neardup.py, both ways)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
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


def test_signatures_are_the_same_either_way(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = pl.Series(["alpha beta gamma delta", "", "alpha beta gamma", "one two three four five"])
    params = NeardupParams()
    monkeypatch.setattr(nd, "worth_compiling", lambda n: False)
    numpy_passes = nd.signatures(texts, params)
    monkeypatch.setattr(nd, "worth_compiling", lambda n: True)
    assert np.array_equal(nd.signatures(texts, params), numpy_passes)
