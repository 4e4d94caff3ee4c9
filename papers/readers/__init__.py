"""Readers: pick the parser for a raw file by sniffing its content, not trusting its extension."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from papers.config import Params
from papers.stages.parse import parse_page_text
from schemas import RawRecords, Rejected, empty_frame

_SNIFF_BYTES = 4096
# First lines that mark other text formats: Markdown headings, lists, quotes, tables, code fences,
# and "Title: ... / PDF: ... / Summary:" blocks (a scrape layout of its own, not the page layout).
_NOT_PAGE_TEXT = re.compile(r"^(#{1,6}\s|\||---|```|[-*+]\s|>\s|Title:\s)")


@dataclass(frozen=True)
class ReadResult:
    """What a reader made of one file: its records, its rejects and the reader's name."""

    reader: str | None
    records: pl.DataFrame
    rejects: pl.DataFrame

    @property
    def raw_records(self) -> int:
        """Records the file held: parsed ones plus rejected ones (a file-level reject counts 1)."""
        return self.records.height + self.rejects.height


def _file_reject(source_file: str, reason: str, raw: str | None) -> ReadResult:
    rejects = pl.DataFrame(
        {
            "source_file": [source_file],
            "record_index": [None],
            "stage": ["read"],
            "reason": [reason],
            "raw": [raw],
        },
        schema=empty_frame(Rejected).schema,
    )
    return ReadResult(None, empty_frame(RawRecords), rejects)


def sniff(head: bytes) -> str | None:
    """The reader for a file whose first bytes are `head`, or None when none recognises it."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not text:
        return None
    if text[:1] in (b"{", b"[", b"<") or head[:2] == b"\x1f\x8b" or head[:4] == b"PAR1":
        # JSON, XML, gzip and Parquet listings get their own readers (HF API, arXiv); until they
        # exist such files are rejected with a reason rather than misread as page text.
        return None
    if b"\x00" in head:
        return None
    first = text.decode("utf-8", errors="replace").lstrip().split("\n", 1)[0]
    if _NOT_PAGE_TEXT.match(first):
        return None
    return "hf_papers_page"


def read_file(path: Path, source_file: str, params: Params) -> ReadResult:
    """Read one raw file with the reader its content calls for; never raises on bad content."""
    with path.open("rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    reader = sniff(head)
    if reader is None:
        preview = head[:200].decode("utf-8", errors="replace")
        return _file_reject(source_file, "no reader recognises this file's format", preview)
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return _file_reject(
            source_file,
            f"not valid UTF-8 text (byte {exc.start}: {data[exc.start : exc.start + 4]!r})",
            data[:200].decode("utf-8", errors="replace"),
        )
    records, rejects = parse_page_text(text.lstrip("\ufeff"), source_file, params.parse)
    if records.height and rejects.height > records.height:
        # Mostly unpaired blocks: this is some other text, not a papers page. Rejecting the file
        # as a whole is more honest than publishing the few blocks that happen to pair up.
        return _file_reject(
            source_file,
            f"text does not have the papers-page layout: {rejects.height} of "
            f"{records.height + rejects.height} blocks are not a title line with an abstract",
            text[:200],
        )
    return ReadResult(reader, records, rejects)
