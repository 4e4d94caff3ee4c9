"""papers report: the summaries, the page's bytes, and the page itself in headless Chromium.

The page is built from a real build (temporary Prefect server) of real HF API excerpts plus a
hand-made listing of hostile titles and one of TeX abstracts (real and hostile), with real Great
Expectations Data Docs beside it. Chromium
loads it from file:// with every other request blocked; the test fails (never skips) when
Chromium is missing, unless PAPERS_SKIP_BROWSER=1 is set explicitly.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

from papers.cli import app
from papers.report import (
    TABLE_PAGE,
    bar_chart,
    load_published,
    paper_rows,
    papers_per_date,
    rejects_by_reason,
    script_json,
    summarise,
    tag_growth,
    write_report,
)
from papers.report.page import KATEX_SCRIPTS, inline_script
from tests.conftest import read_table

CHROMIUM = os.environ.get("PAPERS_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
BROWSER_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]  # fmt: skip
CHARTS = ["stages", "sources", "rejects", "dates", "kinds", "hosts", "tags", "growth"]
SCRIPT_TITLE = "<script>alert(1)</script>"
IMG_TITLE_START = "Robust <img src=x onerror=alert(2)>"
HF_API = ["2024-05-27.json", "2024-12-13.json", "2025-01-10.json", "2024-06-17-one-bad.json"]
ASSETS = resources.files("papers.report") / "assets"
MATH_TITLE = "Periodicity of certain piecewise affine planar maps"
UNKNOWN_MACROS_TITLE = "Approximating General Metric Distances Between a Pattern and a Text"
HOSTILE_MATH_TITLE = "Hostile math in an abstract"


def vendored_scripts() -> list[str]:
    return [(ASSETS / name).read_text("utf-8") for name in KATEX_SCRIPTS]


@pytest.fixture(scope="module")
def built(
    prefect_harness: None, repo: Path, fixtures: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A published folder from real HF API excerpts, hostile titles and unreadable files."""
    from flows.build import build_dataset

    raw = tmp_path_factory.mktemp("report-raw")
    (raw / "hf_daily_papers").mkdir()
    for name in HF_API:
        shutil.copy(fixtures / "hf_api" / name, raw / "hf_daily_papers" / name)
    shutil.copy(fixtures / "hf_api" / "papers.json", raw / "hf_daily_papers" / "error.json")
    (raw / "hf_papers_page").mkdir()
    for listing in ("2025-01-11.txt", "2025-01-12.txt"):
        shutil.copy(fixtures / "report" / listing, raw / "hf_papers_page" / listing)
    shutil.copy(fixtures / "pages" / "orphan.txt", raw / "hf_papers_page" / "orphan.txt")
    out = tmp_path_factory.mktemp("report-out")
    build_dataset(raw_dir=str(raw), out_dir=str(out), params_path=str(repo / "params.yaml"))
    return out


@pytest.fixture(scope="module")
def reports(built: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`papers validate` then `papers report` into one reports folder, as a user runs them."""
    folder = tmp_path_factory.mktemp("reports")
    runner = CliRunner()
    validated = runner.invoke(app, ["validate", "--out", str(built), "--reports", str(folder)])
    assert validated.exit_code == 0, validated.output
    result = runner.invoke(app, ["report", "--out", str(built), "--reports", str(folder)])
    assert result.exit_code == 0, result.output
    assert "index.html" in result.output
    return folder


# --------------------------------------------------------------------------- pure summaries


def test_rejects_group_reasons_that_differ_only_in_numbers() -> None:
    rejected = pl.DataFrame(
        {
            "source_file": ["a.json", "a.json", "b.json", "c.txt"],
            "record_index": [1, 7, 2, None],
            "stage": ["parse", "parse", "parse", "read"],
            "reason": ["bad record at byte 12", "bad record at byte 907", "x", "empty file"],
            "raw": [None, None, None, None],
        }
    )
    out = rejects_by_reason(rejected)
    assert out.row(0, named=True) == {
        "stage": "parse", "reason": "bad record at byte N", "rows": 2, "files": 1,
        "example_file": "a.json",
    }  # fmt: skip
    assert out["rows"].sum() == rejected.height


def test_dates_are_daily_for_a_short_span_and_monthly_for_a_long_one() -> None:
    d = dt.date
    short = pl.DataFrame(
        {"listing_dates": [[d(2024, 5, 27)], [d(2024, 5, 27), d(2024, 5, 28)], []]}
    )
    frame, period = papers_per_date(short)
    assert period == "1d"
    assert frame.rows() == [(d(2024, 5, 27), 2), (d(2024, 5, 28), 1)]
    long = pl.DataFrame({"listing_dates": [[d(2024, 1, 3)], [d(2024, 1, 30)], [d(2025, 2, 1)]]})
    frame, period = papers_per_date(long)
    assert period == "1mo"
    assert frame.rows() == [(d(2024, 1, 1), 2), (d(2025, 2, 1), 1)]


def test_tag_growth_is_cumulative_by_first_listing_date() -> None:
    d = dt.date
    papers = pl.DataFrame(
        {
            "tags": [["llm"], ["llm", "rl"], ["rl"], ["llm"]],
            "listing_dates": [[d(2024, 1, 2)], [d(2024, 1, 3), d(2024, 1, 1)], [d(2024, 1, 2)], []],
        }
    )
    growth = tag_growth(papers, ["rl", "llm"], "1d")
    # first listing dates: 01-02, 01-01 (the earlier of two), 01-02, none (not counted)
    assert growth["date"].unique().sort().to_list() == [d(2024, 1, 1), d(2024, 1, 2)]
    assert growth.filter(pl.col("tag") == "llm")["papers"].to_list() == [1, 2]
    assert growth.filter(pl.col("tag") == "rl")["papers"].to_list() == [1, 2]
    assert growth["tag"].unique(maintain_order=True).to_list() == ["rl", "llm"]  # given order


@pytest.mark.parametrize(
    "text",
    ["</script><script>alert(1)</script>", "<!--", "a & b > c", "line\u2028sep\u2029", "\"'\\"],
)
def test_script_json_cannot_close_the_script_and_round_trips(text: str) -> None:
    encoded = script_json({"rows": [[text]]})
    assert not re.search(r"[<>&\u2028\u2029]", encoded)
    assert json.loads(encoded) == {"rows": [[text]]}


def test_chart_labels_from_the_data_are_svg_text() -> None:
    # reject reasons quote server bodies, hosts and tags come from the data: all are text
    svg = bar_chart("x", "T <b>", [SCRIPT_TITLE, 'a & $b$ "q"'], [1, 2], "records")
    assert "<script" not in svg
    assert "<b>" not in svg
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in svg
    assert "a &amp; $b$" in svg  # a dollar is a dollar (no mathtext)
    assert svg.startswith("<svg ")
    assert 'id="x-' in svg  # ids are prefixed per chart (one id space per page)


def test_summary_reconciles_with_the_manifest(built: Path) -> None:
    published = load_published(built)
    summary = summarise(published)
    counts = published.manifest["counts"]
    stages = dict(summary.stages.iter_rows())
    assert stages["raw records"] == counts["raw_records"]
    rejected = sum(v for k, v in stages.items() if k.startswith("rejected: "))
    assert rejected == counts["rejected"] > 0
    assert summary.sources["raw_records"].sum() == counts["raw_records"]
    assert summary.rejects["rows"].sum() == counts["rejected"]
    assert summary.kinds["links"].sum() == counts["links"]
    assert summary.rows.height == counts["papers"]
    assert summary.dates.height >= 2
    assert summary.growth["date"].n_unique() >= 2


# --------------------------------------------------------------------------- the page's bytes


def test_page_is_byte_identical_for_the_same_data(built: Path, reports: Path) -> None:
    first = (reports / "index.html").read_bytes()
    write_report(built, reports)
    assert (reports / "index.html").read_bytes() == first


def test_page_holds_no_markup_from_the_data(built: Path, reports: Path) -> None:
    page = (reports / "index.html").read_text("utf-8")
    # KaTeX's own code builds markup (`<img` for \includegraphics): leave it out of the checks
    for script in vendored_scripts():
        assert page.count(script) == 1
        page = page.replace(script, "")
    assert page.count("<script") == 4  # the JSON data block, KaTeX, its auto-render, our script
    html_part, data_part = page.split('<script type="application/json" id="papers-data">')
    data = data_part.split("</script>")[0]
    assert "alert(1)" in data  # the titles are in the data block, and only there
    assert "alert(4)" in data  # so are the abstracts, with TeX and markup
    assert "alert(" not in html_part
    assert "<" not in data
    for markup in ("<img", "<iframe", "<b>bold"):
        assert markup not in page
    # self-contained: nothing is fetched (links are navigation, not resources)
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page.split('id="papers-data"')[0])
    assert "Content-Security-Policy" in page


def test_every_script_is_allowed_by_its_hash_and_katex_fonts_are_inline(reports: Path) -> None:
    page = (reports / "index.html").read_text("utf-8")
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page)
    assert csp is not None
    policy = csp[1].replace("&#39;", "'")
    allowed = set(re.findall(r"'(sha256-[^']+)'", policy))
    scripts = re.findall(r"<script>(.*?)</script>", page, re.S)
    hashes = {
        "sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() for s in scripts
    }
    assert len(scripts) == 3
    assert hashes == allowed
    assert "font-src data:;" in policy
    # every KaTeX font is one woff2 data: URL; nothing points at a font file beside the page
    assert "url(fonts/" not in page
    fonts = re.findall(r"@font-face\{[^}]*\}", page)
    assert len(fonts) == len(list((ASSETS / "katex" / "fonts").iterdir())) == 20
    assert all("src:url(data:font/woff2;base64," in f and "woff)" not in f for f in fonts)


@pytest.mark.parametrize("text", ["a</script>b", "x</SCRIPT >", "<!-- y"])
def test_a_script_that_would_end_its_element_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="inlines contains"):
        inline_script(text)


def test_page_links_the_data_docs_relatively(reports: Path) -> None:
    page = (reports / "index.html").read_text("utf-8")
    assert 'href="data_docs/index.html"' in page
    assert (reports / "data_docs" / "index.html").is_file()


def test_report_of_a_missing_build_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["report", "--out", str(tmp_path / "none")])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1
    assert "no published dataset" in result.output


# --------------------------------------------------------------------------- Chromium


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if os.environ.get("PAPERS_SKIP_BROWSER") == "1":
        pytest.skip("PAPERS_SKIP_BROWSER=1")
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"Chromium not found at {CHROMIUM}: install it, or set PAPERS_SKIP_BROWSER=1")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        yield chromium
        chromium.close()


def expected_matches(built: Path, query: str) -> set[str]:
    """The papers the search box must keep: every word in title, id, date or tags."""
    rows = paper_rows(read_table(built, "papers"))
    hay = pl.concat_str(["title", "paper_id", "date", "tags"], separator=" ").str.to_lowercase()
    keep = pl.lit(True)
    for word in query.lower().split():
        keep = keep & hay.str.contains(word, literal=True)
    return set(rows.filter(keep)["paper_id"].to_list())


class Opened:
    """The report open in a Chromium tab, with what it tried: outside requests, dialogs, errors."""

    def __init__(self, browser: Any, reports: Path) -> None:
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.outside: list[str] = []
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.page.route("**/*", self.route)
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto((reports / "index.html").as_uri())

    def route(self, r: Any) -> None:
        if r.request.url.startswith("file://"):
            r.continue_()
        else:
            self.outside.append(r.request.url)
            r.abort()

    def close(self) -> None:
        """The page fetched nothing, opened no dialog and logged no error."""
        assert self.dialogs == []
        assert self.outside == []
        assert self.errors == []
        self.page.close()


def test_page_in_chromium(browser: Any, built: Path, reports: Path) -> None:
    opened = Opened(browser, reports)
    page = opened.page

    # every chart is a real SVG plot with a size
    for chart in CHARTS:
        svg = page.locator(f'svg[data-chart="{chart}"]')
        assert svg.count() == 1, chart
        box = svg.bounding_box()
        assert box is not None, chart
        assert box["width"] > 100, (chart, box)
        assert box["height"] > 50, (chart, box)
        assert svg.locator("path").count() > 0, chart

    total = read_table(built, "papers").height
    body = page.locator("#papers-body tr")
    assert body.count() == min(total, TABLE_PAGE)
    assert page.inner_text("#papers-status").startswith(f"{total} of {total} papers match")

    # the search filters to exactly the expected rows
    for query in ["diffusion", "DIFFUSION model", "2024-05-27", "no-such-word-anywhere"]:
        page.fill("#paper-search", query)
        shown = set(
            page.eval_on_selector_all("#papers-body tr", "rs => rs.map(r => r.dataset.paperId)")
        )
        assert shown == expected_matches(built, query), query
    assert expected_matches(built, "diffusion")  # the query above was not vacuous

    # the hostile titles are text: no dialog, no injected element
    page.fill("#paper-search", "alert")
    titles = page.eval_on_selector_all(
        "#papers-body tr td:first-child", "tds => tds.map(td => td.textContent)"
    )
    assert SCRIPT_TITLE in titles
    assert any(t.startswith(IMG_TITLE_START) for t in titles)
    assert page.locator("#papers-body script, #papers-body img, #papers-body b").count() == 0
    assert page.locator("iframe, img").count() == 0
    assert page.locator("script").count() == 4
    page.fill("#paper-search", "")

    href = page.get_attribute("#data-docs", "href")
    assert href == "data_docs/index.html"
    page.evaluate("window.scrollTo(0, 0)")
    shot = reports / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    if copy_to := os.environ.get("PAPERS_REPORT_SCREENSHOT"):
        shutil.copy(shot, copy_to)
    assert shot.stat().st_size > 10_000
    opened.close()


def open_abstract(page: Any, title: str) -> Any:
    """Search for the paper by its title, click its row, return the abstract view."""
    page.fill("#paper-search", title)
    page.click("#papers-body tr:first-child td:nth-child(3)")  # the date cell: not a link
    page.wait_for_selector("#paper-detail:not([hidden])")
    assert page.inner_text("#detail-title") == title
    return page.locator("#detail-abstract")


def test_abstract_math_is_typeset_in_chromium(browser: Any, built: Path, reports: Path) -> None:
    opened = Opened(browser, reports)
    page = opened.page
    papers = read_table(built, "papers")
    assert page.locator("#paper-detail").is_hidden()

    # each $...$ of the listed abstract is one KaTeX formula, typeset from exactly that TeX
    raw = papers.filter(pl.col("title") == MATH_TITLE)["abstract_raw"].item()
    abstract = open_abstract(page, MATH_TITLE)
    formulas = abstract.locator(".katex")
    assert formulas.count() == 3
    tex = abstract.locator("annotation").all_text_contents()
    assert tex == re.findall(r"\$([^$]+)\$", raw)
    assert formulas.first.locator(".katex-html").bounding_box()["width"] > 5
    assert "that all integer sequences" in abstract.inner_text()  # the prose stays prose
    # KaTeX's own fonts, from the page's data: URLs
    page.evaluate("document.fonts.ready")
    loaded = page.evaluate(
        "[...document.fonts].filter(f => f.status === 'loaded').map(f => f.family)"
    )
    assert {"KaTeX_Main", "KaTeX_Math"} <= set(loaded)

    # macros KaTeX does not know show as their source; the formulas around them still typeset
    abstract = open_abstract(page, UNKNOWN_MACROS_TITLE)
    assert abstract.locator(".katex").count() == 10
    text = abstract.inner_text()
    assert "\\dist" in text
    assert "\\abs" in text

    # hostile TeX: markup, \href and \htmlClass are text; an unclosed formula fails soft
    abstract = open_abstract(page, HOSTILE_MATH_TITLE)
    assert abstract.locator(".katex").count() >= 3
    assert abstract.locator("img, a, script, .evil").count() == 0
    assert page.locator("img, iframe").count() == 0
    text = abstract.inner_text()
    assert text.rstrip().endswith("a run costs $5.")  # a lone dollar is a dollar
    assert "stays broken" in text
    opened.close()
