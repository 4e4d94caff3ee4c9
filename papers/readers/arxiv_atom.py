"""Reader for arXiv API Atom responses: the legacy and the 2026 layouts, or entries under a
foreign root element."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Final
from xml.etree import ElementTree as ET

from papers.readers.arxiv_common import PADDING, SNIFF_BYTES, not_this_format
from papers.readers.arxiv_xml import (
    OAI_ROOT,
    Frames,
    XmlDocument,
    by_name,
    first_text,
    is_blank,
    local,
    person_name,
    read_xml_guarded,
    with_file_rejects,
    xml_frames,
)

SOURCE_ATOM: Final = "arxiv_atom"

_ATOM_ELEMENT: Final = re.compile(rb"<(?:[\w.-]+:)?(?:feed|entry)[\s>/]")
_ARXIV_MARK: Final = re.compile(rb"arxiv\.org/(?:abs|api|schemas/atom)")

# arXiv categories: archive (hep-th, astro-ph, cs...) with an optional subject class (cs.CL,
# astro-ph.CO, cond-mat.mes-hall, physics.acc-ph). Atom feeds also carry MSC/ACM codes
# ("53D10, 53D15", "F.2.2; E.1") and the odd "null" as category terms: those are not categories.
_ARXIV_CATEGORY: Final = re.compile(
    r"^(?:[a-z]+-[a-z]+|[a-z]+(?:-[a-z]+)?\.(?:[A-Z]{2}|[a-z]+(?:-[a-z]+)?)"
    r"|cs|econ|eess|math|nlin|physics|stat)$"
)


def sniff_arxiv_atom(head: bytes) -> bool:
    """A file's first bytes -> whether it is an arXiv API Atom response: a <feed> (legacy or 2026
    layout) or arXiv <entry> elements under some other root element."""
    return (
        head.lstrip(PADDING)[:1] == b"<"
        and not OAI_ROOT.search(head)
        and bool(_ATOM_ELEMENT.search(head))
        and bool(_ARXIV_MARK.search(head))
    )


def _arxiv_categories(terms: Iterable[str | None]) -> list[str]:
    """Category terms that are arXiv categories, first occurrence kept, in order."""
    kept: dict[str, None] = {}
    for term in terms:
        category = (term or "").strip()
        if _ARXIV_CATEGORY.match(category):
            kept.setdefault(category)
    return list(kept)


def _atom_entry(entry: ET.Element) -> dict[str, Any] | str:
    """An Atom <entry> -> its fields, or the reason it is not a paper."""
    children = by_name(entry)
    # StringologyTimes also keeps the bare id in an attribute: a fallback when <id> is missing.
    arxiv_id = first_text(children, "id") or entry.get("id")
    title = first_text(children, "title")
    summary = first_text(children, "summary")
    if arxiv_id is not None and "arxiv.org/api/errors" in arxiv_id:
        # The API answers a bad query with HTTP 200 and an entry titled "Error".
        return f"arXiv API error entry: {(summary or title or arxiv_id).strip()}"
    if is_blank(arxiv_id) and is_blank(title):
        return "entry has no id and no title"
    authors = [person_name([first_text(by_name(a), "name")]) for a in children.get("author", [])]
    terms = [c.get("term") for c in children.get("primary_category", [])]
    terms += [c.get("term") for c in children.get("category", [])]
    return {
        "arxiv_id_raw": arxiv_id,
        "title_raw": title,
        "abstract_raw": summary,
        "doi": first_text(children, "doi"),
        "authors": [name for name in authors if name],
        "categories": _arxiv_categories(terms),
        "published": first_text(children, "published"),
        "updated": first_text(children, "updated"),
        "comments": first_text(children, "comment"),
        "journal_ref": first_text(children, "journal_ref"),
        "license": None,
    }


def read_arxiv_atom(data: bytes, source_file: str) -> Frames:
    """An arXiv API Atom response (legacy or 2026 layout, or entries under a foreign root element)
    -> (records: RawRecords, rejects: Rejected).

    record_index counts <entry> elements; line is where each starts. API error entries and entries
    without id and title are parse rejects; a file that is not this format, or malformed XML, is one
    read reject (entries completed before a break in the XML are kept). A feed with no entries (a
    query without results) gives no records and no rejects. A document that declares entities is
    refused whole (one read reject).
    """
    if not sniff_arxiv_atom(data[:SNIFF_BYTES]):
        return not_this_format(
            source_file, "not an arXiv API Atom response: expected <feed> or <entry> elements", data
        )
    return read_xml_guarded(_read_atom, data, source_file, "entry")


def _read_atom(document: XmlDocument, data: bytes, source_file: str) -> Frames:
    frames = xml_frames(document, _atom_entry, source_file, SOURCE_ATOM)
    problems = []
    if document.error is not None:
        problems.append(
            f"malformed XML after {len(document.records)} complete entries: {document.error}"
        )
    elif not document.records and local(document.root.tag) != "feed":
        problems.append(f"no Atom entries under the <{local(document.root.tag)}> root element")
    return with_file_rejects(frames, source_file, problems, data)
