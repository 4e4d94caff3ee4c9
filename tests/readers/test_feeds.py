"""feeds: RSS 2.0, Atom and JSON Feed items become records; bad feeds and items are rejected."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from papers.readers.feeds import SOURCE_FEED, feed_kind, html_text, read_feed, sniff_feed
from schemas import RawRecords, Rejected

UTC = dt.UTC
NO_ID = "item has no title and no arXiv or Hugging Face paper link"


@pytest.fixture(scope="module")
def feeds(fixtures: Path) -> Path:
    return fixtures / "feeds"


def _read(data: bytes, source_file: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    records, rejects = read_feed(data, source_file)
    RawRecords.validate(records)
    Rejected.validate(rejects)
    return records, rejects


def test_rss_of_hf_papers(feeds: Path) -> None:
    name = "hf-papers-2024-05-27.rss.xml"
    data = (feeds / name).read_bytes()
    assert feed_kind(data[:4096]) == "rss"
    assert sniff_feed(data[:4096])
    records, rejects = _read(data, f"feeds/{name}")
    assert records["record_index"].to_list() == [0, 1, 2, 4]
    assert records["line"].to_list() == [10, 18, 27, 38]
    assert records["source"].unique().to_list() == [SOURCE_FEED]
    assert records["listing_date"].unique().to_list() == [dt.date(2024, 5, 27)]
    conv, meteor, grokked, road = records.iter_rows(named=True)

    # CDATA HTML: tags stripped, entities decoded, paragraphs and <br> kept as breaks
    assert conv["abstract_raw"] == (
        "High-resolution Large Multimodal Models (LMMs) encounter the challenges of excessive"
        " visual tokens & quadratic visual complexity.\n\n"
        "We propose ConvLLaVA, which employs ConvNeXt, a hierarchical backbone, as the visual"
        " encoder of LMM to replace Vision Transformer (ViT).\nCode: github.com/alibaba/conv-llava"
    )
    assert conv["arxiv_id_raw"] == "https://huggingface.co/papers/2405.15738"
    assert conv["authors"] == [
        "Chunjiang Ge",
        "Sijie Cheng",
        "Ziming Wang",
        "Jiale Yuan",
        "Yuan Gao",
        "Jun Song",
        "Shiji Song",
        "Gao Huang",
    ]
    assert conv["published_at"] == dt.datetime(2024, 5, 27, 3, 50, 58, tzinfo=UTC)
    assert conv["curated_links"] == [
        {"url": "https://huggingface.co/papers/2405.15738", "field": "link"}
    ]
    assert conv["raw"].startswith("<item>\n      <title>ConvLLaVA")
    assert conv["raw"].endswith("]]></description>\n    </item>")

    # escaped HTML (no CDATA) with entities, double-escaped &amp;amp; in the title
    assert meteor["title_raw"] == (
        "Meteor: Mamba-based Traversal of Rationale for Large Language & Vision Models"
    )
    assert meteor["abstract_raw"] == (
        "The rapid development of large language and vision models (LLVMs) has been driven by"
        " advances in visual instruction tuning. Recently, open\u2011source LLVMs have curated"
        " high\u2013quality datasets \u2014 na\u00efvely."
    )
    assert meteor["authors"] == ["Byung-Kwan Lee", "Chae Won Kim"]  # two dc:creator elements
    assert meteor["arxiv_id_raw"] == "https://arxiv.org/abs/2405.15574v1"
    # -0700 is converted to UTC
    assert meteor["published_at"] == dt.datetime(2024, 5, 27, 2, 32, 40, tzinfo=UTC)

    # no description; the guid, not the link, is the arXiv URL; "email (Name)" author; PDT zone
    assert grokked["abstract_raw"] is None
    assert grokked["arxiv_id_raw"] == "https://arxiv.org/pdf/2405.15071"
    assert grokked["authors"] == ["AK"]
    assert grokked["published_at"] == dt.datetime(2024, 5, 27, 2, 3, 20, tzinfo=UTC)
    assert grokked["curated_links"] == [
        {"url": "https://example.org/blog/grokked-transformers", "field": "link"}
    ]

    # content:encoded stands in for a missing description (script dropped); a relative date
    # ("2 days ago") cannot be placed in time; no link: a paper known by its title only
    assert road["abstract_raw"] == (
        "Existing learning rate schedules that do not require specification of the optimization"
        " stopping step T are greatly out-performed by schedules that depend on T."
    )
    assert (road["published_at"], road["arxiv_id_raw"], road["curated_links"]) == (None, None, [])

    assert rejects.rows() == [
        (f"feeds/{name}", 3, "parse", NO_ID, rejects["raw"].item()),
    ]
    assert rejects["raw"].item().startswith("<item>\n      <description><![CDATA[<p>An orphan")


def test_atom_feed(feeds: Path) -> None:
    data = (feeds / "hf-papers.atom.xml").read_bytes()
    assert feed_kind(data[:4096]) == "atom"
    assert sniff_feed(data[:4096])
    records, rejects = _read(data, "feeds/hf-papers.atom.xml")
    assert records["record_index"].to_list() == [0, 1, 2]
    assert records["listing_date"].is_null().all()  # no date in the file name
    aya, stacking, road = records.iter_rows(named=True)
    # type="html" title and summary: markup stripped
    assert aya["title_raw"] == "Aya 23: Open Weight Releases to Further Multilingual Progress"
    assert aya["abstract_raw"] == (
        "This technical report introduces Aya 23, a family of multilingual language models"
        " \u2013 serving 23 languages."
    )
    assert aya["arxiv_id_raw"] == "https://huggingface.co/papers/2405.15032"  # rel="alternate"
    assert aya["authors"] == ["Viraat Aryabumi", "John Dang"]
    assert aya["published_at"] == dt.datetime(2024, 5, 27, 2, 16, 38, tzinfo=UTC)
    assert aya["updated_at"] == dt.datetime(2024, 5, 28, 6, 30, tzinfo=UTC)
    # type="text" summary keeps "<" and "&" as text; no <published>: updated stands in
    assert stacking["abstract_raw"] == (
        "LLMs are computationally expensive to pre-train: cost < benefit & growth helps."
    )
    assert stacking["published_at"] == stacking["updated_at"]
    assert stacking["published_at"] == dt.datetime(2024, 5, 27, 3, 45, 52, 405000, tzinfo=UTC)
    # no link: the arXiv <id> identifies it; xhtml content; a bare date is midnight UTC
    assert road["arxiv_id_raw"] == "http://arxiv.org/abs/2405.15682v1"
    assert road["abstract_raw"] == (
        "Existing learning rate schedules are out-performed.\n\nWe propose Schedule-Free"
        " optimisation."
    )
    assert road["published_at"] == dt.datetime(2024, 5, 24, tzinfo=UTC)
    assert road["curated_links"] == []
    assert road["raw"].startswith("<entry>")
    assert road["raw"].endswith("</content>\n  </entry>")
    # a blank title and a non-paper link: cannot be identified
    assert rejects["record_index"].to_list() == [3]
    assert rejects["reason"].to_list() == [NO_ID]


def test_json_feed(feeds: Path) -> None:
    data = (feeds / "hf-papers-2024-05-28.json").read_bytes()
    assert feed_kind(data[:4096]) == "jsonfeed"  # "https:\/\/jsonfeed.org\/version\/1.1"
    records, rejects = _read(data, "hf-papers-2024-05-28.json")
    assert records["record_index"].to_list() == [0, 1, 2]
    assert records["line"].is_null().all()
    assert records["listing_date"].unique().to_list() == [dt.date(2024, 5, 28)]
    conv, meteor, grokked = records.iter_rows(named=True)
    # content_html wins over summary; entities decoded
    assert conv["abstract_raw"] == (
        "High-resolution LMMs encounter excessive visual tokens & quadratic complexity.\n\n"
        "We propose ConvLLaVA\u2026"
    )
    assert conv["authors"] == ["Chunjiang Ge", "Sijie Cheng"]
    assert conv["published_at"] == dt.datetime(2024, 5, 28, 13, 15, tzinfo=UTC)
    assert conv["raw"].startswith('{"id": "https://huggingface.co/papers/2405.15738"')
    # external_url stands in for url; date_modified with a +05:30 offset
    assert meteor["arxiv_id_raw"] == "https://arxiv.org/abs/2405.15574"
    assert meteor["updated_at"] == dt.datetime(2024, 5, 29, 2, 30, 0, 250000, tzinfo=UTC)
    # JSON Feed 1.0 "author" object; an unparseable date is null, the record stays
    assert grokked["authors"] == ["Boshi Wang"]
    assert (grokked["published_at"], grokked["arxiv_id_raw"]) == (None, None)
    assert rejects["record_index"].to_list() == [3, 4]
    assert rejects["reason"].to_list() == [NO_ID, "item is a string, not an object"]
    assert rejects["raw"].to_list()[1] == '"not an item"'


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;">]>
<rss version="2.0"><channel><item><title>&lol2;</title></item></channel></rss>"""


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"<rss version='2.0'><channel><item><title>x</title></channel></rss>", "not well-formed"),
        (BILLION_LAUGHS, "XML declares entities in a DTD: refused"),
        (b"<rss version='2.0'><channel><title>empty</title></channel></rss>", "rss feed has no"),
        (b"<feed xmlns='http://www.w3.org/2005/Atom'><title>t</title></feed>", "atom feed has no"),
        (b"<html><body>Not a feed</body></html>", "not an RSS 2.0, Atom or JSON Feed document"),
        (b"<feed><entry/></feed>", "not an RSS 2.0, Atom or JSON Feed document"),  # no Atom ns
        (b'{"version": "https://jsonfeed.org/version/1", "items": [', "not valid JSON"),
        (b'{"version": "https://jsonfeed.org/version/1", "items": {}}', "JSON Feed without an"),
        (b'{"title": "not a feed", "items": []}', "not an RSS 2.0, Atom or JSON Feed document"),
        (b"", "not an RSS 2.0, Atom or JSON Feed document"),
        (b"\x00\x01binary", "not an RSS 2.0, Atom or JSON Feed document"),
    ],
)
def test_bad_feeds_are_one_reject(data: bytes, reason: str) -> None:
    records, rejects = _read(data, "bad.xml")
    assert records.height == 0
    assert rejects.height == 1
    row = rejects.row(0, named=True)
    assert (row["source_file"], row["record_index"], row["stage"]) == ("bad.xml", None, "read")
    assert reason in row["reason"]
    assert row["raw"] == data.decode("utf-8", errors="replace")


def test_malformed_xml_reason_says_where() -> None:
    _, rejects = _read(b"<rss version='2.0'>\n<channel>\n<item></channel></rss>", "x.xml")
    assert rejects["reason"].item() == "not well-formed XML: mismatched tag: line 3, column 8"


def test_latin1_feed_keeps_its_text() -> None:
    data = (
        b"<?xml version='1.0' encoding='ISO-8859-1'?><rss version='2.0'><channel><item>"
        b"<title>Caf\xe9 models</title><link>https://huggingface.co/papers/2401.00001</link>"
        b"</item></channel></rss>"
    )
    records, _ = _read(data, "x.xml")
    assert records["title_raw"].item() == "Caf\u00e9 models"
    assert "Caf\u00e9 models" in records["raw"].item()


@pytest.mark.parametrize(
    ("head", "kind", "sniffed"),
    [
        (b'\xef\xbb\xbf<?xml version="1.0"?>\n<!-- c --><rss version="2.0">', "rss", True),
        (b'<feed xmlns="http://www.w3.org/2005/Atom"><title>x</title>', "atom", True),
        (b'<a:feed xmlns:a="http://www.w3.org/2005/Atom">', "atom", True),
        (b'{\n  "version": "https://jsonfeed.org/version/1.1",\n  "items": []}', "jsonfeed", True),
        # the arXiv query API answers in Atom: its own reader handles it (both formats)
        (
            b'<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">\n'
            b'  <link href="http://arxiv.org/api/query?search_query%3Dall" rel="self"/>\n'
            b"  <id>http://arxiv.org/api/IUcmJQp9DxdoxuFYQL3/j1uA2BM</id>\n",
            "atom",
            False,
        ),
        (
            b"<?xml version='1.0' encoding='UTF-8'?>\n<feed xmlns:opensearch=\"http://a9.com/-/"
            b'spec/opensearch/1.1/" xmlns:arxiv="http://arxiv.org/schemas/atom" '
            b'xmlns="http://www.w3.org/2005/Atom">\n',
            "atom",
            False,
        ),
        (b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">', None, False),
        (b"<?xml version='1.0'?><OAI-PMH>", None, False),
        (b'[{"title": "x"}]', None, False),
        (b"Title: x\nPDF: y\n", None, False),
    ],
)
def test_sniff(head: bytes, kind: str | None, sniffed: bool) -> None:
    assert feed_kind(head) == kind
    assert sniff_feed(head) is sniffed


@pytest.mark.parametrize(
    ("fragment", "text"),
    [
        ("<p>One</p><p>Two</p>", "One\n\nTwo"),
        ("a&nbsp;&nbsp;b &amp; c &#8217; &eacute;", "a b & c \u2019 \u00e9"),
        ("x < y and y > z", "x < y and y > z"),
        ("<ul><li>a</li><li>b</li></ul>", "a\nb"),
        ("<style>p {}</style>kept", "kept"),
        ("   ", None),
        (None, None),
    ],
)
def test_html_text(fragment: str | None, text: str | None) -> None:
    assert html_text(fragment) == text
