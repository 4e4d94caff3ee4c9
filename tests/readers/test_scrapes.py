"""scrapes: Title/PDF/Summary blocks become records; bare abstract lines are all rejected."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from papers.readers.scrapes import (
    ABSTRACT_WITHOUT_ID,
    SOURCE_TITLE_PDF_SUMMARY,
    read_abstract_lines,
    read_title_pdf_summary,
    sniff_abstract_lines,
    sniff_title_pdf_summary,
)
from schemas import RawRecords, Rejected

# paper_metadata_2025-03-14.txt: the first 5 blocks of the real file, byte for byte (4 wrapped
# titles). paper_metadata_2026-01-02.txt: the real file's first 10 lines, ending mid-block as a
# truncated download would.
# paper_metadata_2024-06-21-edited.txt: 5 real blocks with lines removed or split (see below).


@pytest.fixture(scope="module")
def scrapes(fixtures: Path) -> Path:
    return fixtures / "scrapes"


def _read(data: bytes, source_file: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    records, rejects = read_title_pdf_summary(data, source_file)
    RawRecords.validate(records)
    Rejected.validate(rejects)
    return records, rejects


def test_real_excerpt_with_wrapped_titles(scrapes: Path) -> None:
    name = "InMatrix__ai-papers-reader/paper_data/paper_metadata_2025-03-14.txt"
    data = (scrapes / "paper_metadata_2025-03-14.txt").read_bytes()
    records, rejects = _read(data, name)
    assert rejects.height == 0
    assert records["record_index"].to_list() == [0, 1, 2, 3, 4]
    assert records["line"].to_list() == [1, 6, 11, 16, 21]
    assert records["source"].unique().to_list() == [SOURCE_TITLE_PDF_SUMMARY]
    assert records["listing_date"].unique().to_list() == [dt.date(2025, 3, 14)]
    first = records.row(0, named=True)
    # continuation lines kept as written (the normaliser joins the wrap)
    assert first["title_raw"] == (
        "Search-R1: Training LLMs to Reason and Leverage Search Engines with\n"
        "  Reinforcement Learning"
    )
    assert first["arxiv_id_raw"] == "https://arxiv.org/pdf/2503.09516"
    assert first["abstract_raw"].startswith("Efficiently acquiring external knowledge")
    assert first["abstract_raw"].endswith("https://github.com/PeterGriffinJin/Search-R1.")
    assert first["raw"].startswith("Title: Search-R1")
    assert first["raw"].count("\n") == 3
    assert "---" not in "".join(records["raw"])
    last = records.row(4, named=True)
    assert last["title_raw"] == "Self-Taught Self-Correction for Small Language Models"
    assert last["arxiv_id_raw"] == "https://arxiv.org/pdf/2503.08681"


def test_truncated_real_excerpt(scrapes: Path) -> None:
    data = (scrapes / "paper_metadata_2026-01-02.txt").read_bytes()
    assert sniff_title_pdf_summary(data[:4096])
    records, rejects = _read(data, "paper_metadata_2026-01-02.txt")
    assert rejects.height == 0
    assert records["line"].to_list() == [1, 5, 9]
    # the last block lost its Summary to the cut: still a paper, without an abstract
    last = records.row(2, named=True)
    assert (last["title_raw"], last["arxiv_id_raw"], last["abstract_raw"]) == (
        "mHC: Manifold-Constrained Hyper-Connections",
        "https://arxiv.org/pdf/2512.24880",
        None,
    )
    assert records["abstract_raw"][0].endswith("https://github.com/NasirzadehMoh/CoLog.")
    # raw (the whole block as written) is capped at 2000 characters
    assert records["raw"].str.len_chars().to_list() == [2000, 1580, 88]
    assert records["abstract_raw"].str.len_chars()[0] == 1851


def test_edited_blocks(scrapes: Path) -> None:
    data = (scrapes / "paper_metadata_2024-06-21-edited.txt").read_bytes()
    records, rejects = _read(data, "paper_metadata_2024-06-21-edited.txt")
    assert records["record_index"].to_list() == [0, 1, 2, 3]
    assert records["listing_date"].unique().to_list() == [dt.date(2024, 6, 21)]
    verbatim, no_pdf, no_summary, two_paragraphs = records.iter_rows(named=True)
    assert verbatim["arxiv_id_raw"] == "https://arxiv.org/pdf/2406.14539"
    # a block missing its PDF line is still a paper, known by its title
    assert no_pdf["title_raw"] == "HARE: HumAn pRiors, a key to small language model Efficiency"
    assert no_pdf["arxiv_id_raw"] is None
    assert no_pdf["abstract_raw"].startswith("Human priors play a crucial role")
    # a block missing its Summary line has no abstract
    assert no_summary["title_raw"].startswith("$\\nabla^2$DFT: A Universal Quantum Chemistry")
    assert no_summary["abstract_raw"] is None
    assert no_summary["arxiv_id_raw"] == "https://arxiv.org/pdf/2406.14347"
    # a summary spanning lines (with a blank line) stays one abstract, paragraph kept
    assert two_paragraphs["abstract_raw"].count("\n\n") == 1
    assert two_paragraphs["abstract_raw"].startswith("Information extraction tasks require")
    assert "\nClassical supervised deep learning" in two_paragraphs["abstract_raw"]
    # a block that lost both its Title and PDF lines cannot be identified
    assert rejects.rows() == [
        (
            "paper_metadata_2024-06-21-edited.txt",
            4,
            "parse",
            "block has no Title: and no PDF: line (line 17)",
            rejects["raw"].item(),
        )
    ]
    assert rejects["raw"].item().startswith("Summary: Direct Preference Optimization (DPO)")


def test_missing_separator_does_not_merge_papers() -> None:
    text = (
        "Title: First\nPDF: https://arxiv.org/pdf/2401.00001\nSummary: One.\n"
        "Title: Second\nPDF: https://arxiv.org/pdf/2401.00002\nSummary: Two.\n---\n"
    )
    records, rejects = _read(text.encode(), "x.txt")
    assert records["title_raw"].to_list() == ["First", "Second"]
    assert records["line"].to_list() == [1, 4]
    assert rejects.height == 0


def test_repeated_lines_and_crlf() -> None:
    text = (
        "Title: A\r\nPDF: https://arxiv.org/pdf/1\r\nPDF: https://arxiv.org/pdf/2\r\n---\r\n"
        "\r\nTitle: B\r\nSummary: s\r\nSummary: t\r\n---\r\n"
        "Title: \r\nPDF:\r\n---\r\n"
        "Title: C\r\nSummary: fine\r\n"
    )
    records, rejects = _read(text.encode(), "x.txt")
    assert records["title_raw"].to_list() == ["C"]
    assert records["abstract_raw"].to_list() == ["fine"]
    assert rejects["reason"].to_list() == [
        "block has 2 PDF: lines (line 1)",
        "block has 2 Summary: lines (line 6)",
        "block has an empty Title: and an empty PDF: line (line 10)",
    ]
    assert not "".join(rejects["raw"]).count("\r")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "no Title:/PDF:/Summary: lines"),
        (b"just some text\n\nmore text\n", "no Title:/PDF:/Summary: lines"),
        (b"Title: caf\xe9\n", "not valid UTF-8 text (byte 10"),
    ],
)
def test_unreadable_files_are_one_reject(data: bytes, reason: str) -> None:
    records, rejects = _read(data, "bad.txt")
    assert records.height == 0
    row = rejects.row(0, named=True)
    assert (row["record_index"], row["stage"]) == (None, "read")
    assert row["reason"].startswith(reason)


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"Title: A paper\nPDF: https://arxiv.org/pdf/2401.00001\n", True),
        (b"\xef\xbb\xbf\nTitle: A paper\n  wrapped\nSummary: text\n", True),
        (b"Title: A paper\n\nAbstract paragraph.\n", False),
        (b"new\n\nDaily Papers\n\nTitle\n\nAbstract.\n", False),
        (b"PDF: https://arxiv.org/pdf/2401.00001\nTitle: x\n", False),
        (b'{"title": "x"}', False),
        (b"", False),
    ],
)
def test_sniff_title_pdf_summary(head: bytes, expected: bool) -> None:
    assert sniff_title_pdf_summary(head) is expected


def test_abstract_lines_are_all_rejected(scrapes: Path) -> None:
    # abstracts5.txt is artpar/arxivdaily's file as is: 5 abstracts, no trailing newline
    data = (scrapes / "abstracts5.txt").read_bytes()
    assert sniff_abstract_lines(data[:4096])
    assert not sniff_title_pdf_summary(data[:4096])
    records, rejects = read_abstract_lines(data, "artpar__arxivdaily/abstracts5.txt")
    Rejected.validate(rejects)
    assert records.height == 0
    assert rejects["record_index"].to_list() == [0, 1, 2, 3, 4]
    assert set(rejects["stage"]) == {"parse"}
    assert set(rejects["reason"]) == {ABSTRACT_WITHOUT_ID}
    assert rejects["raw"].to_list() == data.decode().split("\n")


def test_abstract_lines_blank_lines_and_long_lines() -> None:
    long = "word " * 500
    records, rejects = read_abstract_lines(f"\n{long}\n\n   \nshort\n".encode(), "a.txt")
    assert records.height == 0
    assert rejects["record_index"].to_list() == [0, 1]
    assert rejects["raw"].str.len_chars().to_list() == [2000, 5]


@pytest.mark.parametrize(
    ("data", "reason"),
    [(b"\n \n", "no abstract lines in the file"), (b"\xff", "not valid UTF-8 text (byte 0")],
)
def test_abstract_lines_unreadable(data: bytes, reason: str) -> None:
    records, rejects = read_abstract_lines(data, "a.txt")
    assert records.height == 0
    assert rejects.rows() == [("a.txt", None, "read", rejects["reason"].item(), rejects["raw"][0])]
    assert rejects["reason"].item().startswith(reason)


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (("An abstract sentence with enough words to be prose. " * 5 + "\n") * 3, True),
        # one line longer than the head: judged on what the head holds
        ("An abstract sentence with enough words to be prose. " * 100, True),
        # page text: short title lines and blank lines between blocks
        ("A Title\n\n" + "An abstract sentence with enough words. " * 10 + "\n", False),
        ("Title: " + "x " * 200 + "\n", False),
        ('{"abstract": "' + "word " * 100 + '"}\n', False),
        ("short line\n", False),
        ("", False),
    ],
)
def test_sniff_abstract_lines(head: str, expected: bool) -> None:
    assert sniff_abstract_lines(head.encode()[:4096]) is expected
