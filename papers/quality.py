"""Great Expectations quality gate for the published dataset folder (`papers validate`).

Design: docs/design/partitioned-versions.md §8. Memory is bounded by one file: each file a
manifest lists is read on its own (`pl.read_parquet`), checked against its table's schema, and
run through its table's GX suite (one dataframe asset, suite and checkpoint per table, reused for
every file, in an ephemeral context that renders nothing). What spans files is checked without
reading whole tables:
- checksums: every listed file exists with the manifest's sha256 (stat-cached through
  `io.sha256_files`, or all rehashed) and no unlisted file sits in a table directory;
- row counts: each file's footer `num_rows` equals its manifest entry, and the sums equal
  `counts` (papers, links, tags, rejected; provenance + rejected = raw_records);
- unique ids: each file's ids are unique (GX), and in a partitioned table every row's
  `layout.leaf_of(paper_id)` belongs to its file's node and each leaf lives in one file, so no id
  can repeat across files;
- foreign keys: a links, tags or provenance file's ids are looked up in the papers files that
  hold their leaves (`_Papers`: all papers files when the table is one file), each papers
  file's `paper_id` column read at most once per run.
The Data Docs get one page over a frame with a row per file of every table (per-table row sums
by row conditions), plus the pages of the files that failed (re-run in the docs context, so
they show examples).

Incremental (`changed_only`): `reports/validated.json` records, per file sha256, {suite,
success, leaves, deps}: the suite it passed, the leaves its ids fall in, and a digest of the
papers files (path and sha256) its orphan check looked in. A file whose content already passed
the same suite is not run through GX and its ids are not read: placement is re-checked from its
recorded leaves (every leaf inside its node, no leaf in two files) and its orphan check is
trusted while those papers files are unchanged; else its `paper_id` column is read and both run
again. Counts, checksums and unlisted files are checked over every file each time (footers and
a stat). What a changed-only run costs is then the GX imports plus one summary run and the
docs (fixed), plus the changed files (and the ids of kept child files whose papers changed).

Checksums: through `io.sha256_files`' stat cache (size, inode, mtime, ctime; a rewrite in place
changes ctime, so it is rehashed); `--rehash` (cache_dir None) reads every file again, which
also finds bytes that rotted with no metadata change.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
import pyarrow.parquet as pq

from papers import io
from papers.dataset import manifest_tables, node_of_file
from papers.layout import ROOT, leaf_of, node_name
from schemas import (
    DUPLICATE_KINDS,
    LINK_KINDS,
    LINK_ORIGINS,
    PUBLISHED,
    RELATED_METHODS,
    STAGES,
    polars_schema,
)
from schemas.tables import ARXIV_ID_PATTERN, MATCHED_BY, URL_PATTERN

if TYPE_CHECKING:
    from great_expectations.data_context.data_context.abstract_data_context import (
        AbstractDataContext,
    )
    from great_expectations.expectations.expectation import Expectation

__all__ = ["QualityResult", "validate_published"]

MANIFEST = "manifest.json"
RECORD = "validated.json"
TABLES: tuple[str, ...] = (
    "papers", "links", "tags", "rejected", "provenance", "duplicates", "related"
)  # fmt: skip
PAPERS, LINKS, TAGS, REJECTED, PROVENANCE, DUPLICATES, RELATED = TABLES
# Tables whose files are planned by `layout.leaf_of(paper_id)` when partitioned.
LEAF_KEYED = frozenset({PAPERS, LINKS, TAGS, RELATED})
# Tables whose paper_id must name a published paper.
ORPHAN_CHECKED = frozenset({LINKS, TAGS, PROVENANCE, RELATED})
# Tables added by a schema version: a manifest of an older version may not list them.
ADDED_IN = {DUPLICATES: "1.2.0", RELATED: "1.2.0"}

REJECT_STAGES = STAGES
ARXIV_ID_RE = ARXIV_ID_PATTERN
CODE_URL_RE = URL_PATTERN
LINK_URL_RE = URL_PATTERN
# LaTeX a curator would not publish: a macro, TeX quotes, an escaped percent, or inline math
# ($...$ with no space inside the delimiters; a lone dollar amount like "$5" is fine).
# Inline math does not run across a sentence end (". " then more text): "(approx. $630K). Our
# ... a set of 90$ data" is two dollar amounts in prose, not math.
LATEX_RE = (
    r"\\[A-Za-z]+|\\['`^\"~=.][A-Za-z{]|``|\\%"
    r"|\$[^$\s](?:[^$.]|\.[^$\s])*(?:[^$\s.]|\.[^$\s])\$|\$[^$\s]\$"
)
NOT_BLANK_RE = r"\S"

# Required columns and dtypes per table, from the tables' one schema source (schemas/); extra
# columns are tolerated so the contract can grow.
SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    name: dict(polars_schema(model).items()) for name, (model, _) in PUBLISHED.items()
}

# Which manifest `counts` key must equal each table's row count.
COUNT_KEYS: dict[str, str] = {PAPERS: "papers", LINKS: "links", TAGS: "tags", REJECTED: "rejected"}

ORPHAN_COLUMN = "paper_id_not_in_papers"
LEN_SUFFIX = "__len"
DOCS_SITE = "papers_quality"
# Big enough to give useful examples, small enough to keep validation.json and the docs light.
PARTIAL_UNEXPECTED = 10
# Failing files re-run for the Data Docs, per table (each costs a read and a GX run).
DOCS_FAILED_FILES = 20
# Part of every suite's hash: bump it when a check changes meaning without its expectations
# changing (a derived column computed differently), so recorded passes are not trusted.
SUITE_VERSION = "1"


@dataclass(frozen=True)
class QualityResult:
    """Outcome of one validation run over a published folder.

    `validated` are the files run through GX this time; `skipped` those whose content had
    already passed the same suite (changed_only), whose cross-file checks still ran.
    """

    success: bool
    failures: tuple[str, ...]
    checks_run: int
    result_json: Path
    data_docs_index: Path | None
    validated: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()


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
class _File:
    """One file of a table, as the manifest lists it, plus what was found on disk."""

    table: str
    path: str  # relative to the dataset root: `papers.parquet` or `papers/<node>-<sha12>.parquet`
    node: str | None = None  # None: the table is one file (layout single)
    rows: int | None = None  # as the manifest says
    sha256: str | None = None  # as the manifest says
    exists: bool = False
    actual_sha256: str | None = None
    footer_rows: int | None = None
    columns_ok: frozenset[str] = frozenset()
    sha_ok: bool = True
    rows_ok: bool = True
    node_ok: bool = True
    failed: int = 0  # failed GX expectations (this run; 0 when skipped: it passed before)
    unexpected: int = 0
    success: bool | None = None  # the file's own GX suite (None: not run, unreadable)
    validated: bool = False  # run through GX this time

    @property
    def readable(self) -> bool:
        return self.footer_rows is not None


def validate_published(
    out_dir: Path,
    reports_dir: Path,
    *,
    changed_only: bool = False,
    cache_dir: Path | str | None = None,
) -> QualityResult:
    """Validate `out_dir` against the published-folder contract and write reports.

    Files are hashed through `io.sha256_files(…, cache_dir)` (None: every file is read and
    hashed). With `changed_only`, a file whose sha256 already passed the same suite
    (reports_dir/validated.json) is not run through GX again; every cross-file check still is.
    """
    out_dir = Path(out_dir)
    # GX's filesystem store needs an absolute base directory
    reports_dir = Path(reports_dir).resolve()
    reports_dir.mkdir(parents=True, exist_ok=True)
    audit = _Audit()

    manifest = _load_manifest(out_dir, audit)
    files = _listed_files(out_dir, manifest, audit)
    _check_checksums(out_dir, files, cache_dir, audit)
    if manifest is not None:
        _check_unlisted(out_dir, files, audit)
    for table_files in files.values():
        for item in table_files:
            _read_footer(out_dir, item, audit)
    with_ids = bool(files[PAPERS]) and all(
        f.readable and "paper_id" in f.columns_ok for f in files[PAPERS]
    )
    papers = _Papers(out_dir, files[PAPERS]) if with_ids else None
    labels = {name: _table_label(name, files[name]) for name in TABLES}

    record_path = reports_dir / RECORD
    record = _load_record(record_path) if changed_only else {}
    kept: dict[str, dict[str, Any]] = {}
    gx = _Gx(reports_dir / "data_docs")
    info: dict[str, Any] = {"results": {}}
    suites: dict[tuple[str, frozenset[str]], _Suite] = {}
    for name in TABLES:
        leaves: dict[str, str] = {}  # leaf -> the file holding it
        failing: list[_File] = []
        for item in files[name]:
            if not item.readable:
                continue
            # one suite per table and column set, its expectations and hash made once
            suite = suites.setdefault(
                (name, item.columns_ok), _Suite(name, item.columns_ok, with_ids, labels[PAPERS])
            )
            previous = record.get(item.actual_sha256 or "")
            previous = previous if isinstance(previous, dict) else {}
            skip = (
                item.sha_ok
                and previous.get("suite") == suite.sha256
                and previous.get("success") is True
            )
            memo = _check_file(
                out_dir, item, suite, skip, previous, papers, leaves, gx, audit, info
            )
            if item.success is not None and item.actual_sha256 is not None:
                kept[item.actual_sha256] = {
                    "suite": suite.sha256, "success": item.success, **memo
                }  # fmt: skip
            if item.validated and not item.success:
                failing.append(item)
            if papers is not None and name == PAPERS:
                papers.hold(item, memo.get("leaves"))
        _check_counts(name, files[name], labels[name], manifest, audit)
        for item in failing[:DOCS_FAILED_FILES]:
            # Re-run in the docs context so its page shows the unexpected examples.
            suite = _Suite(name, item.columns_ok, with_ids, labels[PAPERS])
            columns = suite.source_columns(with_ids=False)
            frame = pl.read_parquet(out_dir / item.path, columns=columns)
            known = None
            if papers is not None and "paper_id" in frame.columns:
                keyed = papers.partitioned and name in ORPHAN_CHECKED
                held = _leaf_counts(frame["paper_id"])["leaf"].to_list() if keyed else None
                known = papers.ids_for(held)
            frame = _scalar_frame(frame, item, known).select(suite.columns)
            gx.document(suite, item, frame)
    info["files"] = gx.summarise(files, manifest)
    info["version"] = gx.version
    _reconcile(files, manifest, audit)
    docs_index = gx.build_docs()

    io.replace_json(kept, record_path)
    validated = tuple(f.path for fs in files.values() for f in fs if f.validated)
    skipped = tuple(
        f.path for fs in files.values() for f in fs if f.readable and f.success and not f.validated
    )
    failures = tuple(audit.failures)
    result_json = reports_dir / "validation.json"
    summary: dict[str, Any] = {
        "success": not failures,
        "checks_run": audit.checks_run,
        "failures": list(failures),
        "out_dir": str(out_dir),
        "changed_only": changed_only,
        "files": {
            f.path: {
                "table": f.table,
                "node": f.node,
                "exists": f.exists,
                "rows": f.footer_rows,
                "sha256": f.actual_sha256,
                "sha_ok": f.sha_ok,
                "node_ok": f.node_ok,
                "success": f.success,
                "validated": f.validated,
            }
            for fs in files.values()
            for f in fs
        },
        "data_docs_index": None if docs_index is None else str(docs_index),
        "great_expectations": info,
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
        validated=validated,
        skipped=skipped,
    )


# --------------------------------------------------------------------------- manifest


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


def _file_lists(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The raw file lists of a manifest by where they sit: `outputs` (format 1) or
    `tables.<name>.files` (format 2)."""
    tables = manifest.get("tables")
    if manifest.get("format") == 2 or isinstance(tables, dict):
        if not isinstance(tables, dict):
            return {"tables": None}
        return {
            f"tables.{name}.files": t.get("files") if isinstance(t, dict) else None
            for name, t in tables.items()
        }
    return {"outputs": manifest.get("outputs")}


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
    lists = {"inputs": manifest.get("inputs"), **_file_lists(manifest)}
    for key, entries in lists.items():
        fields = ("path", "sha256", "records") if key == "inputs" else ("path", "sha256", "rows")
        if not isinstance(entries, list):
            problems.append(f"{key} is missing or not a list")
            continue
        for i, entry in enumerate(entries):
            if not _entry_ok(entry, fields):
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


def _version(text: str) -> tuple[int, ...]:
    """A schema version as numbers ("1.2.0" -> (1, 2, 0)); () when it is not one."""
    parts = text.split(".")
    return tuple(int(p) for p in parts) if all(p.isdigit() for p in parts) else ()


def _entry_ok(entry: object, fields: Sequence[str]) -> bool:
    return isinstance(entry, dict) and all(f in entry for f in fields)


def _is_int(value: object) -> bool:
    # bool is an int subclass, but `true` is never a valid count.
    return isinstance(value, int) and not isinstance(value, bool)


def _manifest_count(manifest: Mapping[str, Any] | None, key: str) -> int | None:
    counts = None if manifest is None else manifest.get("counts")
    value = counts.get(key) if isinstance(counts, dict) else None
    return value if _is_int(value) else None


def _listed_files(
    out_dir: Path, manifest: Mapping[str, Any] | None, audit: _Audit
) -> dict[str, list[_File]]:
    """Every file of each table: the manifest's list (through `dataset.manifest_tables`), or
    what is on disk when there is no manifest to go by."""
    if manifest is None:
        return {name: _files_on_disk(out_dir, name, audit) for name in TABLES}
    # Malformed entries were reported with the shape; drop them so the rest is still checked.
    fields = ("path", "sha256", "rows")
    clean: dict[str, Any] = {"format": manifest.get("format")}
    if "tables" in _file_lists(manifest) or any(
        k.startswith("tables.") for k in _file_lists(manifest)
    ):
        tables = manifest.get("tables")
        clean["tables"] = {
            name: {"files": [e for e in t.get("files") or [] if _entry_ok(e, fields)]}
            for name, t in (tables.items() if isinstance(tables, dict) else [])
            if isinstance(t, dict)
        }
    else:
        outputs = manifest.get("outputs")
        clean["outputs"] = (
            [e for e in outputs if _entry_ok(e, fields)] if isinstance(outputs, list) else []
        )
    listed = manifest_tables(clean)
    where = "tables" if "tables" in clean else "outputs"
    files: dict[str, list[_File]] = {}
    older = str(clean.get("schema_version", ""))
    for name in TABLES:
        entries = listed.get(name, [])
        if not entries and name in ADDED_IN and _version(older) < _version(ADDED_IN[name]):
            files[name] = []  # a version published before the table existed
            continue
        audit.check(bool(entries), f"{MANIFEST}: {where} has no entry for table {name}")
        files[name] = [_entry_file(name, entry) for entry in entries]
    return files


def _entry_file(table: str, entry: Mapping[str, Any]) -> _File:
    path = str(entry["path"])
    node: str | None = None
    if "/" in path:  # a node file of a table directory
        node = str(entry["node"]) if isinstance(entry.get("node"), str) else _node_or_none(path)
    rows = entry.get("rows")
    sha = entry.get("sha256")
    return _File(
        table,
        path,
        node=node,
        rows=rows if _is_int(rows) else None,
        sha256=sha if isinstance(sha, str) else None,
    )


def _node_or_none(path: str) -> str | None:
    try:
        return node_of_file(Path(path).name)
    except ValueError:
        return None


def _files_on_disk(out_dir: Path, name: str, audit: _Audit) -> list[_File]:
    single = out_dir / f"{name}.parquet"
    if single.is_file():
        return [_File(name, single.name)]
    directory = out_dir / name
    paths = sorted(directory.glob("*.parquet")) if directory.is_dir() else []
    audit.check(bool(paths), f"{name}.parquet: file is missing")
    return [_File(name, f"{name}/{p.name}", node=_node_or_none(p.name)) for p in paths]


def _table_label(name: str, files: Sequence[_File]) -> str:
    """How failure lines name a whole table: its one file, or its directory's glob."""
    if any(f.node is not None or "/" in f.path for f in files):
        return f"{name}/*.parquet"
    return f"{name}.parquet"


# --------------------------------------------------------------------------- integrity


def _check_checksums(
    out_dir: Path, files: Mapping[str, list[_File]], cache_dir: Path | str | None, audit: _Audit
) -> None:
    present: dict[str, Path] = {}
    for item in (f for fs in files.values() for f in fs):
        item.exists = (out_dir / item.path).is_file()
        if audit.check(item.exists, f"{item.path}: file is missing"):
            present[item.path] = out_dir / item.path
    hashes = io.sha256_files(present, cache_dir)
    for item in (f for fs in files.values() for f in fs):
        item.actual_sha256 = hashes.get(item.path)
        if item.actual_sha256 is None or item.sha256 is None:
            continue  # missing, or found on disk without a manifest to compare with
        item.sha_ok = item.actual_sha256 == item.sha256
        audit.check(
            item.sha_ok,
            f"{item.path}: sha256 {item.actual_sha256[:12]}… does not match manifest "
            f"({str(item.sha256)[:12]}…)",
        )


def _check_unlisted(out_dir: Path, files: Mapping[str, list[_File]], audit: _Audit) -> None:
    """A Parquet file in a table directory (or a `<table>.parquet` beside it) that the manifest
    does not list: glob readers (and `io.table_path`) would read it as part of the dataset."""
    listed = {f.path for fs in files.values() for f in fs}
    for name in TABLES:
        candidates = [out_dir / f"{name}.parquet"]
        if (out_dir / name).is_dir():
            candidates += sorted((out_dir / name).glob("*.parquet"))
        for path in candidates:
            relative = path.relative_to(out_dir).as_posix()
            if path.is_file():
                audit.check(
                    relative in listed,
                    f"{relative}: not in the manifest: `papers recover` (or the next `papers run`)"
                    " removes it",
                )


def _read_footer(out_dir: Path, item: _File, audit: _Audit) -> None:
    """Row count and schema from the file's footer: no data page is read."""
    if not item.exists:
        return
    path = out_dir / item.path
    try:
        footer_rows = pq.ParquetFile(path).metadata.num_rows
        schema = pl.read_parquet_schema(path)
    except Exception as exc:  # any reader error means the file is unusable, not a crash
        audit.check(False, f"{item.path}: cannot be read as Parquet ({type(exc).__name__}: {exc})")
        return
    item.footer_rows = int(footer_rows)
    problems: list[str] = []
    ok: set[str] = set()
    for column, dtype in SCHEMAS[item.table].items():
        if column not in schema:
            problems.append(f"{item.path}: column {column} is missing")
        elif schema[column] != dtype:
            problems.append(
                f"{item.path}: column {column} has type {schema[column]}, expected {dtype}"
            )
        else:
            ok.add(column)
    item.columns_ok = frozenset(ok)
    audit.checks_run += 1
    audit.failures.extend(problems)
    if item.rows is not None:
        item.rows_ok = item.footer_rows == item.rows
        audit.check(
            item.rows_ok,
            f"{item.path}: has {item.footer_rows} row(s) but manifest outputs say {item.rows}",
        )


class _Papers:
    """The papers files as the known set of the foreign-key checks. In a partitioned table a
    child row's `leaf_of(paper_id)` names the one papers file that may hold its paper (the
    placement check makes sure of it), so a child file is checked against those files only, and
    a recorded pass stays valid while they keep their sha256 (`deps`)."""

    def __init__(self, out_dir: Path, files: Sequence[_File]) -> None:
        self.out_dir = out_dir
        self.files = list(files)
        self.partitioned = all(f.node is not None for f in self.files)
        self.by_leaf: dict[str, _File] = {}
        self._ids: dict[str, pl.Series] = {}

    def hold(self, item: _File, leaves: Sequence[str] | None) -> None:
        for leaf in leaves or ():
            self.by_leaf.setdefault(leaf, item)

    def sources(self, leaves: Sequence[str] | None) -> list[_File]:
        if not self.partitioned or leaves is None:
            return self.files
        held = {self.by_leaf[x].path: self.by_leaf[x] for x in leaves if x in self.by_leaf}
        return [held[k] for k in sorted(held)]

    def deps(self, leaves: Sequence[str] | None) -> str:
        """What a child file's orphan check depended on: the sha256 of its papers files."""
        shas = sorted(f"{f.path}:{f.actual_sha256}" for f in self.sources(leaves))
        return hashlib.sha256("\n".join(shas).encode()).hexdigest()

    def ids_for(self, leaves: Sequence[str] | None) -> pl.Series:
        """paper_id of the papers files holding `leaves` (all of them when not partitioned),
        each read once per run."""
        parts = [self._read(f) for f in self.sources(leaves)]
        return pl.concat(parts) if parts else pl.Series("paper_id", [], pl.String)

    def _read(self, item: _File) -> pl.Series:
        if item.path not in self._ids:
            column = pl.read_parquet(self.out_dir / item.path, columns=["paper_id"])["paper_id"]
            self._ids[item.path] = column.drop_nulls()
        return self._ids[item.path]


def _leaf_counts(ids: pl.Series) -> pl.DataFrame:
    """(leaf, n, eg): the leaves a paper_id column falls in, one row per leaf, sorted."""
    # leaf_of is a regex per id: run it once per distinct id (a tags file repeats each ~5 times)
    distinct = ids.drop_nulls().to_frame("paper_id").group_by("paper_id").agg(pl.len().alias("n"))
    keyed = distinct.with_columns(leaf_of(pl.col("paper_id")))
    counts = keyed.group_by("leaf").agg(pl.sum("n"), pl.min("paper_id").alias("eg"))
    return counts.sort("leaf")


def _check_counts(
    name: str,
    files: Sequence[_File],
    label: str,
    manifest: Mapping[str, Any] | None,
    audit: _Audit,
) -> None:
    count = _manifest_count(manifest, COUNT_KEYS[name]) if name in COUNT_KEYS else None
    if count is None or not files or not all(f.readable for f in files):
        return  # the missing piece has already been reported
    total = sum(f.footer_rows or 0 for f in files)
    audit.check(
        total == count,
        f"{label}: has {total} row(s) but manifest counts.{COUNT_KEYS[name]} is {count}",
    )


def _reconcile(
    files: Mapping[str, Sequence[_File]], manifest: Mapping[str, Any] | None, audit: _Audit
) -> None:
    raw = _manifest_count(manifest, "raw_records")
    parts = [files[PROVENANCE], files[REJECTED]]
    if raw is None or not all(fs and all(f.readable for f in fs) for fs in parts):
        return  # the missing piece has already been reported
    provenance, rejected = (sum(f.footer_rows or 0 for f in fs) for fs in parts)
    accounted = provenance + rejected
    audit.check(
        raw == accounted,
        f"{MANIFEST}: counts.raw_records is {raw} but provenance ({provenance}) + "
        f"rejected ({rejected}) = {accounted}",
    )


# --------------------------------------------------------------------------- placement


def node_covers(node: str, leaf: str) -> bool:
    """Whether a file of node `node` may hold rows of `leaf` under any node plan.

    A node is the root (`all`), a tree node (`arxiv-2015-01`: the leaves below it), or a run of
    consecutive children of one parent (`arxiv-2015-01_03`: months 01..03 of 2015), named as
    `layout.node_name` names them; the plan's nodes partition the leaves, so a leaf is covered by
    exactly one node of any one plan.
    """
    if node == ROOT:
        return True
    parts = tuple(leaf.split("/"))
    for depth in range(1, len(parts) + 1):
        path = parts[:depth]
        if node_name(path) == node:
            return True
        parent, key = path[:-1], path[-1]
        stem = node_name((*parent, ""))  # the name of a child of parent, before its key
        if not node.startswith(stem):
            continue
        for cut in range(len(stem), len(node)):
            if node[cut] != "_":
                continue
            first, last = node[len(stem) : cut], node[cut + 1 :]
            if not parent and "-" in first + last:
                continue  # families are plain words; "-" joins the components of a deeper node
            if (*parent, first)[0] == "other":
                if not last.startswith("h"):
                    continue
                last = last[1:]
            if (
                _kind(first) == _kind(key) == _kind(last)
                and first <= key <= last
                and node_name((*parent, first), last) == node
            ):
                return True
    return False


def _kind(component: str) -> tuple[str, int]:
    """What a leaf component is: a hash digit, a year/month (by width), a bucket, or a name; a
    run's first and last are siblings of the leaf's own component, so they are the same kind."""
    if len(component) == 1:
        return ("hex", 1)
    if component.isdigit():
        return ("number", len(component))
    if component[0] == "b" and component[1:].isdigit():
        return ("bucket", 0)
    return ("name", 0)


def _check_placement(
    item: _File, counts: pl.DataFrame, leaves: dict[str, str], audit: _Audit
) -> None:
    """Every row's leaf belongs to the file's node, and no other file of the table holds the
    leaf: with unique ids in each file, ids are unique across the table. `counts` is
    `_leaf_counts` of the file's ids (or its recorded leaves, once known to be covered)."""
    assert item.node is not None
    outside: list[tuple[str, int, str]] = []
    shared: list[tuple[str, str]] = []
    for leaf, n, eg in counts.select("leaf", "n", "eg").iter_rows():  # a row per leaf
        if not node_covers(item.node, leaf):
            outside.append((leaf, n, eg))
        other = leaves.setdefault(leaf, item.path)
        if other != item.path:
            shared.append((leaf, other))
    item.node_ok = not outside and not shared
    n_out = sum(n for _, n, _ in outside)
    first = f", e.g. {outside[0][2]!r} (leaf {outside[0][0]})" if outside else ""
    audit.check(
        not outside,
        f"{item.path}: {n_out} row(s) whose paper_id belongs to another node than {item.node}"
        f"{first}",
    )
    if audit.check(not shared, ""):
        return
    leaf, other = shared[0]
    audit.failures[-1] = (
        f"{item.path}: holds leaf {leaf} that {other} holds too, so ids can repeat across files"
    )


# --------------------------------------------------------------------------- one file


def _check_file(
    out_dir: Path,
    item: _File,
    suite: _Suite,
    skip: bool,
    previous: Mapping[str, Any],
    papers: _Papers | None,
    leaves: dict[str, str],
    gx: _Gx,
    audit: _Audit,
    info: dict[str, Any],
) -> dict[str, Any]:
    """Run the file through its table's suite, its placement and its orphan check; return what
    to record with its pass: its `leaves` and the `deps` of its orphan check.

    A file that already passed this suite (`skip`) is not run through GX; its placement is
    re-checked from its recorded leaves and its orphan check is trusted while the papers files
    it depended on are unchanged; otherwise its paper_id column is read and both re-run."""
    path = out_dir / item.path
    has_ids = "paper_id" in item.columns_ok
    placed = has_ids and item.node is not None and item.table in LEAF_KEYED
    keyed = placed or (suite.orphans and papers is not None and papers.partitioned)
    if skip:
        item.success = True
        audit.checks_run += suite.size - int(suite.orphans)
        memo = _recorded(item, suite, previous, papers, keyed)
        if memo is not None:
            if placed:
                held = pl.DataFrame({"leaf": memo["leaves"]}, schema={"leaf": pl.String})
                held = held.with_columns(n=pl.lit(0), eg=pl.lit(""))
                _check_placement(item, held, leaves, audit)
            audit.checks_run += int(suite.orphans)
            return memo
        if not has_ids:
            return {}
        ids = pl.read_parquet(path, columns=["paper_id"])["paper_id"]
        read_counts = _leaf_counts(ids) if keyed else None
        memo = _memo(read_counts, suite, papers)
        if placed and read_counts is not None:
            _check_placement(item, read_counts, leaves, audit)
        if suite.orphans and papers is not None:
            known = papers.ids_for(memo.get("leaves"))
            orphans = ids.filter(ids.is_not_null() & ~ids.is_in(known.implode()))
            eg = f", e.g. {orphans[0]!r}" if orphans.len() else ""
            audit.check(
                orphans.is_empty(),
                f"{item.path}: {suite.orphan_label} in {orphans.len()} row(s){eg}",
            )
        return memo
    try:
        frame = pl.read_parquet(path, columns=suite.source_columns(has_ids))
    except Exception as exc:  # a damaged data page: the footer was fine
        audit.check(False, f"{item.path}: cannot be read as Parquet ({type(exc).__name__}: {exc})")
        item.success = False
        return {}
    counts = _leaf_counts(frame["paper_id"]) if keyed else None
    memo = _memo(counts, suite, papers)
    if placed and counts is not None:
        _check_placement(item, counts, leaves, audit)
    papers_ids = None
    if suite.orphans and papers is not None:
        papers_ids = papers.ids_for(memo.get("leaves"))
    scalar = _scalar_frame(frame, item, papers_ids).select(suite.columns)
    del frame
    validation = gx.run(suite, item, scalar)
    item.validated = True
    item.success = bool(validation["success"])
    compact = {k: validation[k] for k in ("success", "statistics") if k in validation}
    info["results"][item.path] = validation if not item.success else compact
    for result in validation["results"]:
        audit.checks_run += 1
        item.unexpected += int((result.get("result") or {}).get("unexpected_count") or 0)
        if not result["success"]:
            item.failed += 1
            audit.failures.append(_describe(item.path, scalar, result))
    return memo


def _memo(counts: pl.DataFrame | None, suite: _Suite, papers: _Papers | None) -> dict[str, Any]:
    """What a pass records besides the suite: the file's leaves, its orphan check's deps."""
    memo: dict[str, Any] = {}
    if counts is not None:
        memo["leaves"] = counts["leaf"].to_list()
    if suite.orphans and papers is not None:
        memo["deps"] = papers.deps(memo.get("leaves"))
    return memo


def _recorded(
    item: _File,
    suite: _Suite,
    previous: Mapping[str, Any],
    papers: _Papers | None,
    keyed: bool,
) -> dict[str, Any] | None:
    """The recorded leaves and deps of a file that passed before, when they still hold: every
    leaf inside the file's node, and the same papers files (by sha256) behind its orphan check.
    None: read the file's ids again."""
    leaves = previous.get("leaves")
    if keyed and not (isinstance(leaves, list) and all(isinstance(x, str) for x in leaves)):
        return None
    memo: dict[str, Any] = {"leaves": leaves} if keyed else {}
    if (
        keyed
        and item.node is not None
        and item.table in LEAF_KEYED
        and not all(node_covers(item.node, leaf) for leaf in memo["leaves"])
    ):
        return None  # let the read report the misplaced rows with examples
    if suite.orphans and papers is not None:
        memo["deps"] = papers.deps(memo.get("leaves"))
        if previous.get("deps") != memo["deps"]:
            return None
    return memo


def _scalar_frame(frame: pl.DataFrame, item: _File, known_ids: pl.Series | None) -> pl.DataFrame:
    """Keep only scalar columns (GX's pandas engine cannot handle list/struct cells well)."""
    scalar = [c for c, dtype in frame.schema.items() if not dtype.is_nested()]
    derived: list[pl.Expr] = [
        pl.col(c).list.len().alias(f"{c}{LEN_SUFFIX}")
        for c, dtype in frame.schema.items()
        if isinstance(dtype, pl.List)
    ]
    if known_ids is not None and item.table in ORPHAN_CHECKED and "paper_id" in item.columns_ok:
        derived.append(
            pl.when(pl.col("paper_id").is_in(known_ids.implode()).not_())
            .then(pl.col("paper_id"))
            .otherwise(None)
            .alias(ORPHAN_COLUMN)
        )
    return frame.select(*scalar, *derived)


def _load_record(path: Path) -> dict[str, Any]:
    try:
        loaded = io.read_json(path) if path.is_file() else {}
    except ValueError:
        return {}  # a damaged record only costs a full run
    return loaded if isinstance(loaded, dict) else {}


# --------------------------------------------------------------------------- expectations


def _disable_gx_analytics() -> None:
    # Must happen before GX is first imported; also forced off in the context config below.
    os.environ["GX_ANALYTICS_ENABLED"] = "False"


@dataclass(frozen=True)
class _Suite:
    """A table's expectations, given which of its columns have the right type."""

    table: str
    columns_ok: frozenset[str]
    with_known_ids: bool
    papers_label: str

    @property
    def orphans(self) -> bool:
        return (
            self.with_known_ids and self.table in ORPHAN_CHECKED and "paper_id" in self.columns_ok
        )

    @property
    def orphan_label(self) -> str:
        return f"paper_id not found in {self.papers_label}"

    @cached_property
    def sha256(self) -> str:
        """What a recorded pass was a pass of: the expectations, GX's version, SUITE_VERSION."""
        import great_expectations as gx

        configs = [e.configuration.to_json_dict() for e in self.expectations()]
        text = json.dumps([SUITE_VERSION, gx.__version__, self.table, configs], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    @cached_property
    def size(self) -> int:
        """How many expectations the suite has."""
        return len(self.expectations())

    @property
    def name(self) -> str:
        """The GX name of this suite: the table, plus a tag when columns are off contract."""
        if self.columns_ok == frozenset(SCHEMAS[self.table]):
            return self.table
        return f"{self.table}-{self.sha256[:8]}"

    @cached_property
    def columns(self) -> list[str]:
        """The scalar-frame columns the expectations read (GX and pandas see only these)."""
        used: dict[str, None] = {}
        for expectation in self.expectations():
            kwargs = expectation.configuration.kwargs
            for key in ("column", "column_A", "column_B"):
                if isinstance(kwargs.get(key), str):
                    used[kwargs[key]] = None
            for column in kwargs.get("column_list") or []:
                used[str(column)] = None
        # an empty suite still needs a column for GX to count rows over
        return list(used) or sorted(self.columns_ok)[:1]

    def source_columns(self, with_ids: bool) -> list[str]:
        """The file's columns those are derived from (plus paper_id for the placement check)."""
        source: dict[str, None] = {}
        for column in self.columns:
            if column == ORPHAN_COLUMN:
                source["paper_id"] = None
            else:
                source[column.removesuffix(LEN_SUFFIX)] = None
        if with_ids:
            source["paper_id"] = None
        return list(source)

    def expectations(self) -> list[Expectation]:
        """Fresh expectation objects (a GX suite takes ownership of the ones it is given)."""
        return _expectations(self)


def _expectations(suite: _Suite) -> list[Expectation]:
    _disable_gx_analytics()
    import great_expectations as gx

    # GX re-exports its expectation classes without `__all__`, so mypy --strict rejects
    # `gx.expectations.X`; go through Any rather than importing 20 private module paths.
    ge: Any = gx.expectations
    ok: Callable[[str], bool] = suite.columns_ok.__contains__

    def orphan_check() -> list[Expectation]:
        # A set-membership expectation would inline every paper_id into the suite, the JSON and
        # the Data Docs; a derived "orphan id" column keeps them small and still shows examples.
        if not suite.orphans:
            return []
        return [
            ge.ExpectColumnValuesToBeNull(column=ORPHAN_COLUMN, meta={"label": suite.orphan_label})
        ]

    def papers_suite() -> list[Expectation]:
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

    def links_suite() -> list[Expectation]:
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
        return out + orphan_check()

    def tags_suite() -> list[Expectation]:
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
        return out + orphan_check()

    def rejected_suite() -> list[Expectation]:
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

    def provenance_suite() -> list[Expectation]:
        out: list[Expectation] = [
            ge.ExpectColumnValuesToNotBeNull(column=column)
            for column in ("paper_id", "source_file", "record_index")
            if ok(column)
        ]
        if ok("matched_by"):
            out.append(
                ge.ExpectColumnValuesToBeInSet(column="matched_by", value_set=list(MATCHED_BY))
            )
        return out + orphan_check()

    def duplicates_suite() -> list[Expectation]:
        out: list[Expectation] = [
            ge.ExpectColumnValuesToNotBeNull(column=column)
            for column in ("paper_id_a", "paper_id_b", "jaccard", "kind")
            if ok(column)
        ]
        if ok("jaccard"):
            out.append(ge.ExpectColumnValuesToBeBetween(column="jaccard", min_value=0, max_value=1))
        if ok("kind"):
            out.append(
                ge.ExpectColumnValuesToBeInSet(column="kind", value_set=list(DUPLICATE_KINDS))
            )
        if ok("paper_id_a") and ok("paper_id_b"):
            out.append(ge.ExpectCompoundColumnsToBeUnique(column_list=["paper_id_a", "paper_id_b"]))
        return out

    def related_suite() -> list[Expectation]:
        out: list[Expectation] = [
            ge.ExpectColumnValuesToNotBeNull(column=column)
            for column in ("paper_id", "related_id", "rank", "score")
            if ok(column)
        ]
        if ok("method"):
            out.append(
                ge.ExpectColumnValuesToBeInSet(column="method", value_set=list(RELATED_METHODS))
            )
        if ok("rank"):
            out.append(ge.ExpectColumnValuesToBeBetween(column="rank", min_value=1))
        if ok("score"):
            out.append(
                ge.ExpectColumnValuesToBeBetween(
                    column="score", min_value=0, max_value=1.0001, strict_min=True
                )
            )
        if ok("paper_id") and ok("method") and ok("rank"):
            out.append(
                ge.ExpectCompoundColumnsToBeUnique(column_list=["paper_id", "method", "rank"])
            )
        return out + orphan_check()

    builders: dict[str, Callable[[], list[Expectation]]] = {
        PAPERS: papers_suite,
        LINKS: links_suite,
        TAGS: tags_suite,
        REJECTED: rejected_suite,
        PROVENANCE: provenance_suite,
        DUPLICATES: duplicates_suite,
        RELATED: related_suite,
    }
    return builders[suite.table]()


# --------------------------------------------------------------------------- running GX


class _Gx:
    """Two ephemeral GX contexts: one that validates each file and renders nothing, and one for
    the Data Docs (a summary page per table, plus the pages of failing files)."""

    def __init__(self, docs_dir: Path) -> None:
        _disable_gx_analytics()
        import great_expectations as gx

        self.version = str(gx.__version__)
        self.docs_dir = docs_dir
        # Stale pages from a previous run would otherwise linger next to the fresh index.
        shutil.rmtree(docs_dir, ignore_errors=True)
        self.files = _ephemeral_context()
        self.docs = _ephemeral_context()
        # The stock ephemeral config adds a "local_site" docs site in a throwaway temp dir that
        # every build would also render; build only our own site under reports_dir instead.
        self.docs.add_data_docs_site(
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
        self._checkpoints: dict[tuple[int, str], Any] = {}
        self._rendered = False
        self._started = dt.datetime.now(dt.UTC)

    def _checkpoint(
        self, context: AbstractDataContext, name: str, suite: Callable[[], list[Expectation]]
    ) -> Any:
        """One dataframe asset, suite and checkpoint per name in a context, made once and reused
        for every dataframe (batch_parameters give each run its own)."""
        key = (id(context), name)
        if key not in self._checkpoints:
            import great_expectations as gx

            source = _pandas_source(context)
            batch = source.add_dataframe_asset(name).add_batch_definition_whole_dataframe("all")
            made = context.suites.add(gx.ExpectationSuite(name=name, expectations=suite()))
            definition = context.validation_definitions.add(
                gx.ValidationDefinition(name=name, data=batch, suite=made)
            )
            result_format = {
                "result_format": "SUMMARY",
                "partial_unexpected_count": PARTIAL_UNEXPECTED,
            }
            self._checkpoints[key] = context.checkpoints.add(
                gx.Checkpoint(
                    name=name, validation_definitions=[definition], result_format=result_format
                )
            )
        return self._checkpoints[key]

    def _run(
        self, context: AbstractDataContext, name: str, suite: Callable[[], list[Expectation]],
        frame: pl.DataFrame, run_name: str,
    ) -> dict[str, Any]:  # fmt: skip
        from great_expectations.core.run_identifier import RunIdentifier

        checkpoint = self._checkpoint(context, name, suite)
        outcome = checkpoint.run(
            batch_parameters={"dataframe": frame.to_pandas()},
            run_id=RunIdentifier(run_name=run_name, run_time=self._started),
        )
        validation: Any  # GX's to_json_dict is untyped
        (validation,) = outcome.run_results.values()
        result: dict[str, Any] = validation.to_json_dict()
        return result

    def run(self, suite: _Suite, item: _File, frame: pl.DataFrame) -> dict[str, Any]:
        """Validate one file's scalar frame; its result is not kept for the docs."""
        result = self._run(self.files, suite.name, suite.expectations, frame, _run_name(item))
        store: Any = self.files.validation_results_store  # untyped
        for key in store.list_keys():  # else every file's result stays in memory until the end
            store.remove_key(key)
        return result

    def document(self, suite: _Suite, item: _File, frame: pl.DataFrame) -> None:
        """Re-run a failing file in the docs context, so the docs show its unexpected examples."""
        self._run(self.docs, suite.name, suite.expectations, frame, _run_name(item))
        self._rendered = True

    def summarise(
        self, files: Mapping[str, Sequence[_File]], manifest: Mapping[str, Any] | None
    ) -> dict[str, Any] | None:
        """The dataset's Data Docs page: a row per file of every table, expected to hold no
        failure, and each table's rows summing to its manifest count. One GX run for all
        tables (a run per table cost a checkpoint and a page each, every run)."""
        listed = [f for name in TABLES for f in files[name]]
        if not listed:
            return None
        frame = pl.DataFrame(
            {
                "table": [f.table for f in listed],
                "file": [f.path for f in listed],
                "node": [f.node or "" for f in listed],
                "rows": [f.footer_rows for f in listed],
                "failed": [f.failed if f.readable else None for f in listed],
                "unexpected_count": [f.unexpected if f.readable else None for f in listed],
                "sha_ok": [f.exists and f.sha_ok for f in listed],
                "rows_ok": [f.readable and f.rows_ok for f in listed],
                "node_ok": [f.node_ok for f in listed],
            },
            schema={"table": pl.String, "file": pl.String, "node": pl.String, "rows": pl.Int64,
                    "failed": pl.Int64, "unexpected_count": pl.Int64, "sha_ok": pl.Boolean,
                    "rows_ok": pl.Boolean, "node_ok": pl.Boolean},
        )  # fmt: skip
        counts = {
            table: count
            for table in TABLES
            if files[table] and table in COUNT_KEYS
            for count in [_manifest_count(manifest, COUNT_KEYS[table])]
            if count is not None
        }

        def expectations() -> list[Expectation]:
            import great_expectations as gx

            ge: Any = gx.expectations
            out: list[Expectation] = [
                ge.ExpectColumnValuesToNotBeNull(column="rows", meta={"label": "unreadable"}),
                ge.ExpectColumnValuesToBeBetween(column="failed", max_value=0),
                ge.ExpectColumnValuesToBeBetween(column="unexpected_count", max_value=0),
            ]
            out += [
                ge.ExpectColumnValuesToBeInSet(column=c, value_set=[True])
                for c in ("sha_ok", "rows_ok", "node_ok")
            ]
            out += [
                ge.ExpectColumnSumToBeBetween(
                    column="rows", min_value=count, max_value=count,
                    row_condition=f"table=={table!r}", condition_parser="pandas",
                    meta={"counts_key": COUNT_KEYS[table]},
                )
                for table, count in counts.items()
            ]  # fmt: skip
            return out

        result = self._run(self.docs, "files", expectations, frame, "dataset:files")
        self._rendered = True
        return {k: result[k] for k in ("success", "statistics") if k in result}

    def build_docs(self) -> Path | None:
        if not self._rendered:
            return None
        # One explicit build instead of an UpdateDataDocsAction per checkpoint run.
        self.docs.build_data_docs(site_names=[DOCS_SITE])
        index = self.docs_dir / "index.html"
        return index if index.is_file() else None


def _run_name(item: _File) -> str:
    return f"{item.table}:{item.node or item.path}"


def _ephemeral_context() -> AbstractDataContext:
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    return gx.get_context(
        mode="ephemeral",
        project_config=DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
            analytics_enabled=False,
            progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
        ),
    )


def _pandas_source(context: AbstractDataContext) -> Any:
    try:
        return context.data_sources.get("published")
    except (KeyError, ValueError, LookupError):
        return context.data_sources.add_pandas("published")


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


def _describe(where: str, frame: pl.DataFrame, item: Mapping[str, Any]) -> str:
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
            groups = _duplicated_groups(frame, [column])
            body = f"{column} has {groups} duplicated value(s){eg}"
        case "expect_compound_columns_to_be_unique":
            columns = [str(c) for c in kwargs.get("column_list", [])]
            groups = _duplicated_groups(frame, columns)
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
    return f"{where}: {body}"


def _bounds(kwargs: Mapping[str, Any]) -> str:
    # GX stores bounds as floats (0 -> 0.0); `:g` prints them the way they were written.
    parts = []
    if kwargs.get("min_value") is not None:
        parts.append(f"{'>' if kwargs.get('strict_min') else '>='} {kwargs['min_value']:g}")
    if kwargs.get("max_value") is not None:
        parts.append(f"{'<' if kwargs.get('strict_max') else '<='} {kwargs['max_value']:g}")
    return " and ".join(parts) or "in range"
