"""`papers validate` (the Great Expectations gate), `papers evaluate` (enrichment quality) and
`papers report` (the HTML page)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from papers.cli.app import OutOpt, ParamsOpt, ReportsOpt, app, guard
from papers.config import DEFAULT_CACHE, DEFAULT_OUT, DEFAULT_PARAMS, DEFAULT_REPORTS
from papers.errors import PapersError


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
    changed_only: Annotated[
        bool,
        typer.Option(
            "--changed-only",
            help="Run GX only on files whose content has not passed this suite before "
            "(REPORTS/validated.json); the checks across files still run on all of them.",
        ),
    ] = False,
    rehash: Annotated[
        bool,
        typer.Option("--rehash", help="Hash every file again instead of trusting the hash cache."),
    ] = False,
    cache_dir: Annotated[
        Path,
        typer.Option(
            "--cache-dir", help="Where the file hashes are cached (by size, inode, times)."
        ),
    ] = DEFAULT_CACHE,
) -> None:
    """Check the published files with the Great Expectations suite; non-zero exit on failure."""

    def action() -> Any:
        from papers.quality import validate_published

        if not out.is_dir():
            raise PapersError(f"published folder not found: {out}")
        return validate_published(
            out, reports, changed_only=changed_only, cache_dir=None if rehash else cache_dir
        )

    result = guard(action)
    _write_quality_summary(out, reports, result)
    if result.skipped:
        typer.echo(
            f"{len(result.validated)} file(s) run through GX, {len(result.skipped)} unchanged "
            "since they passed"
        )
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
    id_blind: Annotated[
        Path | None,
        typer.Option("--id-blind", help="Raw folder: strip one source's ids, count the re-joins."),
    ] = None,
    strip: Annotated[
        str, typer.Option("--strip", help="The source stripped for --id-blind.")
    ] = "hf_daily_papers",
) -> None:
    """Measure links, code links and tags: against the gold set and the sources' curated fields;
    with --id-blind, how records stripped of their ids join their papers (papers/idblind.py)."""

    def action() -> dict[str, Any]:
        from papers import io
        from papers.config import load_params, load_vocabulary, resolve_vocabulary
        from papers.evaluate import GOLD_LINKS
        from papers.evaluate import evaluate as run_evaluation
        from papers.stages.tags import compile_vocabulary

        loaded = load_params(params)
        blind = {}
        if id_blind is not None:
            from papers.idblind import evaluate_id_blind

            blind = {"id_blind": evaluate_id_blind(id_blind, loaded, strip)}
            if io.table_path(out, "papers") is None:
                return blind
        if io.table_path(out, "papers") is None:
            raise PapersError(f"no published dataset in {out} (run `papers run` first)")
        terms = compile_vocabulary(load_vocabulary(resolve_vocabulary(loaded, params)))
        gold_path = gold or GOLD_LINKS
        if gold is not None and not gold.exists():
            raise PapersError(f"gold file not found: {gold}")
        return {**run_evaluation(out, loaded, terms, gold_path), **blind}

    figures = guard(action)
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

    page = guard(action)
    typer.echo(f"report: {page} ({page.stat().st_size:,} bytes)")


def _pct(value: Any) -> str:
    return "n/a" if value is None else f"{100 * float(value):.1f}%"


def _evaluation_table(f: dict[str, Any]) -> str:
    lines = []
    if "id_blind" in f:
        b = f["id_blind"]
        for variant in ("as_listed", "subtitles_dropped"):
            v = b[variant]
            for rule in ("content", "baseline"):
                r = v[rule]
                lines.append(
                    f"id-blind, {v['source']} stripped ({variant.replace('_', ' ')}), "
                    f"{'content match' if rule == 'content' else 'exact title'}: "
                    f"precision {_pct(r['precision'])}, recall {_pct(r['recall'])} "
                    f"({r['right']} right, {r['wrong']} wrong of {r['joinable']} joinable)"
                )
        if "code_links" not in f:
            return "\n".join(lines)
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
    if "duplicates" in f:
        d = f["duplicates"]
        lines.append(
            f"near-duplicates: {d['flagged']} pairs flagged {d['by_kind']}; precision on the "
            f"hand-checked sample {_pct(d['precision'])} ({d['right']} of {d['judged']} judged, "
            f"sample of {d['sample']} pairs)"
        )
    if "related" in f:
        r = f["related"]
        for method, m in r["methods"].items():
            lines.append(
                f"related ({method}): same primary category in the top {r['top']} "
                f"{_pct(m['same_category_top'])} vs chance {_pct(r['chance'])} "
                f"({m['neighbours_judged']} neighbours of {r['papers_with_category']} papers "
                f"with a category); near-duplicate pairs found in the top {m['k']}: "
                f"{_pct(m['duplicate_recall_at_k'])} of {r['duplicate_pair_ends']} pair ends"
            )
    return "\n".join(lines)
