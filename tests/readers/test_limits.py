"""Read limits (params.yaml read.limits): huge files, huge records, gzip bombs, too many authors,
and XML entities. Each hostile input ends as a clear reject; memory stays bounded.

Inputs are generated in tmp at test time. The default slice uses small limits (same code paths,
seconds); `-m slow` runs the real sizes (50 MB single lines, a 1 GB gzip bomb) with the default
limits and measures the reading process's peak RSS.
"""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any, Final

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from papers.config import MIB, GenericSource, Params, ReadLimits, load_params
from papers.readers import iter_file, read_file
from papers.readers.limits import (
    BoundedLines,
    LimitExceededError,
    count_newlines,
    gunzip,
)
from schemas import RawRecords, Rejected

REPO: Final = Path(__file__).resolve().parents[2]
SECRET: Final = "SENTINEL-SECRET-d41d8cd98f00b204"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.integers(min_value=0, max_value=200))
def test_count_newlines_is_bytes_count(data: bytes, end: int) -> None:
    end = min(end, len(data))
    assert count_newlines(data) == data.count(b"\n")
    assert count_newlines(data, end) == data.count(b"\n", 0, end)


def _params(batch_rows: int = 100_000, **limits: int) -> Params:
    params = load_params(REPO / "params.yaml")
    jsonl = GenericSource.model_validate(
        {
            "name": "dump",
            "glob": "dump/*.jsonl",
            "format": "jsonl",
            "fields": {"arxiv_id_raw": "id", "title_raw": "title", "abstract_raw": "abstract"},
        }
    )
    read = params.read.model_copy(
        update={
            "limits": params.read.limits.model_copy(update=limits),
            "sources": (*params.read.sources, jsonl),
        }
    )
    parse = params.parse.model_copy(update={"batch_rows": batch_rows})
    return params.model_copy(update={"read": read, "parse": parse})


def snapshot_line(i: int, abstract: str = "An abstract.", authors: int = 2) -> str:
    names = [[f"Author{n}", "A.", ""] for n in range(authors)]
    return json.dumps(
        {
            "id": f"2401.{i:05d}",
            "submitter": "Some One",
            "authors": ", ".join(f"A. Author{n}" for n in range(authors)),
            "title": f"Paper {i}",
            "abstract": abstract,
            "categories": "cs.CL",
            "versions": [{"version": "v1", "created": "Mon, 1 Jan 2024 00:00:00 GMT"}],
            "update_date": "2024-01-02",
            "authors_parsed": names,
        }
    )


def hf_listing(abstracts: list[str]) -> bytes:
    return json.dumps(
        [
            {"paper": {"id": f"2402.{i:05d}", "title": f"Paper {i}", "summary": a}}
            for i, a in enumerate(abstracts)
        ]
    ).encode()


def page_text(abstracts: list[str]) -> bytes:
    blocks = [f"A title number {i}\n\n{a}" for i, a in enumerate(abstracts)]
    return ("Daily Papers\n\n" + "\n\n".join(blocks) + "\n").encode()


def read_all(
    path: Path, name: str, params: Params
) -> tuple[str | None, pl.DataFrame, pl.DataFrame]:
    reader, batches = iter_file(path, name, params)
    parts = list(batches)
    records = pl.concat([r for r, _ in parts])
    rejects = pl.concat([j for _, j in parts])
    RawRecords.validate(records)
    Rejected.validate(rejects)
    return reader, records, rejects


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# --- the stream wrapper and the bounded gunzip -------------------------------------------------


def test_bounded_lines_skips_long_lines_and_keeps_numbering() -> None:
    data = b"short\n" + b"x" * 100 + b"\nok\n" + b"y" * 50 + b"\nlast" + b"z" * 40
    stream = BoundedLines(io.BytesIO(data), max_line=20)
    out = b"".join(iter(lambda: stream.read(7), b""))
    assert out.split(b"\n") == [b"short", b"", b"ok", b"", b""]
    oversized = stream.take_oversized("f", ReadLimits(max_record_bytes=20))
    assert oversized["record_index"].to_list() == [1, 3, 4]
    assert oversized["reason"].to_list()[0] == (
        "record is 101 bytes, over the limit read.limits.max_record_bytes = 20 (line 2)"
    )
    assert stream.stopped is None


@given(
    lines=st.lists(st.binary(max_size=30).map(lambda b: b.replace(b"\n", b"")), max_size=40),
    last_newline=st.booleans(),
    max_line=st.integers(1, 40),
    block=st.integers(1, 64),
)
@settings(max_examples=300, deadline=None)
def test_bounded_lines_matches_a_line_by_line_reading(
    lines: list[bytes], last_newline: bool, max_line: int, block: int
) -> None:
    """Whole blocks passed on at once (the fast path) or line by line: the same lines, blanks
    for the over-long ones, and the same numbering, whatever the read size."""
    data = b"\n".join(lines) + (b"\n" if last_newline and lines else b"")
    stream = BoundedLines(io.BytesIO(data), max_line=max_line)
    out = b"".join(iter(lambda: stream.read(block), b""))
    pieces = data.split(b"\n")
    expected = [b"" if len(line) > max_line else line for line in pieces]
    assert out.split(b"\n") == expected
    too_long = [i for i, line in enumerate(pieces) if len(line) > max_line]
    oversized = stream.take_oversized("f", ReadLimits(max_record_bytes=max_line))
    assert oversized["record_index"].to_list() == too_long


def test_bounded_lines_stops_at_the_total() -> None:
    stream = BoundedLines(io.BytesIO(b"a\n" * 1000), max_line=10, max_total=100, total_setting="s")
    out = b"".join(iter(lambda: stream.read(64), b""))
    assert len(out) <= 100
    assert stream.stopped is not None
    assert "more than 100 bytes (s)" in stream.stopped


def test_gunzip_stops_at_its_budget_without_inflating_the_bomb() -> None:
    bomb = gzip.compress(b"\0" * (64 * MIB), compresslevel=9)
    with pytest.raises(LimitExceededError, match="max_gzip_ratio = 100"):
        gunzip(bomb, ReadLimits())
    with pytest.raises(LimitExceededError, match="max_decompressed_bytes = 1,000"):
        gunzip(gzip.compress(b"a" * 5000), ReadLimits(max_decompressed_bytes=1000))
    two = gzip.compress(b"one ") + gzip.compress(b"two")
    assert gunzip(two, ReadLimits()) == b"one two"
    with pytest.raises((EOFError, zlib.error)):
        gunzip(two[:-12], ReadLimits())


# --- file size ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("hf/2024-01-01.json", hf_listing(["a" * 3000])),
        ("page/daily.txt", page_text(["b " * 1500])),
        ("arxiv/array.json", ("[" + snapshot_line(1, "c" * 3000) + "]").encode()),
        ("dump/papers.jsonl", json.dumps({"id": "2401.00001", "abstract": "d" * 3000}).encode()),
        (
            "feeds/rss.xml",
            b'<?xml version="1.0"?><rss version="2.0"><channel><item><title>T</title>'
            + b"<description>"
            + b"e" * 3000
            + b"</description></item></channel></rss>",
        ),
    ],
)
def test_a_file_over_max_file_bytes_is_one_read_reject(
    tmp_path: Path, name: str, data: bytes
) -> None:
    path = write(tmp_path, name, data)
    result = read_file(path, name, _params(max_file_bytes=2048))
    assert result.records.height == 0
    assert result.rejects.height == 1
    reject = result.rejects.row(0, named=True)
    assert reject["stage"] == "read"
    assert reject["record_index"] is None
    assert reject["source_file"] == name
    assert f"file is {len(data):,} bytes" in reject["reason"]
    assert "read.limits.max_file_bytes = 2,048" in reject["reason"]
    # within the limit the same file reads
    assert read_file(path, name, _params()).raw_records >= 1


def test_a_streamed_snapshot_is_not_bound_by_max_file_bytes(tmp_path: Path) -> None:
    data = "\n".join(snapshot_line(i) for i in range(50)).encode() + b"\n"
    path = write(tmp_path, "arxiv/snap.jsonl", data)
    reader, records, rejects = read_all(path, "arxiv/snap.jsonl", _params(max_file_bytes=1024))
    assert (reader, records.height, rejects.height) == ("arxiv_snapshot", 50, 0)


# --- record size and authors -------------------------------------------------------------------


@pytest.mark.parametrize("gzipped", [False, True])
def test_an_oversized_snapshot_line_is_a_record_reject(tmp_path: Path, gzipped: bool) -> None:
    lines = [snapshot_line(0), snapshot_line(1, "x" * 50_000), snapshot_line(2)]
    data = ("\n".join(lines) + "\n").encode()
    name = "arxiv/snap.jsonl" + (".gz" if gzipped else "")
    path = write(tmp_path, name, gzip.compress(data) if gzipped else data)
    # (a line of one repeated letter compresses ~500x: lift the ratio to reach the line limit)
    limits = {"max_record_bytes": 10_000, "max_gzip_ratio": 10_000}
    _, records, rejects = read_all(path, name, _params(batch_rows=2, **limits))
    assert records["record_index"].to_list() == [0, 2]
    assert rejects.select("record_index", "stage").rows() == [(1, "parse")]
    assert rejects["reason"].item().startswith("record is 50,")
    assert (
        rejects["reason"]
        .item()
        .endswith("over the limit read.limits.max_record_bytes = 10,000 (line 2)")
    )


def test_an_oversized_last_line_without_newline_is_a_record_reject(tmp_path: Path) -> None:
    data = (snapshot_line(0) + "\n" + snapshot_line(1, "x" * 50_000)).encode()
    path = write(tmp_path, "arxiv/snap.jsonl", data)
    _, records, rejects = read_all(path, "arxiv/snap.jsonl", _params(max_record_bytes=10_000))
    assert records["record_index"].to_list() == [0]
    assert rejects["record_index"].to_list() == [1]


@pytest.mark.parametrize(
    ("name", "data", "kept"),
    [
        ("hf/2024-01-01.json", hf_listing(["ok", "x" * 20_000, "ok too"]), [0, 2]),
        ("page/daily.txt", page_text(["fine.", "x " * 10_000 + ".", "also fine."]), [0, 2]),
        (
            "arxiv/array.json",
            (
                "[" + ",".join(snapshot_line(i, "x" * 20_000 * (i == 1)) for i in range(3)) + "]"
            ).encode(),
            [0, 2],
        ),
        (
            "dump/papers.jsonl",
            "\n".join(
                json.dumps({"id": f"2401.0000{i}", "abstract": "x" * 20_000 * (i == 1)})
                for i in range(3)
            ).encode(),
            [0, 2],
        ),
    ],
)
def test_an_oversized_record_is_a_record_reject(
    tmp_path: Path, name: str, data: bytes, kept: list[int]
) -> None:
    path = write(tmp_path, name, data)
    _, records, rejects = read_all(path, name, _params(max_record_bytes=10_000))
    assert sorted(records["record_index"].to_list()) == kept
    over = rejects.filter(pl.col("reason").str.contains("max_record_bytes"))
    assert over.height == 1
    assert over["stage"].item() == "parse"
    assert over["record_index"].item() == 1
    assert "over the limit read.limits.max_record_bytes = 10,000" in over["reason"].item()
    assert len(over["raw"].item() or "") <= 2000


def test_too_many_authors_is_a_record_reject_not_a_truncation(tmp_path: Path) -> None:
    data = "\n".join(snapshot_line(i, authors=[3, 30, 10][i]) for i in range(3)).encode()
    path = write(tmp_path, "arxiv/snap.jsonl", data)
    _, records, rejects = read_all(path, "arxiv/snap.jsonl", _params(max_authors=10))
    assert records["record_index"].to_list() == [0, 2]
    assert records["authors"].list.len().to_list() == [3, 10]
    assert rejects["record_index"].to_list() == [1]
    assert rejects["reason"].item() == (
        "record lists 30 authors, over the limit read.limits.max_authors = 10 (line 2)"
    )


def test_the_default_limits_pass_the_real_sample_fixtures(fixtures: Path) -> None:
    params = load_params(REPO / "params.yaml")
    for path in sorted(fixtures.rglob("*")):
        if path.is_file() and path.suffix != ".md":
            name = path.relative_to(fixtures).as_posix()
            result = read_file(path, name, params)
            limited = result.rejects.filter(pl.col("reason").str.contains("read.limits"))
            assert limited.height == 0, (name, limited.to_dicts())


# --- gzip bombs --------------------------------------------------------------------------------


def gzip_of_zeros(path: Path, size: int, head: bytes = b"") -> Path:
    """A gzip file of `head` then `size` zero bytes: one member per MiB (a valid multi-member
    gzip stream), compressed once and repeated, so even a 1 GiB bomb is written in milliseconds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    member = gzip.compress(b"\0" * MIB, compresslevel=9)
    with path.open("wb") as handle:
        handle.write(gzip.compress(head))
        for _ in range(size // MIB):
            handle.write(member)
    return path


def test_a_small_gzip_bomb_stops_at_the_ratio(tmp_path: Path) -> None:
    head = (snapshot_line(0) + "\n").encode()
    path = gzip_of_zeros(tmp_path / "arxiv/bomb.jsonl.gz", 32 * MIB, head)
    _, records, rejects = read_all(path, "arxiv/bomb.jsonl.gz", _params())
    assert records["record_index"].to_list() == [0]  # the line before the bomb is kept
    file_level = rejects.filter(pl.col("record_index").is_null())
    assert file_level["stage"].to_list() == ["read"]
    assert "read.limits.max_gzip_ratio = 100" in file_level["reason"].item()
    assert "stopped after line 1" in file_level["reason"].item()


def test_a_gzip_bomb_stops_at_max_decompressed_bytes(tmp_path: Path) -> None:
    lines = "".join(snapshot_line(i) + "\n" for i in range(200)).encode()
    path = write(tmp_path, "arxiv/many.jsonl.gz", gzip.compress(lines))
    _, records, rejects = read_all(
        path, "arxiv/many.jsonl.gz", _params(max_decompressed_bytes=20_000, batch_rows=10)
    )
    assert 0 < records.height < 200
    assert records["record_index"].to_list() == list(range(records.height))
    reason = rejects.filter(pl.col("record_index").is_null())["reason"].item()
    assert "more than 20,000 bytes (read.limits.max_decompressed_bytes = 20,000)" in reason


def test_a_gzipped_array_snapshot_bomb_is_refused(tmp_path: Path) -> None:
    head = ("[" + snapshot_line(0) + ",").encode()
    path = gzip_of_zeros(tmp_path / "arxiv/array.json.gz", 16 * MIB, head)
    result = read_file(path, "arxiv/array.json.gz", _params())
    assert result.records.height == 0
    assert "max_gzip_ratio" in result.rejects["reason"].item()


# --- peak memory of the real sizes (subprocess, ru_maxrss) ---------------------------------------

_PROBE: Final = """
import json, resource, sys, time
from pathlib import Path
from papers.config import load_params
from papers.readers import iter_file
params = load_params(Path(sys.argv[3]))
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
reader, batches = iter_file(Path(sys.argv[1]), sys.argv[2], params)
records = rejects = 0
reasons = []
for r, j in batches:
    records += r.height
    rejects += j.height
    reasons += j["reason"].to_list()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"reader": reader, "records": records, "rejects": rejects, "reasons": reasons,
                  "seconds": time.perf_counter() - started, "extra_mb": (peak - base) / 1024}))
"""


def probe(path: Path, name: str) -> dict[str, Any]:
    """Read `path` with the default limits in a fresh process: counts, reasons, time, peak RSS
    above the process's footprint after imports (MB)."""
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, str(path), name, str(REPO / "params.yaml")],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def test_a_1gb_gzip_bomb_streams_in_bounded_memory(tmp_path: Path) -> None:
    # 1 GiB of zeros after one good line, ~1 MB compressed: stopped at 100x, ~100 MB in
    path = gzip_of_zeros(
        tmp_path / "arxiv/bomb.jsonl.gz", 1024 * MIB, (snapshot_line(0) + "\n").encode()
    )
    assert path.stat().st_size < 2 * MIB
    out = probe(path, "arxiv/bomb.jsonl.gz")
    assert (out["reader"], out["records"], out["rejects"]) == ("arxiv_snapshot", 1, 1)
    assert "max_gzip_ratio" in out["reasons"][0]
    assert out["extra_mb"] < 150, out
    assert out["seconds"] < 30, out


_HUGE: Final = 50 * MIB


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["snapshot", "snapshot-gz", "hf-json", "hf-json-gz", "page"])
def test_a_50mb_single_line(tmp_path: Path, kind: str) -> None:
    if kind.startswith("snapshot"):
        name = "arxiv/snap.jsonl"
        data = "\n".join(
            [snapshot_line(0), snapshot_line(1, "x" * _HUGE), snapshot_line(2)]
        ).encode()
    elif kind.startswith("hf"):
        name, data = "hf/2024-01-01.json", hf_listing(["x" * _HUGE])
    else:
        name, data = "page/daily.txt", page_text(["word " * (_HUGE // 5)])
    if kind.endswith("-gz"):
        name, data = name + ".gz", gzip.compress(data, compresslevel=1)
    path = write(tmp_path, name, data)
    out = probe(path, name)
    reasons = " | ".join(out["reasons"])
    if kind == "snapshot":
        # streamed: the line is skipped while reading, never held
        assert (out["records"], out["rejects"]) == (2, 1)
        assert "max_record_bytes" in reasons
        assert out["extra_mb"] < 150, out
    elif kind == "snapshot-gz":
        # the long line compresses ~1000x: the gzip budget stops it first
        assert out["records"] == 1
        assert "max_gzip_ratio" in reasons
        assert out["extra_mb"] < 150, out
    elif kind == "hf-json-gz":
        assert (out["records"], out["rejects"]) == (0, 1)
        assert "gzipped" in reasons
        assert out["extra_mb"] < 150, out
    else:
        # read whole (it is under max_file_bytes): one record reject, memory ~20x the file
        assert (out["records"], out["rejects"]) == (0, 1), out
        assert "max_record_bytes" in reasons
        assert out["extra_mb"] < 25 * _HUGE / MIB, out
    assert out["seconds"] < 120, out


@pytest.mark.slow
def test_a_file_over_the_default_max_file_bytes(tmp_path: Path) -> None:
    name = "hf/2024-01-01.json"
    path = write(tmp_path, name, hf_listing(["x" * (65 * MIB)]))
    out = probe(path, name)
    assert (out["records"], out["rejects"]) == (0, 1)
    assert "read.limits.max_file_bytes = 67,108,864" in out["reasons"][0]
    assert out["extra_mb"] < 50, out


# --- XML: entity expansion and external entities -------------------------------------------------


def _laughs(levels: int = 9) -> str:
    return "<!ENTITY a0 'lol'>" + "".join(
        f"<!ENTITY a{i} '{f'&a{i - 1};' * 10}'>" for i in range(1, levels + 1)
    )


def _documents(secret: Path, dtd: Path) -> dict[str, tuple[str, str]]:
    """name -> (doctype, where the entity is referenced) for every XML reader's layout."""
    uri = secret.as_uri()
    return {
        "billion-laughs": (f"<!DOCTYPE x [{_laughs()}]>", "&a9;"),
        "external-entity": (f'<!DOCTYPE x [<!ENTITY xxe SYSTEM "{uri}">]>', "&xxe;"),
        "parameter-entity": (f'<!DOCTYPE x [<!ENTITY % p SYSTEM "{uri}"> %p;]>', ""),
        "external-dtd": (f'<!DOCTYPE x SYSTEM "{dtd.as_uri()}">', "&secret;"),
    }


_LAYOUTS: Final = {
    "atom/arxiv.xml": (
        '<feed xmlns="http://www.w3.org/2005/Atom"><id>http://arxiv.org/api/x</id>'
        "<entry><id>http://arxiv.org/abs/2401.00001v1</id><title>T {ref}</title>"
        "<summary>S</summary></entry></feed>"
    ),
    "oai/page.xml": (
        '<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><request metadataPrefix="arXiv">'
        "x</request><ListRecords><record><header><identifier>oai:arXiv.org:2401.00001"
        '</identifier></header><metadata><arXiv xmlns="http://arxiv.org/OAI/arXiv/">'
        "<id>2401.00001</id><title>T {ref}</title></arXiv></metadata></record></ListRecords>"
        "</OAI-PMH>"
    ),
    "feeds/rss.xml": (
        '<rss version="2.0"><channel><item><title>T {ref}</title>'
        "<link>https://arxiv.org/abs/2401.00001</link></item></channel></rss>"
    ),
    "feeds/atom.xml": (
        '<feed xmlns="http://www.w3.org/2005/Atom"><entry><title>T {ref}</title>'
        '<link href="https://huggingface.co/papers/2401.00001"/></entry></feed>'
    ),
}


@pytest.mark.parametrize(
    "attack", ["billion-laughs", "external-entity", "parameter-entity", "external-dtd"]
)
@pytest.mark.parametrize("layout", sorted(_LAYOUTS))
def test_xml_entities_are_never_expanded_nor_fetched(
    tmp_path: Path, layout: str, attack: str
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    dtd = tmp_path / "evil.dtd"
    dtd.write_text(f'<!ENTITY secret "{SECRET}"><!ENTITY % q SYSTEM "{secret.as_uri()}"> %q;')
    doctype, ref = _documents(secret, dtd)[attack]
    body = _LAYOUTS[layout].format(ref=ref)
    data = f'<?xml version="1.0" encoding="utf-8"?>\n{doctype}\n{body}'.encode()
    path = write(tmp_path, layout, data)
    result = read_file(path, layout, _params())
    assert result.records.height + result.rejects.height >= 1
    every = [str(v) for frame in (result.records, result.rejects) for v in frame.rows()]
    assert not any(SECRET in text for text in every), f"{layout}: the local file was read"
    assert not any("lollollol" in text for text in every), f"{layout}: entities were expanded"
    if attack != "external-dtd":
        # a document that declares entities is refused whole
        assert result.records.height == 0
        assert "entities" in result.rejects["reason"].item()
    # an external DTD is never loaded: &secret; stays undefined (a malformed-XML reject, or expat
    # skips it under a DTD it did not read); either way nothing of the local files comes in


@pytest.mark.parametrize(
    "encoding", ["UTF-7", "UTF-32", "utf_16_be", "bogus-enc", "rot13", "idna", "punycode", "cp037"]
)
@pytest.mark.parametrize("layout", sorted(_LAYOUTS))
def test_a_declared_encoding_the_parser_refuses_is_a_file_reject(
    tmp_path: Path, layout: str, encoding: str
) -> None:
    # found by atheris: ElementTree raised ValueError (UTF-7) and expat LookupError (unknown names)
    data = f'<?xml version="1.0" encoding="{encoding}"?>\n{_LAYOUTS[layout].format(ref="")}'
    path = write(tmp_path, layout, data.encode())
    result = read_file(path, layout, _params())
    assert result.records.height == 0
    assert result.rejects.select("record_index", "stage").rows() == [(None, "read")]


@pytest.mark.parametrize("at", [0, 1])
def test_a_compressed_blob_as_a_snapshot_line_is_a_reject_not_inflated(
    tmp_path: Path, at: int
) -> None:
    # found by atheris: polars inflates an NDJSON buffer that starts with gzip magic, so a line
    # holding a gzip stream at the start of a batch was decompressed (unbounded) and read as
    # records, or crashed the reader with OSError "invalid gzip header"
    hidden = gzip.compress(("\n".join(snapshot_line(100 + i) for i in range(3)) + "\n").encode())
    lines = [snapshot_line(0).encode(), snapshot_line(1).encode()]
    lines.insert(at + 1, hidden.replace(b"\n", b" "))
    path = write(tmp_path, "arxiv/snap.jsonl", b"\n".join(lines) + b"\n")
    _, records, rejects = read_all(path, "arxiv/snap.jsonl", _params(batch_rows=1))
    assert records["arxiv_id_raw"].to_list() == ["2401.00000", "2401.00001"]
    assert rejects["record_index"].to_list() == [at + 1]
    assert rejects["stage"].to_list() == ["parse"]
