"""What `papers run` and `papers inspect` show in a terminal.

Live progress per stage (read from the Prefect API, so it works the same for tasks running in
threads here or on Dask workers), the summary table, rejects named by file and record, Prefect's
console log kept out of the way, and one paper with its lineage. Nothing here changes the data.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import polars as pl
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from papers.errors import PapersError

# Prefect names task runs `<task name>-<3 hex digits>`.
_TASK_RUN_SUFFIX = re.compile(r"-[0-9a-f]{3}$")

# Which count of the summary each stage's records are: stages before the merge see raw records,
# stages after it see papers. A stage not listed here shows no records/s.
_RECORD_COUNT_BY_STAGE_PREFIX = (
    ("read", "raw_records"),
    ("parse", "raw_records"),
    ("normalize", "raw_records"),
    ("merge", "raw_records"),
    ("dedup", "raw_records"),
    ("links", "papers"),
    ("tags", "papers"),
    ("enrich", "papers"),
    ("validate", "papers"),
    ("write", "papers"),
    ("publish", "papers"),
)


def stage_of(task_run_name: str) -> str:
    """The stage a task run belongs to: its task's name (`parse-3f2` -> `parse`)."""
    return _TASK_RUN_SUFFIX.sub("", task_run_name)


@dataclass
class StageStat:
    """One stage of a flow run: its task runs, wall time and, once known, its records."""

    name: str
    tasks: int = 0
    done: int = 0
    failed: int = 0
    first_start: float | None = None
    last_end: float | None = None
    records: int | None = None

    @property
    def seconds(self) -> float | None:
        if self.first_start is None or self.last_end is None:
            return None
        return max(self.last_end - self.first_start, 0.0)

    @property
    def records_per_s(self) -> float | None:
        seconds = self.seconds
        if self.records is None or not seconds:
            return None
        return self.records / seconds

    def as_dict(self) -> dict[str, Any]:
        seconds = self.seconds
        rate = self.records_per_s
        return {
            "stage": self.name,
            "tasks": self.tasks,
            "failed": self.failed,
            "seconds": None if seconds is None else round(seconds, 3),
            "records": self.records,
            "records_per_s": None if rate is None else round(rate, 1),
        }


def _started(run: Any) -> tuple[float, str]:
    when = run.start_time or run.expected_start_time
    return (when.timestamp() if when is not None else float("inf"), run.name)


def collect_stages(task_runs: list[Any]) -> list[StageStat]:
    """Group task runs (Prefect TaskRun models) by stage, in the order the stages started."""
    stages: dict[str, StageStat] = {}
    for run in sorted(task_runs, key=_started):
        stat = stages.setdefault(stage_of(run.name), StageStat(stage_of(run.name)))
        stat.tasks += 1
        state = run.state_type.value if run.state_type is not None else ""
        if state == "COMPLETED":
            stat.done += 1
        elif state in {"FAILED", "CRASHED", "CANCELLED"}:
            stat.failed += 1
        if run.start_time is not None:
            start = run.start_time.timestamp()
            stat.first_start = start if stat.first_start is None else min(stat.first_start, start)
        if run.end_time is not None:
            end = run.end_time.timestamp()
            stat.last_end = end if stat.last_end is None else max(stat.last_end, end)
    return list(stages.values())


def attach_records(stages: list[StageStat], counts: dict[str, Any]) -> list[StageStat]:
    """Fill each stage's record count from the run's summary counts (see the table above)."""
    for stat in stages:
        for prefix, key in _RECORD_COUNT_BY_STAGE_PREFIX:
            if stat.name.startswith(prefix) and isinstance(counts.get(key), int):
                stat.records = int(counts[key])
                break
    return stages


def read_task_runs(flow_run_id: UUID, api_url: str | None = None) -> list[Any]:
    """Every task run of a flow run, from the Prefect API the flow reports to.

    Prefect's settings live in context variables, which a new thread does not inherit: the
    watcher's thread passes the flow's API URL explicitly (None: this process's temporary server).
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.settings import PREFECT_API_URL, temporary_settings

    runs: list[Any] = []
    page = 200
    updates = {PREFECT_API_URL: api_url} if api_url else {}
    with temporary_settings(updates=updates), get_client(sync_client=True) as client:
        while True:
            batch = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
                limit=page,
                offset=len(runs),
            )
            runs.extend(batch)
            if len(batch) < page:
                return runs


_WATCHERS: dict[str, RunWatcher] = {}


class _StartHook:
    """The flow's on_running hook. Prefect ships the flow run's context (hooks included) to
    Dask workers with every task, so the hook is a plain picklable token that finds its
    watcher in this process; it only ever runs here, in the flow's process."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.__name__ = "papers-progress"  # Prefect names hooks in its log

    def __call__(self, flow: Any, flow_run: Any, state: Any) -> None:
        watcher = _WATCHERS.get(self.token)
        if watcher is not None:
            watcher.started(flow_run.id)


class RunWatcher:
    """Follows one flow run: live per-stage progress bars (optional) and the final stage times.

    `hook` goes into the flow's on_running hooks: it learns the flow run's id there, in the
    flow's own process, and starts polling the API in a background thread.
    """

    def __init__(self, console: Console | None, interval_s: float = 0.5) -> None:
        self.console = console
        self.interval_s = interval_s
        self.flow_run_id: UUID | None = None
        self.api_url: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._progress: Progress | None = None
        self._rows: dict[str, TaskID] = {}
        self.hook = _StartHook(uuid4().hex)
        _WATCHERS[self.hook.token] = self

    def started(self, flow_run_id: UUID) -> None:
        from prefect.settings import PREFECT_API_URL

        self.flow_run_id = flow_run_id
        self.api_url = PREFECT_API_URL.value() or None
        if self.console is not None and self._thread is None:
            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description:<12}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("tasks"),
                TimeElapsedColumn(),
                TextColumn("{task.fields[rate]}"),
                console=self.console,
                transient=False,
            )
            self._progress.start()
            self._thread = threading.Thread(target=self._poll, name="papers-progress", daemon=True)
            self._thread.start()

    def _poll(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self._show(collect_stages(read_task_runs(self._id(), self.api_url)))
            except Exception:  # progress is best effort; the run is what matters
                continue

    def _id(self) -> UUID:
        if self.flow_run_id is None:
            raise PapersError("the flow run has not started")
        return self.flow_run_id

    def _show(self, stages: list[StageStat]) -> None:
        if self._progress is None:
            return
        for stat in stages:
            rate = stat.records_per_s
            text = f"{rate:,.0f} records/s" if rate is not None else ""
            if stat.name not in self._rows:
                self._rows[stat.name] = self._progress.add_task(
                    stat.name, total=stat.tasks, rate=""
                )
            row = self._rows[stat.name]
            self._progress.update(row, total=stat.tasks, completed=stat.done + stat.failed,
                                  rate=text)  # fmt: skip
            if stat.done + stat.failed == stat.tasks:
                self._progress.stop_task(row)

    def finish(self, counts: dict[str, Any] | None) -> list[StageStat]:
        """Stop the display; return the stages with times and, given the counts, records/s."""
        _WATCHERS.pop(self.hook.token, None)
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        stages: list[StageStat] = []
        if self.flow_run_id is not None:
            try:
                stages = collect_stages(read_task_runs(self.flow_run_id, self.api_url))
            except Exception:  # the API went away: the run's own summary still stands
                stages = []
            if counts is not None:
                attach_records(stages, counts)
        if self._progress is not None:
            self._show(stages)
            self._progress.stop()
        return stages


def _console_handlers() -> list[logging.Handler]:
    """Prefect's console handlers, if Prefect's logging is set up in this process yet."""
    if "prefect.logging.handlers" not in sys.modules:
        return []
    from prefect.logging.handlers import PrefectConsoleHandler

    loggers = [logging.getLogger()] + [
        obj for obj in logging.root.manager.loggerDict.values() if isinstance(obj, logging.Logger)
    ]
    return [h for lg in loggers for h in lg.handlers if isinstance(h, PrefectConsoleHandler)]


def mute_prefect_console_at_exit(level: int | None) -> None:
    """Keep `level` for what Prefect logs while the process exits (its temporary server's
    goodbye line); atexit runs this before Prefect's own exit hooks registered earlier."""
    if level is None:
        return

    def mute() -> None:
        for handler in _console_handlers():
            handler.setLevel(level)

    atexit.register(mute)


@contextmanager
def prefect_console(level: int | None) -> Iterator[None]:
    """Show only `level` and above from Prefect's (and Dask's) console log, for the duration.

    The records still reach the Prefect API (its UI shows every line); only the terminal is
    spared. Child processes started meanwhile (Dask workers, Prefect's temporary server) and
    Prefect's logging setup, when it is imported later, read the same from the environment.
    None leaves the logging as it is (everything).
    """
    if level is None:
        yield
        return

    name = logging.getLevelName(level)
    env = {"PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": name, "DASK_LOGGING__DISTRIBUTED": name}
    saved_env = {k: os.environ.get(k) for k in env}
    os.environ.update({k: v.lower() if k.startswith("DASK") else v for k, v in env.items()})
    handlers = {h: h.level for h in _console_handlers()}
    distributed = logging.getLogger("distributed")
    saved_distributed = distributed.level
    for handler in handlers:
        handler.setLevel(level)
    distributed.setLevel(max(level, saved_distributed))
    try:
        yield
    finally:
        for handler, old in handlers.items():
            handler.setLevel(old)
        distributed.setLevel(saved_distributed)
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


# --- the end-of-run summary ---------------------------------------------------------------


def first_rejects(out_dir: Path, limit: int = 5) -> tuple[int, list[dict[str, Any]]]:
    """How many records the published rejects table holds, and the first `limit` of them (in
    published order: the table is sorted, its node files too)."""
    from papers.gates import scan_folder_table

    lazy = scan_folder_table(out_dir, "rejected")
    if lazy is None:
        return 0, []
    total = int(lazy.select(pl.len()).collect().item())
    head = lazy.select("source_file", "record_index", "stage", "reason").head(limit).collect()
    return total, head.to_dicts()


def reject_line(reject: dict[str, Any]) -> str:
    """`file:record N: stage: reason` (the record's position in its file; whole-file rejects
    have none)."""
    where = reject["source_file"]
    if reject["record_index"] is not None:
        where = f"{where}:record {reject['record_index']}"
    return f"{where}: {reject['stage']}: {reject['reason']}"


def _fmt_seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _fmt_int(value: int | None) -> str:
    return "" if value is None else f"{value:,}"


def _fmt_rate(value: float | None) -> str:
    return "" if value is None else f"{value:,.0f}"


STAGE_COLUMNS = ("stage", "tasks", "seconds", "records", "records/s")


def stage_rows(stages: list[StageStat]) -> list[tuple[str, ...]]:
    return [
        (s.name, str(s.tasks) + (f" ({s.failed} failed)" if s.failed else ""),
         _fmt_seconds(s.seconds), _fmt_int(s.records), _fmt_rate(s.records_per_s))
        for s in stages
    ]  # fmt: skip


def plain_stage_table(stages: list[StageStat]) -> str:
    """The stage table as aligned plain text (for logs and pipes)."""
    rows = [STAGE_COLUMNS, *stage_rows(stages)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(STAGE_COLUMNS))]
    return "\n".join(
        "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in
                  enumerate(zip(row, widths, strict=True))).rstrip()
        for row in rows
    )  # fmt: skip


def rich_summary(summary_lines: list[tuple[str, str]], stages: list[StageStat]) -> list[Table]:
    """The summary as rich tables: the stages, then the counts."""
    tables = []
    if stages:
        table = Table(title="stages", title_justify="left")
        for i, column in enumerate(STAGE_COLUMNS):
            table.add_column(column, justify="left" if i == 0 else "right")
        for row in stage_rows(stages):
            table.add_row(*(Text(cell) for cell in row))
        tables.append(table)
    counts = Table(show_header=False, box=None, padding=(0, 2, 0, 0))
    counts.add_column(style="bold")
    counts.add_column()
    for key, value in summary_lines:
        counts.add_row(Text(key), Text(value))
    tables.append(counts)
    return tables


# --- papers inspect -------------------------------------------------------------------------


def find_paper(out_dir: Path, wanted: str) -> dict[str, Any]:
    """One published paper with its provenance, links and tags, by paper_id or arXiv id."""
    from papers.gates import scan_folder_table
    from papers.stages.normalize import arxiv_id

    papers = scan_folder_table(out_dir, "papers")
    if papers is None:
        raise PapersError(f"no published dataset in {out_dir} (run `papers run` first)")
    found = papers.filter(pl.col("paper_id") == wanted).collect()
    if found.height == 0:
        normalized = pl.select(arxiv_id(pl.lit(wanted, pl.String))).item()
        if normalized:
            found = papers.filter(pl.col("arxiv_id") == normalized).collect()
    if found.height == 0:
        raise PapersError(f"no paper {wanted!r} in the papers table of {out_dir}")
    paper = found.row(0, named=True)
    pid = paper["paper_id"]

    def rows(name: str, sort_by: list[str]) -> list[dict[str, Any]]:
        table = scan_folder_table(out_dir, name)
        if table is None:
            return []
        frame = table.filter(pl.col("paper_id") == pid).collect()
        return frame.sort(sort_by, nulls_last=True).drop("paper_id").to_dicts()

    return {
        "paper": paper,
        "provenance": rows("provenance", ["source_file", "record_index"]),
        "links": rows("links", ["start", "url"]),
        "tags": sorted(rows("tags", ["tag"]), key=lambda t: (-(t["score"] or 0), t["tag"])),
        "related": _related_rows(out_dir, pid),
        "duplicates": _duplicate_rows(out_dir, pid),
    }


def _titles(out_dir: Path, ids: list[str]) -> dict[str, str]:
    from papers.gates import scan_folder_table

    papers = scan_folder_table(out_dir, "papers")
    if papers is None or not ids:
        return {}
    found = papers.filter(pl.col("paper_id").is_in(ids)).select("paper_id", "title").collect()
    return dict(zip(found["paper_id"].to_list(), found["title"].to_list(), strict=True))


def _related_rows(out_dir: Path, pid: str) -> list[dict[str, Any]]:
    """The paper's related papers (each method, by rank) with their titles."""
    from papers.gates import scan_folder_table

    table = scan_folder_table(out_dir, "related")
    if table is None:
        return []
    rows = table.filter(pl.col("paper_id") == pid).collect().sort("method", "rank").to_dicts()
    titles = _titles(out_dir, [r["related_id"] for r in rows])
    return [{**r, "title": titles.get(r["related_id"])} for r in rows]


def _duplicate_rows(out_dir: Path, pid: str) -> list[dict[str, Any]]:
    """The paper's near-duplicates: the other paper, Jaccard, kind, evidence, its title."""
    from papers.gates import scan_folder_table

    table = scan_folder_table(out_dir, "duplicates")
    if table is None:
        return []
    found = (
        table.filter((pl.col("paper_id_a") == pid) | (pl.col("paper_id_b") == pid))
        .collect()
        .select(
            pl.when(pl.col("paper_id_a") == pid)
            .then(pl.col("paper_id_b"))
            .otherwise(pl.col("paper_id_a"))
            .alias("other_id"),
            "jaccard",
            "kind",
            "evidence",
        )
        .sort("jaccard", "other_id", descending=[True, False])
        .to_dicts()
    )
    titles = _titles(out_dir, [r["other_id"] for r in found])
    return [{**r, "title": titles.get(r["other_id"])} for r in found]


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) if value else "-"
    return str(value)


def _cell(value: Any) -> Text:
    """Data as a table cell: plain text, never rich markup (titles may hold `[...]`)."""
    return Text(_text(value))


_PAPER_FIELDS = (
    "arxiv_id", "doi", "title", "authors", "published_at", "listing_dates", "sources",
    "categories", "code_url", "tags", "keyphrases", "hf_keywords", "upvotes", "comments",
    "license",
)  # fmt: skip


def render_paper(found: dict[str, Any], console: Console) -> None:
    """Print a paper, then where it came from, its links and its tags."""
    paper = found["paper"]
    console.print(f"[bold]{escape(paper['paper_id'])}[/bold]", highlight=False)
    fields = Table(show_header=False, box=None, padding=(0, 2, 0, 0))
    fields.add_column(style="bold", no_wrap=True)
    fields.add_column()
    for name in _PAPER_FIELDS:
        if name in paper:
            fields.add_row(name, _cell(paper[name]))
    fields.add_row("abstract", _cell(paper.get("abstract")))
    console.print(fields)

    provenance = Table(title=f"provenance ({len(found['provenance'])} record(s))",
                       title_justify="left")  # fmt: skip
    for column in ("source_file", "record_index", "line", "source"):
        provenance.add_column(column)
    for p in found["provenance"]:
        provenance.add_row(*(_cell(p.get(c)) for c in ("source_file", "record_index", "line",
                                                         "source")))  # fmt: skip
    console.print(provenance)

    links = Table(title=f"links ({len(found['links'])})", title_justify="left")
    for column in ("url", "kind", "origin", "rule", "span", "curated"):
        links.add_column(column, overflow="fold")
    for link in found["links"]:
        span = "-" if link.get("start") is None else f"{link['start']}-{link['end']}"
        links.add_row(_cell(link["url"]), _cell(link.get("kind")), _cell(link.get("origin")),
                      _cell(link.get("rule")), span, _cell(link.get("curated")))  # fmt: skip
    console.print(links)

    tags = Table(title=f"tags ({len(found['tags'])})", title_justify="left")
    for column in ("tag", "score", "evidence"):
        tags.add_column(column)
    for tag in found["tags"]:
        tags.add_row(_cell(tag["tag"]), _cell(tag.get("score")), _cell(tag.get("evidence")))
    console.print(tags)

    duplicates = Table(title=f"near-duplicates ({len(found.get('duplicates', []))})",
                       title_justify="left")  # fmt: skip
    for column in ("paper", "jaccard", "kind", "title"):
        duplicates.add_column(column, overflow="fold")
    for d in found.get("duplicates", []):
        duplicates.add_row(_cell(d["other_id"]), f"{d['jaccard']:.3f}", _cell(d["kind"]),
                           _cell(d.get("title")))  # fmt: skip
    console.print(duplicates)

    related = Table(title=f"related papers ({len(found.get('related', []))})",
                    title_justify="left")  # fmt: skip
    for column in ("method", "rank", "paper", "score", "title"):
        related.add_column(column, overflow="fold")
    for r in found.get("related", []):
        related.add_row(_cell(r["method"]), _cell(r["rank"]), _cell(r["related_id"]),
                        f"{r['score']:.3f}", _cell(r.get("title")))  # fmt: skip
    console.print(related)
