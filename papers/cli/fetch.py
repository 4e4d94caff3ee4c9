"""`papers fetch hf` and `papers fetch arxiv`: raw listings saved exactly as the services
return them."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import typer

from papers.cli.app import RawOpt, app, guard
from papers.config import DEFAULT_RAW
from papers.errors import PapersError

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

    _report(guard(action))


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

    _report(guard(action))
