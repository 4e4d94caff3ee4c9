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
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from papers import io
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


def write_plots(papers: pl.DataFrame | pl.LazyFrame, folder: Path) -> list[str]:
    """Write the DVC plots files of a build into folder; return their names (to publish)."""
    io.write_json(papers_by_date(papers).to_dicts(), folder / PLOTS_BY_DATE)
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


def _git_file(repo: Path, rev: str, path: str) -> str | None:
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
    """build-dataset's outputs in a dvc.lock: path -> md5."""
    lock: Any = yaml.safe_load(lock_text) or {}
    stage = (lock.get("stages") or {}).get(STAGE) or {}
    return {o["path"]: o.get("md5", "") for o in stage.get("outs") or [] if "path" in o}


def list_versions(repo: Path) -> list[dict[str, Any]]:
    """Every commit that changed dvc.lock's build-dataset outputs, newest first.

    Each: commit, date, subject, dataset_version (from the manifest, None when it is in
    neither the DVC cache nor the remote), manifest_md5, and the counts from metrics.json as
    committed (papers, raw_records, rejected, links, tags, tag_coverage).
    """
    log = _git(repo, "log", "--format=%H%x1f%cI%x1f%s", "--", "dvc.lock")
    versions: list[dict[str, Any]] = []
    for line in log.splitlines():
        commit, date, subject = line.split("\x1f", 2)
        lock_text = _git_file(repo, commit, "dvc.lock")
        if lock_text is None:
            continue
        outs = _lock_outs(lock_text)
        manifest_path = next((p for p in outs if p.endswith("/" + io.MANIFEST)), None)
        if manifest_path is None:
            continue
        folder = manifest_path.rsplit("/", 1)[0]
        metrics_text = _git_file(repo, commit, f"{folder}/{io.METRICS}")
        metrics: dict[str, Any] = json.loads(metrics_text) if metrics_text else {}
        entry: dict[str, Any] = {
            "commit": commit,
            "date": date,
            "subject": subject,
            "manifest_md5": outs[manifest_path],
            "dataset_version": None,
            "available": False,
        }
        try:
            manifest = json.loads(_dvc_bytes(repo, commit, manifest_path))
            entry["dataset_version"] = manifest["dataset"]["version"]
            entry["available"] = True
            counts = manifest.get("counts", {})
        except PapersError:
            counts = {}
        for key in ("papers", "raw_records", "rejected", "links", "tags"):
            entry[key] = metrics.get(key, counts.get(key))
        entry["tag_coverage"] = metrics.get("tag_coverage")
        versions.append(entry)
    return versions


def format_versions(versions: list[dict[str, Any]]) -> str:
    if not versions:
        return "no dataset versions: no commit has a dvc.lock with build-dataset outputs"
    header = f"{'commit':8}  {'date':25}  {'version':12}  {'papers':>6}  {'rejected':>8}  " + (
        f"{'links':>5}  {'tags':>5}  subject"
    )
    rows = [header]
    for v in versions:
        version = v["dataset_version"] or "(no cache)"
        rows.append(
            f"{v['commit'][:8]:8}  {v['date']:25}  {version:12}  {_n(v['papers']):>6}  "
            f"{_n(v['rejected']):>8}  {_n(v['links']):>5}  {_n(v['tags']):>5}  {v['subject']}"
        )
    return "\n".join(rows)


def _n(value: Any) -> str:
    return "?" if value is None else str(value)


# --------------------------------------------------------------------------- diff


@dataclass(frozen=True)
class Dataset:
    """One side of a diff: where it came from, its papers, manifest and metrics."""

    label: str
    papers: pl.DataFrame
    manifest: dict[str, Any]
    metrics: dict[str, Any]


def load_dataset(spec: str, repo: Path | None, dataset_path: str = DEFAULT_DATASET) -> Dataset:
    """A published folder, or the dataset a git revision pins (read through DVC)."""
    folder = Path(spec)
    if folder.is_dir():
        return _load_folder(folder)
    if repo is None or not _is_revision(repo, spec):
        raise PapersError(f"{spec!r} is neither a dataset folder nor a git revision")

    def read(name: str) -> bytes:
        return _dvc_bytes(repo, spec, f"{dataset_path}/{name}")

    return Dataset(
        label=spec,
        papers=pl.read_parquet(stdio.BytesIO(read("papers.parquet"))),
        manifest=json.loads(read(io.MANIFEST)),
        metrics=json.loads(read(io.METRICS)),
    )


def _load_folder(folder: Path) -> Dataset:
    missing = [n for n in ("papers.parquet", io.MANIFEST) if not (folder / n).is_file()]
    if missing:
        raise PapersError(f"{folder} holds no published dataset ({', '.join(missing)} missing)")
    metrics_path = folder / io.METRICS
    return Dataset(
        label=str(folder),
        papers=pl.read_parquet(folder / "papers.parquet"),
        manifest=io.read_json(folder / io.MANIFEST),
        metrics=io.read_json(metrics_path) if metrics_path.is_file() else {},
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


def _side(d: Dataset) -> dict[str, Any]:
    return {
        "label": d.label,
        "dataset_version": d.manifest.get("dataset", {}).get("version"),
        "papers": d.papers.height,
    }


def format_diff(result: dict[str, Any]) -> str:
    a, b, p = result["a"], result["b"], result["papers"]
    lines = [
        f"A: {a['label']} (version {a['dataset_version']}, {a['papers']} papers)",
        f"B: {b['label']} (version {b['dataset_version']}, {b['papers']} papers)",
        f"papers: {p['added']} added, {p['removed']} removed, {p['changed']} changed, "
        f"{p['unchanged']} unchanged",
    ]
    for kind, sign in (("added", "+"), ("removed", "-")):
        shown = p[f"{kind}_examples"]
        if shown:
            more = p[kind] - len(shown)
            lines.append(f"{kind}:" + (f" (first {len(shown)} of {p[kind]})" if more else ""))
            lines += [f"  {sign} {r['paper_id']:24}  {r['title']}" for r in shown]
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
