"""The build report (`papers report`): one static, self-contained HTML page about a build.

summaries.py turns the published tables, manifest and metrics into small frames (pure polars),
charts.py draws them as inline SVG, and page.py lays everything out with the Jinja2 template in
templates/, inlining the CSS and scripts of assets/.
"""

from papers.report.charts import bar_chart, date_chart, growth_chart
from papers.report.page import REPORT_FILE, TABLE_PAGE, render_report, script_json, write_report
from papers.report.summaries import (
    Published,
    Summary,
    load_published,
    paper_rows,
    papers_per_date,
    quality_rows,
    rejects_by_reason,
    summarise,
    tag_growth,
)

__all__ = [
    "REPORT_FILE",
    "TABLE_PAGE",
    "Published",
    "Summary",
    "bar_chart",
    "date_chart",
    "growth_chart",
    "load_published",
    "paper_rows",
    "papers_per_date",
    "quality_rows",
    "rejects_by_reason",
    "render_report",
    "script_json",
    "summarise",
    "tag_growth",
    "write_report",
]
