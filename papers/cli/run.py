"""`papers run` (the build flow, with its summary) and `papers inspect` (one published paper)."""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from papers.cli.app import OutOpt, ParamsOpt, RawOpt, app, fail, guard
from papers.config import DEFAULT_CACHE, DEFAULT_OUT, DEFAULT_PARAMS, DEFAULT_RAW


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
        f"written to:   {out}/ (papers, links, tags, provenance, rejected: a .parquet file or "
        "a directory of them each; manifest.json, metrics.json)",
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

    from papers.cli import terminal

    if sum((quiet, as_json, verbose)) > 1:
        fail("give at most one of --quiet, --json and --verbose")
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
        from flows.runners import check_executor
        from papers.cli import lifeline

        check_executor(executor, address, workers)
        # Prefect's temporary server (no PREFECT_API_URL) boots on the other core while this
        # process imports the flow and reads its inputs; it dies with this run, even on SIGKILL.
        # Inputs plainly missing: no server at all, check_inputs says what is wrong.
        server = lifeline.launch() if raw.is_dir() and params.is_file() else None
        try:
            from flows.build import build_dataset, warm_up
            from flows.inputs import check_inputs
            from flows.runners import make_task_runner, shared_api

            runner = make_task_runner(executor, address, workers)
            check_inputs(raw, params)  # readable errors before a server starts (or it stops)
            server = server or lifeline.launch()
        except BaseException:
            if server is not None:
                server.stop()
            raise
        flow = build_dataset.with_options(
            task_runner=runner, on_running=[*build_dataset.on_running_hooks, watcher.hook]
        )
        # the raw input's size decides whether the compiled passes' kernels are loaded ahead:
        # only where the tasks run, in this process (on Dask they run in the workers)
        warm_raw = raw if executor == "local" else None
        with lifeline.serving(server, lambda: warm_up(params, warm_raw)), shared_api(executor):
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
        result = guard(action)
    terminal.mute_prefect_console_at_exit(level)
    _print_run(result, outcome["stages"], out, time.perf_counter() - started, quiet, as_json)


def _print_run(
    result: dict[str, Any], stages: list[Any], out: Path, seconds: float, quiet: bool, as_json: bool
) -> None:
    """The end of `papers run`: a summary table (rich on a terminal), the first rejects."""
    from rich.console import Console

    from papers.cli import terminal

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
        from papers.io import table_path

        typer.echo(f"  (all of them: {table_path(out, 'rejected') or out})", err=True)


@app.command()
def inspect(
    paper_id: Annotated[str, typer.Argument(help="A paper_id (or an arXiv id in any usual form).")],
    out: OutOpt = DEFAULT_OUT,
    as_json: Annotated[bool, typer.Option("--json", help="Print it as one JSON object.")] = False,
) -> None:
    """Show one published paper with its provenance, links (origin, rule) and tags (evidence)."""
    from rich.console import Console

    from papers.cli import terminal

    found = guard(lambda: terminal.find_paper(out, paper_id))
    if as_json:
        typer.echo(json.dumps(found, ensure_ascii=False, indent=2, default=_json_value))
    else:
        terminal.render_paper(found, Console())


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return str(value)
