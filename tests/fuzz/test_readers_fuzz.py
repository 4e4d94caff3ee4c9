"""Fuzz the readers: mutated fixtures of every format through read_file never raise or hang, always
conform, account for the file, never expand XML entities; generated mixtures lose no record.

The default slice is small (fast CI); `-m slow` runs the same properties with many more examples.
"""

from __future__ import annotations

import gzip
import html
import json
import re
import signal
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

import polars as pl
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from papers import io
from papers.config import GenericSource, Params, load_params
from papers.pipeline.publish import STAGE_REJECT_ORDER
from papers.readers import ReadResult, read_file
from schemas import RawRecords, Rejected
from tests.conftest import build_local

REPO: Final = Path(__file__).resolve().parents[2]
FIXTURES: Final = REPO / "tests" / "fixtures"
FORMATS: Final = ("hf_api", "arxiv", "feeds", "generic", "scrapes", "pages")
READER_STAGES: Final = {"read", "parse"}
XML_READERS: Final = {"arxiv_oai", "arxiv_atom", "feed"}
# Per read_file call: Hypothesis' deadline flags slowness, the alarm turns a hang into a failure.
DEADLINE_MS: Final = 5000
WALL_SECONDS: Final = 20
DEFAULT_EXAMPLES: Final = 5
SLOW_EXAMPLES: Final = 2000

# Generic fixtures are read by params.yaml globs: give them the relative names the globs match.
_GENERIC_NAMES: Final = {
    "binchang-2024-01-02.json": (
        "hf_papers_page_scrape/BinChang__hf-daily-paper-scraper/papers/2024-01-02.json"
    ),
    "pwc-paper_list_response.json": (
        "paperswithcode/codingpot__paperswithcode-go/dummy/paper_list_response.json"
    ),
    "papers.csv": "generic/kaggle/papers.csv",
    "papers.jsonl": "generic/dump/papers.jsonl",
}
# The two generic fixtures without a params.yaml entry get one here (as the reader tests map them).
_EXTRA_SOURCES: Final = (
    {
        "name": "fuzz_csv",
        "glob": "generic/kaggle/*.csv",
        "format": "csv",
        "fields": {
            "arxiv_id_raw": "id",
            "title_raw": "title",
            "abstract_raw": "abstract",
            "authors": "authors",
            "published_at": "update_date",
            "categories": "categories",
            "doi": "doi",
        },
    },
    {
        "name": "fuzz_jsonl",
        "glob": "generic/dump/*.jsonl",
        "format": "jsonl",
        "fields": {
            "arxiv_id_raw": "paper.id",
            "title_raw": "paper.title",
            "authors": "paper.authors",
            "published_at": "published",
            "upvotes": "upvotes",
            "url": "link",
        },
    },
)


def _params() -> Params:
    params = load_params(REPO / "params.yaml")
    extra = tuple(GenericSource.model_validate(s) for s in _EXTRA_SOURCES)
    read = params.read.model_copy(update={"sources": (*params.read.sources, *extra)})
    return params.model_copy(update={"read": read})


PARAMS: Final = _params()


def _fixtures() -> list[tuple[str, bytes]]:
    """(relative name to write the mutant under, original bytes) for every fixture file."""
    found = []
    for fmt in FORMATS:
        for path in sorted((FIXTURES / fmt).iterdir()):
            if path.suffix == ".md" or not path.is_file():
                continue
            name = (
                _GENERIC_NAMES.get(path.name, f"{fmt}/{path.name}")
                if fmt == "generic"
                else (f"{fmt}/{path.name}")
            )
            found.append((name, path.read_bytes()))
    return found


ALL_FIXTURES: Final = _fixtures()
FIXTURE_IDS: Final = [name for name, _ in ALL_FIXTURES]

# --- mutations -------------------------------------------------------------------------------

PAYLOAD: Final = "LOLZ_ENTITY_PAYLOAD"
BILLION_LAUGHS: Final = (
    f'<!DOCTYPE x [<!ENTITY a0 "{PAYLOAD}">'
    + "".join(f'<!ENTITY a{i} "{f"&a{i - 1};" * 10}">' for i in range(1, 10))
    + '<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
).encode()
ENTITY_REFS: Final = b"&a9;&xxe;"
HTML_SNIPPETS: Final = (
    b"<script>alert('x')</script>",
    b"<b>bold</b> <i>it</i> <a href='javascript:alert(1)'>link</a>",
    b"&lt;script&gt;alert(1)&lt;/script&gt;",
    b"<![CDATA[<script>x</script>]]>",
    b"</summary></entry></feed>",
    b'\\"<script>\\"',
)
BOMS: Final = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf\xef\xbb\xbf")
_TEXT_STARTS: Final = (b'"summary": "', b'"abstract": "', b"<summary>", b"Summary: ", b"\n\n")


def _after_prolog(data: bytes) -> int:
    """Where a DOCTYPE can go: after the XML declaration (or at the start)."""
    start = data.find(b"<?xml")
    if start != -1 and start < 8:
        end = data.find(b"?>", start)
        if end != -1:
            return end + 2
    return 0


def with_entities(data: bytes, draw_pos: int) -> bytes:
    """A billion-laughs DOCTYPE plus an external entity, referenced in some element text."""
    at = _after_prolog(data)
    body = data[at:]
    # reference the entities in the text right after some start tag
    tags = [i + 1 for i in range(len(body)) if body[i : i + 1] == b">"][:200]
    ref_at = tags[draw_pos % len(tags)] if tags else len(body)
    body = body[:ref_at] + ENTITY_REFS + body[ref_at:]
    return data[:at] + BILLION_LAUGHS + body


SIMPLE_ENTITY: Final = (
    f'<!DOCTYPE x [<!ENTITY e "{PAYLOAD}"><!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
).encode()
EXTERNAL_DTD: Final = b'<!DOCTYPE x SYSTEM "file:///etc/passwd">'
_TITLE: Final = re.compile(rb"(<(?:[\w.-]+:)?title(?:\s[^>]*)?>)")


def with_simple_entities(data: bytes, dtd: bytes = SIMPLE_ENTITY) -> bytes:
    """One internal entity and one external entity, referenced in every title."""
    at = _after_prolog(data)
    return data[:at] + dtd + _TITLE.sub(rb"\1&e;&xxe;", data[at:])


def with_surrogate(data: bytes, draw_pos: int) -> bytes:
    """A lone-surrogate escape at the start of some JSON string value."""
    spots = [i + 3 for i in range(len(data)) if data[i : i + 3] == b': "'][:500]
    if not spots:
        return b'"\\ud800' + data
    at = spots[draw_pos % len(spots)]
    return data[:at] + b"\\ud800\\udfff\\ud800x" + data[at:]


def with_html(data: bytes, draw_pos: int, snippet: bytes) -> bytes:
    """Markup inserted where an abstract's text starts (or anywhere when none is found)."""
    spots = [i + len(start) for start in _TEXT_STARTS for i in _find_all(data, start)] or [
        draw_pos % (len(data) + 1)
    ]
    at = sorted(spots)[draw_pos % len(spots)]
    return data[:at] + snippet + data[at:]


def _find_all(data: bytes, needle: bytes) -> Iterator[int]:
    at = data.find(needle)
    count = 0
    while at != -1 and count < 500:
        yield at
        count += 1
        at = data.find(needle, at + 1)


def reencode(data: bytes, encoding: str) -> bytes:
    return data.decode("utf-8", errors="replace").encode(encoding, errors="replace")


def nest(data: bytes, depth: int) -> bytes:
    return b"[" * depth + data + b"]" * depth


def deep_values(data: bytes, depth: int) -> bytes:
    """A deeply nested array as a field of the first few JSON objects (inside records)."""
    return data.replace(b'{"', b'{"deep": ' + nest(b"", depth) + b', "', 3)


def nest_xml(data: bytes, depth: int) -> bytes:
    at = _after_prolog(data)
    return data[:at] + b"<d>" * depth + data[at:] + b"</d>" * depth


# Deterministic hostile inputs: every one applied to every fixture.
HOSTILE: Final[dict[str, Callable[[bytes], bytes]]] = {
    "truncate-half": lambda d: d[: len(d) // 2],
    "truncate-1": lambda d: d[:1],
    "bom-utf8": lambda d: BOMS[0] + d,
    "bom-utf16": lambda d: BOMS[1] + d,
    "double-bom": lambda d: BOMS[3] + d,
    "latin1": lambda d: reencode(d, "latin-1"),
    "utf16": lambda d: reencode(d, "utf-16"),
    "utf16be-nobom": lambda d: reencode(d, "utf-16-be"),
    "nul-bytes": lambda d: d[: len(d) // 3] + b"\x00" * 7 + d[len(d) // 3 :],
    "surrogates": lambda d: with_surrogate(d, 1),
    "nest-json-10k": lambda d: nest(d, 10_000),
    "nest-json-200k": lambda d: nest(d, 200_000),
    "nest-xml-10k": lambda d: nest_xml(d, 10_000),
    "deep-value-5k": lambda d: deep_values(d, 5_000),
    "deep-value-100k": lambda d: deep_values(d, 100_000),
    "entities": lambda d: with_entities(d, 3),
    "entities-late": lambda d: with_entities(d, 40),
    "entities-simple": with_simple_entities,
    "external-dtd": lambda d: with_simple_entities(d, EXTERNAL_DTD),
    "script": lambda d: with_html(d, 1, HTML_SNIPPETS[0]),
    "html": lambda d: with_html(d, 2, HTML_SNIPPETS[1]),
    "cdata-close": lambda d: with_html(d, 1, HTML_SNIPPETS[3] + HTML_SNIPPETS[4]),
    "crlf": lambda d: d.replace(b"\n", b"\r\n"),
    "cr-only": lambda d: d.replace(b"\n", b"\r"),
}


@st.composite
def mutated(draw: st.DrawFn, original: bytes) -> bytes:
    """`original` with one to three random mutations."""
    data = original
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(
            st.sampled_from(
                [
                    "truncate",
                    "delete",
                    "insert",
                    "flip",
                    "nul",
                    "bom",
                    "latin1",
                    "utf16",
                    "surrogate",
                    "nest",
                    "nest_xml",
                    "deep_values",
                    "entities",
                    "html",
                    "duplicate",
                ]
            )
        )
        size = len(data)
        pos = draw(st.integers(0, size))
        if kind == "truncate":
            data = data[:pos]
        elif kind == "delete":
            data = data[:pos] + data[pos + draw(st.integers(1, 64)) :]
        elif kind == "insert":
            data = data[:pos] + draw(st.binary(min_size=1, max_size=16)) + data[pos:]
        elif kind == "flip" and size:
            at = min(pos, size - 1)
            data = data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1 :]
        elif kind == "nul":
            data = data[:pos] + b"\x00" * draw(st.integers(1, 4)) + data[pos:]
        elif kind == "bom":
            data = draw(st.sampled_from(BOMS)) + data
        elif kind == "latin1":
            data = reencode(data, "latin-1")
        elif kind == "utf16":
            data = reencode(data, draw(st.sampled_from(["utf-16", "utf-16-le", "utf-16-be"])))
        elif kind == "surrogate":
            data = with_surrogate(data, pos)
        elif kind == "nest":
            data = nest(data, draw(st.sampled_from([2, 100, 1000, 10_000])))
        elif kind == "nest_xml":
            data = nest_xml(data, draw(st.sampled_from([2, 100, 10_000])))
        elif kind == "deep_values":
            data = deep_values(data, draw(st.sampled_from([10, 1000, 10_000])))
        elif kind == "entities":
            data = with_entities(data, pos)
        elif kind == "html":
            data = with_html(data, pos, draw(st.sampled_from(HTML_SNIPPETS)))
        elif kind == "duplicate":
            data = data[:pos] + data[pos : pos + draw(st.integers(1, 4096))] + data[pos:]
    return data


# --- checks ----------------------------------------------------------------------------------


class _HangError(Exception):
    pass


@contextmanager
def wall_clock(seconds: float) -> Iterator[None]:
    """Fail (instead of hanging the suite) when the block runs longer than `seconds`."""

    def alarm(*_: Any) -> None:
        raise _HangError(f"read_file ran longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


_PASSWD_FILE: Final = Path("/etc/passwd")
_PASSWD_LINES: Final = (
    _PASSWD_FILE.read_text(errors="replace").splitlines() if _PASSWD_FILE.is_file() else []
)
# what an expanded file:///etc/passwd entity would bring into a field
_PASSWD: Final = [*[line for line in _PASSWD_LINES if line][:3], "root:x:0:0"]


def read(name: str, data: bytes) -> ReadResult:
    """read_file on `data` written under `name` in a fresh folder, under the wall-clock bound."""
    with tempfile.TemporaryDirectory(prefix="papers-fuzz-") as tmp:
        path = Path(tmp) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        started = time.perf_counter()
        with wall_clock(WALL_SECONDS):
            result = read_file(path, name, PARAMS)
        assert time.perf_counter() - started < WALL_SECONDS
    return result


def _strings(frame: pl.DataFrame) -> Iterator[str]:
    """Every string in a frame, lists and structs included."""
    for column in frame.columns:
        for value in frame[column].to_list():
            yield from _flatten(value)


def _flatten(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _flatten(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _flatten(item)


def check(name: str, data: bytes, result: ReadResult) -> None:
    """The properties every read_file result has, whatever the input."""
    RawRecords.validate(result.records)
    Rejected.validate(result.rejects)
    assert result.raw_records == result.records.height + result.rejects.height
    if data.strip(b" \t\r\n"):
        assert result.raw_records >= 1, f"{name}: a non-empty file left no record and no reject"
    rejects = result.rejects
    assert set(rejects["stage"].to_list()) <= READER_STAGES
    assert all(reason and reason.strip() for reason in rejects["reason"].to_list())
    assert set(result.records["source_file"].to_list()) <= {name}
    assert set(rejects["source_file"].to_list()) <= {name}
    # a record is a record or a record-level reject, never both
    kept = set(result.records["record_index"].to_list())
    rejected = {i for i in rejects["record_index"].to_list() if i is not None}
    assert not kept & rejected
    assert result.records["record_index"].n_unique() == result.records.height
    # entities are never expanded, external ones never fetched; XML that declares any is refused
    if b"<!ENTITY" in data and result.reader in XML_READERS:
        assert result.records.height == 0, f"{name}: a document declaring entities was read"
    allowed = data.decode("utf-8", errors="replace").count(PAYLOAD)
    for frame in (result.records, result.rejects):
        for text in _strings(frame):
            assert text.count(PAYLOAD) <= allowed, f"{name}: an XML entity was expanded"
            assert not any(line in text for line in _PASSWD), f"{name}: /etc/passwd leaked"


# --- 1. mutated fixtures -----------------------------------------------------------------------


def test_fixtures_cover_every_format() -> None:
    assert {name.split("/")[0] for name in FIXTURE_IDS} >= set(FORMATS) - {"generic"}
    assert len(ALL_FIXTURES) >= 30
    for name, data in ALL_FIXTURES:
        check(name, data, read(name, data))


@pytest.mark.parametrize("kind", sorted(HOSTILE))
@pytest.mark.parametrize(("name", "original"), ALL_FIXTURES, ids=FIXTURE_IDS)
def test_hostile_input(name: str, original: bytes, kind: str) -> None:
    data = HOSTILE[kind](original)
    check(name, data, read(name, data))


def test_entities_are_refused_not_expanded() -> None:
    """Every XML fixture with entity declarations: no record is made from the expanded text."""
    for name, original in ALL_FIXTURES:
        if not original.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
            continue
        for data in (with_entities(original, 5), with_simple_entities(original)):
            result = read(name, data)
            check(name, data, result)
            assert result.records.height == 0, f"{name}: a document declaring entities was read"
            assert result.rejects.height == 1, f"{name}: {result.rejects.to_dicts()}"
            assert "entities" in result.rejects["reason"].item()


def _mutation_test(max_examples: int) -> Callable[[], None]:
    @settings(
        max_examples=max_examples,
        deadline=DEADLINE_MS,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        derandomize=max_examples == DEFAULT_EXAMPLES,
        database=None,
    )
    @given(st.data())
    def run(data: st.DataObject) -> None:
        name, original = data.draw(st.sampled_from(ALL_FIXTURES), label="fixture")
        mutant = data.draw(mutated(original), label="mutant")
        check(name, mutant, read(name, mutant))

    return run


@pytest.mark.parametrize(("name", "original"), ALL_FIXTURES, ids=FIXTURE_IDS)
@settings(
    max_examples=DEFAULT_EXAMPLES,
    deadline=DEADLINE_MS,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
    database=None,
)
@given(data=st.data())
def test_mutated_fixture(name: str, original: bytes, data: st.DataObject) -> None:
    mutant = data.draw(mutated(original), label="mutant")
    check(name, mutant, read(name, mutant))


@pytest.mark.slow
@pytest.mark.long
def test_mutated_fixtures_long() -> None:
    _mutation_test(SLOW_EXAMPLES)()


# --- 2. no record lost -------------------------------------------------------------------------

_WORDS: Final = st.text(
    alphabet=st.characters(
        codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp"), exclude_characters="\\\"'"
    ),
    min_size=1,
    max_size=30,
).filter(lambda s: s.strip() != "")
_ABSTRACTS: Final = st.one_of(
    _WORDS,
    st.sampled_from([s.decode() for s in HTML_SNIPPETS[:3]]),
    st.builds(lambda a, b: f"{a} <script>{b}</script> {a}", _WORDS, _WORDS),
)


def _good_snapshot(i: int, title: str, abstract: str) -> str:
    return json.dumps(
        {
            "id": f"2401.{i:05d}",
            "submitter": "Some One",
            "authors": "A. One and B. Two",
            "title": title,
            "comments": None,
            "journal-ref": None,
            "doi": None,
            "report-no": None,
            "categories": "cs.CL cs.LG",
            "license": None,
            "abstract": abstract,
            "versions": [{"version": "v1", "created": "Mon, 1 Jan 2024 00:00:00 GMT"}],
            "update_date": "2024-01-02",
            "authors_parsed": [["One", "A.", ""], ["Two", "B.", ""]],
        },
        ensure_ascii=False,
    )


_BAD_SNAPSHOT: Final = (
    '{"id": "2401.0',
    "[1, 2, 3]",
    '"just a string"',
    "42",
    '{"submitter": "nobody", "update_date": "2024-01-01"}',
    '{"id": "", "title": "   "}',
    '{"id": {"nested": true}, "title": "x"}',
    '{"id": "2401.00001", "title": ["a", "b"]}',
    "not json at all",
    '{"id": "\\ud800", "title": null',
    "\x00\x00",
)


def _good_hf(i: int, title: str, abstract: str) -> Any:
    return {
        "paper": {
            "id": f"2402.{i:05d}",
            "title": title,
            "summary": abstract,
            "authors": [{"name": "A. One"}],
            "publishedAt": "2024-02-01T00:00:00.000Z",
            "upvotes": 3,
        },
        "title": title,
        "publishedAt": "2024-02-01T00:00:00.000Z",
    }


_BAD_HF: Final[tuple[Any, ...]] = (
    1,
    None,
    "not a python literal {",
    "[1, 2]",
    [1, 2],
    {},
    {"paper": {}},
    {"paper": {"id": " ", "title": ""}},
    {"paper": {"id": [1, 2], "title": "x"}},
    {"paper": {"id": "2402.00001", "authors": "not a list"}},
    {"paper": "flat string"},
)


def _good_tps(i: int, title: str, abstract: str) -> str:
    return f"Title: {title}\nPDF: https://arxiv.org/pdf/2403.{i:05d}\nSummary: {abstract}"


_BAD_TPS: Final = (
    "Summary: an orphan summary without title or PDF",
    "just a stray line of prose",
    "PDF: https://arxiv.org/pdf/2403.99999\nPDF: https://arxiv.org/pdf/2403.99998",
    "Summary: one\nSummary: two",
)


@st.composite
def mixtures(draw: st.DrawFn) -> list[tuple[bool, str, str, Any]]:
    """(good?, title, abstract, bad value) per record; the first is good (so the file sniffs)."""
    count = draw(st.integers(1, 25))
    out = []
    for i in range(count):
        good = i == 0 or draw(st.booleans())
        title = f"T{i} " + draw(_WORDS)
        out.append((good, title, draw(_ABSTRACTS), draw(st.integers(0, 100))))
    return out


def _account(name: str, result: ReadResult, generated: int, good_titles: list[str]) -> None:
    assert result.reader is not None
    check(name, b"", result)
    rejects = result.rejects
    assert rejects["record_index"].null_count() == 0, rejects.to_dicts()
    assert result.records.height + rejects.height == generated
    assert sorted(
        result.records["record_index"].to_list() + rejects["record_index"].to_list()
    ) == list(range(generated))
    # every good record is a record (a lenient reader may also keep an odd-shaped "bad" one)
    titles = {" ".join(t.split()) for t in result.records["title_raw"].to_list() if t}
    assert {" ".join(t.split()) for t in good_titles} <= titles


def _no_record_lost_snapshot(mix: list[tuple[bool, str, str, Any]]) -> None:
    lines = [
        _good_snapshot(i, title, abstract) if good else _BAD_SNAPSHOT[pick % len(_BAD_SNAPSHOT)]
        for i, (good, title, abstract, pick) in enumerate(mix)
    ]
    # the rejected title-less lines must be the bad ones; good ones are titled
    name = "arxiv/mix.jsonl"
    result = read(name, ("\n".join(lines) + "\n").encode())
    assert result.reader == "arxiv_snapshot"
    _account(name, result, len(mix), [t for good, t, _, _ in mix if good])


def _no_record_lost_hf(mix: list[tuple[bool, str, str, Any]]) -> None:
    elements = [
        _good_hf(i, title, abstract) if good else _BAD_HF[pick % len(_BAD_HF)]
        for i, (good, title, abstract, pick) in enumerate(mix)
    ]
    name = "hf_api/2024-02-01.json"
    result = read(name, json.dumps(elements, ensure_ascii=False).encode())
    assert result.reader == "hf_daily_papers"
    _account(name, result, len(mix), [t for good, t, _, _ in mix if good])


def _no_record_lost_tps(mix: list[tuple[bool, str, str, Any]]) -> None:
    blocks = [
        _good_tps(i, title, abstract) if good else _BAD_TPS[pick % len(_BAD_TPS)]
        for i, (good, title, abstract, pick) in enumerate(mix)
    ]
    text = "\n---\n".join(blocks) + "\n"
    name = "scrapes/paper_metadata_2024-03-01.txt"
    result = read(name, text.encode())
    assert result.reader == "hf_title_pdf_summary"
    _account(name, result, len(mix), [t for good, t, _, _ in mix if good])


LAYOUTS: Final = {
    "snapshot": _no_record_lost_snapshot,
    "hf_api": _no_record_lost_hf,
    "title_pdf_summary": _no_record_lost_tps,
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@settings(max_examples=15, deadline=DEADLINE_MS, derandomize=True, database=None)
@given(mix=mixtures())
def test_no_record_lost(layout: str, mix: list[tuple[bool, str, str, Any]]) -> None:
    LAYOUTS[layout](mix)


@pytest.mark.slow
@pytest.mark.long
@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@settings(max_examples=SLOW_EXAMPLES // 4, deadline=DEADLINE_MS, database=None)
@given(mix=mixtures())
def test_no_record_lost_long(layout: str, mix: list[tuple[bool, str, str, Any]]) -> None:
    LAYOUTS[layout](mix)


# --- gzip ------------------------------------------------------------------------------------

_GZ_FIXTURES: Final = [ALL_FIXTURES[i] for i in range(0, len(ALL_FIXTURES), 4)]
_GZ_IDS: Final = [name for name, _ in _GZ_FIXTURES]


@pytest.mark.parametrize(("name", "original"), _GZ_FIXTURES, ids=_GZ_IDS)
def test_gzipped_and_truncated_gzip(name: str, original: bytes) -> None:
    packed = gzip.compress(original)
    for data in (packed, packed[: len(packed) // 2], packed[:12]):
        check(name, data, read(name, data))


def test_corrupt_gzip_is_a_reject() -> None:
    name, original = ALL_FIXTURES[0]
    packed = gzip.compress(original)
    data = packed[:10] + bytes(b ^ 0x55 for b in packed[10:60]) + packed[60:]
    check(name, data, read(name, data))


# --- 2b. no record lost: every layout, and through the pipeline steps ----------------------------

_OAI_HEAD: Final = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
    '\n<request verb="ListRecords" metadataPrefix="arXiv">http://export.arxiv.org/oai2</request>'
    "\n<ListRecords>\n"
)
_OAI_META: Final = '<metadata><arXiv xmlns="http://arxiv.org/OAI/arXiv/">{}</arXiv></metadata>'


def _x(text: str) -> str:
    return html.escape(text, quote=True)


def _good_oai(i: int, title: str, abstract: str) -> str:
    fields = (
        f"<id>2404.{i:05d}</id><created>2024-04-01</created><authors><author><keyname>One"
        f"</keyname><forenames>A.</forenames></author></authors><title>{_x(title)}</title>"
        f"<categories>cs.CL</categories><abstract>{_x(abstract)}</abstract>"
    )
    return f"<record><header><identifier>oai:arXiv.org:2404.{i:05d}</identifier></header>" + (
        _OAI_META.format(fields) + "</record>\n"
    )


_BAD_OAI: Final = (
    '<record><header status="deleted"><identifier>oai:arXiv.org:1</identifier></header></record>\n',
    '<record status="deleted"><header><identifier>oai:arXiv.org:2</identifier></header></record>\n',
    "<record><header><identifier>oai:arXiv.org:3</identifier></header></record>\n",
    "<record><header><identifier>oai:x:4</identifier></header>"
    + _OAI_META.format("<id> </id><title>\n</title><abstract>only this</abstract>")
    + "</record>\n",
)

_ATOM_HEAD: Final = (
    "<?xml version='1.0' encoding='UTF-8'?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\" "
    'xmlns:arxiv="http://arxiv.org/schemas/atom">\n<id>https://arxiv.org/api/x</id>\n'
)


def _good_atom(i: int, title: str, abstract: str) -> str:
    return (
        f"<entry><id>http://arxiv.org/abs/2405.{i:05d}v1</id><title>{_x(title)}</title>"
        f"<summary>{_x(abstract)}</summary><published>2024-05-01T00:00:00Z</published>"
        '<author><name>A. One</name></author><category term="cs.CL"/></entry>\n'
    )


_BAD_ATOM: Final = (
    "<entry><summary>no id, no title</summary></entry>\n",
    "<entry><id>http://arxiv.org/api/errors#incorrect_id</id><title>Error</title>"
    "<summary>incorrect id format</summary></entry>\n",
    "<entry><id> </id><title> </title></entry>\n",
)


def _good_rss(i: int, title: str, abstract: str) -> str:
    return (
        f"<item><title>{_x(title)}</title><link>https://arxiv.org/abs/2406.{i:05d}</link>"
        f"<description>{_x('<p>' + abstract + '</p>')}</description>"
        "<pubDate>Mon, 03 Jun 2024 00:00:00 GMT</pubDate></item>\n"
    )


_BAD_RSS: Final = (
    "<item><description>no title and no link</description></item>\n",
    "<item><link>https://example.com/not-a-paper</link></item>\n",
    "<item><title> </title><guid>urn:x</guid></item>\n",
)


def _good_jsonfeed(i: int, title: str, abstract: str) -> Any:
    return {
        "id": f"https://huggingface.co/papers/2407.{i:05d}",
        "url": f"https://huggingface.co/papers/2407.{i:05d}",
        "title": title,
        "content_html": f"<p>{_x(abstract)}</p><script>alert(1)</script>",
        "date_published": "2024-07-01T00:00:00Z",
    }


_BAD_JSONFEED: Final[tuple[Any, ...]] = (
    42,
    "a string item",
    None,
    {"content_text": "no title, no url"},
    {"title": ["a", "list"], "url": 7},
)


def _good_generic(i: int, title: str, abstract: str) -> str:
    return json.dumps(
        {"paper": {"id": f"2408.{i:05d}", "title": title, "authors": ["A. One"]}, "upvotes": i},
        ensure_ascii=False,
    )


_BAD_GENERIC: Final = (
    '{"paper": {"id": "2408.0',
    "[1, 2]",
    '{"paper": "flat"}',
    '{"paper": {"title": ["not", "text"]}}',
    '{"paper": {"authors": {"not": "a list"}}}',
    '{"upvotes": 3}',
)


def _page_title(title: str) -> str:
    # a page title is one line that does not end like a sentence
    return " ".join(title.split()) + " x"


def _good_page(i: int, title: str, abstract: str) -> str:
    return f"{_page_title(title)}\n\n{' '.join(abstract.split())} end."


# name -> (file name, build file bytes from [(good, i, title, abstract, pick)])
Mix = list[tuple[bool, str, str, Any]]


def _lines_file(good: Callable[..., str], bad: tuple[Any, ...], head: str, tail: str) -> Any:
    def build(mix: Mix) -> bytes:
        parts = [
            good(i, title, abstract) if ok else bad[pick % len(bad)]
            for i, (ok, title, abstract, pick) in enumerate(mix)
        ]
        return (head + "".join(parts) + tail).encode()

    return build


def _jsonl_file(good: Callable[..., str], bad: tuple[str, ...], latin1: bool = False) -> Any:
    def build(mix: Mix) -> bytes:
        lines = [
            good(i, title, abstract).encode()
            if ok
            else bad[pick % len(bad)].encode("latin-1" if latin1 else "utf-8")
            for i, (ok, title, abstract, pick) in enumerate(mix)
        ]
        return b"\n".join(lines) + b"\n"

    return build


def _jsonfeed_file(mix: Mix) -> bytes:
    items = [
        _good_jsonfeed(i, t, a) if ok else _BAD_JSONFEED[p % len(_BAD_JSONFEED)]
        for i, (ok, t, a, p) in enumerate(mix)
    ]
    doc = {"version": "https://jsonfeed.org/version/1.1", "title": "HF papers", "items": items}
    return json.dumps(doc, ensure_ascii=False).encode()


def _hf_file(mix: Mix) -> bytes:
    elements = [
        _good_hf(i, t, a) if ok else _BAD_HF[p % len(_BAD_HF)]
        for i, (ok, t, a, p) in enumerate(mix)
    ]
    return json.dumps(elements, ensure_ascii=False).encode()


def _tps_file(mix: Mix) -> bytes:
    blocks = [
        _good_tps(i, t, a) if ok else _BAD_TPS[p % len(_BAD_TPS)]
        for i, (ok, t, a, p) in enumerate(mix)
    ]
    return ("\n---\n".join(blocks) + "\n").encode()


def _page_file(mix: Mix) -> bytes:
    # a bad block is a title line without its abstract; at most as many as good ones (a page of
    # mostly unpaired blocks is, rightly, rejected whole as not being a papers page)
    blocks = [
        _good_page(i, t, a) if ok or i % 2 == 0 else _page_title(t)
        for i, (ok, t, a, _) in enumerate(mix)
    ]
    return ("Daily Papers\n\n" + "\n\n".join(blocks) + "\n").encode()


# Bad snapshot lines, some not even UTF-8 (a Latin-1 byte in the title).
_BAD_SNAPSHOT_BYTES: Final = (*_BAD_SNAPSHOT, '{"id": "2401.99999", "title": "caf\xe9 \xff"}')

MIXED_FILES: Final[dict[str, tuple[str, str, Callable[[Mix], bytes]]]] = {
    # layout: (file name, reader expected, builder)
    "snapshot": (
        "arxiv/mix.jsonl",
        "arxiv_snapshot",
        _jsonl_file(_good_snapshot, _BAD_SNAPSHOT_BYTES, latin1=True),
    ),
    "hf_api": ("hf_api/2024-02-01.json", "hf_daily_papers", _hf_file),
    "title_pdf_summary": (
        "scrapes/paper_metadata_2024-03-01.txt",
        "hf_title_pdf_summary",
        _tps_file,
    ),
    "oai": (
        "arxiv/oai-0001.xml",
        "arxiv_oai",
        _lines_file(_good_oai, _BAD_OAI, _OAI_HEAD, "</ListRecords>\n</OAI-PMH>\n"),
    ),
    "atom": (
        "arxiv/atom-0.xml",
        "arxiv_atom",
        _lines_file(_good_atom, _BAD_ATOM, _ATOM_HEAD, "</feed>\n"),
    ),
    "rss": (
        "feeds/2024-06-03.rss.xml",
        "feed",
        _lines_file(
            _good_rss,
            _BAD_RSS,
            '<?xml version="1.0"?>\n<rss version="2.0"><channel><title>HF</title>\n',
            "</channel></rss>\n",
        ),
    ),
    "jsonfeed": ("feeds/2024-07-01.json", "feed", _jsonfeed_file),
    "generic_jsonl": (
        "generic/dump/2024-08-01.jsonl",
        "fuzz_jsonl",
        _jsonl_file(_good_generic, _BAD_GENERIC),
    ),
    "page": ("hf_papers_page/2024-09-01.txt", "hf_papers_page", _page_file),
}


def _good_titles(layout: str, mix: Mix) -> list[str]:
    if layout == "page":
        return [_page_title(t) for i, (ok, t, _, _) in enumerate(mix) if ok or i % 2 == 0]
    return [t for ok, t, _, _ in mix if ok]


@pytest.mark.parametrize("layout", sorted(set(MIXED_FILES) - set(LAYOUTS)))
@settings(max_examples=10, deadline=DEADLINE_MS, derandomize=True, database=None)
@given(mix=mixtures())
def test_no_record_lost_more_layouts(layout: str, mix: Mix) -> None:
    name, reader, build = MIXED_FILES[layout]
    result = read(name, build(mix))
    assert result.reader == reader, result.rejects.to_dicts()[:3]
    _account(name, result, len(mix), _good_titles(layout, mix))


@pytest.mark.slow
@pytest.mark.long
@pytest.mark.parametrize("layout", sorted(set(MIXED_FILES) - set(LAYOUTS)))
@settings(max_examples=SLOW_EXAMPLES // 4, deadline=DEADLINE_MS, database=None)
@given(mix=mixtures())
def test_no_record_lost_more_layouts_long(layout: str, mix: Mix) -> None:
    test_no_record_lost_more_layouts.hypothesis.inner_test(layout, mix)  # type: ignore[attr-defined]


def _pipeline_params(tmp: Path) -> Path:
    """params.yaml with the fuzz generic sources and an absolute vocabulary path, in tmp."""
    text = (REPO / "params.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    data["read"]["sources"] = [*data["read"].get("sources", []), *_EXTRA_SOURCES]
    data["tags"]["vocabulary"] = str(REPO / "vocab" / "topics.yaml")
    data["tags"]["keyphrase_idf"] = str(REPO / "vocab" / "keyphrase_idf.parquet")
    path = tmp / "params.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), "utf-8")
    return path


def run_steps(raw: Path, params_path: Path, out: Path) -> tuple[dict[str, int], dict[str, Path]]:
    """The build flow's steps in process (run_local, no gates): records read per file, and the
    published tables."""
    build_local(raw, out, params_path)
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    per_file = {i["path"]: i["records"] for i in manifest["inputs"]}
    return per_file, {
        name: io.table_path(out, name) for name in ("papers", "provenance", "rejected")
    }


def _no_record_lost_pipeline(mixes: dict[str, Mix], tmp: Path) -> None:
    raw, out = tmp / "raw", tmp / "out"
    generated: dict[str, int] = {}
    for layout, mix in mixes.items():
        name, _, build = MIXED_FILES[layout]
        (raw / name).parent.mkdir(parents=True, exist_ok=True)
        (raw / name).write_bytes(build(mix))
        generated[name] = len(mix)
    per_file, published = run_steps(raw, _pipeline_params(tmp), out)
    provenance = pl.read_parquet(published["provenance"])
    rejected = pl.read_parquet(published["rejected"])
    papers = pl.read_parquet(published["papers"])
    Rejected.validate(rejected)
    # counts reconcile, file by file and in total
    assert per_file == generated
    assert provenance.height + rejected.height == sum(generated.values())
    # every generated record is in provenance or rejected, exactly once, by file and position
    assert rejected["record_index"].null_count() == 0, rejected.filter(
        pl.col("record_index").is_null()
    ).to_dicts()
    seen = pl.concat(
        [
            provenance.select("source_file", "record_index"),
            rejected.select("source_file", "record_index"),
        ]
    )
    expected = pl.DataFrame(
        [(name, i) for name, count in generated.items() for i in range(count)],
        schema={"source_file": pl.String, "record_index": pl.Int64},
        orient="row",
    )
    assert seen.sort(seen.columns).equals(expected.sort(expected.columns))
    # each reject says where and why; every provenance row points at a published paper
    assert set(rejected["stage"].to_list()) <= set(STAGE_REJECT_ORDER)
    assert all(r.strip() for r in rejected["reason"].to_list())
    assert provenance.join(papers, on="paper_id", how="anti").height == 0


@st.composite
def mixtures_per_layout(draw: st.DrawFn) -> dict[str, Mix]:
    return {layout: draw(mixtures()) for layout in sorted(MIXED_FILES)}


@settings(
    max_examples=3,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(mixes=mixtures_per_layout())
def test_no_record_lost_through_the_pipeline(mixes: dict[str, Mix]) -> None:
    with tempfile.TemporaryDirectory(prefix="papers-mix-") as tmp:
        _no_record_lost_pipeline(mixes, Path(tmp))


@pytest.mark.slow
@pytest.mark.long
@settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(mixes=mixtures_per_layout())
def test_no_record_lost_through_the_pipeline_long(mixes: dict[str, Mix]) -> None:
    with tempfile.TemporaryDirectory(prefix="papers-mix-") as tmp:
        _no_record_lost_pipeline(mixes, Path(tmp))
