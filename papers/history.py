"""Dataset versions and what changed between them: `papers versions`, `papers diff`, DVC plots.

A version is what one commit's dvc.lock pins: the build-dataset outputs by hash. Their figures
come from metrics.json as that commit holds it (git-tracked, cache: false) and the manifest from
the DVC cache or remote (dvc.api), so every read of a past version goes through DVC, never
through a checkout of the working tree. A diff compares two versions given as git revisions
or as published folders (a folder needs no git at all).
"""

from __future__ import annotations

import io as stdio
import json
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from papers import changes, dataset, io
from papers.errors import PapersError

PLOTS_BY_DATE = "papers_by_date.json"
UNDATED = "undated"
STAGE = "build-dataset"
DEFAULT_DATASET = "data/processed"


# --------------------------------------------------------------------------- plots (DVC)


def papers_by_date(papers: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """Per listing date: papers listed, of them with a code link, with a tag.

    papers: the published papers table, or a scan of it (counted by the streaming engine, so
    the table is never in memory whole). A paper listed on three dates counts on each; papers
    with no listing date (a page listing without a date in its name) count under "undated".
    """
    per_paper = (
        papers.lazy()
        .select(
            pl.col("listing_dates"),
            pl.col("code_url").is_not_null().alias("with_code"),
            (pl.col("tags").list.len() > 0).alias("tagged"),
        )
        .with_columns(
            pl.when(pl.col("listing_dates").list.len() > 0)
            .then(pl.col("listing_dates").list.eval(pl.element().cast(pl.String)))
            .otherwise(pl.lit([UNDATED], pl.List(pl.String)))
            .alias("listing_date")
        )
    )
    return (
        per_paper.explode("listing_date")
        .group_by("listing_date")
        .agg(
            pl.len().cast(pl.Int64).alias("papers"),
            pl.col("with_code").sum().cast(pl.Int64),
            pl.col("tagged").sum().cast(pl.Int64),
        )
        # dates in order, "undated" last (digits sort before letters)
        .sort("listing_date")
        .collect(engine="streaming")
    )


def write_plots(
    papers: pl.DataFrame | pl.LazyFrame | None, folder: Path, by_date: pl.DataFrame | None = None
) -> list[str]:
    """Write the DVC plots files of a build into folder; return their names (to publish).

    by_date: papers_by_date's frame when the build has it already (summed over its partitions,
    pipeline.figures); then papers is not read."""
    if by_date is None:
        if papers is None:
            raise ValueError("write_plots needs the papers table or its papers_by_date frame")
        by_date = papers_by_date(papers)
    io.write_json(by_date.to_dicts(), folder / PLOTS_BY_DATE)
    return [PLOTS_BY_DATE]


# --------------------------------------------------------------------------- git + DVC reads


def _git(repo: Path, *args: str) -> str:
    try:
        proc = subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, text=True, check=False
        )
    except FileNotFoundError as exc:
        raise PapersError("git is not installed (versions and revisions need it)") from exc
    if proc.returncode != 0:
        raise PapersError(f"git {' '.join(args)}: {proc.stderr.strip() or 'failed'}")
    return proc.stdout


def repo_root(start: Path) -> Path:
    """The git work tree holding start."""
    return Path(_git(start, "rev-parse", "--show-toplevel").strip())


def _is_revision(repo: Path, spec: str) -> bool:
    proc = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--verify", "--quiet", f"{spec}^{{commit}}"],
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.returncode == 0


def git_file(repo: Path, rev: str, path: str) -> str | None:
    """The text of `path` (relative to `repo`; "./x" for a folder below the work tree's top) as
    revision `rev` has it, or None when it has none."""
    proc = subprocess.run(
        ["git", "-C", str(repo), "show", f"{rev}:{path}"],
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.stdout if proc.returncode == 0 else None


def _dvc_bytes(repo: Path, rev: str, path: str) -> bytes:
    """A file as revision rev has it, through DVC (git for git-tracked files, else the cache
    or the remote)."""
    import dvc.api  # type: ignore[import-untyped]

    try:
        data: bytes = dvc.api.read(path, repo=str(repo), rev=rev, mode="rb")
    except Exception as exc:  # DVC raises many types: missing cache, no remote, bad path
        raise PapersError(
            f"{path} at {rev} is not available from DVC ({type(exc).__name__}: {exc}); "
            "`dvc pull` or `dvc fetch --all-commits` may bring it"
        ) from exc
    return data


# --------------------------------------------------------------------------- versions


def _lock_outs(lock_text: str) -> dict[str, str]:
    """build-dataset's outputs in a dvc.lock: path -> md5 (a directory out's ends in `.dir`)."""
    lock: Any = yaml.safe_load(lock_text) or {}
    stage = (lock.get("stages") or {}).get(STAGE) or {}
    return {o["path"]: o.get("md5", "") for o in stage.get("outs") or [] if "path" in o}


def _manifest_candidates(outs: Mapping[str, str]) -> list[tuple[str, str]]:
    """Where a commit's manifest may be, with the md5 that pins it: the manifest as an out of its
    own (`data/processed/manifest.json`), else inside a directory out (`data/processed` tracked
    whole), tried in the lock's order."""
    own = [(p, md5) for p, md5 in outs.items() if p.endswith("/" + io.MANIFEST)]
    inside = [(f"{p}/{io.MANIFEST}", md5) for p, md5 in outs.items() if md5.endswith(".dir")]
    return own or inside


def _manifest_at(repo: Path, commit: str, outs: Mapping[str, str]) -> tuple[str, str, Any]:
    """(manifest path, md5 pinning it, manifest or None when DVC has it nowhere)."""
    candidates = _manifest_candidates(outs)
    for path, md5 in candidates:
        try:
            return path, md5, json.loads(_dvc_bytes(repo, commit, path))
        except PapersError:
            continue
    path, md5 = candidates[0]
    return path, md5, None


def _table_rows(manifest: Mapping[str, Any]) -> dict[str, int]:
    return {
        name: sum(int(e.get("rows", 0)) for e in entries)
        for name, entries in dataset.manifest_tables(manifest).items()
    }


def list_versions(repo: Path) -> list[dict[str, Any]]:
    """Every commit that changed dvc.lock's build-dataset outputs, newest first.

    Each: commit, date, subject, dataset_version and number (from the manifest, None when it is
    in neither the DVC cache nor the remote), manifest_md5, the feed's totals (`changes`, from
    format-2 manifests that have one), and the counts from metrics.json as committed (papers,
    raw_records, rejected, links, tags, tag_coverage), else from the manifest. The tables may be
    single-file outs or directory outs; the manifest is read through DVC either way.
    """
    log = _git(repo, "log", "--format=%H%x1f%cI%x1f%s", "--", "dvc.lock")
    versions: list[dict[str, Any]] = []
    for line in log.splitlines():
        commit, date, subject = line.split("\x1f", 2)
        lock_text = git_file(repo, commit, "dvc.lock")
        if lock_text is None:
            continue
        outs = _lock_outs(lock_text)
        if not _manifest_candidates(outs):
            continue
        manifest_path, md5, manifest = _manifest_at(repo, commit, outs)
        folder = manifest_path.rsplit("/", 1)[0]
        metrics_text = git_file(repo, commit, f"{folder}/{io.METRICS}")
        metrics: dict[str, Any] = json.loads(metrics_text) if metrics_text else {}
        about = (manifest or {}).get("dataset", {})
        entry: dict[str, Any] = {
            "commit": commit,
            "date": date,
            "subject": subject,
            "manifest_md5": md5,
            "dataset_version": about.get("version"),
            "number": about.get("number"),
            "parent": about.get("parent"),
            "available": manifest is not None,
            "changes": (manifest or {}).get("changes"),
        }
        counts = {**_table_rows(manifest or {}), **(manifest or {}).get("counts", {})}
        for key in ("papers", "raw_records", "rejected", "links", "tags"):
            entry[key] = metrics.get(key, counts.get(key))
        entry["tag_coverage"] = metrics.get("tag_coverage")
        versions.append(entry)
    return versions


def format_versions(versions: list[dict[str, Any]]) -> str:
    if not versions:
        return "no dataset versions: no commit has a dvc.lock with build-dataset outputs"
    header = (
        f"{'commit':8}  {'date':25}  {'#':>4}  {'version':12}  {'papers':>6}  {'rejected':>8}  "
        f"{'links':>5}  {'tags':>5}  {'changes':>12}  subject"
    )
    rows = [header]
    for v in versions:
        version = v["dataset_version"] or "(no cache)"
        rows.append(
            f"{v['commit'][:8]:8}  {v['date']:25}  {_n(v.get('number')):>4}  {version:12}  "
            f"{_n(v['papers']):>6}  {_n(v['rejected']):>8}  {_n(v['links']):>5}  "
            f"{_n(v['tags']):>5}  {_changes(v.get('changes')):>12}  {v['subject']}"
        )
    return "\n".join(rows)


def _n(value: Any) -> str:
    return "?" if value is None else str(value)


def _changes(recorded: Mapping[str, Any] | None) -> str:
    """A feed's totals as +added ~updated -removed ("-" without a feed)."""
    if not recorded:
        return "-"
    return f"+{recorded['added']} ~{recorded['updated']} -{recorded['removed']}"


# --------------------------------------------------------------------------- diff


@dataclass
class Dataset:
    """One side of a diff: where it came from, its manifest and metrics, and its files.

    `read(path)` gives a file of the dataset by its path relative to the dataset root (from the
    folder, or through DVC for a revision). The papers table is read on first use only: a diff
    from the change feed never reads it.
    """

    label: str
    manifest: dict[str, Any]
    metrics: dict[str, Any]
    read: Callable[[str], bytes]
    _papers: pl.DataFrame | None = field(default=None, repr=False)

    @property
    def papers(self) -> pl.DataFrame:
        if self._papers is None:
            self._papers = self._read_papers()
        return self._papers

    @property
    def version(self) -> str | None:
        value = self.manifest.get("dataset", {}).get("version")
        return None if value is None else str(value)

    def _read_papers(self) -> pl.DataFrame:
        entries = dataset.manifest_tables(self.manifest).get("papers")
        paths = [str(e["path"]) for e in entries] if entries else ["papers.parquet"]
        parts = [pl.read_parquet(stdio.BytesIO(self.read(path))) for path in paths]
        return pl.concat(parts) if len(parts) > 1 else parts[0]


def load_dataset(spec: str, repo: Path | None, dataset_path: str = DEFAULT_DATASET) -> Dataset:
    """A published folder, or the dataset a git revision pins (read through DVC: single-file or
    directory outs alike, file by file as the manifest lists them)."""
    folder = Path(spec)
    if folder.is_dir():
        return _load_folder(folder)
    if repo is None or not _is_revision(repo, spec):
        raise PapersError(f"{spec!r} is neither a dataset folder nor a git revision")

    def read(name: str) -> bytes:
        return _dvc_bytes(repo, spec, f"{dataset_path}/{name}")

    try:
        metrics = json.loads(read(io.METRICS))
    except PapersError:
        metrics = {}
    return Dataset(label=spec, manifest=json.loads(read(io.MANIFEST)), metrics=metrics, read=read)


def _load_folder(folder: Path) -> Dataset:
    if not (folder / io.MANIFEST).is_file():
        raise PapersError(f"{folder} holds no published dataset ({io.MANIFEST} missing)")
    manifest = io.read_json(folder / io.MANIFEST)
    if (
        "papers" not in dataset.manifest_tables(manifest)
        and io.table_path(folder, "papers") is None
    ):
        raise PapersError(f"{folder} holds no published dataset (no papers table)")
    metrics_path = folder / io.METRICS

    def read(name: str) -> bytes:
        path = folder / name
        if not path.is_file():
            raise PapersError(f"{path} is missing (the manifest lists it)")
        return path.read_bytes()

    return Dataset(
        label=str(folder),
        manifest=manifest,
        metrics=io.read_json(metrics_path) if metrics_path.is_file() else {},
        read=read,
    )


def _numbers(tree: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """Numeric leaves of a nested mapping, by dotted path."""
    out: dict[str, float] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out |= _numbers(value, f"{name}.")
        elif isinstance(value, int | float) and not isinstance(value, bool):
            out[name] = value
    return out


def _deltas(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[dict[str, Any]]:
    na, nb = _numbers(a), _numbers(b)
    rows = []
    for key in sorted(na.keys() | nb.keys()):
        old, new = na.get(key), nb.get(key)
        delta = None if old is None or new is None else round(new - old, 6)
        rows.append({"name": key, "a": old, "b": new, "delta": delta})
    return rows


def _titles(frame: pl.DataFrame, limit: int) -> list[dict[str, Any]]:
    return frame.select("paper_id", "title").sort("paper_id").head(limit).to_dicts()


def diff_datasets(a: Dataset, b: Dataset, limit: int = 10) -> dict[str, Any]:
    """What changed from a to b: papers added and removed (ids and titles, the first `limit`),
    per column how many common papers changed (with example ids), count and metric deltas."""
    ids_a, ids_b = a.papers.select("paper_id"), b.papers.select("paper_id")
    added = b.papers.join(ids_a, on="paper_id", how="anti")
    removed = a.papers.join(ids_b, on="paper_id", how="anti")
    shared = [c for c in a.papers.columns if c in b.papers.columns and c != "paper_id"]
    common = a.papers.select("paper_id", *shared).join(
        b.papers.select("paper_id", *shared), on="paper_id", how="inner", suffix="__b"
    )
    changed = common.select(
        "paper_id", *(pl.col(c).ne_missing(pl.col(f"{c}__b")).alias(c) for c in shared)
    )
    fields = []
    for column in shared:
        ids = changed.filter(pl.col(column)).get_column("paper_id").sort()
        if ids.len():
            fields.append(
                {"column": column, "papers": ids.len(), "examples": ids.head(3).to_list()}
            )
    any_change = changed.select(pl.any_horizontal(*shared)).to_series() if shared else None
    changed_papers = int(any_change.sum()) if any_change is not None else 0
    return {
        "source": "tables",
        "a": _side(a),
        "b": _side(b),
        "papers": {
            "added": added.height,
            "removed": removed.height,
            "changed": changed_papers,
            "unchanged": common.height - changed_papers,
            "added_examples": _titles(added, limit),
            "removed_examples": _titles(removed, limit),
        },
        "columns_added": [c for c in b.papers.columns if c not in a.papers.columns],
        "columns_removed": [c for c in a.papers.columns if c not in b.papers.columns],
        "changed_fields": fields,
        "counts": _deltas(a.manifest.get("counts", {}), b.manifest.get("counts", {})),
        "metrics": _deltas(a.metrics, b.metrics),
    }


def _side(d: Dataset, papers: int | None = None) -> dict[str, Any]:
    about = d.manifest.get("dataset", {})
    return {
        "label": d.label,
        "dataset_version": about.get("version"),
        "number": about.get("number"),
        "papers": d.papers.height if papers is None else papers,
    }


def feed_applies(a: Dataset, b: Dataset) -> bool:
    """Whether b's change feed is the diff from a: b is a's successor and has a feed."""
    parent = b.manifest.get("dataset", {}).get("parent")
    return bool(b.manifest.get("changes")) and a.version is not None and parent == a.version


def diff_versions(a: Dataset, b: Dataset, limit: int = 10) -> dict[str, Any]:
    """What changed from a to b: from b's change feed when b is a's successor (reads one small
    file, never a table), else by comparing the papers tables (`diff_datasets`)."""
    return diff_from_feed(a, b, limit) if feed_applies(a, b) else diff_datasets(a, b, limit)


def diff_from_feed(a: Dataset, b: Dataset, limit: int = 10) -> dict[str, Any]:
    """`diff_datasets`' result from b's change feed: counts by op, the changed fields with their
    papers and example ids, the first `limit` added and removed papers, count and metric deltas
    from the manifests and metrics.

    The examples' titles are not in the feed: they come from the papers files that differ
    between the versions (paper_id and title only, `_titles_of`), and are None when those would
    be every file of the table (a single-file table) or are not available.
    """
    recorded = b.manifest["changes"]
    feed = pl.read_parquet(stdio.BytesIO(b.read(str(recorded["path"]))))
    found = changes.totals(feed)
    expected = {op: recorded.get(op) for op in found}
    if found != expected or set(feed.get_column("dataset_version").unique()) - {b.version}:
        raise PapersError(
            f"{b.label}: the change feed {recorded['path']} does not match its manifest "
            f"({found} in the file, {expected} recorded)"
        )
    papers_b = _papers_count(b)
    papers_a = _papers_count(a)

    def examples(op: str, side: Dataset, other: Dataset) -> list[dict[str, Any]]:
        ids = feed.filter(pl.col("op") == op).get_column("paper_id").sort().head(limit).to_list()
        titles = _titles_of(side, other, ids)
        return [{"paper_id": i, "title": titles.get(i)} for i in ids]

    fields = [
        {"column": column, "papers": papers, "examples": ids}
        for column, papers, ids in changes.field_counts(feed).iter_rows()
    ]
    return {
        "source": "feed",
        "feed": recorded["path"],
        "a": _side(a, papers_a),
        "b": _side(b, papers_b),
        "papers": {
            "added": found["added"],
            "removed": found["removed"],
            "changed": found["updated"],
            "unchanged": None if papers_b is None else papers_b - found["added"] - found["updated"],
            "added_examples": examples("added", b, a),
            "removed_examples": examples("removed", a, b),
        },
        "columns_added": [],
        "columns_removed": [],
        "changed_fields": fields,
        "counts": _deltas(a.manifest.get("counts", {}), b.manifest.get("counts", {})),
        "metrics": _deltas(a.metrics, b.metrics),
    }


def _titles_of(side: Dataset, other: Dataset, ids: list[str]) -> dict[str, str]:
    """paper_id -> title for ids, read from side's papers files that other does not list (where
    a paper only one version has must be). Empty when that is every file of side's table, or a
    file is not available."""
    if not ids:
        return {}
    entries = dataset.manifest_tables(side.manifest).get("papers") or []
    shared = {
        (e["path"], e["sha256"])
        for e in dataset.manifest_tables(other.manifest).get("papers") or []
    }
    differ = [str(e["path"]) for e in entries if (e["path"], e["sha256"]) not in shared]
    if not differ or len(differ) == len(entries):
        return {}
    wanted = pl.Series("paper_id", ids)
    titles: dict[str, str] = {}
    try:
        for path in differ:
            part = pl.read_parquet(stdio.BytesIO(side.read(path)), columns=["paper_id", "title"])
            titles |= dict(part.filter(pl.col("paper_id").is_in(wanted)).iter_rows())
            if len(titles) == len(ids):
                break
    except PapersError:
        return {}
    return titles


def _papers_count(d: Dataset) -> int | None:
    counted = d.manifest.get("counts", {}).get("papers")
    if counted is None:
        counted = _table_rows(d.manifest).get("papers")
    return None if counted is None else int(counted)


def format_diff(result: dict[str, Any]) -> str:
    a, b, p = result["a"], result["b"], result["papers"]
    lines = [
        f"A: {a['label']} (version {a['dataset_version']}, {_n(a['papers'])} papers)",
        f"B: {b['label']} (version {b['dataset_version']}, {_n(b['papers'])} papers)",
        f"papers: {p['added']} added, {p['removed']} removed, {p['changed']} changed, "
        f"{_n(p['unchanged'])} unchanged",
    ]
    if result.get("source") == "feed":
        lines.append(f"(from the change feed {result['feed']}: B is A's next version)")
    for kind, sign in (("added", "+"), ("removed", "-")):
        shown = p[f"{kind}_examples"]
        if shown:
            more = p[kind] - len(shown)
            lines.append(f"{kind}:" + (f" (first {len(shown)} of {p[kind]})" if more else ""))
            lines += [f"  {sign} {r['paper_id']:24}  {r['title'] or ''}".rstrip() for r in shown]
    for kind in ("columns_added", "columns_removed"):
        if result[kind]:
            lines.append(f"{kind.replace('_', ' ')}: {', '.join(result[kind])}")
    if result["changed_fields"]:
        lines.append("changed fields (papers in both):")
        lines += [
            f"  {f['column']:16} {f['papers']:>6}  e.g. {', '.join(f['examples'])}"
            for f in result["changed_fields"]
        ]
    for title, rows in (("counts", result["counts"]), ("metrics", result["metrics"])):
        moved = [r for r in rows if r["delta"] != 0]
        if moved:
            width = max(len(r["name"]) for r in moved)
            lines.append(f"{title} (changed only):")
            lines += [
                f"  {r['name']:{width}}  {_num(r['a']):>10} -> {_num(r['b']):>10}  "
                f"{_signed(r['delta'])}"
                for r in moved
            ]
    return "\n".join(lines)


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    return str(int(value)) if float(value).is_integer() else f"{value:.4f}"


def _signed(delta: float | None) -> str:
    if delta is None:
        return "(on one side only)"
    return f"({'+' if delta > 0 else ''}{_num(delta)})"
