"""Tests for papers.stages.neardup: signatures, LSH banding in polars, pair kinds, incremental = batch."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from papers.stages import neardup as nd
from schemas.similarity import Duplicates

BASE = (
    "We study the convergence of stochastic gradient descent on smooth nonconvex objectives and "
    "prove that a decaying step size reaches a stationary point at the optimal rate under mild noise"
)
BOILER = "This is the abstract of a workshop contribution submitted to the proceedings of the annual meeting"
PAPERS = pl.DataFrame(
    {
        "paper_id": ["p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8"],
        "title": [
            "SGD rates",
            "SGD rates",
            "SGD rates revisited",
            "Quarks",
            "Galaxies",
            "Ünïcode café",
            "Empty",
            "Ünïcode café",
        ],
        "abstract": [
            BASE,
            BASE,
            BASE.replace("optimal", "best"),
            BOILER,
            BOILER,
            "naïve résumé über straße",
            "",
            "naïve résumé über straße",
        ],
        "authors": [
            ["A. One"],
            ["A. One", "B. Two"],
            ["A. One"],
            ["Q. Q"],
            ["G. G"],
            ["Z"],
            ["E"],
            ["Y"],
        ],
    }
)
PARAMS = nd.NeardupParams()


def _sig(papers: pl.DataFrame) -> np.ndarray:
    texts = papers.select(nd.shingle_text(pl.col("title"), pl.col("abstract")))
    return nd.signatures(texts.to_series(), PARAMS)


def _all() -> pl.DataFrame:
    sig = _sig(PAPERS)
    keys = nd.band_keys(PAPERS["paper_id"], sig, PARAMS)
    return nd.find_duplicates(PAPERS, keys, PAPERS, sig, PARAMS)


def test_signatures_are_deterministic_and_empty_text_matches_nothing() -> None:
    sig = _sig(PAPERS)
    assert sig.dtype == np.uint32
    assert sig.shape == (8, PARAMS.num_perm)
    assert np.array_equal(sig, _sig(PAPERS))
    assert np.array_equal(sig[0], sig[1])  # same text twice
    keys = nd.band_keys(PAPERS["paper_id"], sig, PARAMS)
    assert "p7" in keys["paper_id"].to_list()  # "empty" title still gives text
    empty = nd.signatures(pl.Series([""]), PARAMS)
    assert nd.band_keys(pl.Series(["e"]), empty, PARAMS).height == 0


def test_pairs_and_kinds() -> None:
    dup = _all()
    Duplicates.validate(dup)
    got = {(a, b): k for a, b, k in dup.select("paper_id_a", "paper_id_b", "kind").iter_rows()}
    assert got[("p1", "p2")] == "same_work"  # same title, shared author
    assert got[("p1", "p3")] == "reposted"  # one word changed, title changed, same author
    assert got[("p4", "p5")] == "boilerplate"  # same abstract, other title, no shared author
    assert got[("p6", "p8")] == "similar_text"  # non-ASCII text survives shingling
    assert not any("p7" in pair for pair in got)
    assert (
        dup.filter(pl.col("paper_id_a") == "p1", pl.col("paper_id_b") == "p2")["jaccard"].item()
        == 1.0
    )
    assert (
        "shared authors 1"
        in dup.filter(pl.col("paper_id_a") == "p1", pl.col("paper_id_b") == "p2")["evidence"].item()
    )


def test_incremental_equals_batch() -> None:
    sig = _sig(PAPERS)
    keys = nd.band_keys(PAPERS["paper_id"], sig, PARAMS)
    batch = nd.find_duplicates(PAPERS, keys, PAPERS, sig, PARAMS)
    # day 1: the first half alone; day 2: the rest against the index of everything
    old, new = PAPERS.head(4), PAPERS.tail(4)
    day1 = nd.find_duplicates(
        old, keys.join(old.select("paper_id"), on="paper_id", how="semi"), PAPERS, sig, PARAMS
    )
    day2 = nd.find_duplicates(new, keys, PAPERS, sig, PARAMS)
    both = (
        pl.concat([day1, day2])
        .unique(["paper_id_a", "paper_id_b"])
        .sort("paper_id_a", "paper_id_b")
    )
    assert_frame_equal(both, batch)


def test_bands_must_fit_signature() -> None:
    import pytest

    with pytest.raises(ValueError, match="num_perm"):
        nd.band_keys(pl.Series(["a"]), np.zeros((1, 8), dtype=np.uint32), PARAMS)


def test_signatures_do_not_depend_on_the_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = pl.Series(["alpha beta gamma delta", "", "alpha beta gamma", "one two three four five"])
    whole = nd.signatures(texts, PARAMS)
    monkeypatch.setattr(nd, "SIGN_BATCH", 3)  # two batches: 3 texts, then 1
    assert np.array_equal(nd.signatures(texts, PARAMS), whole)
    assert (whole[1] == np.iinfo(np.uint32).max).all()  # the empty text matches nothing
