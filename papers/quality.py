"""Great Expectations quality gate for the published dataset folder (`papers validate`)."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from papers.io import sha256_file
from schemas import LINK_KINDS, LINK_ORIGINS, PUBLISHED, STAGES, polars_schema
from schemas.tables import ARXIV_ID_PATTERN, URL_PATTERN

if TYPE_CHECKING:
    from great_expectations.expectations.expectation import Expectation

__all__ = ["QualityResult", "validate_published"]

MANIFEST = "manifest.json"
PAPERS = "papers.parquet"
LINKS = "links.parquet"
TAGS = "tags.parquet"
REJECTED = "rejected.parquet"
PROVENANCE = "provenance.parquet"
PARQUET_FILES: tuple[str, ...] = (PAPERS, LINKS, TAGS, REJECTED, PROVENANCE)

REJECT_STAGES = STAGES
ARXIV_ID_RE = ARXIV_ID_PATTERN
CODE_URL_RE = URL_PATTERN
LINK_URL_RE = URL_PATTERN
# LaTeX a curator would not publish: a macro, TeX quotes, an escaped percent, or inline math
# ($...$ with no space inside the delimiters; a lone dollar amount like "$5" is fine).
LATEX_RE = r"\\[A-Za-z]+|\\['`^\"~=.][A-Za-z{]|``|\\%|\$[^$\s][^$]*[^$\s]\$|\$[^$\s]\$"
NOT_BLANK_RE = r"\S"

# Required columns and dtypes per file, from the tables' one schema source (schemas/); extra
# columns are tolerated so the contract can grow.
SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    f"{name}.parquet": dict(polars_schema(model).items()) for name, (model, _) in PUBLISHED.items()
}

# Which manifest `counts` key must equal each file's row count (checked by GX on the batch).
COUNT_KEYS: dict[str, str] = {PAPERS: "papers", LINKS: "links", TAGS: "tags", REJECTED: "rejected"}

ORPHAN_COLUMN = "paper_id_not_in_papers"
LEN_SUFFIX = "__len"
DOCS_SITE = "papers_quality"
# Big enough to give useful examples, small enough to keep validation.json and the docs light.
PARTIAL_UNEXPECTED = 10


@dataclass(frozen=True)
class QualityResult:
    """Outcome of one validation run over a published folder."""

    success: bool
    failures: tuple[str, ...]
    checks_run: int
    result_json: Path
    data_docs_index: Path | None


@dataclass
class _Audit:
    """Accumulates readable failures and the number of checks evaluated."""

    failures: list[str] = field(default_factory=list)
    checks_run: int = 0

    def check(self, ok: bool, line: str) -> bool:
        self.checks_run += 1
        if not ok:
            self.failures.append(line)
        return ok


@dataclass
class _Table:
    """One parquet file as read from disk, plus what we learned about it."""

    name: str
    frame: pl.DataFrame | None = None
    sha256: str | None = None
    columns_ok: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class _Plan:
    """A GX suite for one file: the scalar frame to validate and its expectations."""

    name: str
    frame: pl.DataFrame
    expectations: list[Expectation]


def validate_published(out_dir: Path, reports_dir: Path) -> QualityResult:
    """Validate `out_dir` against the published-folder contract and write reports."""
    out_dir = Path(out_dir)
    # GX's filesystem store needs an absolute base directory
    reports_dir = Path(reports_dir).resolve()
    reports_dir.mkdir(parents=True, exist_ok=True)
    audit = _Audit()

    manifest = _load_manifest(out_dir, audit)
    tables = {name: _load_table(out_dir, name, audit) for name in PARQUET_FILES}
    _check_outputs_against_manifest(tables, manifest, audit)

    plans = _build_plans(tables, manifest)
    gx_json, docs_index = _run_gx(plans, reports_dir, audit)

    # Reconciliation is arithmetic over the manifest, so plain Python is clearer than GX here.
    _reconcile(tables, manifest, audit)

    failures = tuple(audit.failures)
    result_json = reports_dir / "validation.json"
    summary: dict[str, Any] = {
        "success": not failures,
        "checks_run": audit.checks_run,
        "failures": list(failures),
        "out_dir": str(out_dir),
        "files": {
            name: {
                "exists": table.frame is not None,
                "rows": None if table.frame is None else table.frame.height,
                "sha256": table.sha256,
            }
            for name, table in tables.items()
        },
        "data_docs_index": None if docs_index is None else str(docs_index),
        "great_expectations": gx_json,
    }
    result_json.write_text(
        json.dumps(summary, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8"
    )
    return QualityResult(
        success=not failures,
        failures=failures,
        checks_run=audit.checks_run,
        result_json=result_json,
        data_docs_index=docs_index,
    )


# --------------------------------------------------------------------------- files + manifest


def _load_manifest(out_dir: Path, audit: _Audit) -> dict[str, Any] | None:
    path = out_dir / MANIFEST
    if not audit.check(path.is_file(), f"{MANIFEST}: file is missing"):
        return None
    try:
        loaded: object = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        audit.check(False, f"{MANIFEST}: cannot be parsed as JSON ({exc})")
        return None
    if not audit.check(isinstance(loaded, dict), f"{MANIFEST}: top level is not an object"):
        return None
    assert isinstance(loaded, dict)
    manifest: dict[str, Any] = loaded
    problems = _manifest_shape_problems(manifest)
    # One check for the whole shape, but one readable line per problem.
    audit.checks_run += 1
    audit.failures.extend(f"{MANIFEST}: {problem}" for problem in problems)
    return manifest


def _manifest_shape_problems(manifest: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    dataset = manifest.get("dataset")
    if not isinstance(dataset, dict):
        problems.append("dataset is missing or not an object")
    else:
        problems.extend(
            f"dataset.{key} is missing or not a string"
            for key in ("name", "version")
            if not isinstance(dataset.get(key), str)
        )
    problems.extend(
        f"{key} is missing or not a string"
        for key in ("schema_version", "vocabulary_version", "params_sha256")
        if not isinstance(manifest.get(key), str)
    )
    entry_keys = {"inputs": ("path", "sha256", "records"), "outputs": ("path", "sha256", "rows")}
    for key, fields in entry_keys.items():
        entries = manifest.get(key)
        if not isinstance(entries, list):
            problems.append(f"{key} is missing or not a list")
            continue
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict) or any(f not in entry for f in fields):
                problems.append(f"{key}[{i}] must have keys {', '.join(fields)}")
    counts = manifest.get("counts")
    if not isinstance(counts, dict):
        problems.append("counts is missing or not an object")
    else:
        problems.extend(
            f"counts.{key} is missing or not an integer"
            for key in ("raw_records", "papers", "rejected", "links", "tags")
            if not _is_int(counts.get(key))
        )
    return problems


def _is_int(value: object) -> bool:
    # bool is an int subclass, but `true` is never a valid count.
    return isinstance(value, int) and not isinstance(value, bool)


def _manifest_count(manifest: Mapping[str, Any] | None, key: str) -> int | None:
    counts = None if manifest is None else manifest.get("counts")
    value = counts.get(key) if isinstance(counts, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _load_table(out_dir: Path, name: str, audit: _Audit) -> _Table:
    table = _Table(name)
    path = out_dir / name
    if not audit.check(path.is_file(), f"{name}: file is missing"):
        return table
    table.sha256 = sha256_file(path)
    try:
        frame = pl.read_parquet(path)
    except Exception as exc:  # any reader error means the file is unusable, not a crash
        audit.check(False, f"{name}: cannot be read as Parquet ({type(exc).__name__}: {exc})")
        return table
    table.frame = frame
    problems: list[str] = []
    for column, dtype in SCHEMAS[name].items():
        if column not in frame.schema:
            problems.append(f"{name}: column {column} is missing")
        elif frame.schema[column] != dtype:
            problems.append(
                f"{name}: column {column} has type {frame.schema[column]}, expected {dtype}"
            )
        else:
            table.columns_ok.add(column)
    audit.checks_run += 1
    audit.failures.extend(problems)
    return table


def _check_outputs_against_manifest(
    tables: Mapping[str, _Table], manifest: Mapping[str, Any] | None, audit: _Audit
) -> None:
    if manifest is None:
        return
    outputs = manifest.get("outputs")
    entries: dict[str, Mapping[str, Any]] = {}
    if isinstance(outputs, list):
        for entry in outputs:
            if isinstance(entry, dict) and isinstance(entry.get("path"), str):
                # Entries may be written relative to the repo (data/processed/x.parquet).
                entries[Path(entry["path"]).name] = entry
    for name, table in tables.items():
        entry = entries.get(name)
        if not audit.check(entry is not None, f"{MANIFEST}: outputs has no entry for {name}"):
            continue
        assert entry is not None
        if table.sha256 is not None:
            expected_sha = entry.get("sha256")
            audit.check(
                table.sha256 == expected_sha,
                f"{name}: sha256 {table.sha256[:12]}… does not match manifest "
                f"({str(expected_sha)[:12]}…)",
            )
        if table.frame is not None:
            rows = entry.get("rows")
            audit.check(
                table.frame.height == rows,
                f"{name}: has {table.frame.height} row(s) but manifest outputs say {rows}",
            )


def _reconcile(
    tables: Mapping[str, _Table], manifest: Mapping[str, Any] | None, audit: _Audit
) -> None:
    raw = _manifest_count(manifest, "raw_records")
    provenance = tables[PROVENANCE].frame
    rejected = tables[REJECTED].frame
    if raw is None or provenance is None or rejected is None:
        return  # the missing piece has already been reported
    accounted = provenance.height + rejected.height
    audit.check(
        raw == accounted,
        f"{MANIFEST}: counts.raw_records is {raw} but provenance ({provenance.height}) + "
        f"rejected ({rejected.height}) = {accounted}",
    )


# --------------------------------------------------------------------------- expectations


def _build_plans(tables: Mapping[str, _Table], manifest: Mapping[str, Any] | None) -> list[_Plan]:
    _disable_gx_analytics()
    import great_expectations as gx

    # GX re-exports its expectation classes without `__all__`, so mypy --strict rejects
    # `gx.expectations.X`; go through Any rather than importing 20 private module paths.
    ge: Any = gx.expectations
    papers = tables[PAPERS]
    known_ids = (
        papers.frame["paper_id"].drop_nulls()
        if papers.frame is not None and "paper_id" in papers.columns_ok
        else None
    )

    def plan(
        name: str, build: Callable[[Callable[[str], bool]], list[Expectation]]
    ) -> _Plan | None:
        table = tables[name]
        if table.frame is None:
            return None
        frame = _scalar_frame(table, known_ids)
        ok = table.columns_ok.__contains__
        expectations = build(ok)
        count = _manifest_count(manifest, COUNT_KEYS[name]) if name in COUNT_KEYS else None
        if count is not None:
            expectations.append(
                ge.ExpectTableRowCountToEqual(value=count, meta={"counts_key": COUNT_KEYS[name]})
            )
        return _Plan(name, frame, expectations)

    def orphan_check(ok: Callable[[str], bool]) -> list[Expectation]:
        # A set-membership expectation would inline every paper_id into the suite, the JSON and
        # the Data Docs; a derived "orphan id" column keeps them small and still shows examples.
        if known_ids is None or not ok("paper_id"):
            return []
        return [
            ge.ExpectColumnValuesToBeNull(
                column=ORPHAN_COLUMN, meta={"label": f"paper_id not found in {PAPERS}"}
            )
        ]

    def papers_suite(ok: Callable[[str], bool]) -> list[Expectation]:
        out: list[Expectation] = []
        if ok("paper_id"):
            out += [
                ge.ExpectColumnValuesToNotBeNull(column="paper_id"),
                ge.ExpectColumnValuesToBeUnique(column="paper_id"),
            ]
        if ok("title"):
            out += [
                ge.ExpectColumnValuesToNotBeNull(column="title"),
                ge.ExpectColumnValuesToMatchRegex(
                    column="title", regex=NOT_BLANK_RE, meta={"label": "is blank"}
                ),
            ]
        for column in ("title_key", "abstract"):
            if ok(column):
                out.append(ge.ExpectColumnValuesToNotBeNull(column=column))
        if ok("arxiv_id"):
            out.append(
                ge.ExpectColumnValuesToMatchRegex(
                    column="arxiv_id", regex=ARXIV_ID_RE, meta={"label": "is not a valid arXiv id"}
                )
            )
        if ok("code_url"):
            out.append(
                ge.ExpectColumnValuesToMatchRegex(
                    column="code_url", regex=CODE_URL_RE, meta={"label": "is not an http(s) URL"}
                )
            )
        # List columns reach GX only as derived lengths; the contract marks them non-nullable
        # (unlike arxiv_id/code_url/published_at), so a null length means a null list.
        for column in ("authors", "listing_dates", "sources", "links", "tags", "keyphrases"):
            if ok(column):
                out.append(
                    ge.ExpectColumnValuesToNotBeNull(
                        column=f"{column}{LEN_SUFFIX}", meta={"label": f"{column} is null"}
                    )
                )
        for column in ("title", "abstract"):
            if ok(column):
                out.append(
                    ge.ExpectColumnValuesToNotMatchRegex(
                        column=column, regex=LATEX_RE, meta={"label": "contains LaTeX markup"}
                    )
                )
        return out

    def links_suite(ok: Callable[[str], bool]) -> list[Expectation]:
        out: list[Expectation] = []
        if ok("paper_id"):
            out.append(ge.ExpectColumnValuesToNotBeNull(column="paper_id"))
        if ok("url"):
            out += [
                ge.ExpectColumnValuesToNotBeNull(column="url"),
                ge.ExpectColumnValuesToMatchRegex(
                    column="url", regex=LINK_URL_RE, meta={"label": "is not a valid URL"}
                ),
            ]
        if ok("kind"):
            out.append(ge.ExpectColumnValuesToBeInSet(column="kind", value_set=list(LINK_KINDS)))
        if ok("origin"):
            out.append(
                ge.ExpectColumnValuesToBeInSet(column="origin", value_set=list(LINK_ORIGINS))
            )
        if ok("start"):
            out.append(ge.ExpectColumnValuesToBeBetween(column="start", min_value=0))
        if ok("start") and ok("end"):
            out.append(
                ge.ExpectColumnPairValuesAToBeGreaterThanB(
                    column_A="end", column_B="start", or_equal=False
                )
            )
        if ok("paper_id") and ok("url"):
            out.append(ge.ExpectCompoundColumnsToBeUnique(column_list=["paper_id", "url"]))
        return out + orphan_check(ok)

    def tags_suite(ok: Callable[[str], bool]) -> list[Expectation]:
        out: list[Expectation] = []
        for column in ("paper_id", "tag"):
            if ok(column):
                out.append(ge.ExpectColumnValuesToNotBeNull(column=column))
        if ok("score"):
            out.append(
                ge.ExpectColumnValuesToBeBetween(column="score", min_value=0, strict_min=True)
            )
        if ok("paper_id") and ok("tag"):
            out.append(ge.ExpectCompoundColumnsToBeUnique(column_list=["paper_id", "tag"]))
        return out + orphan_check(ok)

    def rejected_suite(ok: Callable[[str], bool]) -> list[Expectation]:
        out: list[Expectation] = []
        if ok("stage"):
            out += [
                ge.ExpectColumnValuesToNotBeNull(column="stage"),
                ge.ExpectColumnValuesToBeInSet(column="stage", value_set=list(REJECT_STAGES)),
            ]
        if ok("reason"):
            out += [
                ge.ExpectColumnValuesToNotBeNull(column="reason"),
                ge.ExpectColumnValuesToMatchRegex(
                    column="reason", regex=NOT_BLANK_RE, meta={"label": "is blank"}
                ),
            ]
        return out

    def provenance_suite(ok: Callable[[str], bool]) -> list[Expectation]:
        out: list[Expectation] = [
            ge.ExpectColumnValuesToNotBeNull(column=column)
            for column in ("paper_id", "source_file", "record_index")
            if ok(column)
        ]
        return out + orphan_check(ok)

    builders = {
        PAPERS: papers_suite,
        LINKS: links_suite,
        TAGS: tags_suite,
        REJECTED: rejected_suite,
        PROVENANCE: provenance_suite,
    }
    return [p for name in PARQUET_FILES if (p := plan(name, builders[name])) is not None]


def _scalar_frame(table: _Table, known_ids: pl.Series | None) -> pl.DataFrame:
    """Keep only scalar columns (GX's pandas engine cannot handle list/struct cells well)."""
    assert table.frame is not None
    frame = table.frame
    scalar = [c for c, dtype in frame.schema.items() if not dtype.is_nested()]
    derived: list[pl.Expr] = [
        pl.col(c).list.len().alias(f"{c}{LEN_SUFFIX}")
        for c, dtype in frame.schema.items()
        if isinstance(dtype, pl.List)
    ]
    if known_ids is not None and table.name != PAPERS and "paper_id" in table.columns_ok:
        derived.append(
            pl.when(pl.col("paper_id").is_in(known_ids.implode()).not_())
            .then(pl.col("paper_id"))
            .otherwise(None)
            .alias(ORPHAN_COLUMN)
        )
    return frame.select(*scalar, *derived)


# --------------------------------------------------------------------------- running GX


def _disable_gx_analytics() -> None:
    # Must happen before GX is first imported; also forced off in the context config below.
    os.environ["GX_ANALYTICS_ENABLED"] = "False"


def _run_gx(
    plans: Sequence[_Plan], reports_dir: Path, audit: _Audit
) -> tuple[dict[str, Any], Path | None]:
    _disable_gx_analytics()
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    docs_dir = reports_dir / "data_docs"
    # Stale pages from a previous run would otherwise linger next to the fresh index.
    shutil.rmtree(docs_dir, ignore_errors=True)
    info: dict[str, Any] = {"version": gx.__version__, "results": {}}
    if not plans:
        return info, None

    # The stock ephemeral config adds a "local_site" docs site in a throwaway temp dir that every
    # build would also render; build only our own site under reports_dir instead.
    context = gx.get_context(
        mode="ephemeral",
        project_config=DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
            analytics_enabled=False,
            progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
        ),
    )
    context.add_data_docs_site(
        DOCS_SITE,
        {
            "class_name": "SiteBuilder",
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(docs_dir),
            },
        },
    )
    source = context.data_sources.add_pandas("published")
    run_id = RunIdentifier(run_name="papers-validate", run_time=dt.datetime.now(dt.UTC))
    result_format = {"result_format": "SUMMARY", "partial_unexpected_count": PARTIAL_UNEXPECTED}

    for plan in plans:
        suite_name = plan.name.removesuffix(".parquet")
        batch = source.add_dataframe_asset(suite_name).add_batch_definition_whole_dataframe("all")
        suite = context.suites.add(
            gx.ExpectationSuite(name=suite_name, expectations=plan.expectations)
        )
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=suite_name, data=batch, suite=suite)
        )
        # Checkpoint batch_parameters apply to *every* validation definition it holds, and each
        # file is a different dataframe, so there is one checkpoint per file.
        checkpoint = context.checkpoints.add(
            gx.Checkpoint(
                name=suite_name, validation_definitions=[definition], result_format=result_format
            )
        )
        outcome = checkpoint.run(
            batch_parameters={"dataframe": plan.frame.to_pandas()}, run_id=run_id
        )
        validation: Any  # GX's to_json_dict is untyped
        for validation in outcome.run_results.values():
            info["results"][plan.name] = validation.to_json_dict()
            for item in validation.results:
                audit.checks_run += 1
                if not item.success:
                    audit.failures.append(_describe(plan, item.to_json_dict()))

    # One explicit build instead of an UpdateDataDocsAction per checkpoint (5 index rebuilds).
    context.build_data_docs(site_names=[DOCS_SITE])
    index = docs_dir / "index.html"
    return info, index if index.is_file() else None


# --------------------------------------------------------------------------- failure lines


def _plain(value: object) -> object:
    """Turn numpy scalars / tuples from GX results into plain Python for repr()."""
    if isinstance(value, list | tuple):
        return tuple(_plain(v) for v in value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    item = getattr(value, "item", None)
    return item() if callable(item) else value


def _duplicated_groups(frame: pl.DataFrame, columns: list[str]) -> int:
    """Distinct duplicated values; GX only reports duplicated *rows*."""
    keyed = frame.select(columns).drop_nulls()
    return keyed.filter(keyed.is_duplicated()).unique().height


def _describe(plan: _Plan, item: Mapping[str, Any]) -> str:
    """Render one failed GX expectation result as a single readable line."""
    config: Mapping[str, Any] = item.get("expectation_config") or {}
    kind = str(config.get("type", "expectation"))
    kwargs: Mapping[str, Any] = config.get("kwargs") or {}
    meta: Mapping[str, Any] = config.get("meta") or {}
    result: Mapping[str, Any] = item.get("result") or {}
    exception: Mapping[str, Any] = item.get("exception_info") or {}
    column = str(kwargs.get("column", ""))
    n = result.get("unexpected_count", 0)
    examples = result.get("partial_unexpected_list") or []
    first = _plain(examples[0]) if examples else None
    eg = f", e.g. {first!r}" if examples else ""
    label = meta.get("label")
    message = ""

    if exception.get("raised_exception"):
        message = "".join(str(exception.get("exception_message", "")).strip().splitlines()[:1])
        kind = "raised"
    match kind:
        case "raised":
            body = f"could not evaluate {config.get('type')} on {column or dict(kwargs)}: {message}"
        case "expect_column_values_to_not_be_null":
            body = f"{label or f'{column} is null'} in {n} row(s)"
        case "expect_column_values_to_be_null":
            body = f"{label or f'{column} is not null'} in {n} row(s){eg}"
        case "expect_column_values_to_be_unique":
            groups = _duplicated_groups(plan.frame, [column])
            body = f"{column} has {groups} duplicated value(s){eg}"
        case "expect_compound_columns_to_be_unique":
            columns = [str(c) for c in kwargs.get("column_list", [])]
            groups = _duplicated_groups(plan.frame, columns)
            if isinstance(first, dict):
                eg = f", e.g. {tuple(first.get(c) for c in columns)!r}"
            body = f"({', '.join(columns)}) has {groups} duplicated combination(s){eg}"
        case "expect_column_values_to_match_regex":
            what = label or f"does not match {kwargs.get('regex')!r}"
            body = f"{column} {what} in {n} row(s){eg}"
        case "expect_column_values_to_not_match_regex":
            what = label or f"matches {kwargs.get('regex')!r}"
            body = f"{column} {what} in {n} row(s){eg}"
        case "expect_column_values_to_be_in_set":
            allowed = ", ".join(str(v) for v in kwargs.get("value_set", []))
            body = f"{column} has {n} value(s) outside {{{allowed}}}{eg}"
        case "expect_column_values_to_be_between":
            body = f"{column} is not {_bounds(kwargs)} in {n} row(s){eg}"
        case "expect_column_pair_values_a_to_be_greater_than_b":
            a, b = kwargs.get("column_A"), kwargs.get("column_B")
            if isinstance(first, tuple) and len(first) == 2:
                eg = f", e.g. {b}={first[1]!r}, {a}={first[0]!r}"
            body = f"{b} < {a} does not hold in {n} row(s){eg}"
        case "expect_table_row_count_to_equal":
            body = (
                f"has {result.get('observed_value')} row(s) but manifest "
                f"counts.{meta.get('counts_key')} is {kwargs.get('value')}"
            )
        case _:
            body = f"{kind} failed for {dict(kwargs)}: {dict(result)}"
    return f"{plan.name}: {body}"


def _bounds(kwargs: Mapping[str, Any]) -> str:
    # GX stores bounds as floats (0 -> 0.0); `:g` prints them the way they were written.
    parts = []
    if kwargs.get("min_value") is not None:
        parts.append(f"{'>' if kwargs.get('strict_min') else '>='} {kwargs['min_value']:g}")
    if kwargs.get("max_value") is not None:
        parts.append(f"{'<' if kwargs.get('strict_max') else '<='} {kwargs['max_value']:g}")
    return " and ".join(parts) or "in range"
