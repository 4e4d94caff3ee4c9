"""The report page: the summaries and charts laid out by a Jinja2 template into one HTML file.

The page needs no network: CSS, SVG, the scripts and KaTeX (vendored in assets/katex, its fonts
as data: URLs) are inline, and a Content-Security-Policy lets only those scripts run (by hash).
The template autoescapes every value from the data (HTML text and attributes); the papers
table's rows travel as JSON in a script element with `<`, `>` and `&` written as \\u escapes
(`script_json`), and the script inserts them with textContent (KaTeX typesets the abstract's
math from that text). The same data give the same bytes: no dates, fixed SVG hash salt, sorted
ties.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
import polars as pl
from markupsafe import Markup

from papers.report.charts import bar_chart, date_chart, growth_chart
from papers.report.summaries import (
    GROWTH_TAGS,
    TOP_HOSTS,
    TOP_REASONS,
    TOP_TAGS,
    Summary,
    load_published,
    summarise,
)

REPORT_FILE = "index.html"
# Written by `papers validate` (papers/quality.py) into the same reports folder.
DATA_DOCS = Path("data_docs") / "index.html"
QUALITY_SUMMARY = "quality.json"
# Rows the table shows at once; the search runs over every paper embedded in the page.
TABLE_PAGE = 200
TEMPLATE = "report.html.j2"
# KaTeX typesets the math of the abstract view (assets/katex/README.md: version, re-vendoring).
KATEX_SCRIPTS = ("katex/katex.min.js", "katex/auto-render.min.js")
# One @font-face source list of katex.min.css: woff2, then woff and ttf fallbacks.
_FONT_SOURCES = re.compile(
    r'url\(fonts/(?P<name>[\w-]+)\.woff2\) format\("woff2"\)(?:,url\([^)]*\) format\("\w+"\))*'
)
# The summary frames shown as tables: Summary field -> {column: header}.
TABLES = {
    "sources": {
        "source": "source", "files": "files", "raw_records": "raw records",
        "records_in_papers": "records in papers", "papers": "papers",
    },
    "rejects": {
        "stage": "stage", "reason": "reason", "rows": "records", "files": "files",
        "example_file": "example file",
    },
    "tags": {
        "tag": "tag", "papers": "papers", "mean_score": "mean score",
        "evidence": "most frequent evidence",
    },
    "keyphrases": {"keyphrase": "keyphrase", "papers": "papers"},
    "pairs": {
        "title_a": "paper", "paper_id_a": "id", "title_b": "near-duplicate", "paper_id_b": "id",
        "jaccard": "Jaccard", "kind": "kind",
    },
    "duplicate_kinds": {"kind": "kind", "pairs": "pairs"},
    "related_methods": {
        "method": "method", "papers": "papers with a list", "share": "share",
        "mean_first": "mean score, 1st", "mean_last": "mean score, last",
        "mutual": "listed both ways",
    },
}  # fmt: skip


def _num(value: Any) -> str:
    """Integers with thousands separators; anything else as its text (escaped by the template)."""
    return f"{value:,}" if isinstance(value, int) else str(value)


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("papers.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["num"] = _num
    return env


@cache
def _asset(name: str) -> str:
    """A text file of the package's assets folder (shipped as package data)."""
    return (resources.files("papers.report") / "assets" / name).read_text("utf-8")


@cache
def _asset_bytes(name: str) -> bytes:
    return (resources.files("papers.report") / "assets" / name).read_bytes()


@cache
def katex_css() -> str:
    """KaTeX's stylesheet, each font inlined as one woff2 data: URL (the page fetches nothing)."""

    def inline(match: re.Match[str]) -> str:
        font = base64.b64encode(_asset_bytes(f"katex/fonts/{match['name']}.woff2")).decode()
        return f'url(data:font/woff2;base64,{font}) format("woff2")'

    css = _FONT_SOURCES.sub(inline, _asset("katex/katex.min.css"))
    if "url(fonts/" in css:  # a re-vendored stylesheet whose font list this no longer matches
        msg = "katex.min.css names a font this module does not inline"
        raise ValueError(msg)
    return css


def inline_script(text: str) -> str:
    """`text` as the content of an inline <script>, refusing what would end the element early."""
    if re.search(r"</script|<!--", text, re.IGNORECASE):
        msg = "a script the page inlines contains </script or <!--"
        raise ValueError(msg)
    return text


@dataclass(frozen=True)
class Table:
    """A frame's columns for the template: (header, numeric) per column, then the rows."""

    headers: list[tuple[str, bool]]
    rows: list[tuple[Any, ...]]


def table(frame: pl.DataFrame, headers: dict[str, str]) -> Table:
    """The columns of `frame` named in `headers`, labelled; numeric columns are right-aligned."""
    return Table(
        headers=[(label, frame.schema[c].is_numeric()) for c, label in headers.items()],
        rows=frame.select(list(headers)).rows(),
    )


def script_json(value: Any) -> str:
    """JSON safe inside <script>: no `<`, `>` or `&` (so no `</script>` or `<!--`), no U+2028/9."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                         ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):  # fmt: skip
        text = text.replace(char, escape)
    return text


def _csp_hash(script: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()


def _gate(reports_dir: Path) -> dict[str, Any]:
    """The Great Expectations gate's summary (None when absent) and the Data Docs' relative link."""
    quality = reports_dir / QUALITY_SUMMARY
    return {
        "summary": json.loads(quality.read_text("utf-8")) if quality.is_file() else None,
        "data_docs": DATA_DOCS.as_posix() if (reports_dir / DATA_DOCS).is_file() else None,
    }


def _charts(summary: Summary) -> dict[str, Markup]:
    period_word = "day" if summary.period == "1d" else "month"
    top_rejects = summary.rejects.head(TOP_REASONS)
    return {
        "stages": bar_chart(
            "stages", "Records through the stages", summary.stages["stage"].to_list(),
            summary.stages["count"].to_list(), "records",
        ),
        "sources": bar_chart(
            "sources", "Raw records per source", summary.sources["source"].to_list(),
            summary.sources["raw_records"].to_list(), "raw records",
        ),
        "rejects": bar_chart(
            "rejects", "Rejects by reason",
            [f"{s}: {r}" for s, r in top_rejects.select("stage", "reason").iter_rows()],
            top_rejects["rows"].to_list(), "rejected records",
        ),
        "dates": date_chart(
            "dates", f"Papers per listing {period_word}", summary.dates, summary.period
        ),
        "kinds": bar_chart(
            "kinds", "Links by kind", summary.kinds["kind"].to_list(),
            summary.kinds["links"].to_list(), "links",
        ),
        "hosts": bar_chart(
            "hosts", f"Links by host (top {TOP_HOSTS})", summary.hosts["host"].to_list(),
            summary.hosts["links"].to_list(), "links",
        ),
        "tags": bar_chart(
            "tags", f"Top {TOP_TAGS} tags", summary.tags["tag"].to_list(),
            summary.tags["papers"].to_list(), "papers",
        ),
        "growth": growth_chart(
            "growth", f"Growth of the top {GROWTH_TAGS} tags by listing {period_word}",
            summary.growth,
        ),
    }  # fmt: skip


def render_report(summary: Summary, reports_dir: Path) -> str:
    """The whole page as a string (deterministic for the same summary and reports folder)."""
    ds, counts = summary.dataset, summary.counts
    # The scripts' texts: their hashes are the only scripts the policy lets run.
    scripts = [inline_script(_asset(name)) for name in KATEX_SCRIPTS]
    scripts.append(inline_script("\n" + _asset("report.js")))
    allowed = " ".join(f"'{_csp_hash(script)}'" for script in scripts)
    csp = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; "
        f"script-src {allowed}; base-uri 'none'; form-action 'none'"
    )
    data = {"columns": summary.rows.columns, "rows": summary.rows.rows(), "page": TABLE_PAGE}
    cards = [
        ("papers", counts["papers"]), ("raw records", counts["raw_records"]),
        ("input files", counts["input_files"]), ("rejected", counts["rejected"]),
        ("links", counts["links"]), ("tags", counts["tags"]),
    ]  # fmt: skip
    return (
        _environment()
        .get_template(TEMPLATE)
        .render(
            ds=ds,
            version=str(ds.get("version")),
            csp=csp,
            css=Markup("\n" + _asset("report.css")),
            katex_css=Markup(katex_css()),
            cards=cards,
            charts=_charts(summary),
            tables={
                **{name: table(getattr(summary, name), cols) for name, cols in TABLES.items()},
                # one column per source's fill rate: the headers are the frame's own columns
                "fill": table(summary.fill, {c: c for c in summary.fill.columns}),
            },
            quality=summary.quality,
            gate_info=_gate(reports_dir),
            undated=summary.undated_papers,
            papers=summary.rows.height,
            page_rows=TABLE_PAGE,
            # script_json made it safe for a script element (HTML escaping would corrupt the JSON)
            data=Markup(script_json(data)),
            scripts=[Markup(script) for script in scripts],
        )
    )


def write_report(out_dir: Path, reports_dir: Path) -> Path:
    """Render the report of the published folder `out_dir` into `reports_dir/index.html`."""
    from papers import io

    page = render_report(summarise(load_published(out_dir)), reports_dir)
    target = reports_dir / REPORT_FILE
    io.write_text(page, target)
    return target
