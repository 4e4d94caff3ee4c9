"""The build report (`papers report`): one static, self-contained HTML page about a build.

Two halves: pure polars functions turn the published tables, manifest and metrics into small
summary frames (`summarise`), and the rendering turns those into matplotlib SVG charts and
escaped HTML (`render_report`). The page needs no network: CSS, SVG and the table filter's
JavaScript are inline, and a Content-Security-Policy lets only that one script run. Every text
from the data is escaped (HTML text and attributes with html.escape, the table's rows as JSON
with `<`, `>` and `&` written as \\u escapes, and inserted by the script with textContent).
The same data give the same bytes: no dates, fixed SVG hash salt, sorted ties.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io as stdio
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from papers.errors import PapersError

REPORT_FILE = "index.html"
# Written by `papers validate` (papers/quality.py) into the same reports folder.
DATA_DOCS = Path("data_docs") / "index.html"
QUALITY_SUMMARY = "quality.json"

TOP_HOSTS = 15
TOP_TAGS = 20
GROWTH_TAGS = 6
TOP_KEYPHRASES = 40
TOP_REASONS = 15
# Rows the table shows at once; the search runs over every paper embedded in the page.
TABLE_PAGE = 200
# Above this many days between the first and last listing, dates are counted per month.
DAILY_MAX_SPAN_DAYS = 120
LABEL_CHARS = 48
UNREAD = "(no reader: file rejected)"


# --------------------------------------------------------------------------- data (pure polars)


@dataclass(frozen=True)
class Published:
    """A published folder as read from disk."""

    manifest: dict[str, Any]
    metrics: dict[str, Any]
    papers: pl.DataFrame
    links: pl.DataFrame
    tags: pl.DataFrame
    rejected: pl.DataFrame
    provenance: pl.DataFrame


def load_published(out_dir: Path) -> Published:
    """Read the manifest, metrics and tables of a published folder; a missing file is an error."""
    needed = ["manifest.json", "metrics.json"] + [
        f"{n}.parquet" for n in ("papers", "links", "tags", "rejected", "provenance")
    ]
    missing = [n for n in needed if not (out_dir / n).is_file()]
    if missing:
        msg = f"no published dataset in {out_dir} (missing {', '.join(missing)}; run `papers run`)"
        raise PapersError(msg)

    def table(name: str) -> pl.DataFrame:
        return pl.read_parquet(out_dir / f"{name}.parquet")

    return Published(
        manifest=json.loads((out_dir / "manifest.json").read_text("utf-8")),
        metrics=json.loads((out_dir / "metrics.json").read_text("utf-8")),
        papers=table("papers"),
        links=table("links"),
        tags=table("tags"),
        rejected=table("rejected"),
        provenance=table("provenance"),
    )


def _count(frame: pl.DataFrame, by: str | list[str], name: str = "n") -> pl.DataFrame:
    """Rows per group, most first, ties by the group keys (deterministic)."""
    keys = [by] if isinstance(by, str) else by
    return (
        frame.group_by(keys)
        .agg(pl.len().alias(name))
        .sort([name, *keys], descending=[True] + [False] * len(keys))
    )


def stage_counts(manifest: dict[str, Any]) -> pl.DataFrame:
    """stage, count: raw records in, rejects per stage, records kept, papers after the merge."""
    counts = manifest["counts"]
    rows = [("raw records", int(counts["raw_records"]))]
    rows += [(f"rejected: {s}", int(n)) for s, n in counts["rejected_by_stage"].items()]
    rows += [
        ("records in papers", int(counts["records_in_papers"])),
        ("papers (after merge)", int(counts["papers"])),
    ]
    return pl.DataFrame(rows, schema={"stage": pl.String, "count": pl.Int64}, orient="row")


def source_counts(published: Published) -> pl.DataFrame:
    """source, files, raw_records, records_in_papers, papers: what each reader brought."""
    inputs = pl.DataFrame(
        published.manifest["inputs"],
        schema={"path": pl.String, "reader": pl.String, "records": pl.Int64, "sha256": pl.String},
    )
    # A file no reader recognised has no reader: it is a file-level reject.
    inputs = inputs.with_columns(pl.col("reader").fill_null(UNREAD))
    files = inputs.group_by("reader").agg(
        pl.len().alias("files"), pl.col("records").sum().alias("raw_records")
    )
    kept = _count(published.provenance, "source", "records_in_papers").rename({"source": "reader"})
    papers = _count(
        published.papers.select(pl.col("sources").list.unique()).explode("sources"),
        "sources",
        "papers",
    ).rename({"sources": "reader"})
    return (
        files.join(kept, on="reader", how="full", coalesce=True)
        .join(papers, on="reader", how="full", coalesce=True)
        .with_columns(pl.exclude("reader").fill_null(0))
        .rename({"reader": "source"})
        .sort(["raw_records", "source"], descending=[True, False])
    )


def rejects_by_reason(rejected: pl.DataFrame) -> pl.DataFrame:
    """stage, reason, rows, files, example_file: the reasons records were rejected, most first.

    Reasons that differ only in numbers (positions, sizes) are one group: digits become `N`.
    """
    return (
        rejected.with_columns(pl.col("reason").str.replace_all(r"\d+", "N").alias("reason"))
        .group_by("stage", "reason")
        .agg(
            pl.len().alias("rows"),
            pl.col("source_file").n_unique().alias("files"),
            pl.col("source_file").min().alias("example_file"),
        )
        .sort(["rows", "stage", "reason"], descending=[True, False, False])
    )


def _period(dates: pl.Series) -> str:
    """`1d` or `1mo`: days for a short span, months for a long one."""
    if dates.is_empty():
        return "1d"
    first: Any = dates.min()
    last: Any = dates.max()
    span = (last - first).days
    return "1d" if span <= DAILY_MAX_SPAN_DAYS else "1mo"


def papers_per_date(papers: pl.DataFrame) -> tuple[pl.DataFrame, str]:
    """(date, papers) per listing day or month (papers listed that day), and the period used."""
    dates = papers.select(pl.col("listing_dates").list.unique()).explode("listing_dates")
    dates = dates.drop_nulls().rename({"listing_dates": "date"})
    period = _period(dates["date"])
    frame = (
        dates.with_columns(pl.col("date").dt.truncate(period))
        .group_by("date")
        .agg(pl.len().alias("papers"))
        .sort("date")
    )
    return frame, period


def links_by(links: pl.DataFrame, column: str, top: int | None = None) -> pl.DataFrame:
    """column, links, papers: links per kind or host, most first."""
    frame = (
        links.group_by(column)
        .agg(pl.len().alias("links"), pl.col("paper_id").n_unique().alias("papers"))
        .sort(["links", column], descending=[True, False])
    )
    return frame if top is None else frame.head(top)


def top_tags(tags: pl.DataFrame, top: int = TOP_TAGS) -> pl.DataFrame:
    """tag, papers, mean_score, evidence (the term that matched most often for it)."""
    evidence = _count(tags, ["tag", "evidence"]).group_by("tag", maintain_order=True).first()
    return (
        tags.group_by("tag")
        .agg(pl.len().alias("papers"), pl.col("score").mean().round(2).alias("mean_score"))
        .join(evidence.select("tag", "evidence"), on="tag", how="left")
        .sort(["papers", "tag"], descending=[True, False])
        .head(top)
    )


def tag_growth(papers: pl.DataFrame, tags: list[str], period: str) -> pl.DataFrame:
    """date, tag, papers (cumulative): papers carrying each tag by their first listing date."""
    first = papers.select(
        "tags", pl.col("listing_dates").list.min().dt.truncate(period).alias("date")
    ).drop_nulls("date")
    per = (
        first.explode("tags")
        .filter(pl.col("tags").is_in(tags))
        .group_by("date", "tags")
        .agg(pl.len().alias("new"))
        .rename({"tags": "tag"})
    )
    ranks = pl.DataFrame({"tag": tags, "rank": list(range(len(tags)))})
    grid = first.select("date").unique().join(ranks, how="cross")
    return (
        grid.join(per, on=["date", "tag"], how="left")
        .with_columns(pl.col("new").fill_null(0))
        .sort("rank", "date")  # the tags in the order given (most frequent first)
        .with_columns(pl.col("new").cum_sum().over("tag").alias("papers"))
        .select("date", "tag", "papers")
    )


def top_keyphrases(papers: pl.DataFrame, top: int = TOP_KEYPHRASES) -> pl.DataFrame:
    """keyphrase, papers: the free keyphrases most papers share."""
    frame = papers.select(pl.col("keyphrases").list.unique()).explode("keyphrases").drop_nulls()
    return _count(frame, "keyphrases", "papers").rename({"keyphrases": "keyphrase"}).head(top)


def _pct(value: Any) -> str:
    return "n/a" if value is None else f"{100 * float(value):.1f}%"


def quality_rows(metrics: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(figure, value, measured on) from metrics.json: coverage, code links, links vs gold."""
    papers = int(metrics.get("papers", 0))
    rows = [
        ("tag coverage (papers with at least one tag)", _pct(metrics.get("tag_coverage")),
         f"{papers:,} papers"),
        ("mean tags per paper", f"{metrics.get('mean_tags_per_paper', 0):.2f}",
         f"{papers:,} papers"),
        ("papers with a code link", f"{int(metrics.get('papers_with_code_url', 0)):,}",
         f"{papers:,} papers"),
    ]  # fmt: skip
    quality = metrics.get("quality", {})
    if gold := quality.get("links_gold"):
        on = f"{gold['abstracts']} hand-checked abstracts, {gold['gold_links']} links"
        rows += [
            ("link precision / recall vs gold",
             f"{_pct(gold['precision'])} / {_pct(gold['recall'])}", on),
            ("link kind accuracy / own-code accuracy",
             f"{_pct(gold['kind_accuracy'])} / {_pct(gold['own_code_accuracy'])}", on),
        ]  # fmt: skip
    if (code := quality.get("code_links")) and code.get("papers"):
        rows.append(
            ("code link from the abstract = curated githubRepo", _pct(code["agreement"]),
             f"{code['agree']:,} of {code['papers']:,} papers with both")
        )  # fmt: skip
    if (tags := quality.get("tags")) and tags.get("our_tags_on_those"):
        rows.append(
            ("our tags supported by the paper's hf_keywords", _pct(tags["supported_share"]),
             f"{tags['our_tags_supported']:,} of {tags['our_tags_on_those']:,} tags")
        )  # fmt: skip
    if tags and tags.get("keyword_tags"):
        rows.append(
            ("keyword topics we found", _pct(tags["keyword_tags_found_share"]),
             f"{tags['keyword_tags_found']:,} of {tags['keyword_tags']:,} topics")
        )  # fmt: skip
    return rows


def paper_rows(papers: pl.DataFrame) -> pl.DataFrame:
    """paper_id, title, date, tags, code_url: the searchable table, compact (one date, tags joined).

    `date` is the first listing date, else the publication date; newest first.
    """
    return papers.select(
        "paper_id",
        "title",
        pl.coalesce(pl.col("listing_dates").list.min(), pl.col("published_at").dt.date())
        .cast(pl.String)
        .fill_null("")
        .alias("date"),
        pl.col("tags").list.join(" ").alias("tags"),
        pl.col("code_url").fill_null(""),
    ).sort(["date", "paper_id"], descending=[True, False])


@dataclass(frozen=True)
class Summary:
    """Everything the page shows, as small frames and rows."""

    dataset: dict[str, Any]
    counts: dict[str, Any]
    stages: pl.DataFrame
    sources: pl.DataFrame
    rejects: pl.DataFrame
    dates: pl.DataFrame
    period: str
    undated_papers: int
    kinds: pl.DataFrame
    hosts: pl.DataFrame
    tags: pl.DataFrame
    growth: pl.DataFrame
    keyphrases: pl.DataFrame
    quality: list[tuple[str, str, str]]
    rows: pl.DataFrame


def summarise(published: Published) -> Summary:
    """The page's content from a published folder (pure: no files, no rendering)."""
    dates, period = papers_per_date(published.papers)
    tags = top_tags(published.tags)
    return Summary(
        dataset={
            **published.manifest["dataset"],
            "schema_version": published.manifest.get("schema_version"),
            "vocabulary_version": published.manifest.get("vocabulary_version"),
        },
        counts=published.manifest["counts"],
        stages=stage_counts(published.manifest),
        sources=source_counts(published),
        rejects=rejects_by_reason(published.rejected),
        dates=dates,
        period=period,
        undated_papers=int((published.papers["listing_dates"].list.len() == 0).sum()),
        kinds=links_by(published.links, "kind"),
        hosts=links_by(published.links, "host", TOP_HOSTS),
        tags=tags,
        growth=tag_growth(published.papers, tags["tag"].head(GROWTH_TAGS).to_list(), period),
        keyphrases=top_keyphrases(published.papers),
        quality=quality_rows(published.metrics),
        rows=paper_rows(published.papers),
    )


# --------------------------------------------------------------------------- charts (matplotlib)

_STYLE: Any = {  # matplotlib types rcParams keys as Literals
    # Deterministic SVG: fixed id salt, text kept as text (small, searchable), no mathtext
    # (a `$` in a tag or host name is just a dollar).
    "svg.hashsalt": "papers-report",
    "svg.fonttype": "none",
    "text.parse_math": False,
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
}
COLOR = "#3b6ea8"


def _short(text: str, limit: int = LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _svg(fig: Any, chart_id: str) -> str:
    """A figure as an inline <svg> element: no XML prolog or metadata, ids made page-unique."""
    import matplotlib.pyplot as plt

    buffer = stdio.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.S)
    # Two inline SVGs share one id space: prefix every id and every reference to one.
    svg = re.sub(r'\bid="([^"]+)"', rf'id="{chart_id}-\1"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", rf"url(#{chart_id}-\1)", svg)
    svg = re.sub(r'xlink:href="#([^"]+)"', rf'xlink:href="#{chart_id}-\1"', svg)
    svg = svg.replace("<svg ", f'<svg class="chart" role="img" data-chart="{chart_id}" ', 1)
    return svg.strip()


def _empty(chart_id: str, title: str, note: str) -> str:
    return (
        f'<p class="empty" data-chart="{chart_id}"><b>{html.escape(title)}</b>: '
        f"{html.escape(note)}</p>"
    )


def bar_chart(chart_id: str, title: str, labels: list[str], values: list[int], xlabel: str) -> str:
    """Horizontal bars, first label on top."""
    if not labels:
        return _empty(chart_id, title, "nothing to show")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with matplotlib.rc_context(_STYLE):
        height = 0.9 + 0.24 * len(labels)
        fig, ax = plt.subplots(figsize=(6.4, height))
        positions = list(range(len(labels)))[::-1]
        ax.barh(positions, values, color=COLOR)
        ax.set_yticks(positions, [_short(label) for label in labels])
        for y, value in zip(positions, values, strict=True):
            ax.annotate(f"{value:,}", (value, y), xytext=(3, 0), textcoords="offset points",
                        va="center", fontsize=8)  # fmt: skip
        ax.set_xlabel(xlabel)
        ax.set_title(title, loc="left")
        ax.margins(x=0.12)
        fig.tight_layout()
        return _svg(fig, chart_id)


def _date_axis(ax: Any) -> None:
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator()  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]


def date_chart(chart_id: str, title: str, dates: pl.DataFrame, period: str) -> str:
    """Papers per listing day or month as bars on a date axis."""
    if dates.is_empty():
        return _empty(chart_id, title, "no paper has a listing date")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with matplotlib.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(9.6, 2.8))
        width = 0.8 if period == "1d" else 25
        ax.bar(dates["date"].to_list(), dates["papers"].to_list(), width=width, color=COLOR)
        _date_axis(ax)
        ax.set_ylabel("papers per " + ("day" if period == "1d" else "month"))
        ax.set_title(title, loc="left")
        fig.tight_layout()
        return _svg(fig, chart_id)


def growth_chart(chart_id: str, title: str, growth: pl.DataFrame) -> str:
    """Cumulative papers per tag over listing dates, one line per tag."""
    if growth.is_empty() or growth["date"].n_unique() < 2:
        return _empty(chart_id, title, "needs papers listed on at least two dates")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with matplotlib.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(9.6, 3.4))
        for tag in growth["tag"].unique(maintain_order=True).to_list():
            part = growth.filter(pl.col("tag") == tag)
            ax.plot(part["date"].to_list(), part["papers"].to_list(), label=_short(tag, 30),
                    linewidth=1.6)  # fmt: skip
        _date_axis(ax)
        ax.set_ylabel("papers (cumulative)")
        ax.set_title(title, loc="left")
        ax.legend(frameon=False, fontsize=8, loc="upper left")
        fig.tight_layout()
        return _svg(fig, chart_id)


# --------------------------------------------------------------------------- HTML

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d2330;
background:#f6f7f9}
header{background:#1d2d44;color:#fff;padding:18px 28px}header h1{margin:0 0 4px;font-size:22px}
header p{margin:0;opacity:.85}main{max-width:1180px;margin:0 auto;padding:12px 24px 48px}
nav{margin:10px 0 0}nav a{color:#cfe0ff;margin-right:14px;font-size:13px}
section{background:#fff;border:1px solid #e1e4ea;border-radius:8px;padding:14px 18px;margin:16px 0}
h2{font-size:17px;margin:0 0 10px}.grid{display:grid;grid-template-columns:1fr 1fr;gap:14px}
@media(max-width:900px){.grid{grid-template-columns:1fr}}
.cards{display:flex;flex-wrap:wrap;gap:10px}.card{background:#eef3fa;border-radius:6px;
padding:8px 14px;min-width:110px}.card b{display:block;font-size:20px}.card span{font-size:12px;
color:#4a5568}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{text-align:left;padding:4px 8px;
border-bottom:1px solid #edf0f4;vertical-align:top}th{background:#f1f3f6}
.scroll th{position:sticky;top:0}#papers-table td:nth-child(2),#papers-table td:nth-child(3){
white-space:nowrap}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
svg.chart{max-width:100%;height:auto;display:block}
.note{color:#5a6475;font-size:12.5px}.empty{color:#5a6475}
.scroll{max-height:560px;overflow:auto;border:1px solid #edf0f4}
#paper-search{font-size:15px;padding:7px 10px;width:100%;box-sizing:border-box;margin:4px 0 8px;
border:1px solid #b8c2d3;border-radius:6px}
.tagchip{display:inline-block;background:#eef3fa;border-radius:10px;padding:0 7px;margin:1px;
font-size:12px}
.ok{color:#176f2c;font-weight:bold}.bad{color:#b42318;font-weight:bold}
"""

# Renders the papers table from the embedded JSON: every value goes in with textContent, and a
# link only when it is http(s). Search: every word typed must occur in the title, id, date or tags.
_JS = """
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("papers-data").textContent);
  var rows = data.rows, limit = data.page;
  var hay = rows.map(function (r) {
    return (r[1] + " " + r[0] + " " + r[2] + " " + r[3]).toLowerCase();
  });
  var input = document.getElementById("paper-search");
  var body = document.getElementById("papers-body");
  var status = document.getElementById("papers-status");
  var arxiv = /^(\\d{4}\\.\\d{4,5}|[a-z-]+(\\.[A-Z]{2})?\\/\\d{7})$/;
  var web = /^https?:\\/\\//;
  function cell(tr, text) {
    var td = document.createElement("td");
    td.textContent = text;
    tr.appendChild(td);
    return td;
  }
  function link(td, href, text) {
    td.textContent = "";
    var a = document.createElement("a");
    a.href = href;
    a.textContent = text;
    a.rel = "noopener noreferrer";
    td.appendChild(a);
  }
  function render() {
    var words = input.value.toLowerCase().split(/\\s+/).filter(Boolean);
    var shown = 0, matches = 0, frag = document.createDocumentFragment();
    for (var i = 0; i < rows.length; i++) {
      var ok = true;
      for (var w = 0; w < words.length && ok; w++) ok = hay[i].indexOf(words[w]) >= 0;
      if (!ok) continue;
      matches++;
      if (shown >= limit) continue;
      shown++;
      var r = rows[i], tr = document.createElement("tr");
      tr.dataset.paperId = r[0];
      var title = cell(tr, r[1]);
      if (arxiv.test(r[0])) link(title, "https://arxiv.org/abs/" + r[0], r[1]);
      cell(tr, r[0]); cell(tr, r[2]);
      var tags = cell(tr, "");
      r[3].split(" ").filter(Boolean).forEach(function (t) {
        var s = document.createElement("span");
        s.className = "tagchip";
        s.textContent = t;
        tags.appendChild(s);
      });
      var code = cell(tr, "");
      if (web.test(r[4])) link(code, r[4], r[4].replace(web, ""));
      frag.appendChild(tr);
    }
    body.replaceChildren(frag);
    status.textContent = matches.toLocaleString("en") + " of " +
      rows.length.toLocaleString("en") + " papers match" +
      (matches > shown ? "; showing the first " + shown + " (type to narrow)" : "");
  }
  input.addEventListener("input", render);
  render();
})();
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _num(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else _e(value)


def html_table(frame: pl.DataFrame, headers: dict[str, str], cls: str = "") -> str:
    """An escaped HTML table of `frame`'s columns named in `headers` (numbers right-aligned)."""
    numeric = {c for c in headers if frame.schema[c].is_numeric()}
    head = "".join(
        f'<th class="n">{_e(h)}</th>' if c in numeric else f"<th>{_e(h)}</th>"
        for c, h in headers.items()
    )
    body = []
    for row in frame.select(list(headers)).iter_rows():
        cells = "".join(
            f'<td class="n">{_num(v)}</td>'
            if c in numeric
            else f"<td>{_e('' if v is None else v)}</td>"
            for c, v in zip(headers, row, strict=True)
        )
        body.append(f"<tr>{cells}</tr>")
    if not body:
        body.append(f'<tr><td colspan="{len(headers)}" class="empty">none</td></tr>')
    return (
        f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
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


def _gate(reports_dir: Path, version: str) -> str:
    """The Great Expectations gate's outcome and a relative link to its Data Docs, when present."""
    parts = []
    quality = reports_dir / QUALITY_SUMMARY
    if quality.is_file():
        summary = json.loads(quality.read_text("utf-8"))
        state = (
            '<span class="ok">passed</span>'
            if summary.get("success")
            else '<span class="bad">FAILED</span>'
        )
        line = f"Great Expectations gate {state}: {_num(summary.get('checks_run'))} checks"
        if summary.get("dataset_version") != version:
            line += f" (on dataset version {_e(summary.get('dataset_version'))}, not this one)"
        parts.append(f"<p>{line}.</p>")
        failures = summary.get("failures") or []
        if failures:
            items = "".join(f"<li>{_e(f)}</li>" for f in failures)
            parts.append(f"<ul>{items}</ul>")
    if (reports_dir / DATA_DOCS).is_file():
        parts.append(
            f'<p><a id="data-docs" href="{_e(DATA_DOCS.as_posix())}">Great Expectations Data Docs'
            "</a>: every expectation of every file, with examples of failing values.</p>"
        )
    else:
        parts.append(
            '<p class="note">No Data Docs next to this page: run <code>papers validate --reports '
            "DIR</code> with the same DIR to produce them.</p>"
        )
    return "".join(parts)


def render_report(summary: Summary, reports_dir: Path) -> str:
    """The whole page as a string (deterministic for the same summary and reports folder)."""
    ds, counts = summary.dataset, summary.counts
    version = str(ds.get("version"))
    period_word = "day" if summary.period == "1d" else "month"
    cards = [
        ("papers", counts["papers"]), ("raw records", counts["raw_records"]),
        ("input files", counts["input_files"]), ("rejected", counts["rejected"]),
        ("links", counts["links"]), ("tags", counts["tags"]),
    ]  # fmt: skip
    cards_html = "".join(
        f"<div class=card><b>{_num(v)}</b><span>{_e(k)}</span></div>" for k, v in cards
    )
    stages = bar_chart(
        "stages", "Records through the stages", summary.stages["stage"].to_list(),
        summary.stages["count"].to_list(), "records",
    )  # fmt: skip
    sources = bar_chart(
        "sources", "Raw records per source", summary.sources["source"].to_list(),
        summary.sources["raw_records"].to_list(), "raw records",
    )  # fmt: skip
    top_rejects = summary.rejects.head(TOP_REASONS)
    rejects = bar_chart(
        "rejects", "Rejects by reason",
        [f"{s}: {r}" for s, r in top_rejects.select("stage", "reason").iter_rows()],
        top_rejects["rows"].to_list(), "rejected records",
    )  # fmt: skip
    dates = date_chart("dates", f"Papers per listing {period_word}", summary.dates, summary.period)
    kinds = bar_chart(
        "kinds", "Links by kind", summary.kinds["kind"].to_list(),
        summary.kinds["links"].to_list(), "links",
    )  # fmt: skip
    hosts = bar_chart(
        "hosts", f"Links by host (top {TOP_HOSTS})", summary.hosts["host"].to_list(),
        summary.hosts["links"].to_list(), "links",
    )  # fmt: skip
    tags = bar_chart(
        "tags", f"Top {TOP_TAGS} tags", summary.tags["tag"].to_list(),
        summary.tags["papers"].to_list(), "papers",
    )  # fmt: skip
    growth = growth_chart(
        "growth", f"Growth of the top {GROWTH_TAGS} tags by listing {period_word}", summary.growth
    )
    quality = "".join(
        f"<tr><td>{_e(a)}</td><td class=n>{_e(b)}</td><td>{_e(c)}</td></tr>"
        for a, b, c in summary.quality
    )
    undated = (
        f'<p class="note">{summary.undated_papers:,} papers have no listing date (no file '
        "with a date in its name listed them) and are not in the date charts.</p>"
        if summary.undated_papers
        else ""
    )
    table_data = {
        "columns": summary.rows.columns,
        "rows": summary.rows.rows(),
        "page": TABLE_PAGE,
    }
    script = _JS
    csp = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        f"script-src '{_csp_hash(script)}'; base-uri 'none'; form-action 'none'"
    )
    title = f"{ds.get('name')} {version}"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_e(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)}: build report</title>
<style>{_CSS}</style>
</head>
<body>
<header>
<h1>{_e(ds.get("name"))}: build report</h1>
<p>dataset version <code>{_e(version)}</code> · schema {_e(ds.get("schema_version"))} ·
vocabulary {_e(ds.get("vocabulary_version"))}</p>
<nav><a href="#counts">Counts</a><a href="#rejects">Rejects</a><a href="#dates">Dates</a>
<a href="#links">Links</a><a href="#tags">Tags</a><a href="#keyphrases">Keyphrases</a>
<a href="#quality">Quality</a><a href="#papers">Papers</a></nav>
</header>
<main>
<section id="counts"><h2>Counts</h2><div class="cards">{cards_html}</div>
<div class="grid"><div>{stages}</div><div>{sources}</div></div>
{
        html_table(
            summary.sources,
            {
                "source": "source",
                "files": "files",
                "raw_records": "raw records",
                "records_in_papers": "records in papers",
                "papers": "papers",
            },
        )
    }
</section>
<section id="rejects"><h2>Rejects</h2>{rejects}
<p class="note">Numbers inside reasons are shown as N, so one reason is one row. Every rejected
record is in <code>rejected.parquet</code> with its file, position, stage and raw text.</p>
<div class="scroll">{
        html_table(
            summary.rejects,
            {
                "stage": "stage",
                "reason": "reason",
                "rows": "records",
                "files": "files",
                "example_file": "example file",
            },
        )
    }</div>
</section>
<section id="dates"><h2>Papers per listing date</h2>{dates}{undated}</section>
<section id="links"><h2>Links</h2><div class="grid"><div>{kinds}</div><div>{hosts}</div></div>
</section>
<section id="tags"><h2>Tags</h2><div class="grid"><div>{tags}</div><div>
{
        html_table(
            summary.tags,
            {
                "tag": "tag",
                "papers": "papers",
                "mean_score": "mean score",
                "evidence": "most frequent evidence",
            },
        )
    }</div></div>{growth}</section>
<section id="keyphrases"><h2>Keyphrases</h2>
<p class="note">Free keyphrases (TF-IDF over candidate phrases, never a vocabulary term), by the
number of papers that have them.</p>
<div class="scroll">{
        html_table(summary.keyphrases, {"keyphrase": "keyphrase", "papers": "papers"})
    }</div>
</section>
<section id="quality"><h2>Quality</h2>
<table><thead><tr><th>figure</th><th class=n>value</th><th>on</th></tr></thead>
<tbody>{quality}</tbody></table>
{_gate(reports_dir, version)}
</section>
<section id="papers"><h2>Papers</h2>
<input id="paper-search" type="search" aria-label="Search papers" autocomplete="off"
 placeholder="Search titles, ids, dates and tags (all words must match)">
<p id="papers-status" class="note">The table needs JavaScript.</p>
<div class="scroll"><table id="papers-table"><thead><tr><th>title</th><th>paper id</th>
<th>date</th><th>tags</th><th>code</th></tr></thead><tbody id="papers-body"></tbody></table></div>
<p class="note">Date: first listing date, else the publication date. All {summary.rows.height:,}
papers are in this page; {TABLE_PAGE} matching rows are shown at a time.</p>
</section>
</main>
<script type="application/json" id="papers-data">{script_json(table_data)}</script>
<script>{script}</script>
</body>
</html>
"""


def write_report(out_dir: Path, reports_dir: Path) -> Path:
    """Render the report of the published folder `out_dir` into `reports_dir/index.html`."""
    from papers import io

    page = render_report(summarise(load_published(out_dir)), reports_dir)
    target = reports_dir / REPORT_FILE
    io.write_text(page, target)
    return target


__all__ = ["Summary", "load_published", "render_report", "summarise", "write_report"]
