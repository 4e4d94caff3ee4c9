"""Reader for arXiv OAI-PMH ListRecords pages (metadataPrefix=arXiv), and their resumptionToken."""

from __future__ import annotations

import re
from typing import Any, Final
from xml.etree import ElementTree as ET

from papers.readers.arxiv_common import PADDING, SNIFF_BYTES, not_this_format
from papers.readers.arxiv_xml import (
    OAI_ROOT,
    Frames,
    XmlDocument,
    is_blank,
    person_name,
    read_xml_guarded,
    safe_fromstring,
    text,
    with_file_rejects,
    xml_frames,
)

SOURCE_OAI: Final = "arxiv_oai"

# First pages name the prefix in <request>; resumed pages only show the metadata namespace (the
# trailing slash keeps arXivRaw, a different layout, out).
_OAI_ARXIV: Final = re.compile(
    rb"""metadataPrefix\s*=\s*["']arXiv["']|http://arxiv\.org/OAI/arXiv/"""
)

_OAI: Final = "{http://www.openarchives.org/OAI/2.0/}"
_ARXIV: Final = "{http://arxiv.org/OAI/arXiv/}"


def sniff_arxiv_oai(head: bytes) -> bool:
    """A file's first bytes -> whether it is an OAI-PMH response in the arXiv metadata format."""
    return (
        head.lstrip(PADDING)[:1] == b"<"
        and bool(OAI_ROOT.search(head))
        and bool(_OAI_ARXIV.search(head))
    )


def _oai_record(record: ET.Element) -> dict[str, Any] | str:
    """An OAI <record> -> its fields, or the reason it is not a paper."""
    header = record.find(f"{_OAI}header")
    identifier = text(header, f"{_OAI}identifier") or "without identifier"
    # OAI-PMH marks deletions on <header>; some writers put the attribute on <record>.
    statuses = {record.get("status"), None if header is None else header.get("status")}
    if "deleted" in statuses:
        return f"deleted record {identifier} (OAI status deleted, no metadata)"
    meta = record.find(f"{_OAI}metadata/{_ARXIV}arXiv")
    if meta is None:
        return f"record {identifier} has no arXiv metadata"
    arxiv_id, title = text(meta, f"{_ARXIV}id"), text(meta, f"{_ARXIV}title")
    if is_blank(arxiv_id) and is_blank(title):
        return f"record {identifier} has no arXiv id and no title"
    authors = [
        person_name(
            author.findtext(f"{_ARXIV}{part}") for part in ("forenames", "keyname", "suffix")
        )
        for author in meta.iterfind(f"{_ARXIV}authors/{_ARXIV}author")
    ]
    return {
        "arxiv_id_raw": arxiv_id,
        "title_raw": title,
        "abstract_raw": text(meta, f"{_ARXIV}abstract"),
        "doi": text(meta, f"{_ARXIV}doi"),
        "authors": [name for name in authors if name],
        "categories": (text(meta, f"{_ARXIV}categories") or "").split(),
        "published": text(meta, f"{_ARXIV}created"),
        "updated": text(meta, f"{_ARXIV}updated"),
        "comments": text(meta, f"{_ARXIV}comments"),
        "journal_ref": text(meta, f"{_ARXIV}journal-ref"),
        "license": text(meta, f"{_ARXIV}license"),
    }


def read_arxiv_oai(data: bytes, source_file: str) -> Frames:
    """One OAI-PMH ListRecords page (metadataPrefix=arXiv) -> (records: RawRecords, rejects).

    record_index counts <record> elements (deleted ones included; the resumptionToken is not a
    record); line is where each starts. Deleted records and records without id and title are parse
    rejects; an OAI-PMH <error> response, a page that is not this format, or malformed XML is one
    read reject (records completed before a break in the XML are kept). A document that declares
    entities is refused whole (one read reject).
    """
    if not sniff_arxiv_oai(data[:SNIFF_BYTES]):
        return not_this_format(
            source_file,
            "not an arXiv OAI-PMH page: expected an OAI-PMH response with metadataPrefix=arXiv",
            data,
        )
    return read_xml_guarded(_read_oai, data, source_file, "record")


def _read_oai(document: XmlDocument, data: bytes, source_file: str) -> Frames:
    frames = xml_frames(document, _oai_record, source_file, SOURCE_OAI)
    problems = [
        f"OAI-PMH error {error.get('code', '?')}: {(error.text or '').strip()}"
        for error in document.root.iterfind(f"{_OAI}error")
    ]
    if document.error is not None:
        problems.append(
            f"malformed XML after {len(document.records)} complete records: {document.error}"
        )
    return with_file_rejects(frames, source_file, problems, data)


def oai_resumption_token(data: bytes) -> str | None:
    """An OAI-PMH ListRecords page -> the resumptionToken for the next page; None on the last page
    (empty or no token) and for a noRecordsMatch answer.

    Raises ValueError when `data` is not a complete OAI-PMH response or is any other OAI-PMH error:
    a truncated download has no token either, and must be fetched again, not end the harvest.
    """
    try:
        root = safe_fromstring(data)
    except ET.ParseError as exc:
        msg = f"not a complete XML document: {exc}"
        raise ValueError(msg) from exc
    if root.tag != f"{_OAI}OAI-PMH":
        msg = f"not an OAI-PMH response (root element {root.tag})"
        raise ValueError(msg)
    for error in root.iterfind(f"{_OAI}error"):
        if error.get("code") == "noRecordsMatch":
            return None
        msg = f"OAI-PMH error {error.get('code')}: {(error.text or '').strip()}"
        raise ValueError(msg)
    token = (root.findtext(f"{_OAI}ListRecords/{_OAI}resumptionToken") or "").strip()
    return token or None
