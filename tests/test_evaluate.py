"""evaluate: the quality figures are computed as documented, on tiny hand-made data."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from papers import evaluate
from papers.config import Params
from papers.errors import PapersError
from papers.evaluate import (
    GOLD_LINKS,
    code_link_agreement,
    links_against_gold,
    load_gold,
    tag_quality,
    tag_quality_of_file,
)
from papers.stages.links import extract_links


def test_gold_scoring(tmp_path: Path, params: Params) -> None:
    gold = tmp_path / "gold.jsonl"
    rows = [
        # found, right kind, own code right
        {"id": "a", "title": "T", "abstract": "Code: https://github.com/a/b.", "links": [{"url": "https://github.com/a/b", "kind": "code"}], "own_code": "https://github.com/a/b"},
        # a gold link the extractor cannot see (written without any URL shape) -> a miss
        {"id": "b", "title": "T", "abstract": "See our site.", "links": [{"url": "https://example.org", "kind": "project"}], "own_code": None},
        # no gold links, one predicted -> a false positive
        {"id": "c", "title": "T", "abstract": "Mirror at www.example.com/x.", "links": [], "own_code": None},
    ]  # fmt: skip
    gold.write_text("\n".join(json.dumps(r) for r in rows))
    figures = links_against_gold(load_gold(gold), params)
    assert figures["gold_links"] == 2
    assert figures["predicted_links"] == 2
    assert figures["precision"] == 0.5
    assert figures["recall"] == 0.5
    assert figures["kind_accuracy"] == 1.0
    assert figures["own_code_accuracy"] == 1.0


def test_the_repo_gold_set_meets_the_bar(params: Params) -> None:
    figures = links_against_gold(load_gold(GOLD_LINKS), params)
    assert figures["gold_links"] >= 150
    assert figures["precision"] >= 0.98
    assert figures["recall"] >= 0.98


def test_code_link_agreement_holds_curated_aside(params: Params) -> None:
    papers = pl.DataFrame(
        {
            "paper_id": ["p1", "p2", "p3"],
            "title": ["T", "T", "T"],
            "abstract": [
                "Our code is at https://github.com/our/One.",  # agrees (case-insensitive)
                "We build on https://github.com/base/line.",  # disagrees: a cited baseline
                "No repository named here.",  # not counted: no GitHub URL in the text
            ],
            "curated_links": [
                [{"url": "https://github.com/our/one", "field": "githubRepo"}],
                [{"url": "https://github.com/their/code", "field": "githubRepo"}],
                [{"url": "https://github.com/x/y", "field": "githubRepo"}],
            ],
        }
    )
    links = extract_links(papers, params.links)
    figures = code_link_agreement(papers.drop("curated_links"), links, params)
    assert figures == {"papers": 2, "agree": 1, "agreement": 0.5}


def test_tag_quality(vocab_terms: pl.DataFrame) -> None:
    papers = pl.DataFrame(
        {
            "paper_id": ["p1", "p2"],
            "tags": [["diffusion-models"], []],
            "hf_keywords": [["Diffusion Models", "cats"], []],
        }
    )
    tags = pl.DataFrame(
        {"paper_id": ["p1"], "tag": ["diffusion-models"], "score": [2.0], "evidence": ["x"]}
    )
    figures = tag_quality(papers, tags, vocab_terms)
    assert figures["coverage"] == 0.5
    assert figures["supported_share"] == 1.0


def test_tag_quality_of_file_gives_tag_quality(tmp_path: Path, vocab_terms: pl.DataFrame) -> None:
    """The publish step's memory-bounded reading (only the tag rows of papers with keywords are
    loaded) gives every figure tag_quality gives on the whole table."""
    papers = pl.DataFrame(
        {
            "paper_id": ["p1", "p2", "p3", "p4"],
            "tags": [["diffusion-models", "image-generation"], ["large-language-models"], [], []],
            "hf_keywords": [["Diffusion Models", "cats"], [], ["LLM"], []],
        }
    )
    tags = pl.DataFrame(
        {
            "paper_id": ["p1", "p1", "p2"],
            "tag": ["diffusion-models", "image-generation", "large-language-models"],
            "score": [2.0, 1.0, 1.0],
            "evidence": ["x", "y", "z"],
        }
    )
    tags.write_parquet(tmp_path / "tags.parquet")
    expected = tag_quality(papers, tags, vocab_terms)
    assert expected["our_tags_all"] == 3
    assert expected["papers_with_mapped_keywords"] >= 2
    assert tag_quality_of_file(papers, tmp_path / "tags.parquet", vocab_terms) == expected
    # a scan of the papers table (as publish passes it) gives the same figures
    papers.write_parquet(tmp_path / "papers.parquet")
    scan = pl.scan_parquet(tmp_path / "papers.parquet")
    assert tag_quality_of_file(scan, tmp_path / "tags.parquet", vocab_terms) == expected


def _related(rows: list[tuple[str, str, int, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows, schema=["paper_id", "method", "rank", "related_id"], orient="row"
    ).with_columns(pl.col("rank").cast(pl.UInt8), score=pl.lit(0.5, pl.Float32))


def test_related_quality_against_categories_and_chance() -> None:
    papers = pl.DataFrame(
        {
            "paper_id": ["a", "b", "c", "d", "e"],
            "categories": [["cs.LG", "stat.ML"], ["cs.LG"], ["cs.CV"], ["cs.CV"], []],
        }
    )
    related = _related(
        [
            ("a", "tfidf", 1, "b"), ("a", "tfidf", 2, "c"),  # same, other
            ("c", "tfidf", 1, "d"), ("c", "tfidf", 2, "e"),  # same, e has no category
            ("a", "embeddings", 1, "c"),
        ]
    )  # fmt: skip
    duplicates = pl.DataFrame({"paper_id_a": ["a"], "paper_id_b": ["b"]})
    figures = evaluate.related_quality(papers, related, duplicates, top=5)
    # 4 papers with a category: 2 x cs.LG, 2 x cs.CV -> chance (2 + 2) / (4 x 3)
    assert figures["chance"] == round(4 / 12, 4)
    tfidf = figures["methods"]["tfidf"]
    assert (tfidf["same_category_top"], tfidf["neighbours_judged"]) == (round(2 / 3, 4), 3)
    # the pair's two ends: a lists b, b lists nothing
    assert figures["duplicate_pair_ends"] == 2
    assert tfidf["duplicate_recall_at_k"] == 0.5
    assert figures["methods"]["embeddings"]["same_category_top"] == 0.0


def test_duplicate_precision_on_the_judged_pairs(tmp_path: Path) -> None:
    sample = tmp_path / "checked.csv"
    sample.write_text(
        "paper_id_a,paper_id_b,verdict,note\na,b,right,same text\nc,d,wrong,template\n"
        "x,y,right,not flagged in this build\n",
        "utf-8",
    )
    duplicates = pl.DataFrame(
        {"paper_id_a": ["a", "c", "e", "g"], "paper_id_b": ["b", "d", "f", "h"],
         "kind": ["same_work", "boilerplate", "reposted", "boilerplate"]}
    )  # fmt: skip
    figures = evaluate.duplicate_precision(duplicates, evaluate.load_checked_pairs(sample))
    assert (figures["judged"], figures["right"], figures["precision"]) == (2, 1, 0.5)
    assert figures["flagged"] == 4
    # the flagged pairs by kind, in the kinds' order
    assert list(figures["by_kind"].items()) == [
        ("boilerplate", 2),
        ("reposted", 1),
        ("same_work", 1),
    ]
    assert figures["sample"] == 3
    sample.write_text("paper_id_a,paper_id_b,verdict,note\na,b,maybe,\n", "utf-8")
    with pytest.raises(PapersError, match="verdict must be right or wrong"):
        evaluate.load_checked_pairs(sample)
