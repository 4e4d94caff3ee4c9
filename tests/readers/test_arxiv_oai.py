"""arxiv_oai: OAI-PMH ListRecords pages into raw records, and their resumptionToken."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from papers.readers.arxiv_oai import SOURCE_OAI, oai_resumption_token, read_arxiv_oai
from tests.readers.arxiv_cases import FIXTURES, checked, reasons, record

UTC = dt.UTC


def oai(name: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    return checked(*read_arxiv_oai((FIXTURES / name).read_bytes(), f"arxiv/{name}"))


def test_oai_page() -> None:
    records, rejects = oai("oai_page.xml")
    assert rejects.height == 0  # the resumptionToken is not a record
    assert records["record_index"].to_list() == [0, 1, 2, 3, 4, 5]
    assert records["source"].unique().to_list() == [SOURCE_OAI]
    first = record(records, 0)
    assert first == first | {
        "line": 6,
        "arxiv_id_raw": "0704.0002",
        "title_raw": "Sparsity-certifying Graph Decompositions",
        "authors": ["Ileana Streinu", "Louis Theran"],
        "categories": ["math.CO", "cs.CG"],
        "published_at": dt.datetime(2007, 3, 30, tzinfo=UTC),  # <created>
        "updated_at": dt.datetime(2008, 12, 13, tzinfo=UTC),
        "comments": "To appear in Graphs and Combinatorics",
        "license": "http://arxiv.org/licenses/nonexclusive-distrib/1.0/",
        "doi": None,
        "journal_ref": None,
    }
    assert first["abstract_raw"].startswith("  We describe a new algorithm")
    assert first["abstract_raw"].endswith("Westermann and Hendrickson.\n")
    assert first["raw"].startswith("<record>\n<header>\n <identifier>oai:arXiv.org:0704.0002")
    assert first["raw"].endswith("</record>")
    # numeric character references decoded by the parser
    assert record(records, 1)["authors"] == ["Rastislav Šrámek", "Broňa Brejová", "Tomáš Vinař"]
    # suffix appended; the keyname keeps its comma as given
    assert record(records, 2)["authors"][1] == "Robert W. Heath, Jr."
    # TeX braces kept, affiliations left out
    assert record(records, 3)["authors"][2] == "Mohamed Ka{â}niche"
    # authors without forenames, as given (upstream split "Youjian Liu" in two)
    assert record(records, 4)["authors"] == ["Wei Dai", "Youjian", "Liu", "Brian Rider"]
    withdrawn = record(records, 5)
    assert withdrawn["abstract_raw"] == "  This paper has been withdrawn.\n"
    assert withdrawn["updated_at"] == dt.datetime(2008, 2, 3, tzinfo=UTC)


def test_oai_records_that_are_not_papers() -> None:
    records, rejects = oai("oai_handmade.xml")
    assert records["arxiv_id_raw"].to_list() == ["0704.0001"]
    assert record(records, 0)["authors"] == ["C. Balázs", "C. -P. Yuan"]
    assert reasons(rejects) == [
        (
            1,
            "parse",
            "deleted record oai:arXiv.org:0704.0003 (OAI status deleted, no metadata) (line 21)",
        ),
        (
            2,
            "parse",
            "deleted record oai:arXiv.org:0704.0004 (OAI status deleted, no metadata) (line 28)",
        ),
        (3, "parse", "record oai:arXiv.org:0704.0005 has no arXiv metadata (line 34)"),
        (4, "parse", "record oai:arXiv.org:0704.0006 has no arXiv id and no title (line 40)"),
    ]
    assert rejects["raw"][0].startswith('<record>\n<header status="deleted">')


def test_truncated_oai_page_keeps_complete_records() -> None:
    data = (FIXTURES / "oai_page.xml").read_bytes()
    cut = data[: data.index(b"<id>0704.0858</id>")]
    records, rejects = checked(*read_arxiv_oai(cut, "cut.xml"))
    assert records["arxiv_id_raw"].to_list() == ["0704.0002", "0704.0062", "0704.0802"]
    assert [(i, s) for i, s, _ in reasons(rejects)] == [(None, "read")]
    assert rejects["reason"].item().startswith("malformed XML after 3 complete records:")


def test_oai_error_response_is_one_read_reject() -> None:
    data = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
        b"<responseDate>2024-01-01T00:00:00Z</responseDate>"
        b'<request verb="ListRecords" metadataPrefix="arXiv" from="2030-01-01">'
        b"http://export.arxiv.org/oai2</request>"
        b'<error code="noRecordsMatch">No records match</error></OAI-PMH>'
    )
    records, rejects = checked(*read_arxiv_oai(data, "empty.xml"))
    assert records.height == 0
    assert reasons(rejects) == [(None, "read", "OAI-PMH error noRecordsMatch: No records match")]
    assert oai_resumption_token(data) is None


@pytest.mark.parametrize("name", ["atom_legacy.xml", "snapshot.jsonl"])
def test_not_oai_is_one_read_reject(name: str) -> None:
    records, rejects = oai(name)
    assert records.height == 0
    assert [(i, s) for i, s, _ in reasons(rejects)] == [(None, "read")]
    assert rejects["reason"].item().startswith("not an arXiv OAI-PMH page")


def test_resumption_token() -> None:
    page = (FIXTURES / "oai_page.xml").read_bytes()
    assert oai_resumption_token(page) == "1114880|1001"
    assert oai_resumption_token((FIXTURES / "oai_handmade.xml").read_bytes()) is None  # last page
    with pytest.raises(ValueError, match="not a complete XML document"):
        oai_resumption_token(page[:5000])  # a truncated download must be fetched again
    bad_token = page.replace(b"<ListRecords>", b'<error code="badResumptionToken">gone</error>', 1)
    bad_token = bad_token[: bad_token.index(b"<record>")] + b"</OAI-PMH>"
    with pytest.raises(ValueError, match="badResumptionToken"):
        oai_resumption_token(bad_token)


def test_resumption_token_refuses_a_page_that_declares_entities() -> None:
    page = (FIXTURES / "oai_page.xml").read_bytes()
    doctype = b'<!DOCTYPE OAI-PMH [<!ENTITY t "1114880|1001">]>\n'
    at = page.index(b"<OAI-PMH")
    hostile = page[:at] + doctype + page[at:].replace(b"1114880|1001", b"&t;", 1)
    assert b"&t;" in hostile
    with pytest.raises(ValueError, match="declares entities"):
        oai_resumption_token(hostile)
