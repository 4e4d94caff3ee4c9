"""What the arXiv reader tests share: the fixtures, the sniffing cases and frame helpers."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import polars as pl

from papers.readers.arxiv_snapshot import read_arxiv_snapshot
from schemas import RawRecords, Rejected

FIXTURES: Final = Path(__file__).resolve().parent.parent / "fixtures" / "arxiv"

HF_DAILY_HEAD: Final = (
    b'[{"paper": {"id": "2405.12345", "authors": [{"_id": "x", "name": "A"}], "title": "T"'
)
GENERIC_ATOM_HEAD: Final = (
    b'<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
    b"<title>Someone's blog</title><entry><id>tag:example.org,2024:1</id></entry></feed>"
)
ARXIV_RAW_HEAD: Final = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
    b'<request verb="ListRecords" metadataPrefix="arXivRaw">http://export.arxiv.org/oai2</request>'
    b'<ListRecords><record><header/><metadata><arXivRaw xmlns="http://arxiv.org/OAI/arXivRaw/">'
)

# Each fixture -> whether the (snapshot, OAI-PMH, Atom) sniffer accepts it: one of them, only.
SNIFFED: Final = [
    ("snapshot.jsonl", (True, False, False)),
    ("snapshot_broken.jsonl", (True, False, False)),
    ("snapshot_array.json", (True, False, False)),
    ("oai_page.xml", (False, True, False)),
    ("oai_handmade.xml", (False, True, False)),  # a resumed page: no metadataPrefix in it
    ("atom_legacy.xml", (False, False, True)),
    ("atom_2026.xml", (False, False, True)),
    ("atom_stringology.xml", (False, False, True)),
    ("atom_api_error.xml", (False, False, True)),
]
# Heads of other formats, which no arXiv sniffer accepts.
OTHER_FORMATS: Final = [
    HF_DAILY_HEAD,
    GENERIC_ATOM_HEAD,
    ARXIV_RAW_HEAD,
    b'{"count": 1, "next": null, "results": [{"id": "x", "arxiv_id": "1706.03762"}]}',
    b'{"error": "Sorry, we can\'t find the page you are looking for."}',
    b"Title: A paper\nPDF: https://arxiv.org/pdf/2401.01234\n",
    b"",
    b"\x1f\x8b\x08\x00garbage",
]


def head(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()[:4096]


def checked(records: pl.DataFrame, rejects: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    RawRecords.validate(records)
    Rejected.validate(rejects)
    return records, rejects


def snapshot(path: Path, batch_rows: int = 100_000) -> tuple[pl.DataFrame, pl.DataFrame]:
    batches = list(read_arxiv_snapshot(path, f"arxiv/{path.name}", batch_rows))
    for records, rejects in batches:
        checked(records, rejects)
    return pl.concat([b[0] for b in batches]), pl.concat([b[1] for b in batches])


def record(records: pl.DataFrame, index: int) -> dict[str, Any]:
    return records.filter(pl.col("record_index") == index).row(0, named=True)


def reasons(rejects: pl.DataFrame) -> list[tuple[int | None, str, str]]:
    return list(rejects.select("record_index", "stage", "reason").iter_rows())
