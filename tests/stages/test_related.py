"""related (papers/stages/related.py): TF-IDF rows and the blocked exact top-k search."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from papers.stages.related import (
    RELATED_SCHEMA,
    RelatedParams,
    merge_top_k,
    related_tfidf,
    tfidf_matrix,
    top_k,
    update_top_k,
)

PARAMS = RelatedParams(k=2, min_df=1, max_df_share=1.0)
TEXTS = [
    "Graph neural networks for molecule property prediction",
    "Molecule graphs: neural message passing",
    "Quark gluon plasma on the lattice",
    "Lattice QCD at finite density: the quark sector",
    "",  # an empty abstract and title still gets a row of zeros, and no neighbours
    "Cats, cats, CATS!",
]


def papers(texts: list[str]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "paper_id": [f"p{i}" for i in range(len(texts))],
            "title": texts,
            "abstract": [None] * len(texts),
        },
        schema={"paper_id": pl.String, "title": pl.String, "abstract": pl.String},
    )


def test_tfidf_rows_are_unit_length_or_empty() -> None:
    matrix = tfidf_matrix(pl.Series(TEXTS), PARAMS)
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    assert norms == pytest.approx([1, 1, 1, 1, 0, 1], abs=1e-6)


def test_topic_neighbours_and_schema() -> None:
    table = related_tfidf(papers(TEXTS), PARAMS)
    assert table.schema == RELATED_SCHEMA
    first = table.filter(pl.col("rank") == 1).select("paper_id", "related_id")
    assert dict(first.iter_rows()) == {"p0": "p1", "p1": "p0", "p2": "p3", "p3": "p2"}
    assert table.filter(pl.col("paper_id") == pl.col("related_id")).height == 0
    assert "p4" not in table["paper_id"]
    assert "p5" not in table["paper_id"]
    assert (table["score"] > 0).all()
    assert (table["method"] == "tfidf").all()


def test_ties_go_to_the_smaller_id_whatever_the_block() -> None:
    # p0 is equally close to p1..p4: the two smallest ids win, in id order.
    vectors = np.array([[1, 0], [1, 0], [1, 0], [1, 0], [1, 0], [0, 1]], dtype=np.float32)
    ids = pl.Series([f"p{i}" for i in range(6)])
    # 0 MiB: one row a block; 1 MiB: all rows in one
    tables = [top_k(vectors, ids, 2, "embeddings", block_mib=mib) for mib in (0, 1)]
    for other in tables[1:]:
        assert_frame_equal(tables[0], other)
    p0 = tables[0].filter(pl.col("paper_id") == "p0")
    assert p0["related_id"].to_list() == ["p1", "p2"]
    assert p0["rank"].to_list() == [1, 2]
    assert tables[0].filter(pl.col("paper_id") == "p5").height == 0  # orthogonal to all


def test_query_rows_give_the_same_rows_as_the_full_search() -> None:
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(40, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = pl.Series([f"x{i:02d}" for i in range(40)])
    full = top_k(vectors, ids, 5, "embeddings", block_mib=0)
    some = top_k(vectors, ids, 5, "embeddings", queries=np.array([3, 17, 39]))
    assert_frame_equal(some, full.filter(pl.col("paper_id").is_in(["x03", "x17", "x39"])))
    # exact: the same as sorting the whole score matrix
    scores = vectors @ vectors.T
    np.fill_diagonal(scores, -np.inf)
    best = np.argsort(-scores[17], kind="stable")[:5]
    assert some.filter(pl.col("paper_id") == "x17")["related_id"].to_list() == [
        f"x{i:02d}" for i in best
    ]


@pytest.mark.parametrize("texts", [[], ["alone"]])
def test_too_few_papers_give_an_empty_table(texts: list[str]) -> None:
    assert_frame_equal(related_tfidf(papers(texts), PARAMS), pl.DataFrame(schema=RELATED_SCHEMA))


def test_row_order_does_not_matter() -> None:
    forward = related_tfidf(papers(TEXTS), PARAMS)
    assert_frame_equal(related_tfidf(papers(TEXTS).reverse(), PARAMS), forward)


def test_merging_a_daily_search_equals_the_full_search() -> None:
    rng = np.random.default_rng(5)
    vectors = rng.normal(size=(30, 6)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = pl.Series([f"x{i:02d}" for i in range(30)])
    full = top_k(vectors, ids, 4, "embeddings")
    # yesterday: the first 25 papers; today 5 new ones arrive
    yesterday = top_k(vectors[:25], ids[:25], 4, "embeddings")
    new, old = np.arange(25, 30), np.arange(25)
    today = pl.concat(
        [
            top_k(vectors, ids, 4, "embeddings", queries=new),
            top_k(vectors, ids, 4, "embeddings", queries=old, candidates=new),
        ]
    )
    assert_frame_equal(merge_top_k(yesterday, today, 4), full)
    # the same from one product: old papers compared with their k-th score
    assert_frame_equal(update_top_k(vectors, ids, 4, "embeddings", new, yesterday), full)


def test_update_fills_short_lists() -> None:
    # sparse rows: p0 and p1 share a word, p2 arrives sharing it too; p3 shares nothing
    matrix = tfidf_matrix(pl.Series(["cat dog", "cat eel", "cat fox", "owl"]), PARAMS)
    ids = pl.Series(["p0", "p1", "p2", "p3"])
    yesterday = top_k(matrix[:2], ids[:2], 3, "tfidf")
    updated = update_top_k(matrix, ids, 3, "tfidf", np.array([2]), yesterday)
    assert_frame_equal(updated, top_k(matrix, ids, 3, "tfidf"))
    assert updated.filter(pl.col("paper_id") == "p0")["related_id"].to_list() == ["p1", "p2"]
