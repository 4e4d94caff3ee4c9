"""readers: content sniffing picks the reader; unreadable files are rejected, never raised."""

from __future__ import annotations

from pathlib import Path

import pytest

from papers.config import Params
from papers.readers import read_file, sniff, sniff_page_text
from papers.readers.arxiv_atom import sniff_arxiv_atom
from papers.readers.arxiv_oai import sniff_arxiv_oai
from papers.readers.arxiv_snapshot import sniff_arxiv_snapshot
from tests.readers.arxiv_cases import OTHER_FORMATS, SNIFFED, head


@pytest.mark.parametrize(
    ("head", "reader"),
    [
        (b"new\n\nDaily Papers\n", "hf_papers_page"),
        (b"\xef\xbb\xbfTitle\n\nAbstract.", "hf_papers_page"),
        (
            b'{"error": "x"}',
            "hf_daily_papers",
        ),  # a saved HF API error body: rejected with its reason
        (b'[{"paper": {"id": "2405.00001"', "hf_daily_papers"),
        (
            b'{"id": "0704.0001", "submitter": "A", "authors": "B", "title": "T"}\n',
            "arxiv_snapshot",
        ),
        (
            b"Title: A paper\nPDF: https://arxiv.org/pdf/2401.00001\nSummary: x\n",
            "hf_title_pdf_summary",
        ),
        (b"  [{}]", None),
        (b"<?xml version='1.0'?><feed/>", None),
        (b"\x1f\x8b\x08\x00", None),
        (b"PAR1\x00\x00", None),
        (b"", None),
        (b"\n \n", None),
        (b"bin\x00ary", None),
    ],
)
def test_sniff(head: bytes, reader: str | None, params: Params) -> None:
    assert sniff(head, params) == reader


@pytest.mark.parametrize(
    ("name", "stage", "reason"),
    [
        ("error-body.json", "read", "saved API error body: Sorry, we cannot find the page"),
        ("latin1.txt", "read", "not valid UTF-8 text (byte 6"),
        ("blank.txt", "read", "no reader recognises this file's format"),
    ],
)
def test_unreadable_files_become_one_reject(
    fixtures: Path, params: Params, name: str, stage: str, reason: str
) -> None:
    result = read_file(fixtures / "pages" / name, f"pages/{name}", params)
    assert result.records.height == 0
    assert result.raw_records == 1
    row = result.rejects.row(0, named=True)
    assert (row["source_file"], row["record_index"], row["stage"]) == (f"pages/{name}", None, stage)
    assert row["reason"].startswith(reason)
    assert row["raw"] is not None


def test_page_file_is_parsed(fixtures: Path, params: Params) -> None:
    result = read_file(fixtures / "pages" / "2024-05-27-ugly.txt", "ugly.txt", params)
    assert result.reader == "hf_papers_page"
    assert (result.records.height, result.rejects.height, result.raw_records) == (3, 1, 4)


@pytest.mark.parametrize(
    "head",
    [
        b"# Real raw data\n\nSome text",
        b"## Per-file listing\n",
        b"| a | b |\n|---|---|\n",
        b"Title: A paper\nPDF: https://arxiv.org/pdf/2401.00001\nSummary: ...\n---\n",
        b"- item\n- item\n",
    ],
)
def test_other_text_formats_are_not_page_text(head: bytes) -> None:
    assert not sniff_page_text(head)


def test_mostly_unpaired_text_is_rejected_whole(tmp_path: Path, params: Params) -> None:
    # a list of names, one per paragraph, with one title/paragraph pair by chance
    text = "Ada Lovelace\n\nAlan Turing\n\nGrace Hopper\n\nA title\n\nIts abstract paragraph."
    path = tmp_path / "notes.txt"
    path.write_text(text)
    result = read_file(path, "notes.txt", params)
    assert result.records.height == 0
    assert result.raw_records == 1
    assert result.rejects["reason"].item().startswith("text does not have the papers-page layout")


@pytest.mark.parametrize(
    ("fixture", "reader"),
    [
        ("fetch/oai-page-1.xml", "arxiv_oai"),
        ("fetch/atom-page-0.xml", "arxiv_atom"),
        ("feeds/hf-papers-2024-05-27.rss.xml", "feed"),
        ("feeds/hf-papers-2024-05-28.json", "feed"),
        ("feeds/hf-papers.atom.xml", "feed"),
        ("scrapes/paper_metadata_2025-03-14.txt", "hf_title_pdf_summary"),
        ("scrapes/abstracts5.txt", "abstract_lines"),
        ("hf_api/2024-12-13.json", "hf_daily_papers"),
        ("hf_api/2025-01-10.json", "hf_daily_papers"),
        ("pages/2024-05-27-ugly.txt", "hf_papers_page"),
    ],
)
def test_each_format_reaches_its_reader(
    fixtures: Path, params: Params, fixture: str, reader: str
) -> None:
    result = read_file(fixtures / fixture, fixture, params)
    assert result.reader == reader
    assert result.raw_records > 0


def test_generic_source_by_glob(fixtures: Path, params: Params) -> None:
    # the params' BinChang mapping matches by path, whatever the content looks like
    name = "x/BinChang__hf-daily-paper-scraper/papers/2024-01-02.json"
    result = read_file(fixtures / "generic" / "binchang-2024-01-02.json", name, params)
    assert result.reader == "hf_daily_scrape_binchang"
    assert result.records.height > 0
    assert (result.records["source"] == "hf_daily_scrape_binchang").all()


# The arXiv sniffers are tried in turn by sniff(): each accepts its own format only.
@pytest.mark.parametrize(("name", "expected"), SNIFFED)
def test_each_sniff_accepts_its_format_only(name: str, expected: tuple[bool, bool, bool]) -> None:
    data = head(name)
    assert (sniff_arxiv_snapshot(data), sniff_arxiv_oai(data), sniff_arxiv_atom(data)) == expected


@pytest.mark.parametrize("data", OTHER_FORMATS)
def test_no_sniff_accepts_other_formats(data: bytes) -> None:
    assert not sniff_arxiv_snapshot(data)
    assert not sniff_arxiv_oai(data)
    assert not sniff_arxiv_atom(data)
