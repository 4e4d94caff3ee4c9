"""tags: word-bounded, case-aware vocabulary matching with scores and evidence; keyphrases (papers/stages/keyphrases.py);
keyword and category tags; agreement with the HF keywords; the shipped vocabulary's rules."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml
from polars.testing import assert_frame_equal

from papers.config import TagsParams
from papers.stages.keyphrases import keyphrases
from papers.stages.tags import (
    agreement,
    category_matches,
    category_tags,
    compile_vocabulary,
    keyword_matches,
    keyword_tags,
    pluralize,
    tag_papers,
    tags_per_paper,
)
from schemas import Tags

REPO = Path(__file__).resolve().parents[2]

VOCAB = {
    "version": "0.0.1",
    "topics": [
        {"id": "diffusion-models", "terms": ["diffusion model", "denoising diffusion"], "acronyms": ["DDPM"]},
        {"id": "gans", "terms": ["generative adversarial network"], "acronyms": ["GAN"]},
        {"id": "self-supervised-learning", "terms": ["self-supervised learning"], "acronyms": ["SSL"]},
        {"id": "pre-training", "terms": ["pre-training"], "acronyms": []},
        {"id": "theory", "terms": ["sample complexity"], "acronyms": []},
    ],
}  # fmt: skip


@pytest.fixture(scope="module")
def terms() -> pl.DataFrame:
    return compile_vocabulary(VOCAB)


def frame(*rows: tuple[str, str]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "paper_id": [f"p{i}" for i in range(len(rows))],
            "title": [t for t, _ in rows],
            "abstract": [a for _, a in rows],
        }
    )


def tags_of(text: str, terms: pl.DataFrame, title: str = "T") -> dict[str, float]:
    tags = tag_papers(frame((title, text)), terms, TagsParams())
    return dict(zip(tags["tag"].to_list(), tags["score"].to_list(), strict=True))


@pytest.mark.parametrize(
    ("word", "plural"),
    [
        ("model", "models"),
        ("study", "studies"),
        ("loss", "losses"),
        ("day", "days"),
        ("patch", "patches"),
    ],
)
def test_pluralize(word: str, plural: str) -> None:
    assert pluralize(word) == plural


def test_variants(terms: pl.DataFrame) -> None:
    keys = set(terms["key"].to_list())
    assert {" diffusion model ", " diffusion models ", " GAN ", " GANs "} <= keys
    assert {" self supervised learning ", " selfsupervised learning "} <= keys
    assert {" pre training ", " pretraining "} <= keys
    assert terms.filter(pl.col("key") == " GAN ")["cased"].item() is True


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("We train Diffusion Models and DDPMs.", {"diffusion-models": 2.0}),
        ("An organ-level study; Begin again; gan in lower case prose.", {}),
        ("Two GANs beat one GAN.", {"gans": 2.0}),
        (
            "self-supervised learning (SSL) and self supervised learning",
            {"self-supervised-learning": 3.0},
        ),
        ("Pretraining vs pre-training vs pre training.", {"pre-training": 3.0}),
        ("sample complexities", {"theory": 1.0}),
        ("diffusion modeling is not a term", {}),
    ],
)
def test_matching(text: str, expected: dict[str, float], terms: pl.DataFrame) -> None:
    assert tags_of(text, terms) == expected


def test_title_hits_weigh_more(terms: pl.DataFrame) -> None:
    scores = tags_of("A DDPM.", terms, title="Denoising Diffusion for X")
    assert scores == {"diffusion-models": 2.0 + 1.0}


def test_evidence_is_most_frequent_term(terms: pl.DataFrame) -> None:
    tags = tag_papers(frame(("T", "DDPM, DDPM and a diffusion model")), terms, TagsParams())
    Tags.validate(tags)
    assert tags["evidence"].to_list() == ["DDPM"]


def test_min_score_filters(terms: pl.DataFrame) -> None:
    tags = tag_papers(frame(("T", "one GAN")), terms, TagsParams(min_score=2.0))
    assert tags.height == 0


def test_tags_do_not_depend_on_row_order(terms: pl.DataFrame) -> None:
    rows = frame(("GAN study", "DDPM and SSL"), ("Pretraining", "a GAN"), ("x", "nothing"))
    forward = tag_papers(rows, terms, TagsParams())
    backward = tag_papers(rows.reverse(), terms, TagsParams())
    assert_frame_equal(forward, backward)
    per = tags_per_paper(forward)
    assert per.filter(pl.col("paper_id") == "p0")["tags"].item().to_list() == [
        "gans", "diffusion-models", "self-supervised-learning"
    ]  # fmt: skip


def test_keyphrases(terms: pl.DataFrame) -> None:
    rows = frame(
        ("Graph Sparsification", "We propose graph sparsification for spectral clustering. "
         "Spectral clustering with graph sparsification uses a diffusion model."),
        ("Other", "Spectral clustering again, with noisy labels."),
    )  # fmt: skip
    out = keyphrases(rows, terms, TagsParams(keyphrases_top_k=3))
    first = out.filter(pl.col("paper_id") == "p0")["keyphrases"].item().to_list()
    assert first[0] == "graph sparsification"
    assert "diffusion model" not in first  # a vocabulary term is a tag, not a keyphrase
    assert all(w not in {"we", "propose", "the"} for p in first for w in p.split())
    assert len(first) == 3


def test_keyphrases_skip_urls_adverbs_and_spelled_terms(terms: pl.DataFrame) -> None:
    rows = frame(
        ("Robust Watermarks", "Self-supervised learning of robust watermarks roughly doubles "
         "detection rates. Code: https://github.com/AngusDujw/Robust-Watermarks."),
    )  # fmt: skip
    phrases = keyphrases(rows, terms, TagsParams(keyphrases_top_k=10))["keyphrases"].item()
    assert "robust watermarks" in phrases.to_list()
    assert not any("angusdujw" in p or "github" in p for p in phrases)
    assert "self-supervised learning" not in phrases  # a vocabulary term, hyphenated
    assert not any("roughly" in p.split() for p in phrases)


def test_no_term_across_clause_punctuation(terms: pl.DataFrame) -> None:
    assert tags_of("a denoising, diffusion step; a diffusion. Model", terms) == {}
    assert tags_of("a diffusion-model (DDPM): fine", terms) == {"diffusion-models": 2.0}


GENERIC_VOCAB: dict[str, Any] = {
    "version": "0.0.1",
    "topics": [
        {"id": "llm", "terms": ["large language model"], "acronyms": ["LLM"], "generic": True},
        {"id": "gans", "terms": ["generative adversarial network"], "acronyms": ["GAN"]},
    ],
    "arxiv_categories": {"cs.CL": "nlp", "cs.NE": "gans", "cs.AI": "llm"},
}


@pytest.mark.parametrize(
    ("title", "abstract", "expected"),
    [
        ("T", "We prompt an LLM and train a GAN.", {"gans": 1.0}),  # one passing mention
        ("T", "An LLM, and another LLM.", {"llm": 2.0}),  # repeated evidence
        ("LLM study", "nothing", {"llm": 2.0}),  # a title hit
    ],
)
def test_generic_topics_need_title_level_evidence(
    title: str, abstract: str, expected: dict[str, float]
) -> None:
    terms = compile_vocabulary(GENERIC_VOCAB)
    assert terms.filter(pl.col("tag") == "llm")["generic"].all()
    assert tags_of(abstract, terms, title=title) == expected


def test_category_matches_map_topics_only() -> None:
    papers = pl.DataFrame(
        {"paper_id": ["a", "b", "c"], "categories": [["cs.CL", "cs.NE", "cs.NE"], ["cs.AI"], []]},
        schema={"paper_id": pl.String, "categories": pl.List(pl.String)},
    )
    # cs.CL maps to an unknown id (an area here), cs.AI to a topic; duplicates collapse
    assert category_matches(papers, GENERIC_VOCAB).rows() == [
        ("a", "cs.NE", "gans"), ("b", "cs.AI", "llm")
    ]  # fmt: skip
    assert category_tags(papers, GENERIC_VOCAB).rows() == [("a", "gans"), ("b", "llm")]
    assert category_tags(papers, {"topics": []}).height == 0


def test_tag_papers_adds_category_evidence() -> None:
    terms = compile_vocabulary(GENERIC_VOCAB)
    papers = pl.DataFrame(
        {
            "paper_id": ["a", "b"],
            "title": ["A GAN", "Nothing"],
            "abstract": ["text", "text"],
            "categories": [["cs.NE"], ["cs.NE", "cs.AI"]],
        }
    )
    cats = category_matches(papers, GENERIC_VOCAB)
    text_only = tag_papers(papers, terms, TagsParams())
    assert text_only.rows() == [("a", "gans", 2.0, "GAN")]
    both = tag_papers(papers, terms, TagsParams(), categories=cats)
    Tags.validate(both)
    # a category adds category_weight; alone it makes an ordinary tag, not a generic one
    assert both.rows() == [("a", "gans", 3.0, "GAN"), ("b", "gans", 1.0, "arXiv cs.NE")]
    heavy = tag_papers(papers, terms, TagsParams(), categories=cats, category_weight=2.0)
    assert ("b", "llm", 2.0, "arXiv cs.AI") in heavy.rows()


def kw_frame(*keywords: list[str]) -> pl.DataFrame:
    return pl.DataFrame(
        {"paper_id": [f"p{i}" for i in range(len(keywords))], "hf_keywords": list(keywords)},
        schema={"paper_id": pl.String, "hf_keywords": pl.List(pl.String)},
    )


def test_keyword_tags_contains_and_exact(terms: pl.DataFrame) -> None:
    papers = kw_frame(
        ["Latent Diffusion Models", "GANs", "gan", "diffusion models"],
        ["Self-Supervised Learning (SSL)", "  ", "ssl"],
        [],
        ["organ transplant"],
    )
    contains = keyword_tags(papers, terms)
    assert contains.rows() == [
        ("p0", "diffusion-models"), ("p0", "gans"), ("p1", "self-supervised-learning")
    ]  # fmt: skip
    exact = keyword_tags(papers, terms, match="exact")
    # "latent diffusion models" and the parenthesised acronym are no exact forms
    assert exact.rows() == [("p0", "diffusion-models"), ("p0", "gans")]
    assert keyword_tags(kw_frame(["x"]), terms).columns == ["paper_id", "tag"]


def test_keyword_matches_keep_unmapped_keywords(terms: pl.DataFrame) -> None:
    matches = keyword_matches(kw_frame(["GAN", "gan", "spectral clustering"]), terms)
    assert matches.rows() == [
        ("p0", "GAN", "gans"), ("p0", "gan", None), ("p0", "spectral clustering", None)
    ]  # fmt: skip
    assert keyword_matches(kw_frame([]), terms).height == 0


def test_agreement() -> None:
    ours = pl.DataFrame(
        {
            "paper_id": ["a", "a", "a", "b", "c", "c"],
            "tag": ["x", "y", "z", "x", "x", "q"],
            "score": [1.0] * 6,
        }
    )
    kw = pl.DataFrame({"paper_id": ["a", "a", "b", "d"], "tag": ["x", "w", "y", "x"]})
    got = agreement(ours, kw)
    assert got == {
        "papers_with_mapped_keywords": 3,  # a, b, d
        "papers_with_mapped_keywords_and_our_tags": 2,  # a, b
        "covered_share": 2 / 3,
        "our_tags_on_those": 4,  # a: x y z, b: x (c has no keyword tags)
        "our_tags_supported": 1,  # a: x
        "supported_share": 1 / 4,
        "keyword_tags": 4,
        "keyword_tags_found": 1,
        "keyword_tags_found_share": 1 / 4,
        "our_tags_all": 6,
        "papers_with_our_tags": 3,
    }
    related = pl.DataFrame({"tag": ["y", "z"], "related_tag": ["w", "q"]})
    loose = agreement(ours, kw, related)
    assert loose["supported_share"] == 1 / 4  # the strict figure is unchanged
    assert loose["our_tags_supported_related"] == 2  # a: y is related to keyword tag w
    assert loose["supported_share_related"] == 2 / 4
    empty = agreement(ours.head(0), kw.head(0))
    assert empty["supported_share"] == 0.0
    assert empty["keyword_tags_found_share"] == 0.0


def _norm(term: str) -> str:
    return " ".join(t for t in re.split(r"[\W_]+", term.lower().replace("-", " ")) if t)


def test_shipped_vocabulary_follows_its_rules() -> None:
    vocab = yaml.safe_load((REPO / "vocab" / "topics.yaml").read_text("utf-8"))
    assert re.fullmatch(r"\d+\.\d+\.\d+", vocab["version"])
    areas = [a["id"] for a in vocab["areas"]]
    topics = vocab["topics"]
    ids = [t["id"] for t in topics]
    assert areas == sorted(areas)
    assert len(set(ids)) == len(ids)
    assert not set(ids) & set(areas)
    assert [(t["area"], t["id"]) for t in topics] == sorted((t["area"], t["id"]) for t in topics)
    owner: dict[str, str] = {}
    for topic in topics:
        assert topic["area"] in areas
        assert topic.get("generic", True) is True  # written only as `generic: true`
        assert 1 <= len(topic["terms"]) <= 12, topic["id"]
        for term in topic["terms"]:
            assert term == term.lower(), term
            assert owner.setdefault(_norm(term), topic["id"]) == topic["id"], term
        for acronym in topic["acronyms"]:
            assert owner.setdefault("cased:" + acronym, topic["id"]) == topic["id"], acronym
    for category, target in vocab["arxiv_categories"].items():
        assert target in set(ids) | set(areas), category
