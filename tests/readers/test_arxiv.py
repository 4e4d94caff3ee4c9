"""arxiv: Kaggle snapshot, OAI-PMH and Atom API files into raw records; bad input rejected, not raised."""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from papers.readers.arxiv import (
    SOURCE_ATOM,
    SOURCE_OAI,
    SOURCE_SNAPSHOT,
    oai_resumption_token,
    read_arxiv_atom,
    read_arxiv_oai,
    read_arxiv_snapshot,
    sniff_arxiv_atom,
    sniff_arxiv_oai,
    sniff_arxiv_snapshot,
)
from schemas import RawRecords, Rejected

UTC = dt.UTC
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "arxiv"


def checked(records: pl.DataFrame, rejects: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    RawRecords.validate(records)
    Rejected.validate(rejects)
    return records, rejects


def snapshot(path: Path, batch_rows: int = 100_000) -> tuple[pl.DataFrame, pl.DataFrame]:
    batches = list(read_arxiv_snapshot(path, f"arxiv/{path.name}", batch_rows))
    for records, rejects in batches:
        checked(records, rejects)
    return pl.concat([b[0] for b in batches]), pl.concat([b[1] for b in batches])


def oai(name: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    return checked(*read_arxiv_oai((FIXTURES / name).read_bytes(), f"arxiv/{name}"))


def atom(name: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    return checked(*read_arxiv_atom((FIXTURES / name).read_bytes(), f"arxiv/{name}"))


def record(records: pl.DataFrame, index: int) -> dict[str, Any]:
    return records.filter(pl.col("record_index") == index).row(0, named=True)


def reasons(rejects: pl.DataFrame) -> list[tuple[int | None, str, str]]:
    return list(rejects.select("record_index", "stage", "reason").iter_rows())


# --- sniffing -------------------------------------------------------------------------------

HF_DAILY_HEAD = (
    b'[{"paper": {"id": "2405.12345", "authors": [{"_id": "x", "name": "A"}], "title": "T"'
)
GENERIC_ATOM_HEAD = (
    b'<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
    b"<title>Someone's blog</title><entry><id>tag:example.org,2024:1</id></entry></feed>"
)
ARXIV_RAW_HEAD = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
    b'<request verb="ListRecords" metadataPrefix="arXivRaw">http://export.arxiv.org/oai2</request>'
    b'<ListRecords><record><header/><metadata><arXivRaw xmlns="http://arxiv.org/OAI/arXivRaw/">'
)


def head(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()[:4096]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("snapshot.jsonl", (True, False, False)),
        ("snapshot_broken.jsonl", (True, False, False)),
        ("snapshot_array.json", (True, False, False)),
        ("oai_page.xml", (False, True, False)),
        ("oai_handmade.xml", (False, True, False)),  # a resumed page: no metadataPrefix in it
        ("atom_legacy.xml", (False, False, True)),
        ("atom_2026.xml", (False, False, True)),
        ("atom_stringology.xml", (False, False, True)),
        ("atom_api_error.xml", (False, False, True)),
    ],
)
def test_each_sniff_accepts_its_format_only(name: str, expected: tuple[bool, bool, bool]) -> None:
    data = head(name)
    assert (sniff_arxiv_snapshot(data), sniff_arxiv_oai(data), sniff_arxiv_atom(data)) == expected


@pytest.mark.parametrize(
    "data",
    [
        HF_DAILY_HEAD,
        GENERIC_ATOM_HEAD,
        ARXIV_RAW_HEAD,
        b'{"count": 1, "next": null, "results": [{"id": "x", "arxiv_id": "1706.03762"}]}',
        b'{"error": "Sorry, we can\'t find the page you are looking for."}',
        b"Title: A paper\nPDF: https://arxiv.org/pdf/2401.01234\n",
        b"",
        b"\x1f\x8b\x08\x00garbage",
    ],
)
def test_no_sniff_accepts_other_formats(data: bytes) -> None:
    assert not sniff_arxiv_snapshot(data)
    assert not sniff_arxiv_oai(data)
    assert not sniff_arxiv_atom(data)


def test_snapshot_sniff_sees_through_gzip() -> None:
    compressed = gzip.compress((FIXTURES / "snapshot.jsonl").read_bytes())
    assert sniff_arxiv_snapshot(compressed[:4096])
    assert not sniff_arxiv_snapshot(gzip.compress(HF_DAILY_HEAD))


# --- Kaggle snapshot ------------------------------------------------------------------------


def test_snapshot_lines() -> None:
    records, rejects = snapshot(FIXTURES / "snapshot.jsonl")
    assert rejects.height == 0
    assert records["record_index"].to_list() == [0, 1, 2, 3]
    assert records["line"].to_list() == [1, 2, 3, 4]
    assert records["source"].unique().to_list() == [SOURCE_SNAPSHOT]
    first = record(records, 0)
    line = (FIXTURES / "snapshot.jsonl").read_text("utf-8").split("\n")[0]
    assert first == first | {
        "source_file": "arxiv/snapshot.jsonl",
        "arxiv_id_raw": "0704.0001",
        "title_raw": "Calculation of prompt diphoton production cross sections at Tevatron and\n"
        "  LHC energies",
        "doi": "10.1103/PhysRevD.76.013009",
        # from authors_parsed, which has the accent decoded (the authors string has Bal\'azs)
        "authors": ["C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C. -P. Yuan"],
        "categories": ["hep-ph"],
        "published_at": dt.datetime(2007, 4, 2, 19, 18, 42, tzinfo=UTC),  # versions[0].created
        "updated_at": dt.datetime(2008, 11, 26, tzinfo=UTC),
        "listing_date": None,
        "comments": "37 pages, 15 figures; published version",
        "journal_ref": "Phys.Rev.D76:013009,2007",
        "license": None,
        "raw": line,
    }
    assert first["abstract_raw"].startswith("  A fully differential calculation")
    assert first["abstract_raw"].endswith("selection of events.\n")
    second = record(records, 1)
    assert second["categories"] == ["math.CO", "cs.CG"]  # primary first
    assert (second["doi"], second["journal_ref"]) == (None, None)
    suffix = record(records, 2)
    assert "Neal J. Evans II" in suffix["authors"]
    assert suffix["comments"] is None
    # a 4th authors_parsed element is an affiliation ("1 and 2"), not part of the name
    affiliated = record(records, 3)
    assert affiliated["authors"][:2] == ["A. S. Mishchenko", "N. Nagaosa"]
    assert affiliated["categories"] == ["cond-mat.str-el", "cond-mat.stat-mech"]


def test_snapshot_gzip_reads_like_plain(tmp_path: Path) -> None:
    plain = FIXTURES / "snapshot.jsonl"
    packed = tmp_path / "snapshot.jsonl.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    records, rejects = snapshot(packed)
    expected, _ = snapshot(plain)
    assert rejects.height == 0
    assert_frame_equal(records.drop("source_file"), expected.drop("source_file"))


def test_snapshot_broken_lines_are_rejected_one_by_one() -> None:
    records, rejects = snapshot(FIXTURES / "snapshot_broken.jsonl")
    # line 2 is blank: not a record, not a reject
    assert records["record_index"].to_list() == [0, 5, 7]
    assert reasons(rejects) == [
        (2, "parse", "invalid JSON: Unterminated string starting at (column 27) (line 3)"),
        (3, "parse", "record has no arXiv id and no title (line 4)"),
        (4, "parse", "not a JSON object but a JSON list (line 5)"),
        (6, "parse", "not valid UTF-8 (byte 31) (line 7)"),
    ]
    assert rejects["raw"][0] == '{"id":"0704.0099","title":"Truncated line'
    old = record(records, 0)
    assert old["arxiv_id_raw"] == "hep-th/9901001"
    # no authors_parsed: the authors string split on "," and " and ", TeX accent as given
    assert old["authors"] == ["A. Einstein", "B. Podolsky", "N. Ros\\'en"]
    assert old["categories"] == ["hep-th", "math-ph"]
    assert old["published_at"] == dt.datetime(1999, 1, 1, 0, 0, 1, tzinfo=UTC)
    crlf = record(records, 5)
    assert not crlf["raw"].endswith("\r")
    assert crlf["authors"] == ["Jane Doe Jr."]
    # versions of another shape and an unreadable update_date cost the dates, not the record
    assert (crlf["published_at"], crlf["updated_at"]) == (None, None)
    assert record(records, 7)["arxiv_id_raw"] == "704.0102"  # a number, kept as written


def test_bad_line_among_real_ones(tmp_path: Path) -> None:
    real = (FIXTURES / "snapshot.jsonl").read_bytes().split(b"\n")
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"\n".join([real[0], real[1], b'{"id": "0704.0003", "title": }', *real[2:]]))
    records, rejects = snapshot(path)
    assert records["record_index"].to_list() == [0, 1, 3, 4]
    assert records["arxiv_id_raw"].to_list() == ["0704.0001", "0704.0002", "0704.0009", "0704.0025"]
    assert reasons(rejects) == [(2, "parse", "invalid JSON: Expecting value (column 30) (line 3)")]


def test_bom_and_crlf_change_nothing(tmp_path: Path) -> None:
    plain = FIXTURES / "snapshot.jsonl"
    path = tmp_path / "windows.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + plain.read_bytes().replace(b"\n", b"\r\n"))
    assert_frame_equal(
        snapshot(path)[0].drop("source_file"), snapshot(plain)[0].drop("source_file")
    )


def test_odd_authors_parsed_only_costs_its_own_row(tmp_path: Path) -> None:
    real = (FIXTURES / "snapshot.jsonl").read_bytes().split(b"\n")[:2]
    odd = b'{"id": "0704.0003", "title": "T", "authors": "A. B and C. D", "authors_parsed": "A. B"}'
    path = tmp_path / "odd.jsonl"
    path.write_bytes(b"\n".join([*real, odd]))
    records, rejects = snapshot(path)
    assert rejects.height == 0
    assert records["authors"].to_list() == [
        ["C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C. -P. Yuan"],
        ["Ileana Streinu", "Louis Theran"],
        ["A. B", "C. D"],  # from the authors string
    ]


def test_authors_parsed_escapes_are_read_as_written(tmp_path: Path) -> None:
    # polars' String read of a nested value drops the escaping of backslashes ("Fran\\ccois" came
    # back as "Fran\ccois", no longer JSON): such names once fell back to the authors string.
    lines = [
        rb'{"id": "1501.06634", "title": "T", "authors": "Fran\\c{c}ois Charpillet",'
        rb' "authors_parsed": [["Charpillet", "Fran\\ccois", ""]]}',
        rb'{"id": "0704.0002", "title": "T", "authors": "x", "authors_parsed":'
        rb' [["O\"Brien", "Tab\tbed", ""], ["Back\\\\slash", "A.", "Jr"]]}',
    ]
    path = tmp_path / "escapes.jsonl"
    path.write_bytes(b"\n".join(lines))
    for batch_rows in (1, 100_000):
        records, rejects = snapshot(path, batch_rows)
        assert rejects.height == 0
        assert records["authors"].to_list() == [
            ["Fran\\ccois Charpillet"],
            ['Tab bed O"Brien', "A. Back\\\\slash Jr"],
        ]


def test_authors_parsed_of_another_shape_reads_the_same_in_any_batch(tmp_path: Path) -> None:
    shapes = [b'"A. B"', b"1", b"true", b'{"a": 1}', b'["a", ["b"]]', b"[null]", b"[]", b"null"]
    odd = [
        b'{"id": "0704.%04d", "title": "T", "authors": "A. B and C. D", "authors_parsed": %s}'
        % (i, shape)
        for i, shape in enumerate(shapes)
    ]
    real = (FIXTURES / "snapshot.jsonl").read_bytes().split(b"\n")[:2]
    broken = b'{"id": "0704.0099", "title": }'
    path = tmp_path / "shapes.jsonl"
    path.write_bytes(b"\n".join([real[0], *odd, broken, real[1]]))
    expected = [["C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C. -P. Yuan"]]
    expected += [["A. B", "C. D"]] * len(shapes) + [["Ileana Streinu", "Louis Theran"]]
    for batch_rows in (1, 4, 100_000):
        records, rejects = snapshot(path, batch_rows)
        assert records["authors"].to_list() == expected
        assert reasons(rejects) == [
            (9, "parse", "invalid JSON: Expecting value (column 30) (line 10)"),
        ]


@pytest.mark.parametrize("name", ["snapshot.jsonl", "snapshot_broken.jsonl", "snapshot_array.json"])
@pytest.mark.parametrize("batch_rows", [1, 2, 3])
def test_small_batches_give_the_same_rows(name: str, batch_rows: int) -> None:
    whole = snapshot(FIXTURES / name)
    streamed = snapshot(FIXTURES / name, batch_rows)
    assert_frame_equal(streamed[0], whole[0])
    assert_frame_equal(streamed[1], whole[1])


def test_batches_are_streamed(tmp_path: Path) -> None:
    batches = list(read_arxiv_snapshot(FIXTURES / "snapshot.jsonl", "s", batch_rows=3))
    assert [b[0]["record_index"].to_list() for b in batches] == [[0, 1, 2], [3]]


def test_truncated_gzip_keeps_the_lines_before_the_break(tmp_path: Path) -> None:
    # ~2 MB of lines, so the stream breaks after the first 1 MiB block was read
    lines = (FIXTURES / "snapshot.jsonl").read_bytes() * 300
    packed = gzip.compress(lines)
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(packed[: len(packed) * 3 // 4])
    records, rejects = snapshot(path)
    assert records.height > 100
    assert records["record_index"].to_list() == list(range(records.height))
    file_level = rejects.filter(pl.col("record_index").is_null())
    assert file_level["stage"].to_list() == ["read"]
    assert file_level["reason"].item().startswith("gzip stream is corrupt or truncated after line")


def test_snapshot_array_variant() -> None:
    records, rejects = snapshot(FIXTURES / "snapshot_array.json")
    assert rejects.height == 0
    assert records["record_index"].to_list() == [0, 1, 2, 3]
    assert records["line"].to_list() == [2, 16, 30, 44]  # where each element starts
    first = record(records, 0)
    # no authors_parsed and no versions in this hand-assembled file
    assert first["authors"] == ["C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C.-P. Yuan"]
    assert first["published_at"] is None
    assert first["updated_at"] == dt.datetime(2008, 11, 26, tzinfo=UTC)
    assert first["raw"].startswith('{\r\n    "id": "0704.0001",')
    assert first["raw"].endswith('"update_date": "2008-11-26"\r\n  }')
    assert record(records, 3)["categories"] == ["cs.CV", "cs.AI", "cs.CL", "cs.LG"]


def test_truncated_json_array(tmp_path: Path) -> None:
    data = (FIXTURES / "snapshot_array.json").read_bytes()
    path = tmp_path / "cut.json"
    path.write_bytes(data[: data.index(b'"id": "2401.02954"')])
    records, rejects = snapshot(path)
    assert records["record_index"].to_list() == [0, 1, 2]
    assert [(i, s) for i, s, _ in reasons(rejects)] == [(None, "read")]
    assert rejects["reason"].item().startswith("malformed JSON array after 3 elements")


@pytest.mark.parametrize(
    "content",
    [HF_DAILY_HEAD + b"}}]", b"", b"just text\n", gzip.compress(b"not json either\n")],
)
def test_not_a_snapshot_is_one_read_reject(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "other.json"
    path.write_bytes(content)
    records, rejects = snapshot(path)
    assert records.height == 0
    assert [(i, s) for i, s, _ in reasons(rejects)] == [(None, "read")]
    assert rejects["reason"].item().startswith("not an arXiv metadata snapshot")
    assert rejects["raw"].item() is not None


# --- OAI-PMH --------------------------------------------------------------------------------


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


# --- Atom API -------------------------------------------------------------------------------


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
