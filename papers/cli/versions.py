"""`papers versions` and `papers diff`: the dataset versions DVC keeps, and what changed
between two; `papers recover`: one complete version in a folder after a crash, and DVC's lock
table readable again."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from papers.cli.app import app, guard
from papers.errors import PapersError


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

    found = guard(action)
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
    """What changed from A to B: papers added/removed, changed fields, count and metric deltas.

    When B is A's next version and has a change feed, the diff comes from the feed (one small
    file); otherwise the two papers tables are compared.
    """

    def action() -> dict[str, Any]:
        from papers.history import diff_versions, load_dataset, repo_root

        def root() -> Path | None:
            try:
                return repo_root(repo)
            except PapersError:
                return None  # folders need no git

        git = None if Path(a).is_dir() and Path(b).is_dir() else root()
        return diff_versions(
            load_dataset(a, git, dataset), load_dataset(b, git, dataset), limit=limit
        )

    result = guard(action)
    from papers.history import format_diff

    typer.echo(json.dumps(result, indent=2, ensure_ascii=False) if as_json else format_diff(result))


@app.command()
def recover(
    out: Annotated[Path, typer.Option("--out", help="The published dataset folder.")] = Path(
        "data/processed"
    ),
    wait: Annotated[
        float, typer.Option("--wait", min=0, help="Seconds to wait for a running build's lock.")
    ] = 0.0,
    repo: Annotated[
        Path, typer.Option("--repo", help="A folder inside the DVC project (none: skipped).")
    ] = Path("."),
) -> None:
    """Finish what an interrupted publish left in OUT: roll its commit forward when the journal
    says it had begun, then remove the files no version lists and the work folders. In a DVC
    project, also mend what a killed `dvc repro` left unreadable (DVC would refuse every later
    command): dvc.lock put back as the last commit has it, its lock table removed.

    `papers run` does the folder's part when it starts; this is for a folder readers use before
    the next run, or to check one, and `make run` calls it before `dvc repro`. It takes the
    folder's lock and DVC's, so it never races a running build.
    """

    def action() -> list[str]:
        from papers import dvcstate, io

        if not out.is_dir():
            raise PapersError(f"{out} is not a folder")
        with io.output_lock(out, wait):
            done = io.recover(out)
        root = dvcstate.dvc_root(repo)
        return done + (dvcstate.recover(root) if root is not None else [])

    for line in guard(action) or [f"{out}: nothing to recover, one complete version"]:
        typer.echo(line)
