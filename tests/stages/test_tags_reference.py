"""tags: the vectorised keyphrase and tag code against the straightforward versions it replaced.

The references below are the earlier implementations, kept verbatim as the specification: the
faster code must give the same rows on ugly generated text (whitespace of every kind, stray
hyphens and apostrophes, punctuation runs, URLs, case-changing letters, vocabulary terms).
"""

from __future__ import annotations

import re

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from papers.config import TagsParams
from papers.stages.tags import STOPWORDS, compile_vocabulary, keyphrase_candidates

VOCAB = {
    "version": "0.0.1",
    "topics": [
        {"id": "diffusion-models", "terms": ["diffusion model"], "acronyms": ["DDPM"]},
        {"id": "ssl", "terms": ["self-supervised learning"], "acronyms": ["SSL"]},
        {"id": "pre-training", "terms": ["pre-training"], "acronyms": ["İPT"]},
        {"id": "gans", "terms": ["generative adversarial network"], "acronyms": ["GAN"]},
    ],
}

# -- reference: keyphrase_candidates before the passes were merged -------------------------------

_NON_WORD = r"[^\p{L}\p{N}]+"
_RUN_END = "\u0002"
_PUNCT_OR_WORD_END = r"[^\p{L}\p{N}\s]*[^\p{L}\p{N}\s'-][^\p{L}\p{N}\s]*|['-]+(?: |$)"
_WORD_START = r"(?:^| )['-]+"
_STOP_WORD = (
    "(?:" + "|".join(re.escape(word) for word in sorted(STOPWORDS)) + r"|[^\s\p{L}]+|\S|\S{3,}ly)"
)
_STOP_WORDS = rf"(?:^|\s){_STOP_WORD}(?:\s+{_STOP_WORD})*(?:\s|$)"


def reference_keyphrase_candidates(
    papers: pl.DataFrame, terms: pl.DataFrame, params: TagsParams
) -> pl.DataFrame:
    schema = {"paper_id": pl.String, "phrase": pl.String, "tf": pl.UInt32}
    if papers.height == 0:
        return pl.DataFrame(schema=schema)
    text = (
        pl.concat_str(
            [pl.col("title").fill_null(""), pl.col("abstract").fill_null("")], separator=" . "
        )
        .str.replace_all(r"(?:https?://|www\.)\S+|\S+\.(?:com|org|io|net)/\S*", " . ")
        .str.to_lowercase()
    )
    wrapped = (
        text.str.replace_all(r"\s{2,}|[^\S ]", " ")
        .str.replace_all(_PUNCT_OR_WORD_END, f" {_RUN_END} ")
        .str.replace_all(_WORD_START, f" {_RUN_END} ")
        .str.replace_all(_STOP_WORDS, f" {_RUN_END} ")
    )
    runs = papers.select(wrapped.str.split(_RUN_END).alias("run")).with_row_index("row")
    tf = (
        runs.explode("run")
        .filter(pl.col("run").str.len_bytes() >= 3)
        .select(
            "row",
            pl.col("run")
            .str.strip_chars(" ")
            .str.split(" ")
            .list.tail(params.keyphrase_max_words)
            .list.join(" ")
            .alias("phrase"),
        )
        .filter(pl.col("phrase").str.len_chars() >= 3)
        .group_by("row", "phrase")
        .agg(pl.len().cast(pl.UInt32).alias("tf"))
    )
    vocabulary_phrases = (
        tf.select(pl.col("phrase").unique())
        .with_columns(pl.col("phrase").str.replace_all(_NON_WORD, " ").alias("match_key"))
        .join(
            terms.select(pl.col("key").str.strip_chars().str.to_lowercase().alias("match_key")),
            on="match_key",
            how="semi",
        )
    )
    kept = tf.join(vocabulary_phrases.select("phrase"), on="phrase", how="anti")
    return kept.select(papers["paper_id"].gather(kept["row"]), "phrase", "tf")


# -- generated text ------------------------------------------------------------------------------

_PIECES = [
    " ", " ", " ", "  ", "\t", "\n", "\u00a0", "\u2003", "-", "'", "--", "'-", "-'", ".", ". ",
    ",", ";", "(", ")", '"', "“", "/", "_", "&", "\u0002", "¶", "1", "42", "3.5", "x", "a",
    "the", "of", "and", "we", "propose", "novel", "well-known", "can't", "state-of-the-art",
    "graph", "Graph", "sparsification", "spectral", "clustering", "roughly", "only", "ly",
    "diffusion", "model", "models", "Diffusion Model", "self-supervised", "self supervised",
    "selfsupervised", "learning", "pre-training", "pretraining", "DDPM", "ssl", "İPT", "ipt",
    "İ", "ΑΣ", "Σ", "é", "e\u0301", "Straße", "ǅ", "Ⅻ", "Ⓐ", "https://github.com/a/b",
    "www.x.org", "site.com/p", "example.io/", "http://", "a.com",
]  # fmt: skip

texts = st.lists(st.sampled_from(_PIECES), max_size=40).map("".join)
nullable = st.one_of(st.none(), texts)


def _papers(rows: list[tuple[str | None, str | None]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "paper_id": [f"p{i:03d}" for i in range(len(rows))],
            "title": [t for t, _ in rows],
            "abstract": [a for _, a in rows],
        },
        schema={"paper_id": pl.String, "title": pl.String, "abstract": pl.String},
    )


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(nullable, nullable), max_size=8), st.integers(1, 4))
def test_keyphrase_candidates_match_the_reference(
    rows: list[tuple[str | None, str | None]], max_words: int
) -> None:
    papers = _papers(rows)
    terms = compile_vocabulary(VOCAB)
    params = TagsParams(keyphrase_max_words=max_words)
    got = keyphrase_candidates(papers, terms, params).sort("paper_id", "phrase")
    want = reference_keyphrase_candidates(papers, terms, params).sort("paper_id", "phrase")
    assert_frame_equal(got, want)


def test_keyphrase_candidates_edge_cases_match_the_reference() -> None:
    rows: list[tuple[str | None, str | None]] = [
        (" Graph sparsification ", "foo- -bar, foo- - bar; foo-\t-bar 'lead- baz' -x- y"),
        ("", "graph--sparsification of self-supervised learning, self supervised learning"),
        (None, "spectral clustering of long noun phrase runs keep their last words only"),
        ("a- 'b c-' 'd", "x -'- y ' ' z - - w"),
        ("diffusion models, diffusion-models", "pre training of selfsupervised learning"),
    ]
    papers = _papers(rows)
    terms = compile_vocabulary(VOCAB)
    for max_words in (1, 2, 3, 5):
        params = TagsParams(keyphrase_max_words=max_words)
        got = keyphrase_candidates(papers, terms, params).sort("paper_id", "phrase")
        want = reference_keyphrase_candidates(papers, terms, params).sort("paper_id", "phrase")
        assert_frame_equal(got, want)
