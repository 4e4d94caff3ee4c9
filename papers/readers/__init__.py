"""Readers: pick the parser for a raw file by sniffing its content, not trusting its extension.

A generic source declared in params.yaml (`read.sources`, matched by path glob) comes first: the
user said what the file is. Otherwise each reader's sniffer looks at the first bytes, in a fixed
order from the most specific format to the least; the papers-page text reader, which accepts
any plain text with the page layout, comes last. A file no reader recognises is one reject.
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from papers.config import ReadLimits
from papers.readers.arxiv_atom import read_arxiv_atom, sniff_arxiv_atom
from papers.readers.arxiv_oai import read_arxiv_oai, sniff_arxiv_oai
from papers.readers.arxiv_snapshot import read_arxiv_snapshot, sniff_arxiv_snapshot
from papers.readers.feeds import read_feed, sniff_feed
from papers.readers.generic import file_reject, match_source, read_generic
from papers.readers.hf_api import read_hf_api, sniff_hf_api
from papers.readers.limits import enforce_record_limits, file_size_problem
from papers.readers.scrapes import (
    read_abstract_lines,
    read_title_pdf_summary,
    sniff_abstract_lines,
    sniff_title_pdf_summary,
)
from papers.stages.parse import SOURCE_PAGE, parse_page_text
from schemas import RawRecords, Rejected, empty_frame

if TYPE_CHECKING:
    from papers.config import Params, ParseParams

_SNIFF_BYTES = 4096
# First lines that mark other text formats: Markdown headings, lists, quotes, tables, code fences,
# and "Title: ... / PDF: ... / Summary:" blocks (a scrape layout with a reader of its own).
_NOT_PAGE_TEXT = re.compile(r"^(#{1,6}\s|\||---|```|[-*+]\s|>\s|Title:\s)")

Frames = tuple[pl.DataFrame, pl.DataFrame]


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
    return ReadResult(None, empty_frame(RawRecords), file_reject(source_file, reason, raw))


def sniff_page_text(head: bytes) -> bool:
    """Plain UTF-8 text whose first line is not another text format's marker."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not text or text[:1] in (b"{", b"[", b"<") or b"\x00" in head:
        return False
    first = text.decode("utf-8", errors="replace").split("\n", 1)[0]
    return not _NOT_PAGE_TEXT.match(first)


def _read_page(params: ParseParams) -> Callable[[bytes, str], Frames]:
    def read(data: bytes, source_file: str) -> Frames:
        text = data.decode("utf-8")  # the caller has checked it decodes
        records, rejects = parse_page_text(text.lstrip("\ufeff"), source_file, params)
        return records, rejects

    return read


def _readers(params: Params) -> list[tuple[str, Callable[[bytes], bool], Callable[..., Frames]]]:
    """(name, sniff, read) in the order they are tried: most specific format first."""
    return [
        ("hf_daily_papers", sniff_hf_api, read_hf_api),
        ("arxiv_oai", sniff_arxiv_oai, read_arxiv_oai),
        # a generic feed before the arXiv API: the feed sniffer turns arXiv API answers away,
        # while a feed of papers (HF's) links to arxiv.org and can look like an API answer
        ("feed", sniff_feed, read_feed),
        ("arxiv_atom", sniff_arxiv_atom, read_arxiv_atom),
        ("hf_title_pdf_summary", sniff_title_pdf_summary, read_title_pdf_summary),
        ("abstract_lines", sniff_abstract_lines, read_abstract_lines),
        (SOURCE_PAGE, sniff_page_text, _read_page(params.parse)),
    ]


def sniff(head: bytes, params: Params) -> str | None:
    """The reader for a file whose first bytes are `head`, or None when none recognises it."""
    if sniff_arxiv_snapshot(head):
        return "arxiv_snapshot"
    for name, sniffer, _ in _readers(params):
        if sniffer(head):
            return name
    return None


def _head(path: Path) -> bytes:
    with path.open("rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    if head[:2] == b"\x1f\x8b":
        # a gzipped listing is sniffed by what it holds
        try:
            with gzip.open(path, "rb") as handle:
                return handle.read(_SNIFF_BYTES)
        except (OSError, EOFError, zlib.error):
            return head
    return head


def iter_file(path: Path, source_file: str, params: Params) -> tuple[str | None, Iterator[Frames]]:
    """(reader name, batches of (records, rejects)) for one raw file; never raises on bad content.

    Most formats give one batch; the arXiv snapshot streams batches of
    params.parse.batch_rows records, so memory is bounded by the batch, not the file.
    """
    head = _head(path)
    if match_source(source_file, params.read.sources) is None and sniff(head, params) == (
        "arxiv_snapshot"
    ):
        limits = params.read.limits
        batches = read_arxiv_snapshot(path, source_file, params.parse.batch_rows, limits)
        return "arxiv_snapshot", (_checked_frames(r, j, limits) for r, j in batches)
    result = read_file(path, source_file, params)
    return result.reader, iter([(result.records, result.rejects)])


def read_file(path: Path, source_file: str, params: Params) -> ReadResult:
    """Read one raw file with the reader its content calls for; never raises on bad content.

    Enforces params.read.limits: a file over max_file_bytes (other than a streamed snapshot) is
    one read reject, records over max_record_bytes or max_authors are record rejects.
    """
    limits = params.read.limits
    generic = match_source(source_file, params.read.sources)
    too_large = file_size_problem(path.stat().st_size, limits)
    if generic is not None:
        if too_large:
            return _file_reject(source_file, f"{generic.name}: {too_large}", None)
        records, rejects = read_generic(path.read_bytes(), source_file, generic)
        return _checked(generic.name, records, rejects, limits)
    head = _head(path)
    reader = sniff(head, params)
    if reader is None:
        preview = head[:200].decode("utf-8", errors="replace")
        return _file_reject(source_file, "no reader recognises this file's format", preview)
    if reader == "arxiv_snapshot":
        # all batches at once: callers that must bound memory use iter_file
        batches = list(read_arxiv_snapshot(path, source_file, params.parse.batch_rows, limits))
        records = pl.concat([b[0] for b in batches]) if batches else empty_frame(RawRecords)
        rejects = pl.concat([b[1] for b in batches]) if batches else empty_frame(Rejected)
        return _checked(reader, records, rejects, limits)
    if _is_gzip(path):
        return _file_reject(source_file, f"a gzipped {reader} file is not supported", None)
    if too_large:
        return _file_reject(source_file, too_large, head[:200].decode("utf-8", errors="replace"))
    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return _file_reject(
            source_file,
            f"not valid UTF-8 text (byte {exc.start}: {data[exc.start : exc.start + 4]!r})",
            data[:200].decode("utf-8", errors="replace"),
        )
    read = next(r for name, _, r in _readers(params) if name == reader)
    records, rejects = read(data, source_file)
    if reader == SOURCE_PAGE and records.height and rejects.height > records.height:
        # Mostly unpaired blocks: this is some other text, not a papers page. Rejecting the file
        # as a whole is more honest than publishing the few blocks that happen to pair up.
        return _file_reject(
            source_file,
            f"text does not have the papers-page layout: {rejects.height} of "
            f"{records.height + rejects.height} blocks are not a title line with an abstract",
            data[:200].decode("utf-8", errors="replace"),
        )
    return _checked(reader, records, rejects, limits)


def _is_gzip(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


def _checked_frames(records: pl.DataFrame, rejects: pl.DataFrame, limits: ReadLimits) -> Frames:
    # Every reader promises these schemas; a reader that breaks the promise is a bug to surface.
    records, rejects = enforce_record_limits(records, rejects, limits)
    RawRecords.validate(records)
    Rejected.validate(rejects)
    return records, rejects


def _checked(
    reader: str, records: pl.DataFrame, rejects: pl.DataFrame, limits: ReadLimits
) -> ReadResult:
    return ReadResult(reader, *_checked_frames(records, rejects, limits))
