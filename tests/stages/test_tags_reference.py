"""tags: the vectorised keyphrase and tag code against the straightforward versions it replaced.

The references below are the earlier implementations, kept verbatim as the specification: the
faster code must give the same rows on ugly generated text (whitespace of every kind, stray
hyphens and apostrophes, punctuation runs, URLs, case-changing letters, vocabulary terms).
"""

from __future__ import annotations

import itertools
import re

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from papers.config import TagsParams
from papers.stages.keyphrases import STOPWORDS, keyphrase_candidates
from papers.stages.tags import (
    _padded,
    _padded_fields,
    category_matches,
    compile_vocabulary,
    tag_papers,
)
from schemas import Tags, polars_schema

VOCAB = {
    "version": "0.0.1",
    "topics": [
        {"id": "diffusion-models", "terms": ["diffusion model"], "acronyms": ["DDPM"]},
        {"id": "ssl", "terms": ["self-supervised learning"], "acronyms": ["SSL"]},
        {"id": "pre-training", "terms": ["pre-training", "i̇pt"], "acronyms": ["İPT"]},
        {"id": "gans", "terms": ["generative adversarial network", "gan"], "acronyms": ["GAN"]},
        {"id": "greek", "terms": ["ας", "ασ b", "straße"], "acronyms": ["ΑΣ"], "generic": True},
        {"id": "graphs", "terms": ["graph", "spectral clustering"], "acronyms": []},
    ],
    "arxiv_categories": {"cs.LG": "graphs", "cs.CV": "gans", "cs.AI": "greek"},
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

# vocabulary-dense text: one tag from several terms, counted differently, ties included
_DENSE = [
    " ", " ", ", ", ". ", "graph", "graphs", "spectral clustering", "GAN", "gan", "GANs",
    "DDPM", "ΑΣ", "ας", "ασ b", "İPT", "diffusion model",
]  # fmt: skip

texts = st.one_of(
    st.lists(st.sampled_from(_PIECES), max_size=40).map("".join),
    st.lists(st.sampled_from(_DENSE), max_size=30).map("".join),
)
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
@given(st.lists(st.tuples(nullable, nullable), max_size=8), st.integers(1, 4), st.booleans())
def test_keyphrase_candidates_match_the_reference(
    rows: list[tuple[str | None, str | None]], max_words: int, compiled: bool
) -> None:
    papers = _papers(rows)
    terms = compile_vocabulary(VOCAB)
    params = TagsParams(keyphrase_max_words=max_words)
    got = keyphrase_candidates(papers, terms, params, compiled).sort("paper_id", "phrase")
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
    for max_words, compiled in itertools.product((1, 2, 3, 5), (False, True)):
        params = TagsParams(keyphrase_max_words=max_words)
        got = keyphrase_candidates(papers, terms, params, compiled).sort("paper_id", "phrase")
        want = reference_keyphrase_candidates(papers, terms, params).sort("paper_id", "phrase")
        assert_frame_equal(got, want)


# -- reference: tag matching before the lower-cased padding was derived from the cased one -------


def reference_hits(papers: pl.DataFrame, terms: pl.DataFrame) -> pl.DataFrame:
    passes = [
        (field, cased, terms.filter(pl.col("cased") == cased)["key"].to_list())
        for field in ("title", "abstract")
        for cased in (False, True)
    ]
    passes = [(field, cased, keys) for field, cased, keys in passes if keys]
    found = papers.select(
        "paper_id",
        *(
            _padded(pl.col(field), lower=not cased)
            .str.extract_many(keys, overlapping=True)
            .alias(f"{field}/{cased}")
            for field, cased, keys in passes
        ),
    )
    return pl.concat(
        [
            found.select("paper_id", pl.col(f"{field}/{cased}").alias("key"))
            .explode("key")
            .drop_nulls("key")
            .with_columns(pl.lit(field).alias("field"))
            for field, cased, _ in passes
        ]
    )


def reference_tag_papers(
    papers: pl.DataFrame,
    terms: pl.DataFrame,
    params: TagsParams,
    categories: pl.DataFrame,
    category_weight: float,
) -> pl.DataFrame:
    hits = reference_hits(papers, terms)
    weights = pl.when(pl.col("field") == "title").then(params.title_weight)
    weighted = hits.join(terms.select("key", "tag", "term"), on="key", how="inner").select(
        "paper_id",
        "tag",
        "term",
        weights.otherwise(params.abstract_weight).cast(pl.Float64).alias("w"),
        pl.lit(False).alias("from_category"),
    )
    if categories.height:
        weighted = pl.concat(
            [
                weighted,
                categories.select(
                    "paper_id",
                    "tag",
                    pl.format("arXiv {}", "category").alias("term"),
                    pl.lit(category_weight, pl.Float64).alias("w"),
                    pl.lit(True).alias("from_category"),
                ),
            ]
        )
    evidence = (
        weighted.group_by("paper_id", "tag", "term")
        .agg(pl.len().alias("n"), pl.col("from_category").first())
        .sort(
            ["paper_id", "tag", "from_category", "n", "term"],
            descending=[False, False, False, True, False],
        )
        .group_by("paper_id", "tag", maintain_order=True)
        .agg(pl.col("term").first().alias("evidence"))
    )
    generic = terms.filter(pl.col("generic")).select("tag").unique()
    strict = max(params.min_score, params.title_weight)
    scored = (
        weighted.group_by("paper_id", "tag")
        .agg(pl.col("w").sum().alias("score"))
        .with_columns(pl.col("tag").is_in(generic["tag"].implode()).alias("generic"))
        .filter(
            pl.col("score") >= pl.when(pl.col("generic")).then(strict).otherwise(params.min_score)
        )
        .join(evidence, on=["paper_id", "tag"], how="left")
    )
    return scored.select(polars_schema(Tags).names()).sort("paper_id", "tag")


_CATEGORIES = ["cs.LG", "cs.CV", "cs.AI", "cs.CL"]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(nullable, nullable, st.lists(st.sampled_from(_CATEGORIES), max_size=3)),
        max_size=8,
    ),
    st.sampled_from([(2.0, 1.0, 1.0, 1.0), (1.0, 1.0, 2.0, 0.5), (3.0, 0.5, 1.0, 0.0)]),
    st.booleans(),
)
def test_tag_papers_match_the_reference(
    rows: list[tuple[str | None, str | None, list[str]]],
    weights: tuple[float, float, float, float],
    compiled: bool,
) -> None:
    papers = _papers([(t, a) for t, a, _ in rows]).with_columns(
        pl.Series("categories", [c for _, _, c in rows], pl.List(pl.String))
    )
    title_weight, abstract_weight, min_score, category_weight = weights
    params = TagsParams(
        title_weight=title_weight, abstract_weight=abstract_weight, min_score=min_score
    )
    terms = compile_vocabulary(VOCAB)
    cats = category_matches(papers, VOCAB)
    got = tag_papers(
        papers, terms, params, categories=cats, category_weight=category_weight, compiled=compiled
    )
    want = reference_tag_papers(papers, terms, params, cats, category_weight)
    assert_frame_equal(got, want)


def test_lower_cased_padding_of_every_character() -> None:
    """The lower-cased padded strings equal padding the lower-cased text, for every character
    in a few surroundings (the clause mark aside, which no key holds)."""
    chars = [chr(c) for c in range(1, 0x110000) if not 0xD800 <= c <= 0xDFFF]
    for context in ("{}", "A.{}Σ. b"):
        texts = [context.format(c) for c in chars]
        papers = pl.DataFrame({"title": texts, "abstract": texts[::-1]})
        padded = _padded_fields(papers)
        for field in ("title", "abstract"):
            got = padded[f"{field}/False"].str.replace_all("\x01", "¶", literal=True)
            want = papers.select(_padded(pl.col(field), lower=True)).to_series()
            assert (got == want).all(), context
