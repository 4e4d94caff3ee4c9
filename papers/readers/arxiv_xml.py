"""What the arXiv XML readers (OAI-PMH, Atom) share: the hardened parse that keeps each record's
source text and line, field lookups, and the frame the records become."""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final
from xml.etree import ElementTree as ET
from xml.parsers import expat

import polars as pl
from defusedxml import ElementTree as SafeET
from defusedxml.common import EntitiesForbidden

from papers.readers.arxiv_common import (
    RAW_CHARS,
    head_text,
    not_this_format,
    record_rejects,
    utc,
)
from papers.readers.generic import file_reject
from schemas import RawRecords, conform

# The OAI-PMH root element: the OAI sniffer looks for it, the Atom sniffer turns it away.
OAI_ROOT: Final = re.compile(rb"<(?:[\w.-]+:)?OAI-PMH[\s>]")

# A document that declares entities is refused: ElementTree would expand internal ones into
# record fields (a billion-laughs DTD is only stopped by expat's amplification limit), and an
# external entity (SYSTEM "file:///etc/passwd") silently ends the parse, losing every record.
# defusedxml raises at the first declaration, in the prolog, before any record is read.
ENTITIES_REFUSED: Final = "XML declares entities in a DTD: refused"

# Rows the XML readers build per record before the vectorised date parsing.
_XML_ROW_SCHEMA: Final = pl.Schema(
    {
        "record_index": pl.Int64(),
        "line": pl.Int64(),
        "arxiv_id_raw": pl.String(),
        "title_raw": pl.String(),
        "abstract_raw": pl.String(),
        "doi": pl.String(),
        "authors": pl.List(pl.String),
        "categories": pl.List(pl.String),
        "published": pl.String(),
        "updated": pl.String(),
        "comments": pl.String(),
        "journal_ref": pl.String(),
        "license": pl.String(),
        "raw": pl.String(),
    }
)

Frames = tuple[pl.DataFrame, pl.DataFrame]


@dataclass(frozen=True)
class XmlRecord:
    element: ET.Element
    line: int | None  # 1-based line of its start tag
    raw: str  # the element as written in the file, at most RAW_CHARS


@dataclass(frozen=True)
class XmlDocument:
    root: ET.Element
    records: list[XmlRecord]  # complete record elements, in document order
    error: str | None  # why parsing stopped before the end of the document


def local(tag: str) -> str:
    """An element's name without its namespace."""
    return tag.rpartition("}")[2]


def _spans(data: bytes, name: str) -> list[tuple[int, int, int]]:
    """(start byte, end byte, line) of each complete element named `name` (any namespace), in the
    order their end tags come: the source text ElementTree does not keep."""
    parser: expat.XMLParserType = expat.ParserCreate(namespace_separator=" ")
    opened: list[tuple[int, int]] = []
    spans: list[tuple[int, int, int]] = []

    def start(tag: str, _attributes: dict[str, str]) -> None:
        if tag.rpartition(" ")[2] == name:
            opened.append((parser.CurrentByteIndex, parser.CurrentLineNumber))

    def end(tag: str) -> None:
        if tag.rpartition(" ")[2] == name and opened:
            begin, line = opened.pop()
            at = parser.CurrentByteIndex
            # An end tag is reported where it starts; an empty-element tag where it has ended.
            close = data.find(b">", at) + 1 if data.startswith(b"</", at) else at
            spans.append((begin, close, line))

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    # A parse error is reported by the ElementTree pass; spans so far match the elements it kept.
    with contextlib.suppress(expat.ExpatError, ValueError, LookupError):
        parser.Parse(data, True)
    return spans


def _xml_document(data: bytes, name: str) -> XmlDocument | str:
    """An XML document -> its root and its complete `name` elements with their source text; or
    why not even its root element could be read.

    Malformed XML (a truncated download) keeps the elements completed before the error. Raises
    EntitiesForbidden when the document declares an entity (defusedxml, which also never fetches
    an external DTD or entity).
    """
    root: ET.Element | None = None
    elements: list[ET.Element] = []
    error = None
    try:
        for event, element in SafeET.iterparse(io.BytesIO(data), events=("start", "end")):
            if root is None:
                root = element
            if event == "end" and local(element.tag) == name:
                elements.append(element)
    except ET.ParseError as exc:
        # Malformed XML; also an undefined entity under an external DTD (which is never read).
        error = str(exc)
    if root is None:
        return f"malformed XML: {error}"
    spans = _spans(data, name)
    if len(spans) == len(elements):
        records = [
            XmlRecord(element, line, head_text(data[begin:end]))
            for element, (begin, end, line) in zip(elements, spans, strict=True)
        ]
    else:  # never seen; serialising keeps the content if the two passes ever disagree
        records = [
            XmlRecord(element, None, ET.tostring(element, encoding="unicode")[:RAW_CHARS])
            for element in elements
        ]
    return XmlDocument(root, records, error)


def read_xml_guarded(
    read: Callable[[XmlDocument, bytes, str], Frames], data: bytes, source_file: str, name: str
) -> Frames:
    """`read` on the document and its `name` elements unless the document declares entities;
    a document whose root cannot be read, or parser exhaustion, is a file reject."""
    try:
        document = _xml_document(data, name)
        if isinstance(document, str):
            return not_this_format(source_file, document, data)
        return read(document, data, source_file)
    except EntitiesForbidden:
        return not_this_format(source_file, ENTITIES_REFUSED, data)
    except RecursionError:
        return not_this_format(source_file, "XML nested too deeply to read", data)
    except MemoryError:
        return not_this_format(source_file, "XML too large to read in memory", data)
    except (ValueError, LookupError) as exc:
        # ElementTree refuses some declared encodings outright ("UTF-7": multi-byte encodings
        # are not supported; "bogus": unknown encoding); found by the atheris harness
        return not_this_format(source_file, f"XML not readable: {exc}", data)


def safe_fromstring(data: bytes) -> ET.Element:
    """A whole XML document's root element; raises ValueError when the document declares entities
    and ET.ParseError when it is not well-formed."""
    try:
        root: ET.Element = SafeET.fromstring(data)
    except EntitiesForbidden as exc:
        raise ValueError(ENTITIES_REFUSED) from exc
    return root


def text(element: ET.Element | None, path: str) -> str | None:
    """Text of the first element at `path` (children's text included); None when absent or empty."""
    found = None if element is None else element.find(path)
    return None if found is None else ("".join(found.itertext()) or None)


def by_name(element: ET.Element) -> dict[str, list[ET.Element]]:
    """Direct children grouped by local name, whatever their namespace (or none: entries under a
    foreign root lose the Atom one)."""
    children: dict[str, list[ET.Element]] = {}
    for child in element:
        children.setdefault(local(child.tag), []).append(child)
    return children


def first_text(children: dict[str, list[ET.Element]], name: str) -> str | None:
    """Text of the first child named `name`; None when absent or empty."""
    found = children.get(name)
    return ("".join(found[0].itertext()) or None) if found else None


def is_blank(value: str | None) -> bool:
    return value is None or not value.strip()


def person_name(parts: Iterable[str | None]) -> str:
    """Name parts joined with single spaces; missing parts and hard wraps do not add spaces."""
    return " ".join(" ".join(part.split()) for part in parts if part and part.strip())


def xml_frames(
    document: XmlDocument,
    fields_of: Callable[[ET.Element], dict[str, Any] | str],
    source_file: str,
    source: str,
) -> Frames:
    """Each record element -> its fields (a RawRecords row) or the reason it is not a paper (a
    parse reject naming its line)."""
    rows: list[dict[str, Any]] = []
    bad: list[tuple[int, str, str]] = []
    for index, record in enumerate(document.records):
        fields = fields_of(record.element)
        if isinstance(fields, str):
            at_line = "" if record.line is None else f" (line {record.line})"
            bad.append((index, f"{fields}{at_line}", record.raw))
        else:
            rows.append(fields | {"record_index": index, "line": record.line, "raw": record.raw})
    # Column lists, not row dicts: polars builds them several times faster.
    columns = {column: [row[column] for row in rows] for column in _XML_ROW_SCHEMA}
    records = (
        pl.DataFrame(columns, schema=_XML_ROW_SCHEMA)
        .with_columns(
            pl.lit(source_file).alias("source_file"),
            pl.lit(source).alias("source"),
            utc(pl.col("published")).alias("published_at"),
            utc(pl.col("updated")).alias("updated_at"),
        )
        .pipe(conform, RawRecords)
    )
    return records, record_rejects(source_file, bad)


def with_file_rejects(frames: Frames, source_file: str, problems: list[str], data: bytes) -> Frames:
    """(records, rejects) plus one read reject per document-level problem."""
    records, rejects = frames
    head = head_text(data)
    return records, pl.concat([rejects, *(file_reject(source_file, p, head) for p in problems)])
