"""Tests for papers.stages.neardup: signatures, LSH banding in polars, pair kinds, incremental = batch."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import polars as pl
import pytest
import rensa  # type: ignore[import-untyped]
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from papers.errors import PapersError
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
    return nd.find_duplicates(PAPERS, PAPERS, sig, PARAMS)


def test_signatures_are_deterministic_and_empty_text_matches_nothing() -> None:
    sig = _sig(PAPERS)
    assert sig.dtype == np.uint32
    assert sig.shape == (8, PARAMS.num_perm)
    assert np.array_equal(sig, _sig(PAPERS))
    assert np.array_equal(sig[0], sig[1])  # same text twice
    keys = nd.band_keys(sig, PARAMS)
    assert 6 in keys["row"].to_list()  # p7: "empty" title still gives text
    empty = nd.signatures(pl.Series([""]), PARAMS)
    assert nd.band_keys(empty, PARAMS).height == 0


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


def _candidates_compiled(monkeypatch: pytest.MonkeyPatch, compiled: bool) -> None:
    """The candidate pairs' compiled pass (shingle_kernel.band_pairs) from 0 rows, or never."""
    monkeypatch.setattr(nd, "COMPILED_ROWS", 0 if compiled else 2**62)
    monkeypatch.setattr(nd, "WARM_ROWS", 0 if compiled else 2**62)


@pytest.mark.parametrize("compiled", [False, True])
def test_incremental_equals_batch(monkeypatch: pytest.MonkeyPatch, compiled: bool) -> None:
    _candidates_compiled(monkeypatch, compiled)
    sig = _sig(PAPERS)
    batch = nd.find_duplicates(PAPERS, PAPERS, sig, PARAMS)
    # day 1: the first half alone; day 2: the rest against the index of everything
    old, new = PAPERS.head(4), PAPERS.tail(4)
    day1 = nd.find_duplicates(old, PAPERS, sig, PARAMS, index=old)
    day2 = nd.find_duplicates(new, PAPERS, sig, PARAMS)
    both = (
        pl.concat([day1, day2])
        .unique(["paper_id_a", "paper_id_b"])
        .sort("paper_id_a", "paper_id_b")
    )
    assert_frame_equal(both, batch)


@pytest.mark.parametrize("compiled", [False, True])
def test_candidates_are_the_pairs_sharing_a_band_key(
    monkeypatch: pytest.MonkeyPatch, compiled: bool
) -> None:
    _candidates_compiled(monkeypatch, compiled)
    # signatures with few distinct values per minhash: many collisions, buckets of every size
    rng = np.random.default_rng(3)
    sig = rng.integers(0, 3, size=(60, PARAMS.num_perm), dtype=np.uint32)
    sig[7] = np.iinfo(np.uint32).max  # an empty text: never a candidate
    keys = nd.band_keys(sig, PARAMS)
    shared = keys.join(keys, on=["band", "key"], suffix="_o").filter(
        pl.col("row") < pl.col("row_o")
    )
    expected = shared.select(row_a="row", row_b="row_o").unique().sort("row_a", "row_b")
    got = nd.candidate_pairs(np.arange(60), sig, PARAMS)
    assert got.height > 100
    assert_frame_equal(got, expected)
    # the bands run by a task map on two threads: the same pairs
    assert_frame_equal(nd.candidate_pairs(np.arange(60), sig, PARAMS, map_tasks=_threads), expected)
    # new rows 0..9 against an index of rows 0..39: pairs with an end in each
    part = nd.candidate_pairs(np.arange(10), sig, PARAMS, index_rows=np.arange(40))
    want = expected.filter((pl.col("row_a") < 10) | (pl.col("row_b") < 10), pl.col("row_b") < 40)
    assert_frame_equal(part, want)
    # few new rows (under a quarter: keys tested against the new rows' only), scattered
    few = np.array([3, 7, 17, 42, 59])
    ends = pl.col("row_a").is_in(few.tolist()) | pl.col("row_b").is_in(few.tolist())
    assert_frame_equal(nd.candidate_pairs(few, sig, PARAMS), expected.filter(ends))


def _threads(fn: Callable[..., Any], calls: list[tuple[Any, ...]]) -> list[Any]:
    """A task map (papers.tasks) on two threads, as the pipeline's."""
    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(lambda args: fn(*args), calls))


def _estimates_compiled(monkeypatch: pytest.MonkeyPatch, compiled: bool) -> None:
    """The estimates' compiled pass (shingle_kernel.shares) from 0 pairs, or never."""
    monkeypatch.setattr(nd, "COMPILED_PAIRS", 0 if compiled else 2**62)
    monkeypatch.setattr(nd, "WARM_PAIRS", 0 if compiled else 2**62)


@pytest.mark.parametrize("compiled", [False, True])
def test_jaccard_estimates_by_task_and_thread_are_the_share_of_equal_minhashes(
    monkeypatch: pytest.MonkeyPatch, compiled: bool
) -> None:
    _estimates_compiled(monkeypatch, compiled)
    rng = np.random.default_rng(5)
    sig = rng.integers(0, 2, size=(40, PARAMS.num_perm), dtype=np.uint32)
    pairs = pl.DataFrame(
        {"row_a": rng.integers(0, 40, 50), "row_b": rng.integers(0, 40, 50)},
        schema={"row_a": pl.UInt32, "row_b": pl.UInt32},
    )
    want = [float((sig[a] == sig[b]).mean()) for a, b in pairs.iter_rows()]
    monkeypatch.setattr(nd, "ESTIMATE_BATCH", 3)
    monkeypatch.setattr(nd, "ESTIMATE_TASK", 7)  # 8 tasks, the last one short

    for map_tasks in (None, _threads):
        got = nd.estimate_jaccard(pairs, sig, map_tasks)["jaccard"]
        assert got.dtype == pl.Float32
        assert got.to_list() == want


@pytest.mark.parametrize("compiled", [False, True])
def test_jaccard_estimates_read_on_demand_are_the_whole_matrixs(
    monkeypatch: pytest.MonkeyPatch, compiled: bool
) -> None:
    rng = np.random.default_rng(6)
    sig = rng.integers(0, 3, size=(60, PARAMS.num_perm), dtype=np.uint32)
    # pairs among 30 of the 60 rows (the others are never read when a block cannot hold all)
    used = rng.choice(60, size=30, replace=False)
    pairs = pl.DataFrame(
        {"row_a": rng.choice(used, 400), "row_b": rng.choice(used, 400)},
        schema={"row_a": pl.UInt32, "row_b": pl.UInt32},
    )
    want = nd.estimate_jaccard(pairs, sig)  # numpy, whole (the test above checks it)
    _estimates_compiled(monkeypatch, compiled)
    in_pairs = np.unique(pairs.select(pl.concat_list("row_a", "row_b").explode()).to_series())
    for block_rows in (60, len(in_pairs), 7):
        asked: list[list[int]] = []

        def gather(rows: np.ndarray, asked: list[list[int]] = asked) -> np.ndarray:
            asked.append(rows.tolist())
            return sig[rows]

        got = nd.estimate_jaccard(pairs, nd.SignatureRows(60, gather, block_rows))
        assert_frame_equal(got, want)
        if block_rows == 60:  # every row fits one block: read whole
            assert asked == [list(range(60))]
            continue
        # else only the rows in a pair, in blocks of block_rows: block i read once as the first
        # of its pairs and once beside each earlier block
        blocks = [
            in_pairs[i : i + block_rows].tolist() for i in range(0, len(in_pairs), block_rows)
        ]
        assert all(rows in blocks for rows in asked)
        for i, rows in enumerate(blocks):
            assert 1 <= asked.count(rows) <= i + 1
        assert len(blocks) == (1 if block_rows == len(in_pairs) else -(-len(in_pairs) // 7))


def test_band_key_columns_are_the_keys_candidate_pairs_join_on() -> None:
    rng = np.random.default_rng(8)
    sig = rng.integers(0, 3, size=(30, PARAMS.num_perm), dtype=np.uint32)
    sig[4] = np.iinfo(np.uint32).max  # an empty text: no key in any band
    columns = nd.band_key_columns(sig, PARAMS)
    assert columns.columns == nd.band_names(PARAMS)
    assert columns.row(4) == (None,) * PARAMS.bands
    long = nd.band_keys(sig, PARAMS)
    for band, name in enumerate(columns.columns):
        keyed = long.filter(pl.col("band") == band)
        assert columns[name].gather(keyed["row"]).to_list() == keyed["key"].to_list()

    # from the columns, read a band at a time, the same pairs as from the matrix
    def key(band: int) -> tuple[np.ndarray, np.ndarray]:
        column = columns.to_series(band)
        return column.fill_null(0).to_numpy(), column.is_not_null().to_numpy()

    keys = nd.BandKeys(30, key)
    assert_frame_equal(
        nd.candidate_pairs(np.arange(30), keys, PARAMS),
        nd.candidate_pairs(np.arange(30), sig, PARAMS),
    )


def test_bands_must_fit_signature() -> None:
    import pytest

    with pytest.raises(ValueError, match="num_perm"):
        nd.band_keys(np.zeros((1, 8), dtype=np.uint32), PARAMS)


def test_signatures_do_not_depend_on_the_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = pl.Series(["alpha beta gamma delta", "", "alpha beta gamma", "one two three four five"])
    whole = nd.signatures(texts, PARAMS)
    monkeypatch.setattr(nd, "SIGN_BATCH", 3)  # two batches: 3 texts, then 1
    assert np.array_equal(nd.signatures(texts, PARAMS), whole)
    assert (whole[1] == np.iinfo(np.uint32).max).all()  # the empty text matches nothing


@pytest.mark.parametrize("k", [1, 2, 3, 5])
@pytest.mark.parametrize("hashed", [nd._shingle_hashes, nd._compiled_shingle_hashes])
def test_shingle_hashes_are_rensas_hashes_of_the_shingle_strings(
    k: int, hashed: Callable[[pl.Series, int], tuple[np.ndarray, np.ndarray]]
) -> None:
    """The numpy passes and the compiled pass (papers/stages/shingle_kernel.py) alike."""
    words = ["a", "bc", "défg", "hijklmnopq", "x" * 17, "y" * 33, "straße", "7", "漢字"]
    texts = [" ".join(words[i : i + n]) for n in range(10) for i in range(0, 9 - n + 1, 2)]
    texts += ["", "z", "", "ü ü ü ü", "a a a"]
    series = pl.Series("t", texts)
    hashes, offsets = hashed(series.slice(1), k)  # a sliced buffer too
    expected = rensa.RMinHash.hash_token_sets([nd._shingles(t, k) for t in texts[1:]])
    assert offsets.tolist() == np.cumsum([0] + [len(e) for e in expected]).tolist()
    assert hashes.tolist() == [h for e in expected for h in e]


def test_token_hashes_match_rensa_at_every_length() -> None:
    tokens = ["é" * (n // 2) + "q" * (n % 2) for n in range(0, 70)] + ["a" * n for n in range(70)]
    data = "".join(tokens).encode()
    lengths = np.array([len(t.encode()) for t in tokens], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    buf = np.frombuffer(data + bytes(16), dtype=np.uint8)
    got = nd.token_hashes(buf, starts, lengths)
    assert got.tolist() == rensa.RMinHash.hash_token_sets([tokens])[0]


def _classify_reference(pairs: pl.DataFrame, papers: pl.DataFrame) -> pl.DataFrame:
    """The pair kinds as first written: each pair's lower-cased texts and names compared as
    strings (what `classify` must give, with digests and name ids; the rules are shared)."""
    side = papers.select(
        "paper_id",
        pl.col("title").str.to_lowercase().str.replace_all(r"[^\w]+", "").alias("t"),
        pl.col("abstract").str.to_lowercase().str.replace_all(r"[^\w]+", "").alias("ab"),
        pl.col("authors").list.eval(pl.element().str.to_lowercase()).alias("au"),
    )
    j = pairs.join(side, left_on="paper_id_a", right_on="paper_id", how="left").join(
        side, left_on="paper_id_b", right_on="paper_id", how="left", suffix="_b"
    )
    same_title, same_abs = pl.col("t") == pl.col("t_b"), pl.col("ab") == pl.col("ab_b")
    shared = nd.shared_authors(pl.col("au"), pl.col("au_b"))
    rules = nd.kind_and_evidence(same_title, same_abs, shared)
    return j.select("paper_id_a", "paper_id_b", "jaccard", *rules)


UGLY = pl.DataFrame(
    {
        "paper_id": [f"u{i}" for i in range(10)],
        "title": ["Deep Nets", "deep  nets!", None, None, "X", "Y", "Z", "Deep-Nets", "W", "W"],
        "abstract": ["Same.", "same", None, "same", None, "SAME!!", "other", "Same", "", ""],
        "authors": [
            ["Ann Lee", "Bo Wu"],
            ["ann lee"],
            None,
            [],
            ["Bo Wu", None],
            [None],
            [],
            ["BO WU", "Bo Wu"],
            None,
            [],
        ],
    },
    schema_overrides={"authors": pl.List(pl.String)},
)


def test_classify_equals_the_string_comparison_on_ugly_rows() -> None:
    ids = UGLY["paper_id"].to_list()
    pairs = pl.DataFrame(
        [(a, b, 0.75) for i, a in enumerate(ids) for b in ids[i + 1 :]],
        schema={"paper_id_a": pl.String, "paper_id_b": pl.String, "jaccard": pl.Float32},
        orient="row",
    )
    got = nd.classify(pairs, nd.pair_features(UGLY))
    assert_frame_equal(got, _classify_reference(pairs, UGLY))
    assert_frame_equal(nd.classify(pairs, nd.pair_features(UGLY.lazy()).lazy()), got)
    kinds = {(a, b): k for a, b, k in got.select("paper_id_a", "paper_id_b", "kind").iter_rows()}
    assert kinds[("u0", "u1")] == "same_work"  # case and punctuation differ only
    assert kinds[("u0", "u7")] == "same_work"
    assert kinds[("u0", "u5")] == "boilerplate"  # same abstract, a null name shares nothing
    assert kinds[("u3", "u5")] == "similar_text"  # a null title is unknown, not different


_UGLY_TEXT = st.one_of(
    st.none(), st.text(alphabet="aZ 1_-.,'\t\n\u00a0é\u0301ß\u0130ΑΣ\u2029\U0001f600", max_size=16)
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_UGLY_TEXT, _UGLY_TEXT), max_size=8))
def test_text_cleaning_equals_the_one_pass_regexes(
    rows: list[tuple[str | None, str | None]],
) -> None:
    # shingle_text and the compared texts skip the matches at single spaces; the plain regexes
    # are the spec
    frame = pl.DataFrame(rows, schema={"title": pl.String, "abstract": pl.String}, orient="row")
    text = pl.concat_str(
        [pl.col("title").fill_null(""), pl.col("abstract").fill_null("")], separator=" "
    )
    compared = {
        name: pl.col(name).str.to_lowercase().str.replace_all(r"[^\w]+", "")
        for name in ("title", "abstract")
    }
    expected = frame.select(
        text.str.to_lowercase().str.replace_all(r"[^\w]+", " ").str.strip_chars().alias("s"),
        compared["title"].alias("t"),
        compared["abstract"].alias("ab"),
    )
    got = frame.select(nd.shingle_text(pl.col("title"), pl.col("abstract")).alias("s"))
    assert_frame_equal(got, expected.select("s"))
    # paper_signatures cleans the two fields apart, once for the shingles and the pair features
    apart = nd._cleaned_texts(frame)
    assert_frame_equal(apart.select(pl.col("text").alias("s"), "t", "ab"), expected)


@pytest.mark.parametrize("compiled", [False, True])
def test_a_huge_group_of_one_text_stops_with_a_readable_error(
    monkeypatch: pytest.MonkeyPatch, compiled: bool
) -> None:
    """k papers with the same signature make k(k-1)/2 pairs in every band: past
    max_candidate_pairs the step stops before holding them, naming the group's size."""
    _candidates_compiled(monkeypatch, compiled)
    rng = np.random.default_rng(5)
    sig = rng.integers(0, 2**32, size=(300, PARAMS.num_perm), dtype=np.uint32)
    sig[:200] = sig[0]  # 200 papers, one text: 19,900 pairs in each of the 32 bands
    every = nd.candidate_pairs(np.arange(300), sig, PARAMS)  # the default budget holds them
    assert every.height == 19_900
    exact = PARAMS.model_copy(update={"max_candidate_pairs": 32 * 19_900})
    assert_frame_equal(nd.candidate_pairs(np.arange(300), sig, exact), every)  # at the limit
    tight = PARAMS.model_copy(update={"max_candidate_pairs": 32 * 19_900 - 1})
    for tasks in (None, _threads):
        with pytest.raises(PapersError, match=r"200 papers share one of that band's keys"):
            nd.candidate_pairs(np.arange(300), sig, tight, map_tasks=tasks)
