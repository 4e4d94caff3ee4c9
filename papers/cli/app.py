"""The `papers` app and what its commands share: the error guard and the common options."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from papers.errors import PapersError

app = typer.Typer(
    name="papers",
    help="Curate research-paper listings into a versioned, validated Parquet dataset.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

T = TypeVar("T")


def fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def guard(action: Callable[[], T]) -> T:
    """Run `action`; any error becomes one readable line on stderr and exit status 1."""
    try:
        return action()
    except PapersError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        fail("interrupted")
    except Exception as exc:
        fail(f"{type(exc).__name__}: {exc}")
    raise AssertionError("unreachable")


RawOpt = Annotated[Path, typer.Option("--raw", help="Folder of raw listing files.")]
OutOpt = Annotated[Path, typer.Option("--out", help="Folder the dataset is published to.")]
ParamsOpt = Annotated[Path, typer.Option("--params", help="Pipeline parameters (YAML).")]
ReportsOpt = Annotated[
    Path, typer.Option("--reports", help="Folder for the validation result and Data Docs.")
]
