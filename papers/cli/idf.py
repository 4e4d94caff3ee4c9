"""`papers idf refresh`: the pinned keyphrase IDF (params.yaml tags.keyphrase_idf) recomputed
from a published build. A deliberate full re-rank, like a vocabulary change: the next build
ranks every paper's keyphrases against the new table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from papers.cli.app import OutOpt, ParamsOpt, app, guard
from papers.config import DEFAULT_OUT, DEFAULT_PARAMS
from papers.errors import PapersError

idf_app = typer.Typer(
    help="The pinned keyphrase IDF keyphrases are ranked against.", no_args_is_help=True
)
app.add_typer(idf_app, name="idf")


@idf_app.command()
def refresh(
    out: OutOpt = DEFAULT_OUT,
    params: ParamsOpt = DEFAULT_PARAMS,
    dest: Annotated[
        Path | None,
        typer.Option("--dest", help="Where to write it (default: params tags.keyphrase_idf)."),
    ] = None,
) -> None:
    """Count the keyphrase candidates of the papers published in --out; write the IDF file."""

    def action() -> dict[str, Any]:
        from papers.config import (
            load_params,
            load_vocabulary,
            resolve_keyphrase_idf,
            resolve_vocabulary,
        )
        from papers.pipeline.idf import refresh_idf

        # Not config.load_build_config: that loads the pinned IDF, which this command writes, so
        # a missing or broken one must not stop it (refresh is how it is created or repaired).
        loaded = load_params(params)
        target = dest or resolve_keyphrase_idf(loaded, params)
        if target is None:
            raise PapersError(f"{params} names no tags.keyphrase_idf file: give --dest")
        vocabulary = load_vocabulary(resolve_vocabulary(loaded, params))
        return refresh_idf(out, loaded, vocabulary, target)

    done = guard(action)
    typer.echo(
        f"wrote {done['path']}: {done['phrases']} phrases in 2+ of {done['n_docs']} papers, "
        f"{done['bytes']} bytes, version {done['version']}"
    )
