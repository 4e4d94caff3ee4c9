"""The `papers` command line: run the build flow, validate the published data."""

from __future__ import annotations

import os

# Before Prefect or Great Expectations are imported: no telemetry, no analytics (no network).
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

import datetime as dt
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from papers.config import DEFAULT_CACHE, DEFAULT_OUT, DEFAULT_PARAMS, DEFAULT_RAW, DEFAULT_REPORTS
from papers.errors import PapersError

app = typer.Typer(
    name="papers",
    help="Curate research-paper listings into a versioned, validated Parquet dataset.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

T = TypeVar("T")


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def _guard(action: Callable[[], T]) -> T:
    """Run `action`; any error becomes one readable line on stderr and exit status 1."""
    try:
        return action()
    except PapersError as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        _fail("interrupted")
    except Exception as exc:
        _fail(f"{type(exc).__name__}: {exc}")
    raise AssertionError("unreachable")


RawOpt = Annotated[Path, typer.Option("--raw", help="Folder of raw listing files.")]
OutOpt = Annotated[Path, typer.Option("--out", help="Folder the dataset is published to.")]
ParamsOpt = Annotated[Path, typer.Option("--params", help="Pipeline parameters (YAML).")]
ReportsOpt = Annotated[
    Path, typer.Option("--reports", help="Folder for the validation result and Data Docs.")
]


def _summary(result: dict[str, Any]) -> str:
    counts = result["counts"]
    out = Path(result["out_dir"])
    stages = ", ".join(f"{k} {v}" for k, v in counts["rejected_by_stage"].items() if v)
    lines = [
        f"records in:   {counts['raw_records']} from {counts['input_files']} file(s)",
        f"papers out:   {counts['papers']} ({counts['merged_duplicates']} duplicate record(s) "
        "merged)",
        f"rejected:     {counts['rejected']}" + (f" ({stages})" if stages else ""),
        f"links:        {counts['links']}",
        f"tags:         {counts['tags']}",
        f"version:      {result['dataset_version']}",
        f"written to:   {out}/ (papers, links, tags, provenance, rejected .parquet; "
        "manifest.json, metrics.json)",
    ]
    return "\n".join(lines)


@app.command()
def run(
    raw: RawOpt = DEFAULT_RAW,
    out: OutOpt = DEFAULT_OUT,
    params: ParamsOpt = DEFAULT_PARAMS,
    cache_dir: Annotated[
        Path,
        typer.Option("--cache-dir", help="Parsed shards kept by file content, for quick reruns."),
    ] = DEFAULT_CACHE,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Parse every file again, keep nothing.")
    ] = False,
    wait: Annotated[
        float,
        typer.Option("--wait", min=0, help="Seconds to wait for another run on --out to finish."),
    ] = 0.0,
    no_gates: Annotated[
        bool,
        typer.Option("--no-gates", help="Publish even when the build fails a quality gate."),
    ] = False,
    executor: Annotated[
        str,
        typer.Option("--executor", help="Where the tasks run: local (threads here) or dask."),
    ] = "local",
    address: Annotated[
        str | None,
        typer.Option(
            "--address",
            help="Scheduler of an existing Dask cluster, e.g. tcp://host:8786 (--executor dask).",
            show_default=False,
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            help="Start a local Dask cluster of N worker processes (--executor dask).",
            show_default=False,
        ),
    ] = None,
    progress: Annotated[
        bool | None,
        typer.Option(
            "--progress/--no-progress",
            help="Live progress per stage on stderr (default: when stderr is a terminal).",
            show_default=False,
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print only the summary, as one JSON object on stdout.")
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show Prefect's and Dask's own log lines.")
    ] = False,
) -> None:
    """Run the build-dataset Prefect flow end to end and print a summary."""
    import logging

    from rich.console import Console

    from papers import terminal

    if sum((quiet, as_json, verbose)) > 1:
        _fail("give at most one of --quiet, --json and --verbose")
    shared = executor == "dask"  # workers elsewhere need paths that mean the same there
    raw, out, params, cache_dir = (
        (p.resolve() if shared else p) for p in (raw, out, params, cache_dir)
    )
    show_progress = not (quiet or as_json) and (
        progress if progress is not None else sys.stderr.isatty()
    )
    watcher = terminal.RunWatcher(
        Console(stderr=True, force_terminal=bool(progress)) if show_progress else None
    )
    level = None if verbose else logging.CRITICAL if quiet else logging.WARNING
    outcome: dict[str, Any] = {}

    def action() -> dict[str, Any]:
        from flows.build import build_dataset, check_inputs
        from flows.runners import make_task_runner, shared_api
        from papers.lifeline import temporary_server_dies_with_us

        runner = make_task_runner(executor, address, workers)
        check_inputs(raw, params)  # readable errors before Prefect starts a server
        # Prefect's temporary server (no PREFECT_API_URL) dies with this run, even on SIGKILL
        temporary_server_dies_with_us()
        flow = build_dataset.with_options(
            task_runner=runner, on_running=[*build_dataset.on_running_hooks, watcher.hook]
        )
        with shared_api(executor):
            try:
                result: dict[str, Any] = flow(
                    raw_dir=str(raw),
                    out_dir=str(out),
                    params_path=str(params),
                    cache_dir=None if no_cache else str(cache_dir),
                    wait_s=wait,
                    gates=not no_gates,
                )
                outcome["result"] = result
            finally:
                outcome["stages"] = watcher.finish(outcome.get("result", {}).get("counts"))
        return result

    started = time.perf_counter()
    with terminal.prefect_console(level):  # set before Prefect is imported, when it is not yet
        result = _guard(action)
    terminal.mute_prefect_console_at_exit(level)
    _print_run(result, outcome["stages"], out, time.perf_counter() - started, quiet, as_json)


def _print_run(
    result: dict[str, Any], stages: list[Any], out: Path, seconds: float, quiet: bool, as_json: bool
) -> None:
    """The end of `papers run`: a summary table (rich on a terminal), the first rejects."""
    from rich.console import Console

    from papers import terminal

    rejected, first = terminal.first_rejects(out)
    if as_json:
        summary = {
            "dataset_version": result["dataset_version"],
            "out_dir": str(result["out_dir"]),
            "seconds": round(seconds, 3),
            "counts": result["counts"],
            "stages": [s.as_dict() for s in stages],
            "rejects": {"count": rejected, "first": first},
        }
        typer.echo(json.dumps(summary, ensure_ascii=False, default=str))
        return
    if quiet:
        return
    if sys.stdout.isatty():
        console = Console()
        pairs = [tuple(line.split(":", 1)) for line in _summary(result).splitlines()]
        for table in terminal.rich_summary([(k, v.strip()) for k, v in pairs], stages):
            console.print(table)
    else:
        typer.echo(_summary(result))
        if stages:
            typer.echo("")
            typer.echo(terminal.plain_stage_table(stages))
    if rejected:
        typer.echo(f"{rejected} record(s) rejected; the first {len(first)}:", err=True)
        for reject in first:
            typer.echo(f"  {terminal.reject_line(reject)}", err=True)
        typer.echo(f"  (all of them: {out / 'rejected.parquet'})", err=True)


@app.command()
def inspect(
    paper_id: Annotated[str, typer.Argument(help="A paper_id (or an arXiv id in any usual form).")],
    out: OutOpt = DEFAULT_OUT,
    as_json: Annotated[bool, typer.Option("--json", help="Print it as one JSON object.")] = False,
) -> None:
    """Show one published paper with its provenance, links (origin, rule) and tags (evidence)."""
    from rich.console import Console

    from papers import terminal

    found = _guard(lambda: terminal.find_paper(out, paper_id))
    if as_json:
        typer.echo(json.dumps(found, ensure_ascii=False, indent=2, default=_json_value))
    else:
        terminal.render_paper(found, Console())


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return str(value)


def _write_quality_summary(out: Path, reports: Path, result: Any) -> None:
    """reports/quality.json: the gate's outcome in deterministic form (a DVC metric).

    The full GX result (reports/validation.json) carries run ids and times; this summary does
    not, so the same data always gives the same file.
    """
    from papers import io

    manifest_path = out / io.MANIFEST
    manifest = io.read_json(manifest_path) if manifest_path.exists() else {}
    io.write_json(
        {
            "success": result.success,
            "checks_run": result.checks_run,
            "failures": list(result.failures),
            "dataset_version": manifest.get("dataset", {}).get("version"),
            "schema_version": manifest.get("schema_version"),
        },
        reports / "quality.json",
    )


@app.command()
def validate(
    out: OutOpt = DEFAULT_OUT,
    reports: ReportsOpt = DEFAULT_REPORTS,
) -> None:
    """Check the published files with the Great Expectations suite; non-zero exit on failure."""

    def action() -> Any:
        from papers.quality import validate_published

        if not out.is_dir():
            raise PapersError(f"published folder not found: {out}")
        return validate_published(out, reports)

    result = _guard(action)
    _write_quality_summary(out, reports, result)
    if result.success:
        typer.echo(f"validation passed: {result.checks_run} checks on {out}/")
    else:
        typer.echo(
            f"validation FAILED: {len(result.failures)} of {result.checks_run} checks", err=True
        )
        for line in result.failures:
            typer.echo(f"  - {line}", err=True)
    typer.echo(f"report: {result.result_json}")
    if result.data_docs_index is not None:
        typer.echo(f"data docs: {result.data_docs_index}")
    if not result.success:
        raise typer.Exit(1)


@app.command()
def evaluate(
    out: OutOpt = DEFAULT_OUT,
    params: ParamsOpt = DEFAULT_PARAMS,
    gold: Annotated[
        Path | None,
        typer.Option("--gold", help="Hand-checked links (JSON lines); default: the repo's set."),
    ] = None,
    reports: ReportsOpt = DEFAULT_REPORTS,
) -> None:
    """Measure links, code links and tags: against the gold set and the sources' curated fields."""

    def action() -> dict[str, Any]:
        from papers.config import load_params, load_vocabulary, resolve_vocabulary
        from papers.evaluate import GOLD_LINKS
        from papers.evaluate import evaluate as run_evaluation
        from papers.stages.tags import compile_vocabulary

        if not (out / "papers.parquet").exists():
            raise PapersError(f"no published dataset in {out} (run `papers run` first)")
        loaded = load_params(params)
        terms = compile_vocabulary(load_vocabulary(resolve_vocabulary(loaded, params)))
        gold_path = gold or GOLD_LINKS
        if gold is not None and not gold.exists():
            raise PapersError(f"gold file not found: {gold}")
        return run_evaluation(out, loaded, terms, gold_path)

    figures = _guard(action)
    typer.echo(_evaluation_table(figures))
    reports.mkdir(parents=True, exist_ok=True)
    from papers import io

    io.write_json(figures, reports / "evaluation.json")
    typer.echo(f"report: {reports / 'evaluation.json'}")


@app.command()
def report(out: OutOpt = DEFAULT_OUT, reports: ReportsOpt = DEFAULT_REPORTS) -> None:
    """Write REPORTS/index.html: one self-contained page of charts and a searchable paper table."""

    def action() -> Path:
        from papers.report import write_report

        return write_report(out, reports)

    page = _guard(action)
    typer.echo(f"report: {page} ({page.stat().st_size:,} bytes)")


def _pct(value: Any) -> str:
    return "n/a" if value is None else f"{100 * float(value):.1f}%"


def _evaluation_table(f: dict[str, Any]) -> str:
    lines = []
    if "links_gold" in f:
        g = f["links_gold"]
        lines.append(
            f"links vs gold ({g['abstracts']} abstracts, {g['gold_links']} links): "
            f"precision {_pct(g['precision'])}, recall {_pct(g['recall'])}, "
            f"kind accuracy {_pct(g['kind_accuracy'])}, own code {_pct(g['own_code_accuracy'])}"
        )
    c = f["code_links"]
    lines.append(
        f"code link from the abstract vs curated githubRepo: {_pct(c['agreement'])} "
        f"({c['agree']} of {c['papers']} papers)"
    )
    t = f["tags"]
    lines.append(f"tag coverage: {_pct(t['coverage'])} of {t['papers']} papers")
    supported = t["supported_share"] if t["our_tags_on_those"] else None
    found = t["keyword_tags_found_share"] if t["keyword_tags"] else None
    lines.append(
        f"tags vs hf_keywords ({t['papers_with_mapped_keywords']} papers with mapped keywords): "
        f"{_pct(supported)} of our tags supported "
        f"({t['our_tags_supported']} of {t['our_tags_on_those']}), "
        f"{_pct(found)} of keyword topics found "
        f"({t['keyword_tags_found']} of {t['keyword_tags']})"
    )
    return "\n".join(lines)


@app.command()
def serve(
    raw: RawOpt = DEFAULT_RAW,
    out: OutOpt = DEFAULT_OUT,
    params: ParamsOpt = DEFAULT_PARAMS,
    reports: ReportsOpt = DEFAULT_REPORTS,
    cache_dir: Annotated[
        Path, typer.Option("--cache-dir", help="Parse cache of the scheduled builds.")
    ] = DEFAULT_CACHE,
    hf_base_url: Annotated[
        str | None,
        typer.Option("--hf-base-url", help="HF API root (default: params.yaml, else the public)."),
    ] = None,
) -> None:
    """Serve the daily deployment (fetch, build, validate) on the cron schedule in params.yaml."""

    def action() -> tuple[Any, dict[str, Any]]:
        from prefect.settings import PREFECT_API_URL

        from flows.daily import deployment_parameters
        from papers.config import load_params

        loaded = load_params(params)
        if not PREFECT_API_URL.value():
            raise PapersError(
                "papers serve needs a Prefect server that stays up: start one with "
                "`prefect server start` and set PREFECT_API_URL=http://127.0.0.1:4200/api"
            )
        # absolute paths: the scheduled runs must not depend on where they are started from
        parameters = deployment_parameters(
            loaded, raw_dir=str(raw.resolve()), out_dir=str(out.resolve()),
            params_path=str(params.resolve()), reports_dir=str(reports.resolve()),
            cache_dir=str(cache_dir.resolve()), hf_base_url=hf_base_url,
        )  # fmt: skip
        return loaded, parameters

    loaded, parameters = _guard(action)
    schedule = loaded.schedule
    typer.echo(
        f"serving daily/{schedule.deployment}: cron {schedule.cron!r} in {schedule.timezone} "
        "(Ctrl-C stops it and pauses the schedule)"
    )
    from flows.daily import serve_daily

    _guard(lambda: serve_daily(loaded, parameters))


@app.command()
def versions(
    repo: Annotated[Path, typer.Option("--repo", help="A folder inside the git work tree.")] = Path(
        "."
    ),
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table.")] = False,
) -> None:
    """List the dataset versions DVC knows: each commit of dvc.lock with its counts."""

    def action() -> list[dict[str, Any]]:
        from papers.history import list_versions, repo_root

        return list_versions(repo_root(repo))

    found = _guard(action)
    from papers.history import format_versions

    typer.echo(json.dumps(found, indent=2) if as_json else format_versions(found))


@app.command()
def diff(
    a: Annotated[str, typer.Argument(help="Git revision or published folder (the old side).")],
    b: Annotated[str, typer.Argument(help="Git revision or published folder (the new side).")],
    repo: Annotated[Path, typer.Option("--repo", help="A folder inside the git work tree.")] = Path(
        "."
    ),
    dataset: Annotated[
        str, typer.Option("--dataset", help="Dataset folder inside the repo, for revisions.")
    ] = "data/processed",
    limit: Annotated[int, typer.Option("--limit", min=0, help="Papers listed per side.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of text.")] = False,
) -> None:
    """What changed from A to B: papers added/removed, changed fields, count and metric deltas."""

    def action() -> dict[str, Any]:
        from papers.history import diff_datasets, load_dataset, repo_root

        def root() -> Path | None:
            try:
                return repo_root(repo)
            except PapersError:
                return None  # folders need no git

        git = None if Path(a).is_dir() and Path(b).is_dir() else root()
        return diff_datasets(
            load_dataset(a, git, dataset), load_dataset(b, git, dataset), limit=limit
        )

    result = _guard(action)
    from papers.history import format_diff

    typer.echo(json.dumps(result, indent=2, ensure_ascii=False) if as_json else format_diff(result))


fetch_app = typer.Typer(
    help="Save raw listings under the raw folder, exactly as the services return them.",
    no_args_is_help=True,
)
app.add_typer(fetch_app, name="fetch")

DateOpt = Annotated[
    str | None, typer.Option("--date", help="One day, YYYY-MM-DD.", show_default=False)
]
SinceOpt = Annotated[str | None, typer.Option("--since", help="First day of a range.")]
UntilOpt = Annotated[str | None, typer.Option("--until", help="Last day of a range (inclusive).")]


def _day(value: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise PapersError(f"{option} must be a date like 2025-01-31, not {value!r}") from exc


def _report(saved: list[Any]) -> None:
    for entry in saved:
        typer.echo(f"{entry.status:15} {entry.path} ({entry.bytes} bytes)")


@fetch_app.command("hf")
def fetch_hf(
    date: DateOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    raw: RawOpt = DEFAULT_RAW,
    base_url: Annotated[
        str, typer.Option("--base-url", help="API root.")
    ] = "https://huggingface.co",
) -> None:
    """Fetch Hugging Face daily_papers listings into RAW/hf_daily_papers/YYYY-MM-DD.json."""

    def action() -> list[Any]:
        from papers import fetch

        if date is not None and (since or until):
            raise PapersError("give either --date or --since/--until, not both")
        if date is None and since is None:
            raise PapersError("give --date YYYY-MM-DD or --since YYYY-MM-DD [--until YYYY-MM-DD]")
        first = _day(date or since or "", "--date" if date else "--since")
        last = _day(until, "--until") if until else first
        if last < first:
            raise PapersError(f"--until {last} is before {first}")
        with fetch.Fetcher(fetch.FetchPolicy()) as fetcher:
            return fetch.fetch_hf_range(fetcher, base_url, first, last, raw)

    _report(_guard(action))


@fetch_app.command("arxiv")
def fetch_arxiv(
    ids: Annotated[
        str | None, typer.Option("--ids", help="Comma-separated arXiv ids.", show_default=False)
    ] = None,
    query: Annotated[
        str | None, typer.Option("--query", help="arXiv API search_query.", show_default=False)
    ] = None,
    max_results: Annotated[int | None, typer.Option("--max-results", min=1)] = None,
    oai: Annotated[
        bool, typer.Option("--oai", help="Harvest OAI-PMH ListRecords instead of the Atom API.")
    ] = False,
    oai_set: Annotated[str | None, typer.Option("--set", help="OAI set, e.g. cs.")] = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    raw: RawOpt = DEFAULT_RAW,
    base_url: Annotated[
        str | None, typer.Option("--base-url", help="API root (default: arXiv's).")
    ] = None,
) -> None:
    """Fetch arXiv metadata: Atom API by --ids/--query (paged, 3 s apart), or OAI-PMH (--oai)."""

    def action() -> list[Any]:
        from papers import fetch

        with fetch.Fetcher(fetch.FetchPolicy()) as fetcher:
            if oai:
                return fetch.harvest_arxiv_oai(
                    fetcher,
                    base_url or fetch.ARXIV_OAI_BASE_URL,
                    raw,
                    set_spec=oai_set,
                    from_date=_day(since, "--since") if since else None,
                    until_date=_day(until, "--until") if until else None,
                )
            if bool(ids) == bool(query):
                raise PapersError("give exactly one of --ids or --query (or --oai)")
            id_list = [i.strip() for i in (ids or "").split(",") if i.strip()]
            return fetch.fetch_arxiv_atom(
                fetcher, base_url or fetch.ARXIV_API_BASE_URL, raw, ids=id_list, query=query,
                max_results=max_results,
            )  # fmt: skip

    _report(_guard(action))


def main() -> None:  # pragma: no cover - console-script shim
    app(prog_name="papers")
    sys.exit(0)
