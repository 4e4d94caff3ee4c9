"""keyphrases against a pinned IDF table (papers/stages/keyphrases.py): a paper's keyphrases
depend on its own text and the table only, never on the other papers ranked with it."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from papers.config import TagsParams
from papers.stages.keyphrases import (
    keyphrase_candidates,
    keyphrase_document_counts,
    keyphrase_idf_rows,
    keyphrase_top,
)

WORDS = ["graph", "sparse", "spectral", "clustering", "noisy", "labels", "kernel", "robust",
         "watermark", "token", "pruning", "retrieval", "agent", "the", "of", "and", "we"]  # fmt: skip
PARAMS = TagsParams(keyphrases_top_k=3)
NO_TERMS = pl.DataFrame(schema={"key": pl.String})


def papers(texts: list[str], first: int = 0) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "paper_id": [f"p{first + i:03d}" for i in range(len(texts))],
            "title": ["T"] * len(texts),
            "abstract": texts,
        }
    )


def pinned(texts: list[str]) -> tuple[pl.DataFrame, int]:
    candidates = keyphrase_candidates(papers(texts), NO_TERMS, PARAMS)
    return keyphrase_idf_rows(keyphrase_document_counts(candidates)), len(texts)


def ranked(frame: pl.DataFrame, table: pl.DataFrame, n_docs: int) -> dict[str, list[str]]:
    top = keyphrase_top(keyphrase_candidates(frame, NO_TERMS, PARAMS), table, n_docs, PARAMS)
    return dict(zip(top["paper_id"], top["keyphrases"].to_list(), strict=True))


text = st.lists(st.sampled_from(WORDS), min_size=1, max_size=30).map(" ".join)


@settings(max_examples=60, deadline=None)
@given(
    own=st.lists(text, min_size=1, max_size=4),
    others=st.lists(text, max_size=6),
    corpus=st.lists(text, min_size=1, max_size=12),
)
def test_a_papers_keyphrases_do_not_depend_on_the_others(
    own: list[str], others: list[str], corpus: list[str]
) -> None:
    table, n_docs = pinned(corpus)
    alone = ranked(papers(own), table, n_docs)
    together = ranked(pl.concat([papers(own), papers(others, first=len(own))]), table, n_docs)
    assert {k: v for k, v in together.items() if k in alone} == alone


def test_the_pinned_table_weighs_phrases_as_the_corpus_does() -> None:
    corpus = ["graph clustering. noisy labels", "graph clustering. kernel pruning",
              "graph clustering. token retrieval"]  # fmt: skip
    table, n_docs = pinned(corpus)
    assert table.sort("phrase").rows() == [("graph clustering", 3)]  # df >= 2 only
    # a phrase common in the corpus ranks below a rare one, though the paper has both once
    paper = papers(["graph clustering. robust watermark"])
    assert ranked(paper, table, n_docs)["p000"] == ["robust watermark", "graph clustering"]
    # ranked against itself alone, both have df 1: the tie goes by phrase
    assert ranked(paper, pinned(["graph clustering. robust watermark"])[0], 1)["p000"] == [
        "graph clustering", "robust watermark"
    ]  # fmt: skip
