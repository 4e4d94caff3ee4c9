"""arxiv_atom: arXiv API Atom responses (legacy, 2026, foreign root) into raw records."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from papers.readers.arxiv_atom import SOURCE_ATOM, read_arxiv_atom
from tests.readers.arxiv_cases import FIXTURES, checked, reasons, record

UTC = dt.UTC


def atom(name: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    return checked(*read_arxiv_atom((FIXTURES / name).read_bytes(), f"arxiv/{name}"))


def test_atom_legacy_layout() -> None:
    records, rejects = atom("atom_legacy.xml")
    assert rejects.height == 0
    assert records["source"].unique().to_list() == [SOURCE_ATOM]
    first = record(records, 0)
    assert first == first | {
        "line": 10,
        "arxiv_id_raw": "http://arxiv.org/abs/1801.05533v1",
        "title_raw": "Einstein-Weyl structures on almost cosymplectic manifolds",
        "authors": ["Xiaomin Chen"],
        "categories": ["math.DG"],  # the MSC term "53D10, 53D15" is not an arXiv category
        "published_at": dt.datetime(2018, 1, 17, 3, 5, 51, tzinfo=UTC),
        "updated_at": dt.datetime(2018, 1, 17, 3, 5, 51, tzinfo=UTC),
        "comments": "12 pages, no figures",
        "doi": None,
        "license": None,
    }
    assert first["abstract_raw"].startswith("  In this article, we study the Einstein-Weyl")
    assert "\nmanifolds. First we prove" in first["abstract_raw"]
    assert first["raw"].startswith("<entry>\n    <id>http://arxiv.org/abs/1801.05533v1</id>")
    assert first["raw"].endswith("</entry>")
    second = record(records, 1)
    assert second["categories"] == ["math.DG"]  # "53C30; 53C25" dropped
    assert second["published_at"] == dt.datetime(2008, 2, 15, 4, 40, 56, tzinfo=UTC)
    assert second["updated_at"] == dt.datetime(2008, 4, 1, 4, 36, 21, tzinfo=UTC)


def test_atom_2026_layout() -> None:
    records, rejects = atom("atom_2026.xml")
    assert rejects.height == 0
    assert records["record_index"].to_list() == [0, 1, 2]
    first = record(records, 0)
    assert first["title_raw"] == (
        "Déjà vu: A Contextualized Temporal Attention Mechanism for Sequential Recommendation"
    )
    # primary_category (no scheme) first, repeated terms once
    assert first["categories"] == ["cs.IR", "cs.CL", "cs.LG"]
    assert first["authors"] == ["Jibang Wu", "Renqin Cai", "Hongning Wang"]
    assert "current prediction.\n  In this paper" in first["abstract_raw"]
    assert first["published_at"] == dt.datetime(2020, 1, 29, 20, 27, 42, tzinfo=UTC)
    last = record(records, 2)
    assert last["doi"] == "10.1016/j.mechmachtheory.2012.07.003"
    assert last["journal_ref"] == "Mechanism and Machine Theory 57 (2012) 62-70"
    assert last["comments"] == "Submitted to Mechanism and Machine Theory"


def test_atom_entries_under_a_foreign_root() -> None:
    records, rejects = atom("atom_stringology.xml")
    assert rejects.height == 0
    # the first entry declares the Atom namespace, the others have none: both are read
    assert records["arxiv_id_raw"].to_list() == [
        "http://arxiv.org/abs/1910.06169v1",
        "http://arxiv.org/abs/1910.04640v1",
        "http://arxiv.org/abs/1911.01763v1",
        "http://arxiv.org/abs/cs/0512061v3",
    ]
    assert record(records, 0)["categories"] == ["cs.DS", "cs.DB", "cs.IR", "cs.LG"]  # not E.1; ...
    bare = record(records, 1)
    assert bare["authors"] == ["Ferdinando Montecuollo", "Giovannni Schmid", "Roberto Tagliaferri"]
    assert bare["doi"] == "10.1093/bioinformatics/btx313"
    assert bare["raw"].startswith('<entry id="1910.04640">\n    <id>')
    assert record(records, 2)["categories"] == ["cs.DS"]  # a category term "null" dropped
    old = record(records, 3)
    assert old["published_at"] == dt.datetime(2005, 12, 15, 10, 28, 4, tzinfo=UTC)
    assert old["title_raw"] == "Matching Subsequences in Trees"


def test_atom_api_error_entry_is_rejected() -> None:
    records, rejects = atom("atom_api_error.xml")
    assert records.height == 0
    assert reasons(rejects) == [
        (0, "parse", "arXiv API error entry: incorrect id format for 1234.12345 (line 10)")
    ]


def test_atom_entry_without_id_and_title_and_empty_feed() -> None:
    data = (FIXTURES / "atom_2026.xml").read_bytes()
    blanked = data.replace(b"<id>http://arxiv.org/abs/1102.2017v2</id>", b"", 1)
    blanked = blanked.replace(
        b"<title>Synthesis of Mechanism for single- and hybrid-tasks using Differential Evolution"
        b"</title>",
        b"<title> </title>",
    )
    records, rejects = checked(*read_arxiv_atom(blanked, "blanked.xml"))
    assert records["record_index"].to_list() == [0, 2]
    assert reasons(rejects) == [(1, "parse", "entry has no id and no title (line 34)")]
    empty = data[: data.index(b"  <entry>")] + b"</feed>\n"
    records, rejects = checked(*read_arxiv_atom(empty, "empty.xml"))
    assert (records.height, rejects.height) == (0, 0)  # a query without results


def test_truncated_atom_keeps_complete_entries() -> None:
    data = (FIXTURES / "atom_stringology.xml").read_bytes()
    records, rejects = checked(*read_arxiv_atom(data[: len(data) // 2], "cut.xml"))
    assert records["record_index"].to_list() == [0]
    assert [(i, s) for i, s, _ in reasons(rejects)] == [(None, "read")]
    assert rejects["reason"].item().startswith("malformed XML after 1 complete entries:")


@pytest.mark.parametrize("name", ["oai_page.xml", "snapshot_array.json"])
def test_not_atom_is_one_read_reject(name: str) -> None:
    records, rejects = atom(name)
    assert records.height == 0
    assert [(i, s) for i, s, _ in reasons(rejects)] == [(None, "read")]
    assert rejects["reason"].item().startswith("not an arXiv API Atom response")
    assert len(rejects["raw"].item()) <= 2000


def test_raw_is_capped_at_2000_characters() -> None:
    long_abstract = b"x" * 5000
    data = (
        (FIXTURES / "atom_legacy.xml")
        .read_bytes()
        .replace(b"<summary>", b"<summary>" + long_abstract, 1)
    )
    records, _ = checked(*read_arxiv_atom(data, "long.xml"))
    assert len(record(records, 0)["raw"]) == 2000
    assert len(record(records, 0)["abstract_raw"]) > 5000
