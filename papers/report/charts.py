"""The report's charts: matplotlib figures as inline, deterministic SVG elements.

Each chart takes plain labels and numbers (from summaries.py) and returns one `<svg>` element
as markup (matplotlib writes the data's text escaped into it), or a short note when there is
nothing to draw. The same data give the same bytes: fixed id salt, no dates in the SVG.
"""

from __future__ import annotations

import io as stdio
import re
from typing import Any

import polars as pl
from markupsafe import Markup

LABEL_CHARS = 48

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


def _svg(fig: Any, chart_id: str) -> Markup:
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
    # matplotlib escaped every text it wrote into the SVG
    return Markup(svg.strip())


def _empty(chart_id: str, title: str, note: str) -> Markup:
    return Markup('<p class="empty" data-chart="{}"><b>{}</b>: {}</p>').format(
        chart_id, title, note
    )


def bar_chart(
    chart_id: str, title: str, labels: list[str], values: list[int], xlabel: str
) -> Markup:
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


def date_chart(chart_id: str, title: str, dates: pl.DataFrame, period: str) -> Markup:
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


def growth_chart(chart_id: str, title: str, growth: pl.DataFrame) -> Markup:
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
