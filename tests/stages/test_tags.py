"""tags: word-bounded, case-aware vocabulary matching with scores and evidence; keyphrases."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from papers.config import TagsParams
from papers.stages.tags import compile_vocabulary, keyphrases, pluralize, tag_papers, tags_per_paper
from schemas import Tags

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
