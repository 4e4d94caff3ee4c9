"""parse: page text into records with lineage; boilerplate skipped; malformed blocks rejected."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from papers.config import Params, ParseParams
from papers.stages.parse import parse_page_text
from schemas import RawRecords, Rejected


def test_seed_has_57_papers_and_no_boilerplate(seed_text: str, params: Params) -> None:
    records, rejects = parse_page_text(seed_text, "hf_papers_page/daily-papers.txt", params.parse)
    RawRecords.validate(records)
    assert records.height == 57
    assert rejects.height == 0
    assert records["record_index"].to_list() == list(range(57))
    first = records.row(0, named=True)
    assert first["title_raw"] == "KVQ: Kwai Video Quality Assessment for Short-form Videos"
    assert first["line"] == 11
    assert first["abstract_raw"].startswith("Short-form UGC video platforms")
    boilerplate = set(params.parse.boilerplate)
    assert not records["title_raw"].is_in(list(boilerplate)).any()


def test_ugly_page(fixtures: Path, params: Params) -> None:
    text = (fixtures / "pages" / "2024-05-27-ugly.txt").read_text("utf-8")
    records, rejects = parse_page_text(text, "pages/2024-05-27-ugly.txt", params.parse)
    Rejected.validate(rejects)
    assert records["record_index"].to_list() == [0, 2, 3]
    assert rejects["record_index"].to_list() == [1]
    assert "title line without an abstract" in rejects["reason"].item()
    assert "line 15" in rejects["reason"].item()
    # two abstract paragraphs stay one abstract, paragraph break kept
    two = records.filter(pl.col("record_index") == 2).row(0, named=True)
    assert two["title_raw"] == "ANOTHER TITLE: With LLMs"
    assert "\n\nSecond paragraph" in two["abstract_raw"]
    # CRLF and NBSP-only lines are not content
    assert not records["abstract_raw"].str.contains("\r").any()
    # the date in the file name is the listing date
    assert records["listing_date"].unique().to_list() == [dt.date(2024, 5, 27)]


def test_orphan_abstract_is_rejected(fixtures: Path, params: Params) -> None:
    text = (fixtures / "pages" / "orphan.txt").read_text("utf-8")
    records, rejects = parse_page_text(text, "orphan.txt", params.parse)
    assert records["title_raw"].to_list() == ["Real Title"]
    assert rejects.height == 1
    assert rejects["reason"].item().startswith("abstract paragraph without a title line")
    assert rejects["raw"].item().startswith("Orphan abstract")


@pytest.mark.parametrize("text", ["", "\n\n  \n", "new\n\nSubscribe\n"])
def test_no_records_is_one_file_level_reject(text: str, params: Params) -> None:
    records, rejects = parse_page_text(text, "empty.txt", params.parse)
    assert records.height == 0
    assert rejects.height == 1
    assert rejects["record_index"].to_list() == [None]
    assert rejects["reason"].item() == "no paper records found in the page text"


def test_title_classification_uses_params() -> None:
    text = "Short title\n\nShort abstract."
    records, _ = parse_page_text(text, "x.txt", ParseParams(title_max_chars=5))
    # with a 5-character title limit nothing is a title: the block is an orphan
    assert records.height == 0
