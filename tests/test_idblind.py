"""papers/idblind.py: records stripped of their ids, joined back to their papers and counted.

The fixture (tests/fixtures/idblind, copied from real listings: README there) holds 18 HF API
records, 14 of whose papers are also listed with ids by two HF page scrapes; three of those 14
carry a title that differs from the other listings' (a LaTeX remnant: `nabla^2DFT`,
`LLMtimesMapReduce`) or one that two arXiv papers share (`FuseChat`), so only their abstracts
join them; one of the four others (`WebSailor`) has a sequel reusing its abstract."""

from __future__ import annotations

import polars as pl
import pytest

from papers.config import NormalizeParams, Params
from papers.idblind import id_blind, normalized_records, score, strip_ids
from tests.conftest import FIXTURES

RAW = FIXTURES / "idblind"


@pytest.fixture(scope="module")
def records() -> pl.DataFrame:
    from papers.config import load_params
    from tests.conftest import REPO

    return normalized_records(RAW, load_params(REPO / "params.yaml"))


def test_the_fixture_figure_content_match_and_exact_title_baseline(
    records: pl.DataFrame, params: Params
) -> None:
    figure = id_blind(records, "hf_daily_papers", params.normalize)
    content, baseline = figure["content"], figure["baseline"]
    assert (content["stripped"], content["joinable"]) == (18, 14)
    assert (content["right"], content["wrong"], content["precision"], content["recall"]) == (
        14, 0, 1.0, 1.0,
    )  # fmt: skip
    assert content["by"]["content"] == {"linked": 3, "right": 3}
    # the exact-title rule alone misses the three
    assert (baseline["right"], baseline["wrong"], baseline["recall"]) == (11, 0, 0.7857)


def test_the_subtitles_dropped_variant(records: pl.DataFrame, params: Params) -> None:
    figure = id_blind(records, "hf_daily_papers", params.normalize, (0.5, 0.9), subtitles=True)
    # `Name: what it does` -> `Name`: the exact title finds 3 of 14
    assert figure["baseline"]["right"] == 3
    content = figure["content"]
    # `llmtimesmapreduce` alone shares no title word with `LLM MapReduce: ...` (not joined);
    # `WebSailor` is contained in its sequel's title and shares its abstract (a wrong link)
    assert (content["right"], content["wrong"]) == (13, 1)
    assert figure["curve"]["0.50"]["right"] == figure["curve"]["0.90"]["right"] == 13


def test_strip_ids_keeps_the_truth_and_gives_the_own_id(
    records: pl.DataFrame, params: Params
) -> None:
    stripped = strip_ids(records, "hf_daily_papers", params.normalize)
    hf = stripped.filter(pl.col("source") == "hf_daily_papers")
    assert hf["arxiv_id"].null_count() == hf["doi"].null_count() == hf.height == 18
    assert hf["_truth"].null_count() == 0
    assert hf["paper_id"].str.starts_with("title:").all()
    others = stripped.filter(pl.col("source") != "hf_daily_papers")
    assert others["_truth"].null_count() == others.height
    assert (others["paper_id"] == others["arxiv_id"]).all()


def test_score_counts_a_wrong_link_and_a_record_whose_paper_is_not_listed() -> None:
    resolved = pl.DataFrame(
        {
            "arxiv_id": ["1", "2", None, None, None, None],
            "paper_id": ["1", "2", "1", "1", "title:x", "title:y"],
            "matched_by": ["arxiv_id", "arxiv_id", "content", "title", "none", "none"],
            "_truth": [None, None, "1", "2", "2", "3"],  # "3" is listed nowhere else
        }
    )
    figure = score(resolved)
    assert (figure["stripped"], figure["joinable"], figure["linked"]) == (4, 3, 2)
    assert (figure["right"], figure["wrong"]) == (1, 1)
    assert (figure["precision"], figure["recall"]) == (0.5, 0.3333)


def test_content_match_off_is_the_baseline(records: pl.DataFrame) -> None:
    off = id_blind(records, "hf_daily_papers", NormalizeParams(content_match=None))
    assert off["content"] == off["baseline"]
