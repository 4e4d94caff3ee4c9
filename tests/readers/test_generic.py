"""generic: mapped JSON/JSON lines/CSV/Parquet records; bad files and records rejected, not raised."""

from __future__ import annotations

import datetime as dt
import io
import re
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml
from pydantic import ValidationError

from papers.readers.generic import (
    EXAMPLE_SOURCES,
    GenericSource,
    match_source,
    read_generic,
    utc_datetime,
)
from schemas import RawRecords, Rejected

UTC = dt.UTC
BINCHANG = "hf_papers_page_scrape/BinChang__hf-daily-paper-scraper/papers/2024-01-02.json"
PWC = "paperswithcode/codingpot__paperswithcode-go/dummy/paper_list_response.json"
PWC_ONE = "paperswithcode/codingpot__paperswithcode-go/dummy/paper_get_response.json"


@pytest.fixture(scope="module")
def examples() -> list[GenericSource]:
    return [GenericSource.model_validate(s) for s in yaml.safe_load(EXAMPLE_SOURCES)["sources"]]


@pytest.fixture(scope="module")
def generic_dir(fixtures: Path) -> Path:
    return fixtures / "generic"


def _read(
    data: bytes, source_file: str, source: GenericSource
) -> tuple[pl.DataFrame, pl.DataFrame]:
    records, rejects = read_generic(data, source_file, source)
    RawRecords.validate(records)
    Rejected.validate(rejects)
    return records, rejects


def _source(**kwargs: Any) -> GenericSource:
    return GenericSource.model_validate({"name": "test", "glob": "*", **kwargs})


def test_example_sources_match_the_real_layouts(examples: list[GenericSource]) -> None:
    assert [s.name for s in examples] == [
        "hf_daily_scrape_binchang",
        "paperswithcode_api",
        "paperswithcode_api",
    ]
    assert match_source(BINCHANG, examples) is examples[0]
    assert match_source(f"raw/{BINCHANG}", examples) is examples[0]
    assert match_source(PWC, examples) is examples[1]
    assert match_source(PWC_ONE, examples) is examples[2]
    assert match_source(PWC.replace("paper_list", "paper_method_list"), examples) is None
    assert match_source("hf_papers_page/daily-papers.txt", examples) is None


def test_match_source_first_match_wins() -> None:
    a = _source(glob="feeds/*.json", format="json", fields={"title_raw": "t"})
    b = _source(glob="*.json", format="json", fields={"title_raw": "t"})
    assert match_source("feeds/x.json", [a, b]) is a
    assert match_source("other/x.json", [a, b]) is b
    assert match_source("feeds\\x.json", [a, b]) is a  # Windows separators
    assert match_source("feeds/x.JSON", [a, b]) is None  # case-sensitive on every platform


def test_binchang_daily_scrape(examples: list[GenericSource], generic_dir: Path) -> None:
    data = (generic_dir / "binchang-2024-01-02.json").read_bytes()
    records, rejects = _read(data, BINCHANG, examples[0])
    assert rejects.height == 0
    assert records["record_index"].to_list() == [0, 1, 2]
    assert records["source"].unique().to_list() == ["hf_daily_scrape_binchang"]
    first = records.row(0, named=True)
    assert first["title_raw"] == "Improving Text Embeddings with Large Language Models"
    assert first["arxiv_id_raw"] == "https://arxiv.org/pdf/2401.00368.pdf"
    assert first["authors"] == []  # BinChang often lists no authors
    assert first["upvotes"] == 79
    assert first["abstract_raw"].startswith("In this paper, we introduce a novel and simple method")
    assert "\n" in first["abstract_raw"]  # hard wraps kept as written
    assert first["curated_links"] == [
        {"url": "https://huggingface.co/papers/2401.00368", "field": "url"}
    ]
    # the object-level "date" is the listing date of every record
    assert records["listing_date"].unique().to_list() == [dt.date(2024, 1, 2)]
    assert records["authors"][1].to_list() == ["Nikhil Sardana"]
    assert records["line"].is_null().all()
    assert first["raw"].startswith('{"title": "Improving Text Embeddings')


def test_listing_date_field_wins_over_the_file_name(examples: list[GenericSource]) -> None:
    data = b'{"date": "2024-01-06", "papers": [{"title": "T", "url": "u"}]}'
    records, _ = _read(data, "x/papers/2024-01-05.json", examples[0])
    assert records["listing_date"].to_list() == [dt.date(2024, 1, 6)]
    records, _ = _read(data.replace(b'"date"', b'"day"'), "p/2024-01-05.json", examples[0])
    assert records["listing_date"].to_list() == [dt.date(2024, 1, 5)]


def test_paperswithcode_api_page(examples: list[GenericSource], generic_dir: Path) -> None:
    data = (generic_dir / "pwc-paper_list_response.json").read_bytes()
    records, rejects = _read(data, PWC, examples[1])
    assert rejects.height == 0
    assert records.height == 7
    assert records["arxiv_id_raw"].to_list() == [
        None,
        None,
        None,
        "cs/9301114",
        "astro-ph/9204005",
        None,
        "hep-ph/9206214",
    ]
    hopfield = records.row(0, named=True)
    assert hopfield["title_raw"].startswith("Neural networks and physical systems")
    assert hopfield["authors"] == ["J J Hopfield"]
    assert hopfield["published_at"] == dt.datetime(1982, 1, 15, tzinfo=UTC)
    assert hopfield["curated_links"] == [
        {"url": "https://www.pnas.org/content/79/8/2554", "field": "url_abs"}
    ]
    assert hopfield["listing_date"] is None
    # \r\n inside an abstract is kept as written (the normaliser cleans whitespace)
    assert "\r\n" in records["abstract_raw"][5]


def test_paperswithcode_single_object(examples: list[GenericSource]) -> None:
    data = (
        b'{"id": "generative-adversarial-networks", "arxiv_id": "1406.2661", "title": '
        b'"Generative Adversarial Networks", "abstract": "We propose a new framework.", '
        b'"authors": ["Ian J. Goodfellow"], "published": "2014-06-10", '
        b'"url_abs": "https://arxiv.org/abs/1406.2661v1"}'
    )
    records, rejects = _read(data, PWC_ONE, examples[2])
    assert (records.height, rejects.height) == (1, 0)
    assert records["arxiv_id_raw"].item() == "1406.2661"


def test_empty_page_is_one_file_reject(examples: list[GenericSource]) -> None:
    data = b'{ "count": 0, "next": null, "previous": null, "results": [] }'
    records, rejects = _read(data, PWC, examples[1])
    assert records.height == 0
    assert rejects.rows() == [
        (PWC, None, "read", "paperswithcode_api: no records in the file", data.decode())
    ]


def test_csv_source(generic_dir: Path) -> None:
    source = _source(
        format="csv",
        fields={
            "arxiv_id_raw": "id",
            "title_raw": "title",
            "abstract_raw": "abstract",
            "authors": "authors",
            "published_at": "update_date",
            "categories": "categories",
            "doi": "doi",
        },
    )
    records, rejects = _read((generic_dir / "papers.csv").read_bytes(), "kaggle.csv", source)
    assert records["arxiv_id_raw"].to_list() == ["2401.01230", "hep-th/9901001"]  # no float
    first = records.row(0, named=True)
    assert first["authors"] == ["Ada Lovelace", "Alan Turing", "Grace Hopper"]
    assert first["categories"] == ["cs.LG", "stat.ML"]
    assert first["abstract_raw"] == "We revisit scaling laws.\r\nA second line of the abstract."
    assert first["published_at"] == dt.datetime(2024, 1, 3, tzinfo=UTC)
    assert records["doi"].to_list() == [None, "10.1000/xyz123"]
    assert records["abstract_raw"][1] is None
    assert rejects["record_index"].to_list() == [2]
    assert rejects["stage"].to_list() == ["parse"]
    assert rejects["reason"].item().startswith("record has no title (title) and no id")
    assert "neither a title nor an id" in rejects["raw"].item()


def test_csv_missing_column_is_one_file_reject(generic_dir: Path) -> None:
    source = _source(format="csv", fields={"title_raw": "paper_title"})
    records, rejects = _read((generic_dir / "papers.csv").read_bytes(), "k.csv", source)
    assert records.height == 0
    row = rejects.row(0, named=True)
    assert (row["record_index"], row["stage"]) == (None, "read")
    assert row["reason"].startswith("test: column(s) not in the file: 'paper_title' (title_raw)")
    assert "columns: abstract, authors, categories" in row["reason"]


def test_parquet_source_with_nested_columns() -> None:
    frame = pl.DataFrame(
        {
            "paper": [
                {"id": "2405.15738v2", "title": "ConvLLaVA"},
                {"id": None, "title": None},
            ],
            "authors": [["Chunjiang Ge", "Sijie Cheng"], []],
            "published": [dt.datetime(2024, 5, 24, 17, 34, 15), None],
            "likes": [12, 3],
        }
    )
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    source = _source(
        format="parquet",
        fields={
            "arxiv_id_raw": "paper.id",
            "title_raw": "paper.title",
            "authors": "authors",
            "published_at": "published",
            "upvotes": "likes",
        },
    )
    records, rejects = _read(buffer.getvalue(), "hf/2024-05-27.parquet", source)
    row = records.row(0, named=True)
    assert (row["arxiv_id_raw"], row["title_raw"], row["upvotes"]) == (
        "2405.15738v2",
        "ConvLLaVA",
        12,
    )
    assert row["authors"] == ["Chunjiang Ge", "Sijie Cheng"]
    assert row["published_at"] == dt.datetime(2024, 5, 24, 17, 34, 15, tzinfo=UTC)
    assert row["listing_date"] == dt.date(2024, 5, 27)
    assert rejects["record_index"].to_list() == [1]


def test_jsonl_source(generic_dir: Path) -> None:
    source = _source(
        format="jsonl",
        fields={
            "arxiv_id_raw": "paper.id",
            "title_raw": "paper.title",
            "authors": "paper.authors",
            "published_at": "published",
            "upvotes": "upvotes",
            "url": "link",
        },
    )
    data = (generic_dir / "papers.jsonl").read_bytes()
    records, rejects = _read(data, "dump/papers.jsonl", source)
    assert records["record_index"].to_list() == [0, 1, 2]
    assert records["line"].to_list() == [1, 3, 4]  # the blank line 2 is not a record
    first, second, third = records.iter_rows(named=True)
    assert first["title_raw"] == (
        "ConvLLaVA: Hierarchical Backbones as Visual Encoder for Large Multimodal\n  Models"
    )
    assert first["authors"] == ["Chunjiang Ge", "Sijie Cheng"]
    assert first["published_at"] == dt.datetime(2024, 5, 24, 17, 34, 15, tzinfo=UTC)
    assert first["raw"] == data.decode().split("\n")[0]  # the line as written
    # an unmapped-or-null id is filled from a paper URL
    assert second["arxiv_id_raw"] == "https://huggingface.co/papers/2405.15574"
    assert second["authors"] == ["Solo Author"]
    assert second["upvotes"] == 7
    # soft fields: an epoch number is an unknown date, a negative count an unknown count
    assert (third["published_at"], third["upvotes"]) == (None, None)

    reasons = dict(zip(rejects["record_index"], rejects["reason"], strict=True))
    assert reasons[3].startswith("line 5 is not valid JSON:")
    # a dotted path that runs into a string is a readable reject, not a crash
    assert reasons[4] == "field 'paper.id': 'paper' is a string, not an object"
    assert reasons[5].startswith("record has no title (paper.title) and no id")
    assert reasons[6] == "record is a list, not an object"
    assert set(rejects["stage"]) == {"parse"}
    assert rejects.filter(pl.col("record_index") == 4)["raw"].item().startswith('{"paper": "24')


@pytest.mark.parametrize(
    ("data", "source", "reason"),
    [
        (b"{not json", {"format": "json"}, "test: not valid JSON: Expecting property name"),
        (b"\xff\xfe\x00garbage", {"format": "json"}, "test: not valid JSON"),
        (
            b'{"data": {"items": 3}}',
            {"format": "json", "records_path": "data.items"},
            "test: records path 'data.items' is a number, not a list",
        ),
        (
            b'{"data": []}',
            {"format": "json", "records_path": "data.items"},
            "test: records path 'data.items': 'data' is a list, not an object",
        ),
        (
            b'{"papers": []}',
            {"format": "json", "records_path": "results"},
            "test: records path 'results' not found",
        ),
        (
            b'[{"title": "x"}]',
            {"format": "json", "records_path": "results"},
            "test: records path 'results': the top level is a list, not an object",
        ),
        (b'"just a string"', {"format": "json"}, "test: the top level is a string, not records"),
        (b"a,b\n1,2\n", {"format": "jsonl"}, "test: not JSON lines: line 1 is not valid JSON"),
        (b"\xff\xfe", {"format": "jsonl"}, "test: not valid UTF-8 text (byte 0"),
        (b"", {"format": "csv"}, "test: not readable as CSV"),
        (b"PAR1 not really", {"format": "parquet"}, "test: not readable as PARQUET"),
        (b"[]", {"format": "json"}, "test: no records in the file"),
    ],
)
def test_unreadable_files_are_one_reject(data: bytes, source: dict[str, Any], reason: str) -> None:
    records, rejects = _read(data, "bad.file", _source(fields={"title_raw": "title"}, **source))
    assert records.height == 0
    row = rejects.row(0, named=True)
    assert rejects.height == 1
    assert (row["source_file"], row["record_index"], row["stage"]) == ("bad.file", None, "read")
    assert row["reason"].startswith(reason), row["reason"]


def test_wrong_shapes_are_record_rejects() -> None:
    source = _source(format="json", fields={"title_raw": "title", "authors": "authors"})
    data = (
        b'[{"title": ["a", "list"]}, {"title": "ok", "authors": [1, 2]},'
        b' {"title": "ok", "authors": {"name": "x"}}, {"title": "fine", "authors": "A and B"}]'
    )
    records, rejects = _read(data, "x.json", source)
    assert records["authors"].to_list() == [["A", "B"]]
    assert rejects["reason"].to_list() == [
        "field 'title' (title_raw) is a list, not text",
        "field 'authors' (authors) has an entry that is a number, not a name or a {name} object",
        "field 'authors' (authors) is an object, not a list of names",
    ]


def test_counts_that_do_not_fit_are_unknown() -> None:
    source = _source(format="json", fields={"title_raw": "t", "upvotes": "n"})
    data = (
        b'[{"t": "a", "n": 1e400}, {"t": "b", "n": 100000000000000000000000}, {"t": "c", "n": 4.0}]'
    )
    records, _ = _read(data, "x.json", source)
    assert records["upvotes"].to_list() == [None, None, 4]


def test_a_doi_alone_identifies_a_record() -> None:
    source = _source(format="json", fields={"title_raw": "t", "doi": "doi"})
    records, rejects = _read(b'[{"doi": "10.1/x"}]', "x.json", source)
    assert (records.height, rejects.height) == (1, 0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"format": "json", "fields": {"titel": "t"}}, "unknown target field(s) ['titel']"),
        ({"format": "json", "fields": {}}, "map at least one field"),
        ({"format": "csv", "fields": {"title_raw": "t"}, "records_path": "x"}, "format json only"),
        ({"format": "xml", "fields": {"title_raw": "t"}}, "Input should be"),
        ({"format": "json", "fields": {"title_raw": "t"}, "extra": 1}, "Extra inputs"),
    ],
)
def test_source_model_is_strict(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        _source(**kwargs)


def test_source_model_is_frozen() -> None:
    source = _source(format="json", fields={"title_raw": "t"})
    with pytest.raises(ValidationError):
        source.name = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-27", dt.datetime(2024, 5, 27, tzinfo=UTC)),
        ("2024-05-27T09:00:00+02:00", dt.datetime(2024, 5, 27, 7, tzinfo=UTC)),
        ("2024-05-27T09:00:00.123Z", dt.datetime(2024, 5, 27, 9, 0, 0, 123000, tzinfo=UTC)),
        ("2024-05-27 10:00", dt.datetime(2024, 5, 27, 10, tzinfo=UTC)),
        ("Mon, 27 May 2024 03:00:00 -0400", dt.datetime(2024, 5, 27, 7, tzinfo=UTC)),
        ("Mon, 2 Apr 2007 19:18:42 GMT", dt.datetime(2007, 4, 2, 19, 18, 42, tzinfo=UTC)),
        ("27 May 2024 03:00 PDT", dt.datetime(2024, 5, 27, 10, tzinfo=UTC)),
        ("2 days ago", None),
        ("2024-02-30", None),
        (None, None),
    ],
)
def test_utc_datetime(text: str | None, expected: dt.datetime | None) -> None:
    out = pl.select(utc_datetime(pl.lit(text, pl.String)).alias("d"))
    assert out.schema["d"] == pl.Datetime("us", "UTC")
    assert out["d"].item() == expected


def test_a_compressed_csv_is_refused_not_inflated(tmp_path: Path) -> None:
    import gzip
    import zlib

    from papers.config import GenericSource
    from papers.readers.generic import read_generic

    source = GenericSource.model_validate(
        {"name": "csv", "glob": "*.csv", "format": "csv", "fields": {"title_raw": "title"}}
    )
    text = b"title\n" + b"A paper\n" * 1000
    for data in (gzip.compress(text), zlib.compress(text)):
        records, rejects = read_generic(data, "x.csv", source)
        assert records.height == 0
        assert "compressed CSV" in rejects["reason"].item()
