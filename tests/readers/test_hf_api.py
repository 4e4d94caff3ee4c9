"""hf_api: HF daily_papers JSON (arrays, repr strings, wrapper) into raw records; bad input rejected."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from papers.readers.hf_api import SOURCE, read_hf_api, sniff_hf_api
from schemas import RawRecords, Rejected

UTC = dt.UTC
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "hf_api"
HF_FILES = [
    "2025-10-08.json",
    "2024-05-27.json",
    "2024-12-13.json",
    "2025-01-10.json",
    "2024-06-17-one-bad.json",
    "papers.json",
    "truncated.json",
]


def read(name: str, source_file: str | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    data = (FIXTURES / name).read_bytes()
    return read_hf_api(data, source_file or f"hf_daily_papers/{name}")


def record(records: pl.DataFrame, index: int) -> dict[str, Any]:
    return records.filter(pl.col("record_index") == index).row(0, named=True)


def paper(pid: str, title: str, **extra: Any) -> dict[str, Any]:
    """A minimal listing element, as the API writes one."""
    return {
        "paper": {"id": pid, "title": title, "summary": "An abstract.", "authors": []},
        "publishedAt": "2025-02-01T09:00:00.000Z",
        "title": title,
        **extra,
    }


def listing(elements: list[Any]) -> bytes:
    return json.dumps(elements).encode()


# --- sniffing -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", HF_FILES)
def test_sniff_accepts_hf_files(name: str) -> None:
    assert sniff_hf_api((FIXTURES / name).read_bytes()[:4096])


@pytest.mark.parametrize(
    "head",
    [
        b'<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">\n<entry>',
        b'{"id":"0704.0001","submitter":"Pavel Nadolsky","authors":"C. Bal\\\'azs, E. L. Berger"}\n',
        b'[\n  {\n    "id": "0704.0001",\n    "submitter": "Pavel Nadolsky",\n    "title": "Calc"',
        b'{"version": "https://jsonfeed.org/version/1.1", "title": "Papers", "items": [{"id": "1"}]}',
        b'{"date": "2024-01-01", "papers": [{"title": "A", "url": "https://hf.co/papers/2401.1"}]}',
        b'{"count": 1, "next": null, "previous": null, "results": [{"id": "x", "arxiv_id": "1"}]}',
        b'{"status": "success", "date": "2025-01-10", "count": 0, "data": []}',
        b"Daily Papers\n\nA title\n\nIts abstract.",
        b"[]",
        b"",
        b"\x1f\x8b\x08\x00",
    ],
    ids=[
        "arxiv-atom",
        "arxiv-jsonl",
        "kaggle-array",
        "json-feed",
        "page-scrape",
        "pwc",
        "empty-wrapper",
        "text",
        "empty-array",
        "empty",
        "gzip",
    ],
)
def test_sniff_rejects_other_formats(head: bytes) -> None:
    assert not sniff_hf_api(head)


@pytest.mark.parametrize(
    ("head", "accepted"),
    [
        (b'\xef\xbb\xbf\n[\n  {\n    "paper": {\n      "id": "2501.1"', True),
        (b"  [ \"{'paper': {'id': '2412.1'", True),
        (b'[{"numComments": 3, "paper": {"id": "1"', True),
        (b'{"data": [{"publishedAt": "2025-01-01", "paper": {"id": "1"', True),
        (b'{"error": "Invalid date"}', True),
        (b'[{"paper": 1}]', False),
        (b'{"paper": {"id": "1"}, "title": "one paper, not a listing"}', False),
    ],
)
def test_sniff_variants(head: bytes, accepted: bool) -> None:
    assert sniff_hf_api(head) is accepted


# --- whole fixtures -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "n_records", "n_rejects"),
    [
        ("2025-10-08.json", 3, 0),
        ("2024-05-27.json", 3, 0),
        ("2024-12-13.json", 3, 0),
        ("2025-01-10.json", 2, 0),
        ("2024-06-17-one-bad.json", 1, 1),
        ("papers.json", 0, 1),
        ("truncated.json", 0, 1),
    ],
)
def test_counts_and_schemas(name: str, n_records: int, n_rejects: int) -> None:
    records, rejects = read(name)
    RawRecords.validate(records)
    Rejected.validate(rejects)
    assert (records.height, rejects.height) == (n_records, n_rejects)
    assert records["source"].to_list() == [SOURCE] * n_records
    assert records["source_file"].to_list() == [f"hf_daily_papers/{name}"] * n_records
    assert records["line"].null_count() == n_records


EXPECTED: list[tuple[str, int, dict[str, Any], tuple[str, str]]] = [
    (
        # 2025 layout: ai_keywords, githubRepo with a newline in it, no projectPage
        "2025-10-08.json",
        1,
        {
            "title_raw": "Margin Adaptive DPO: Leveraging Reward Model for Granular Control in\n"
            "  Preference Optimization",
            "arxiv_id_raw": "2510.05342",
            "authors": ["Hyung Gyu Rho"],
            "published_at": dt.datetime(2025, 10, 6, 20, 9, 37, tzinfo=UTC),
            "listing_date": dt.date(2025, 10, 8),
            "upvotes": 3,
            "hf_keywords": [
                "Direct Preference Optimization",
                "DPO",
                "IPO",
                "β-DPO",
                "reward model",
                "preference margins",
                "DPO loss",
                "optimization landscape",
                "reward model estimation errors",
                "sentiment generation task",
            ],
            "curated_links": [
                {
                    "url": "https://github.com/sirano1004/\nMargin-Apative-Direct-Preference-Optimization",
                    "field": "githubRepo",
                }
            ],
        },
        (
            "Direct Preference Optimization (DPO) has emerged as a simple and effective\nmethod",
            "approach to\npreference alignment.",
        ),
    ),
    (
        # early 2024 layout (mediaUrl); HF display title keeps \textsc{}, paper.title is the arXiv one
        "2024-05-27.json",
        2,
        {
            "title_raw": "AutoCoder: Enhancing Code Large Language Model with\n  AIEV-Instruct",
            "arxiv_id_raw": "2405.14906",
            "authors": ["Bin Lei", "Yuchen Li", "Qiuwu Chen"],
            "published_at": dt.datetime(2024, 5, 23, 2, 53, 25, tzinfo=UTC),
            "listing_date": dt.date(2024, 5, 27),
            "upvotes": 7,
            "hf_keywords": [],
            "curated_links": [],
        },
        (
            "We introduce AutoCoder, the first Large Language Model",
            "available in\nhttps://github.com/bin123apple/AutoCoder.",
        ),
    ),
    (
        # Python repr() strings inside the array
        "2024-12-13.json",
        0,
        {
            "title_raw": "Learned Compression for Compressed Learning",
            "arxiv_id_raw": "2412.09405",
            "authors": ["Dan Jacobellis", "Neeraja J. Yadwadkar"],
            "published_at": dt.datetime(2024, 12, 12, 16, 9, 57, tzinfo=UTC),
            "listing_date": dt.date(2024, 12, 13),
            "upvotes": 7,
            "hf_keywords": [],
            "curated_links": [],
        },
        (
            "Modern sensors produce increasingly rich streams of high-resolution data. Due\nto",
            "are available at https://ut-sysml.org/walloc",
        ),
    ),
    (
        # {status, date, count, data: [repr strings]} wrapper, non-ASCII names
        "2025-01-10.json",
        0,
        {
            "title_raw": "Enhancing Human-Like Responses in Large Language Models",
            "arxiv_id_raw": "2501.05032",
            "authors": ["Ethem Yağız Çalık", "Talha Rüzgar Akkuş"],
            "published_at": dt.datetime(2025, 1, 9, 7, 44, 6, tzinfo=UTC),
            "listing_date": dt.date(2025, 1, 10),
            "upvotes": 23,
            "hf_keywords": [],
            "curated_links": [],
        },
        (
            "This paper explores the advancements in making large language models (LLMs)\n",
            "human-like\nattributes.",
        ),
    ),
    (
        # one of the four authors is hidden: all names kept, in order
        "2024-06-17-one-bad.json",
        0,
        {
            "title_raw": "GaussianSR: 3D Gaussian Super-Resolution with 2D Diffusion Priors",
            "arxiv_id_raw": "2406.10111",
            "authors": ["Xiqian Yu", "Hanxin Zhu", "Tianyu He", "Zhibo Chen"],
            "published_at": dt.datetime(2024, 6, 14, 15, 19, 21, tzinfo=UTC),
            "listing_date": dt.date(2024, 6, 17),
            "upvotes": 2,
            "hf_keywords": [],
            "curated_links": [],
        },
        (
            "Achieving high-resolution novel view synthesis (HRNVS)",
            "Project page: https://chchnii.github.io/GaussianSR/",
        ),
    ),
]


@pytest.mark.parametrize(("name", "index", "fields", "abstract_ends"), EXPECTED)
def test_record_fields(
    name: str, index: int, fields: dict[str, Any], abstract_ends: tuple[str, str]
) -> None:
    row = record(read(name)[0], index)
    assert {key: row[key] for key in fields} == fields
    start, end = abstract_ends
    assert row["abstract_raw"].startswith(start)
    assert row["abstract_raw"].endswith(end)
    for unset in ("line", "doi", "updated_at", "comments", "journal_ref", "license"):
        assert row[unset] is None
    assert row["categories"] == []


def test_curated_links_both_fields_in_order() -> None:
    row = record(read("2025-10-08.json")[0], 0)
    assert row["curated_links"] == [
        {"url": "https://github.com/yoavgur/mixing-mechs", "field": "githubRepo"},
        {"url": "https://yoav.ml/blog/2025/mixing-mechs/", "field": "projectPage"},
    ]
    assert len(row["hf_keywords"]) == 8
    # the last record has keywords but neither link
    assert record(read("2025-10-08.json")[0], 2)["curated_links"] == []


def test_hidden_author_is_in_the_file() -> None:
    # guards the fixture: the test above is only meaningful if one author really is hidden
    element = json.loads((FIXTURES / "2024-06-17-one-bad.json").read_bytes())[0]
    assert [a["hidden"] for a in element["paper"]["authors"]] == [True, False, False, False]


def test_raw_is_the_element_text() -> None:
    records, _ = read("2024-05-27.json")
    element = json.loads((FIXTURES / "2024-05-27.json").read_bytes())[2]
    assert record(records, 2)["raw"] == json.dumps(element, sort_keys=True, ensure_ascii=False)
    assert "mediaUrl" in element
    # repr-string elements keep their original string
    strings = json.loads((FIXTURES / "2024-12-13.json").read_bytes())
    assert read("2024-12-13.json")[0]["raw"].to_list() == strings
    assert strings[0].startswith("{'paper': {'id': '2412.09405'")


@pytest.mark.parametrize(
    ("name", "source_file", "listing_date"),
    [
        ("2025-01-10.json", "hf_daily_papers/2025-01-10.json", dt.date(2025, 1, 10)),
        ("2025-01-10.json", "hf_daily_papers/latest.json", dt.date(2025, 1, 10)),  # wrapper date
        # top-level publishedAt 2025-10-07T13:44:30.000Z (paper.publishedAt is 17:44:30)
        ("2025-10-08.json", "hf_daily_papers/latest.json", dt.date(2025, 10, 7)),
        ("2025-10-08.json", "2025-10-08/latest.json", dt.date(2025, 10, 7)),  # a folder's date
    ],
)
def test_listing_date_from_name_then_wrapper_then_published_at(
    name: str, source_file: str, listing_date: dt.date
) -> None:
    records, _ = read(name, source_file)
    assert records["listing_date"][0] == listing_date


def test_listing_date_precedence_hand_made() -> None:
    wrapped = json.dumps({"status": "success", "date": "2025-02-03", "data": [paper("1", "T")]})
    assert read_hf_api(wrapped.encode(), "x/2025-02-04.json")[0]["listing_date"].item() == (
        dt.date(2025, 2, 4)
    )
    assert read_hf_api(wrapped.encode(), "x/listing.json")[0]["listing_date"].item() == (
        dt.date(2025, 2, 3)
    )
    plain = listing([paper("1", "T")])
    assert read_hf_api(plain, "x/listing.json")[0]["listing_date"].item() == dt.date(2025, 2, 1)


# --- rejects --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "record_index", "stage", "reason"),
    [
        (
            "papers.json",
            None,
            "read",
            "saved API error body: Sorry, we can't find the page you are looking for.",
        ),
        (
            "truncated.json",
            None,
            "read",
            "truncated JSON: the text stops mid-value at line 46 column 57",
        ),
        ("2024-06-17-one-bad.json", 1, "parse", "record has neither a paper id nor a title"),
    ],
)
def test_fixture_rejects(name: str, record_index: int | None, stage: str, reason: str) -> None:
    _, rejects = read(name)
    row = rejects.row(0, named=True)
    assert (row["record_index"], row["stage"]) == (record_index, stage)
    assert row["reason"].startswith(reason)
    text = (FIXTURES / name).read_text("utf-8")
    if stage == "read":
        assert row["raw"] == text[:2000]
    else:
        element = json.loads(text)[record_index]
        assert row["raw"] == json.dumps(element, sort_keys=True, ensure_ascii=False)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (
            b'[\n  {\n    "paper": {"id": "1",},\n  }\n]',
            "invalid JSON at line 3 column 25: Expecting property name",
        ),
        (b"", "empty file"),
        (b"\xff\xfe[]", "not valid UTF-8 text (byte 0"),
        (b'{"status": "success"}', "JSON object without a data array is not a listing"),
        (b'{"data": {"paper": {}}}', "JSON object without a data array is not a listing"),
        (b'"[]"', "top-level JSON string is not a listing"),
        (b"[" * 100_000, "invalid JSON: nested too deeply to read"),
    ],
)
def test_files_that_are_not_listings(data: bytes, reason: str) -> None:
    records, rejects = read_hf_api(data, "x/2025-01-01.json")
    Rejected.validate(rejects)
    assert records.height == 0
    assert rejects.height == 1
    row = rejects.row(0, named=True)
    assert (row["record_index"], row["stage"]) == (None, "read")
    assert row["reason"].startswith(reason)
    assert len(row["raw"]) <= 2000


BAD_ELEMENTS: list[tuple[Any, str]] = [
    (42, "record is a JSON number, not an object"),
    ([paper("1", "T")], "record is a JSON array, not an object"),
    (None, "record is a JSON null, not an object"),
    ("{'paper': {'id': '2412.1', 'title': 'Cut", "string record is not a Python literal"),
    ("__import__('os').system('true')", "string record is not a Python literal"),
    ("['not', 'a', 'record']", "string record holds a array, not an object"),
    ("{'paper': {'id': '1', 'tags': {1, 2}}}", "string record holds values JSON cannot"),
    ({"paper": [], "title": "T"}, "record has a field of the wrong type: expected struct"),
    ({"paper": {"id": "1", "authors": "A. Author"}}, "record has a field of the wrong type"),
    ({"paper": {"id": {"arxiv": "1"}}}, "record has a field of the wrong type: expected string"),
    ({"paper": {"summary": "S"}, "title": "  \n "}, "record has neither a paper id nor a title"),
    ({"numComments": 3}, "record has neither a paper id nor a title"),
]


@pytest.mark.parametrize(("element", "reason"), BAD_ELEMENTS)
def test_unusable_element_is_rejected_alone(element: Any, reason: str) -> None:
    data = listing([paper("2501.00001", "First"), element, paper("2501.00003", "Third")])
    records, rejects = read_hf_api(data, "x/2025-02-04.json")
    RawRecords.validate(records)
    Rejected.validate(rejects)
    assert records["record_index"].to_list() == [0, 2]
    assert records["arxiv_id_raw"].to_list() == ["2501.00001", "2501.00003"]
    row = rejects.row(0, named=True)
    assert (rejects.height, row["record_index"], row["stage"]) == (1, 1, "parse")
    assert row["reason"].startswith(reason)
    expected_raw = element if isinstance(element, str) else json.dumps(element, sort_keys=True)
    assert row["raw"] == expected_raw


def test_reject_raw_is_cut_at_2000_chars() -> None:
    element = {"paper": {"summary": "x" * 5000}}
    _, rejects = read_hf_api(listing([element]), "x/2025-02-04.json")
    assert rejects["raw"].item() == json.dumps(element, sort_keys=True)[:2000]


# --- tolerated quirks -----------------------------------------------------------------------


def test_fallbacks_and_tolerated_values() -> None:
    elements = [
        # no paper.title / paper.summary: the top-level ones stand in
        {
            "paper": {"id": "2501.00001", "title": "", "authors": [{"name": "A", "hidden": True}]},
            "title": "Top title",
            "summary": "Top summary",
        },
        # id written as a number, upvotes as a string, a negative count, an author without name
        {
            "paper": {
                "id": 2501.00002,
                "title": "T",
                "upvotes": "12",
                "authors": [{"name": "B"}, {"_id": "x"}, {"name": None}],
                "ai_keywords": ["k", None],
                "githubRepo": " ",
                "projectPage": " https://p.example/ ",
                "publishedAt": "2025-01-02T03:04:05+02:00",
            }
        },
        {"paper": {"id": "2501.00003", "upvotes": -4, "publishedAt": "yesterday"}},
    ]
    records, rejects = read_hf_api(listing(elements), "x/2025-02-04.json")
    RawRecords.validate(records)
    assert rejects.height == 0
    first, second, third = records.iter_rows(named=True)
    assert (first["title_raw"], first["abstract_raw"], first["authors"]) == (
        "Top title",
        "Top summary",
        ["A"],
    )
    assert (second["arxiv_id_raw"], second["upvotes"], second["authors"]) == (
        "2501.00002",
        12,
        ["B"],
    )
    assert second["hf_keywords"] == ["k"]
    assert second["curated_links"] == [{"url": " https://p.example/ ", "field": "projectPage"}]
    assert second["published_at"] == dt.datetime(2025, 1, 2, 1, 4, 5, tzinfo=UTC)
    assert (third["title_raw"], third["upvotes"], third["published_at"]) == (None, None, None)


@pytest.mark.parametrize(
    "data", [b"[]", b'{"status": "success", "date": "2025-01-04", "data": []}']
)
def test_empty_listing_has_no_rows(data: bytes) -> None:
    records, rejects = read_hf_api(data, "x/2025-01-04.json")
    assert (records.height, rejects.height) == (0, 0)
    RawRecords.validate(records)
    Rejected.validate(rejects)


def test_lone_surrogate_escape_does_not_break_the_frame() -> None:
    data = b'[{"paper": {"id": "1", "title": "Bad \\ud800 escape"}}]'
    records, _ = read_hf_api(data, "x/2025-01-04.json")
    assert records["title_raw"].item() == "Bad \ufffd escape"


# --- repr records are read with a literal parser, never evaluated --------------------------------


@pytest.mark.parametrize(
    "template",
    [
        "__import__('pathlib').Path({target!r}).write_text('pwned')",
        "{{'paper': {{'id': __import__('os').system('touch ' + {target!r}), 'title': 'T'}}}}",
        "{{'paper': {{'id': '1', 'title': (lambda: open({target!r}, 'w'))()}}}}",
        "{{'paper': {{'id': '1', 'title': [x for x in open({target!r}, 'w')]}}}}",
        "{{'paper': {{'id': '1', 'title': f'{{open({target!r}, \"w\")}}'}}}}",
        "exec(\"open({target!r}, 'w')\")",
    ],
)
def test_malicious_repr_record_is_a_reject_and_runs_nothing(tmp_path: Path, template: str) -> None:
    target = tmp_path / "pwned"
    element = template.format(target=str(target))
    data = listing([paper("2501.00001", "First"), element])
    records, rejects = read_hf_api(data, "x/2025-02-04.json")
    assert not target.exists(), "a repr record was executed"
    assert records["record_index"].to_list() == [0]
    row = rejects.row(0, named=True)
    assert (row["record_index"], row["stage"]) == (1, "parse")
    assert row["reason"].startswith("string record is not a Python literal")
    assert row["raw"] == element


@pytest.mark.parametrize(
    "element",
    [
        "{'a': " * 100_000 + "1" + "}" * 100_000,  # nesting past the parser's depth
        "{'paper': {'id': " + "9" * 100_000 + "}}",  # an int too long to convert
        "{'paper': {'id': 10**10**10}}",  # an operator literal_eval refuses to compute
    ],
    ids=["deep", "long-int", "power"],
)
def test_hostile_repr_literals_are_rejects_not_crashes(element: str) -> None:
    records, rejects = read_hf_api(listing([element]), "x/2025-02-04.json")
    assert records.height == 0
    assert rejects.select("record_index", "stage").rows() == [(0, "parse")]
    assert rejects["reason"].item().startswith("string record")
