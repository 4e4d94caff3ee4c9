"""Quality gates between versions: a new build is compared with the dataset it would replace.

A build that loses more than a set share of the published papers, or whose reject rate or tag
coverage moves past a threshold (`params.yaml: gates`), is not published: publish_tables calls
`enforce` just before the publish, and the previous dataset stays as it was.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from papers import dataset, io
from papers.config import GatesParams
from papers.errors import PapersError

# How many missing papers a reason names.
EXAMPLES = 3
# Shares are compared with this slack, so 0.90 - 0.85 counts as a drop of 0.05, not 0.0500001.
EPSILON = 1e-9


@dataclass(frozen=True)
class Snapshot:
    """What the gates compare of one dataset: its papers' identities and three figures."""

    papers: pl.DataFrame  # paper_id, title_key, title
    raw_records: int
    rejected: int
    tag_coverage: float
    # the papers table's rows, when `papers` holds only the ones that can be lost (enforce reads
    # only the files one version lists and the other does not); None: papers.height
    rows: int | None = None

    @property
    def paper_count(self) -> int:
        return self.papers.height if self.rows is None else self.rows

    @property
    def reject_rate(self) -> float:
        return self.rejected / self.raw_records if self.raw_records else 0.0


def scan_folder_table(folder: Path, name: str, base: Path | None = None) -> pl.LazyFrame | None:
    """Table `name` of a dataset folder: exactly the files its manifest.json lists (format 1 or
    2, via dataset.manifest_tables), or, with no manifest listing it, its file or directory glob
    (io.table_path). None when the folder has neither.

    base: where to find a listed file the folder does not hold. A staging folder holds only a
    version's new files; its unchanged node files stay in the published folder.
    """
    entries: list[dict[str, object]] | None = None
    manifest_path = folder / io.MANIFEST
    if manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text("utf-8"))
        entries = dataset.manifest_tables(manifest).get(name)
    if not entries:
        path = io.table_path(folder, name)  # papers.parquet or papers/*.parquet
        return None if path is None else pl.scan_parquet(path)
    return pl.scan_parquet(listed_paths(folder, entries, base))


def listed_paths(folder: Path, entries: list[dict[str, object]], base: Path | None) -> list[Path]:
    """Where each manifest entry's file is: in folder, else in base (a staging folder holds
    only a version's new files); a file in neither is an error naming it."""
    paths = []
    for entry in entries:
        relative = str(entry["path"])
        path = folder / relative
        if not path.is_file() and base is not None and (base / relative).is_file():
            path = base / relative
        if not path.is_file():
            where = f"{folder}" + ("" if base is None else f" or {base}")
            raise PapersError(f"{relative}: listed in {folder / io.MANIFEST} but not in {where}")
        paths.append(path)
    return paths


def load_snapshot(folder: Path, base: Path | None = None) -> Snapshot | None:
    """The published (or staged) dataset in folder, or None when there is none to compare with.

    base: the published folder a staging folder's unchanged files stay in (scan_folder_table).
    """
    metrics_path = folder / "metrics.json"
    if not metrics_path.is_file():
        return None
    try:
        scan = scan_folder_table(folder, "papers", base)
        if scan is None:
            return None
        metrics = json.loads(metrics_path.read_text("utf-8"))
        papers = scan.select("paper_id", "title_key", "title").collect()
        return Snapshot(
            papers=papers,
            raw_records=int(metrics["raw_records"]),
            rejected=int(metrics["rejected"]),
            tag_coverage=float(metrics["tag_coverage"]),
        )
    except (OSError, ValueError, KeyError, TypeError, pl.exceptions.PolarsError) as exc:
        raise PapersError(f"cannot read the dataset in {folder} to compare with: {exc}") from exc


def _papers_entries(folder: Path) -> list[dict[str, object]] | None:
    path = folder / io.MANIFEST
    if not path.is_file():
        return None
    try:
        entries = dataset.manifest_tables(json.loads(path.read_text("utf-8"))).get("papers")
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    if not entries or not all({"path", "sha256", "rows"} <= e.keys() for e in entries):
        return None
    return entries


def changed_snapshots(out_dir: Path, staging: Path) -> tuple[Snapshot, Snapshot] | None:
    """The published and the staged version's snapshots holding only the papers that decide
    the loss gate, or None when either has no manifest listing its papers files (or no metrics).

    previous: the rows of the published papers files the staged manifest does not list (same
    path and sha256), with the table's row count from the manifest. A paper of a file both list
    is in both versions. A paper id is in one file of a version, so a previous paper of another
    file is found by id only among the staged version's own new files; current: those files'
    rows, plus the rows of the shared files whose title_key is a remaining candidate's (one
    column of them streamed, only when a candidate is not found by id): lost_papers on the two
    gives what it gives on the whole tables.
    """
    old, new = _papers_entries(out_dir), _papers_entries(staging)
    if old is None or new is None:
        return None
    if not (out_dir / "metrics.json").is_file() or not (staging / "metrics.json").is_file():
        return None
    shared = {(str(e["path"]), str(e["sha256"])) for e in old} & {
        (str(e["path"]), str(e["sha256"])) for e in new
    }
    columns = ["paper_id", "title_key", "title"]

    def read(folder: Path, entries: list[dict[str, object]], base: Path | None) -> pl.DataFrame:
        paths = listed_paths(folder, entries, base)
        if not paths:
            return pl.DataFrame(schema=dict.fromkeys(columns, pl.String))
        return pl.scan_parquet(paths).select(columns).collect(engine="streaming")

    def unshared(entries: list[dict[str, object]]) -> list[dict[str, object]]:
        return [e for e in entries if (str(e["path"]), str(e["sha256"])) not in shared]

    try:
        before = read(out_dir, unshared(old), None)
        after = read(staging, unshared(new), out_dir)
        left = before.join(after.select("paper_id"), on="paper_id", how="anti")
        keep = [e for e in new if (str(e["path"]), str(e["sha256"])) in shared]
        if left.height and keep:
            keys = left.select("title_key").unique()
            found = (
                pl.scan_parquet([out_dir / str(e["path"]) for e in keep])
                .select(columns)
                .join(keys.lazy(), on="title_key", how="semi")
                .collect(engine="streaming")
            )
            after = pl.concat([after, found])
        metrics = [json.loads((f / "metrics.json").read_text("utf-8")) for f in (out_dir, staging)]
        snapshots = [
            Snapshot(papers=frame, raw_records=int(m["raw_records"]), rejected=int(m["rejected"]),
                     tag_coverage=float(m["tag_coverage"]), rows=rows)
            for frame, m, rows in ((before, metrics[0], sum(int(str(e["rows"])) for e in old)),
                                   (after, metrics[1], None))
        ]  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError, pl.exceptions.PolarsError) as exc:
        raise PapersError(f"cannot read the datasets in {out_dir} to compare: {exc}") from exc
    return snapshots[0], snapshots[1]


def lost_papers(previous: pl.DataFrame, current: pl.DataFrame) -> pl.DataFrame:
    """Previous papers found in current neither by paper_id nor by title_key.

    A paper that was re-identified (a page listing's `title:` id replaced by its arXiv id once an
    arXiv or HF API record of it arrived) keeps its title key, so it is not lost.
    """
    return (
        previous.join(current.select("paper_id"), on="paper_id", how="anti")
        .join(current.select("title_key"), on="title_key", how="anti")
        .sort("paper_id")
    )


def check(previous: Snapshot, current: Snapshot, gates: GatesParams) -> list[str]:
    """One readable reason per gate the current build fails against the previous one."""
    reasons: list[str] = []
    lost = lost_papers(previous.papers, current.papers)
    total = previous.paper_count
    share = lost.height / total if total else 0.0
    if share > gates.max_paper_loss_share + EPSILON:
        examples = ", ".join(
            f"{r['paper_id']} ({_short(r['title'])})" for r in lost.head(EXAMPLES).to_dicts()
        )
        reasons.append(
            f"{lost.height} of {total} published papers ({share:.1%}) are "
            f"missing from the new build (max_paper_loss_share {gates.max_paper_loss_share:.1%}),"
            f" e.g. {examples}"
        )
    rise = current.reject_rate - previous.reject_rate
    if rise > gates.max_reject_rate_increase + EPSILON:
        reasons.append(
            f"reject rate rose from {previous.reject_rate:.1%} to {current.reject_rate:.1%} "
            f"({current.rejected} of {current.raw_records} records; max_reject_rate_increase "
            f"{gates.max_reject_rate_increase:.1%})"
        )
    drop = previous.tag_coverage - current.tag_coverage
    if drop > gates.max_tag_coverage_drop + EPSILON:
        reasons.append(
            f"tag coverage fell from {previous.tag_coverage:.1%} to {current.tag_coverage:.1%} "
            f"(max_tag_coverage_drop {gates.max_tag_coverage_drop:.1%})"
        )
    return reasons


def enforce(out_dir: Path, staging: Path, gates: GatesParams) -> None:
    """Raise PapersError (after discarding the staged files) when the staged build fails a gate.

    The first build into a folder has nothing to compare with and always passes. When both
    versions have a manifest, only the papers files one lists and the other does not are read
    (changed_snapshots): a file both list holds the same papers in both, none of them lost.
    """
    pair = changed_snapshots(out_dir, staging)
    if pair is None:
        previous = load_snapshot(out_dir)
        if previous is None:
            return
        current = load_snapshot(staging, base=out_dir)
        if current is None:
            raise PapersError(f"the staged build in {staging} has no papers table or metrics.json")
    else:
        previous, current = pair
    reasons = check(previous, current, gates)
    if reasons:
        shutil.rmtree(staging, ignore_errors=True)
        raise PapersError(
            f"quality gates failed, nothing published (the dataset in {out_dir} is unchanged; "
            f"`papers run --no-gates` publishes anyway): " + "; ".join(reasons)
        )


def _short(title: str, width: int = 60) -> str:
    return title if len(title) <= width else title[: width - 1] + "…"
