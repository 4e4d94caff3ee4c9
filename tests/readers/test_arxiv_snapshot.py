"""arxiv_snapshot: Kaggle snapshot JSON lines (plain or gzip) into raw records, streamed in batches;
bad lines rejected one by one, not raised."""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path

import polars as pl
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from papers.readers.arxiv_snapshot import (
    _csv_lines,
    _line_frame,
    read_arxiv_snapshot,
    sniff_arxiv_snapshot,
)
from papers.readers.arxiv_snapshot_records import SOURCE_SNAPSHOT
from papers.stages.normalize import doi as normalized_doi
from tests.readers.arxiv_cases import (
    FIXTURES,
    HF_DAILY_HEAD,
    reasons,
    record,
    snapshot,
)

UTC = dt.UTC


def test_snapshot_sniff_sees_through_gzip() -> None:
    compressed = gzip.compress((FIXTURES / "snapshot.jsonl").read_bytes())
    assert sniff_arxiv_snapshot(compressed[:4096])
    assert not sniff_arxiv_snapshot(gzip.compress(HF_DAILY_HEAD))


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


def test_snapshot_doi_field_with_two_dois_keeps_the_papers() -> None:
    # real line: the doi field lists the paper's DOI, then its erratum's
    records, _ = snapshot(FIXTURES / "snapshot_two_dois.jsonl")
    doi = records["doi"].to_list()
    assert doi == ["10.1364/JOSAA.23.002578"]
    assert records.select(normalized_doi(pl.col("doi")))["doi"].to_list() == [doi[0].lower()]


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


@pytest.mark.parametrize(
    "content",
    [HF_DAILY_HEAD + b"}}]", b"", b"just text\n", gzip.compress(b"not json either\n", mtime=0)],
)
def test_not_a_snapshot_is_one_read_reject(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "other.json"
    path.write_bytes(content)
    records, rejects = snapshot(path)
    assert records.height == 0
    assert [(i, s) for i, s, _ in reasons(rejects)] == [(None, "read")]
    assert rejects["reason"].item().startswith("not an arXiv metadata snapshot")
    assert rejects["raw"].item() is not None


def _split_lines(chunk: bytes) -> list[str]:
    # the lines as `_line_frame` reads them without the CSV reader
    lines = (chunk[:-1] if chunk.endswith(b"\n") else chunk).split(b"\n")
    return [line.decode("utf-8", errors="replace").removesuffix("\r") for line in lines]


_CHUNK_BYTES = [
    b"\n",
    b"\r",
    b"\x1f",
    b"\xef\xbb\xbf",
    b"\xff",
    b'"',
    b",",
    b" ",
    b"\t",
    b"{}",
    b"a",
]


@settings(max_examples=300, deadline=None)
@example(b'{"id": "1"}\n\n{"id": "2"}\n')
@example(b"a\r\r\nb\r")
@example(b"\x1f\x8b\x08\x00")
@given(
    st.tuples(
        st.sampled_from([b"", b"{"]),  # the CSV reader is tried on chunks opening with {
        st.lists(st.sampled_from(_CHUNK_BYTES), min_size=1, max_size=20).map(b"".join),
    ).map(b"".join)
)
def test_line_frame_reads_each_line_as_split(chunk: bytes) -> None:
    frame = _line_frame(chunk, 5)
    assert frame["raw"].to_list() == _split_lines(chunk)
    assert frame["record_index"].to_list() == list(range(5, 5 + frame.height))
    assert frame["line"].to_list() == list(range(6, 6 + frame.height))


def test_csv_lines_are_used_for_plain_json_lines() -> None:
    # the fast path is taken where it is safe (the test above checks it agrees)
    assert _csv_lines(b'{"a": "x, \\"y\\""}\n\n{"b": 2}') is not None
    assert _csv_lines(b'{"a": 1}\r\n') is None
    assert _csv_lines(b'\x1f\x8b\x08\x00{"a": 1}\n') is None  # never inflated
