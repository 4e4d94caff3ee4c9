"""feeds: RSS 2.0, Atom and JSON Feed listings of papers into raw records, plus rejects."""

from __future__ import annotations

import html
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any, Final, Literal
from xml.parsers import expat

import polars as pl

from papers.readers.generic import (
    file_reject,
    finish,
    no_records,
    no_surrogates,
    paper_url,
    preview,
    split_names,
    utc_datetime,
)
from papers.stages.parse import listing_date_from_name
from schemas.tables import CURATED_LINK_STRUCT

# Items are pulled out of the document in Python (XML needs a parser, JSON a walk); every column
# after that (dates, ids, links, reasons) is computed vectorised. XML is parsed with expat directly
# so each item's original text (its byte span) can be kept as `raw`; documents that declare
# entities are refused (no entity-expansion bombs).

SOURCE_FEED: Final = "feed"

FeedKind = Literal["rss", "atom", "jsonfeed"]

ATOM: Final = "{http://www.w3.org/2005/Atom}"
_CONTENT: Final = "{http://purl.org/rss/1.0/modules/content/}encoded"
_DC: Final = "{http://purl.org/dc/elements/1.1/}"
_ITEM_TAGS: Final = frozenset({"item", f"{ATOM}entry"})

_JSON_FEED_VERSION: Final = re.compile(rb'"version"\s*:\s*"https?:\\?/\\?/jsonfeed\.org\\?/version')
# The root element's name, after the XML declaration, comments, PIs and a doctype.
_XML_ROOT: Final = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)[\s>/]")
# The arXiv query API answers in Atom too; it has its own reader (categories, versions, DOIs).
_ARXIV_API: Final = re.compile(rb"<id>\s*https?://(?:export\.)?arxiv\.org/api/|xmlns:arxiv=")
# HTML elements that end a paragraph (blank line) or a line when their text is kept.
_PARAGRAPH_TAGS: Final = frozenset(
    {"p", "div", "blockquote", "pre", "ul", "ol", "table", "h1", "h2", "h3", "h4", "h5", "h6"}
)
_LINE_TAGS: Final = frozenset({"br", "tr", "hr"})  # li ends its line at </li>
# RSS <author> is "email (Name)"; the name is what we keep.
_RSS_AUTHOR: Final = re.compile(r"^\S+@\S+\s*\((.+)\)\s*$")


def feed_kind(head: bytes) -> FeedKind | None:
    """Which feed format a file starting with `head` is (RSS 2.0, Atom, JSON Feed), or None."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"{"):
        return "jsonfeed" if _JSON_FEED_VERSION.search(text) else None
    if not text.startswith(b"<"):
        return None
    # skip the prolog: <?xml ...?>, <!-- ... -->, <!DOCTYPE ...>
    prolog = re.match(
        rb"(?:\s*(?:<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^\[>]*(?:\[.*?\])?\s*>|<![^>]*>))*\s*",
        text,
        re.DOTALL,
    )
    root = _XML_ROOT.match(text, prolog.end() if prolog else 0)
    if root is None:
        return None
    name = root.group(1)
    if name == b"rss":
        return "rss"
    if name == b"feed" and b"http://www.w3.org/2005/Atom" in text:
        return "atom"
    return None


def sniff_feed(head: bytes) -> bool:
    """Whether a file starting with `head` is a generic papers feed (not an arXiv API answer)."""
    return feed_kind(head) is not None and not _ARXIV_API.search(head)


class _TextOnly(HTMLParser):
    """An HTML fragment's text: tags dropped, entities decoded, blocks as line breaks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        tag = tag.rpartition(":")[2]  # serialised Atom xhtml comes prefixed (ns0:p)
        if tag in ("script", "style"):
            self._hidden += 1
        elif tag in _LINE_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        tag = tag.rpartition(":")[2]
        if tag in ("script", "style"):
            self._hidden = max(0, self._hidden - 1)
        elif tag in _PARAGRAPH_TAGS:
            self.parts.append("\n\n")
        elif tag == "li":
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def html_text(fragment: str | None) -> str | None:
    """The text of an HTML fragment (tags stripped, entities unescaped), None when blank."""
    if fragment is None:
        return None
    parser = _TextOnly()
    try:
        parser.feed(fragment)
        parser.close()
        text = "".join(parser.parts)
    except (AssertionError, ValueError):
        # html.parser gives up on some broken markup; a crude strip still keeps the text
        text = html.unescape(re.sub(r"<[^>]*>", " ", fragment))
    text = re.sub(r"[^\S\n]+", " ", text)  # NBSP and runs of spaces: one space
    text = re.sub(r" *\n *", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    return text or None


def _plain(text: str | None) -> str | None:
    return text.strip() if text and text.strip() else None


@dataclass
class _Items:
    """Per-item values pulled out of a feed, column by column."""

    title: list[str | None] = field(default_factory=list)
    abstract: list[str | None] = field(default_factory=list)
    link: list[str | None] = field(default_factory=list)
    guid: list[str | None] = field(default_factory=list)
    authors: list[list[str]] = field(default_factory=list)
    published: list[str | None] = field(default_factory=list)
    updated: list[str | None] = field(default_factory=list)
    line: list[int | None] = field(default_factory=list)
    raw: list[str] = field(default_factory=list)
    error: list[str | None] = field(default_factory=list)

    def add(self, **values: Any) -> None:
        """Append one item; fields not given are null (empty for authors)."""
        columns = vars(self)
        if not set(values) <= set(columns):
            msg = f"unknown item fields {sorted(set(values) - set(columns))}"
            raise TypeError(msg)
        for name, column in columns.items():
            value = values.get(name, [] if name == "authors" else None)
            # JSON "\ud800" escapes decode to lone surrogates, which polars strings cannot hold
            if isinstance(value, str):
                value = no_surrogates(value)
            elif isinstance(value, list):
                value = [no_surrogates(v) for v in value]
            column.append(value)


class _RefusedError(Exception):
    """The XML document declares entities (refused: entity expansion can explode)."""


@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    line: int


@dataclass(frozen=True)
class _Document:
    root: ET.Element
    spans: dict[ET.Element, _Span]
    encoding: str

    def raw(self, data: bytes, element: ET.Element) -> tuple[str, int]:
        """The element's original text (in the document's encoding) and its start line."""
        span = self.spans[element]
        return data[span.start : span.end].decode(self.encoding, errors="replace"), span.line


def _parse_xml(data: bytes) -> _Document:
    """An ElementTree of `data`, the byte span and start line of each item/entry, the encoding.

    Raises expat.ExpatError on malformed XML and _RefusedError on entity declarations.
    """
    builder = ET.TreeBuilder()
    parser = expat.ParserCreate(namespace_separator="}")
    parser.buffer_text = True
    starts: dict[ET.Element, tuple[int, int]] = {}
    spans: dict[ET.Element, _Span] = {}
    declared: list[str] = []

    def qname(name: str) -> str:
        return "{" + name if "}" in name else name

    def start(name: str, attrs: dict[str, str]) -> None:
        element = builder.start(qname(name), {qname(k): v for k, v in attrs.items()})
        if element.tag in _ITEM_TAGS:
            starts[element] = (parser.CurrentByteIndex, parser.CurrentLineNumber)

    def end(name: str) -> None:
        at = parser.CurrentByteIndex  # where the end tag (or the empty-element tag) starts
        element = builder.end(qname(name))
        if element in starts:
            begin, line = starts.pop(element)
            spans[element] = _Span(begin, data.index(b">", at) + 1, line)

    def refuse(*_: Any) -> None:
        raise _RefusedError

    def declaration(version: str, encoding: str | None, standalone: int) -> None:
        if encoding:
            declared.append(encoding)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = builder.data
    parser.EntityDeclHandler = refuse
    parser.XmlDeclHandler = declaration
    parser.Parse(data, True)
    encoding = declared[0] if declared else "utf-8"
    try:
        "".encode(encoding)
    except LookupError:
        encoding = "utf-8"
    return _Document(builder.close(), spans, encoding)


def _text_of(element: ET.Element | None) -> str | None:
    return None if element is None else _plain("".join(element.itertext()))


def _atom_text(element: ET.Element | None) -> str | None:
    """An Atom text construct as plain text, honouring type="text|html|xhtml"."""
    if element is None:
        return None
    kind = element.get("type", "text")
    if kind == "xhtml":
        inner = "".join(ET.tostring(child, encoding="unicode") for child in element)
        return html_text(inner)
    text = "".join(element.itertext())
    return html_text(text) if kind == "html" else _plain(text)


def _rss_items(doc: _Document, data: bytes) -> _Items:
    items = _Items()
    for item in doc.root.iter("item"):
        authors: list[str] = []
        for creator in item.findall(f"{_DC}creator"):
            authors.extend(split_names(_text_of(creator) or ""))
        for author in item.findall("author"):
            text = _text_of(author) or ""
            named = _RSS_AUTHOR.match(text)
            authors.extend(split_names(named.group(1) if named else text))
        description = _text_of(item.find("description")) or _text_of(item.find(_CONTENT))
        title = _text_of(item.find("title"))
        raw, line = doc.raw(data, item)
        items.add(
            # RSS titles are text, but feeds often escape entities twice (&amp;amp;)
            title=_plain(html.unescape(title)) if title else None,
            abstract=html_text(description),
            link=_text_of(item.find("link")),
            guid=_text_of(item.find("guid")),
            authors=authors,
            published=_text_of(item.find("pubDate")) or _text_of(item.find(f"{_DC}date")),
            line=line,
            raw=raw,
        )
    return items


def _atom_link(entry: ET.Element) -> str | None:
    for link in entry.findall(f"{ATOM}link"):
        if link.get("rel", "alternate") == "alternate" and link.get("href"):
            return _plain(link.get("href"))
    return None


def _atom_items(doc: _Document, data: bytes) -> _Items:
    items = _Items()
    for entry in doc.root.iter(f"{ATOM}entry"):
        raw, line = doc.raw(data, entry)
        published = _text_of(entry.find(f"{ATOM}published"))
        updated = _text_of(entry.find(f"{ATOM}updated"))
        items.add(
            title=_atom_text(entry.find(f"{ATOM}title")),
            abstract=_atom_text(entry.find(f"{ATOM}summary"))
            or _atom_text(entry.find(f"{ATOM}content")),
            link=_atom_link(entry),
            guid=_text_of(entry.find(f"{ATOM}id")),
            authors=[
                name
                for author in entry.findall(f"{ATOM}author")
                if (name := _text_of(author.find(f"{ATOM}name")))
            ],
            published=published or updated,
            updated=updated,
            line=line,
            raw=raw,
        )
    return items


def _json_string(item: dict[str, Any], key: str) -> str | None:
    value = item.get(key)
    return _plain(value) if isinstance(value, str) else None


def _json_kind(value: Any) -> str:
    """How a JSON value reads in a reason ("a string", "null"), not Python's type name."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    return "a string" if isinstance(value, str) else "an array"


def _json_feed_items(doc: Any) -> _Items | str:
    """The items of a JSON Feed document, or why it is not one."""
    if not isinstance(doc, dict) or not str(doc.get("version", "")).startswith(
        ("https://jsonfeed.org/version/", "http://jsonfeed.org/version/")
    ):
        return "not a JSON Feed: no jsonfeed.org version"
    if not isinstance(doc.get("items"), list):
        return "JSON Feed without an items list"
    items = _Items()
    for item in doc["items"]:
        raw = json.dumps(item, ensure_ascii=False)
        if not isinstance(item, dict):
            items.add(raw=raw, error=f"item is {_json_kind(item)}, not an object")
            continue
        people = item.get("authors", [item.get("author")])  # 1.1 authors[], 1.0 author
        people = people if isinstance(people, list) else []
        items.add(
            title=_json_string(item, "title"),
            abstract=_json_string(item, "content_text")
            or html_text(_json_string(item, "content_html"))
            or _json_string(item, "summary"),
            link=_json_string(item, "url") or _json_string(item, "external_url"),
            guid=_json_string(item, "id"),
            authors=[
                p["name"].strip()
                for p in people
                if isinstance(p, dict) and isinstance(p.get("name"), str) and p["name"].strip()
            ],
            published=_json_string(item, "date_published"),
            updated=_json_string(item, "date_modified"),
            raw=raw,
        )
    return items


def read_feed(data: bytes, source_file: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """An RSS 2.0, Atom or JSON Feed document -> (records: RawRecords, rejects: Rejected).

    Never raises: a document that is not a feed, or is malformed, is one read-stage reject; an
    item with no title and no arXiv/Hugging Face paper link (link or guid) is a parse-stage
    reject. The item link is kept as a curated link (field "link").
    """
    kind = feed_kind(data)  # the whole document: a JSON Feed may put "version" after "items"
    if kind is None:
        reason = "not an RSS 2.0, Atom or JSON Feed document"
        return no_records(), file_reject(source_file, reason, preview(data))
    items: _Items | str
    if kind == "jsonfeed":
        try:
            items = _json_feed_items(json.loads(data))
        except (ValueError, RecursionError) as exc:
            items = f"not valid JSON: {exc}"
    else:
        try:
            doc = _parse_xml(data)
            items = _rss_items(doc, data) if kind == "rss" else _atom_items(doc, data)
        except expat.ExpatError as exc:
            items = f"not well-formed XML: {exc}"
        except RecursionError:
            items = "XML nested too deeply"
        except MemoryError:
            items = "XML too large to read in memory"
        except (ValueError, LookupError) as exc:  # a span not found, an unknown encoding
            items = f"XML not readable: {exc}"
        except _RefusedError:
            items = "XML declares entities in a DTD: refused"
    if isinstance(items, str):
        return no_records(), file_reject(source_file, items, preview(data))
    if not items.raw:
        return no_records(), file_reject(source_file, f"{kind} feed has no items", preview(data))

    frame = pl.DataFrame(
        {
            "title_raw": items.title,
            "abstract_raw": items.abstract,
            "link": items.link,
            "guid": items.guid,
            "authors": items.authors,
            "published": items.published,
            "updated": items.updated,
            "line": items.line,
            "raw": items.raw,
            "error": items.error,
        },
        schema={
            "title_raw": pl.String,
            "abstract_raw": pl.String,
            "link": pl.String,
            "guid": pl.String,
            "authors": pl.List(pl.String),
            "published": pl.String,
            "updated": pl.String,
            "line": pl.Int64,
            "raw": pl.String,
            "error": pl.String,
        },
    ).with_row_index("record_index")
    frame = frame.with_columns(
        pl.col("record_index").cast(pl.Int64),
        pl.coalesce(paper_url(pl.col("link")), paper_url(pl.col("guid"))).alias("arxiv_id_raw"),
        utc_datetime(pl.col("published")).alias("published_at"),
        utc_datetime(pl.col("updated")).alias("updated_at"),
        pl.when(pl.col("link").is_not_null())
        .then(pl.concat_list(pl.struct(pl.col("link").alias("url"), pl.lit("link").alias("field"))))
        .otherwise(pl.lit([], pl.List(CURATED_LINK_STRUCT)))
        .alias("curated_links"),
        listing_date_from_name(source_file),
    ).with_columns(
        pl.coalesce(
            pl.col("error"),
            pl.when(pl.col("title_raw").is_null() & pl.col("arxiv_id_raw").is_null()).then(
                pl.lit("item has no title and no arXiv or Hugging Face paper link")
            ),
        ).alias("reason")
    )
    return finish(frame, source_file, SOURCE_FEED)
