"""evaluate: the quality figures are computed as documented, on tiny hand-made data."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from papers.config import Params
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
