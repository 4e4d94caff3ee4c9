"""readers: content sniffing picks the reader; unreadable files are rejected, never raised."""

from __future__ import annotations

from pathlib import Path

import pytest

from papers.config import Params
from papers.readers import read_file, sniff


@pytest.mark.parametrize(
    ("head", "reader"),
    [
        (b"new\n\nDaily Papers\n", "hf_papers_page"),
        (b"\xef\xbb\xbfTitle\n\nAbstract.", "hf_papers_page"),
        (b'{"error": "x"}', None),
        (b"  [{}]", None),
        (b"<?xml version='1.0'?><feed/>", None),
        (b"\x1f\x8b\x08\x00", None),
        (b"PAR1\x00\x00", None),
        (b"", None),
        (b"\n \n", None),
        (b"bin\x00ary", None),
    ],
)
def test_sniff(head: bytes, reader: str | None) -> None:
    assert sniff(head) == reader


@pytest.mark.parametrize(
    ("name", "stage", "reason"),
    [
        ("error-body.json", "read", "no reader recognises this file's format"),
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
    assert sniff(head) is None


def test_mostly_unpaired_text_is_rejected_whole(tmp_path: Path, params: Params) -> None:
    # a list of names, one per paragraph, with one title/paragraph pair by chance
    text = "Ada Lovelace\n\nAlan Turing\n\nGrace Hopper\n\nA title\n\nIts abstract paragraph."
    path = tmp_path / "notes.txt"
    path.write_text(text)
    result = read_file(path, "notes.txt", params)
    assert result.records.height == 0
    assert result.raw_records == 1
    assert result.rejects["reason"].item().startswith("text does not have the papers-page layout")
