"""fill_rates: per-source fill rates over the published records, the merged papers' row, and the
figures a build writes into metrics.json and the report."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from papers.fill_rates import RECORD_COLUMNS, fill_rate_table, fill_rates
from papers.report import write_report
from schemas import NormalizedRecords, Papers, Provenance, conform, empty_frame
from tests.conftest import FIXTURES, build_local, read_table

LINK = {"url": "https://github.com/a/b", "kind": "code", "origin": "curated"}
MINED = {"url": "https://github.com/a/b", "kind": "code", "origin": "abstract"}


def records(rows: list[dict[str, Any]]) -> pl.LazyFrame:
    """Normalised records: each row's source, record_index and the fields it sets."""
    base: dict[str, Any] = {
        "source_file": "f",
        "title_raw": "T",
        "title": "T",
        "title_key": "t",
        "abstract": "",
        "paper_id": "p",
        "authors": [],
        "categories": [],
        "hf_keywords": [],
        "curated_links": [],
        "raw": "",
    }
    return conform(pl.DataFrame([base | row for row in rows]), NormalizedRecords).lazy()


def provenance(indexes: list[int]) -> pl.LazyFrame:
    frame = pl.DataFrame({"record_index": indexes}).with_columns(
        pl.lit("p").alias("paper_id"), pl.lit("f").alias("source_file"), pl.lit("s").alias("source")
    )
    return conform(frame, Provenance).lazy()


def papers(rows: list[dict[str, Any]]) -> pl.LazyFrame:
    base: dict[str, Any] = {"paper_id": "p", "title": "T", "abstract": "", "links": []}
    frame = pl.DataFrame([base | {"paper_id": f"p{i}"} | row for i, row in enumerate(rows)])
    return conform(frame, Papers).lazy()


NO_PAPERS = empty_frame(Papers).lazy()


def test_rates_count_the_published_records_of_each_source() -> None:
    frame = records(
        [
            {"source": "hf", "record_index": 0, "authors": ["A"], "upvotes": 3, "abstract": "x"},
            {"source": "hf", "record_index": 1, "authors": [], "upvotes": 0, "abstract": "  "},
            # rejected later (not in provenance): not one of the source's records in the dataset
            {"source": "hf", "record_index": 2, "authors": ["B"], "upvotes": 1},
            {"source": "arxiv", "record_index": 3, "doi": "10.1/x", "categories": ["cs.CL"]},
            {"source": "arxiv", "record_index": 4, "doi": None, "comments": "9 pages"},
        ]
    )
    figures = fill_rates(frame, provenance([0, 1, 3, 4]), NO_PAPERS)
    assert list(figures["by_source"]) == ["arxiv", "hf"]
    hf = figures["by_source"]["hf"]
    assert hf["records"] == 2
    # an empty list and blank text are not filled; upvotes 0 is a value
    assert (hf["authors"], hf["abstract"], hf["upvotes"]) == (0.5, 0.5, 1.0)
    arxiv = figures["by_source"]["arxiv"]
    assert (arxiv["records"], arxiv["doi"], arxiv["categories"], arxiv["comments"]) == (
        2, 0.5, 0.5, 0.5,
    )  # fmt: skip
    assert arxiv["upvotes"] == 0.0
    assert set(hf) == {"records", *RECORD_COLUMNS}


def test_a_record_listed_by_another_source_is_not_counted_twice() -> None:
    # same paper in two sources: each source counts its own record and its own fields
    frame = records(
        [
            {"source": "scrape", "record_index": 0},
            {"source": "api", "record_index": 1, "authors": ["A"]},
        ]
    )
    by_source = fill_rates(frame, provenance([0, 1]), NO_PAPERS)["by_source"]
    assert (by_source["scrape"]["authors"], by_source["api"]["authors"]) == (0.0, 1.0)


def test_papers_row_measures_the_merged_table() -> None:
    merged = papers(
        [
            {"authors": ["A"], "links": [LINK], "published_at": dt.datetime(2024, 1, 1)},
            {"authors": [], "links": [MINED], "listing_dates": [dt.date(2024, 1, 2)]},
            {"authors": [], "doi": "10.1/x"},
            {"authors": [], "abstract": "text"},
        ]
    )
    whole = fill_rates(None, provenance([]), merged)["papers"]
    assert whole["rows"] == 4
    assert (whole["authors"], whole["doi"], whole["abstract"]) == (0.25, 0.25, 0.25)
    assert (whole["published_at"], whole["listing_dates"]) == (0.25, 0.25)
    # only a curated link counts, not one mined from the abstract
    assert whole["curated_links"] == 0.25


def test_no_records_and_no_papers() -> None:
    figures = fill_rates(None, provenance([]), NO_PAPERS)
    assert figures["by_source"] == {}
    assert figures["papers"]["rows"] == 0
    assert figures["papers"]["authors"] is None
    assert fill_rate_table(figures)["authors"].to_list() == [""]
    assert fill_rate_table({}).height == 0


def test_table_has_a_row_per_source_then_the_papers() -> None:
    figures = {
        "by_source": {"a": {"records": 3, "doi": 0.3333}, "b": {"records": 1, "doi": 1.0}},
        "papers": {"rows": 4, "doi": 0.5},
    }
    table = fill_rate_table(figures)
    assert table.columns == ["source", "records", *RECORD_COLUMNS]
    assert table["source"].to_list() == ["a", "b", "(merged papers)"]
    assert table["records"].to_list() == [3, 1, 4]
    assert table["doi"].to_list() == ["33.3%", "100.0%", "50.0%"]
    assert table["authors"].to_list() == ["", "", ""]  # a figure the metrics do not hold


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A build of the arXiv and HF API fixtures (two sources, fields of each kind)."""
    raw = tmp_path_factory.mktemp("raw")
    for folder in ("arxiv", "hf_api"):
        shutil.copytree(FIXTURES / folder, raw / folder, ignore=shutil.ignore_patterns("*.md"))
    out = tmp_path_factory.mktemp("out")
    build_local(raw, out, target_rows=7)
    return out


def test_build_writes_the_fill_rates_of_its_records(built: Path) -> None:
    figures = json.loads((built / "metrics.json").read_text("utf-8"))["fill_rates"]
    by_source = figures["by_source"]
    listed = read_table(built, "provenance")["source"].value_counts()
    assert {s: v["records"] for s, v in by_source.items()} == dict(listed.iter_rows())
    assert figures["papers"]["rows"] == read_table(built, "papers").height
    # arXiv records carry categories, HF API ones never; every HF API record has its upvotes
    assert by_source["arxiv_oai"]["categories"] == 1.0
    assert by_source["hf_daily_papers"]["categories"] == 0.0
    assert by_source["hf_daily_papers"]["upvotes"] == 1.0


def test_report_shows_the_fill_rates(built: Path, tmp_path: Path) -> None:
    page = write_report(built, tmp_path).read_text("utf-8")
    section = page[page.index('<section id="fill">') :]
    section = section[: section.index("</section>")]
    assert "<td>hf_daily_papers</td>" in section
    assert "(merged papers)" in section
