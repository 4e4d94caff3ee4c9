"""The report's content: pure polars summaries of a published folder (`summarise`).

Reads the manifest, metrics and tables once (`load_published`) and turns them into small frames
and rows; no rendering here (charts.py draws them, page.py lays them out). Ties sort by key, so
the same data give the same summary.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from papers import io
from papers.dataset import manifest_tables, scan_manifest_table
from papers.errors import PapersError
from papers.fill_rates import fill_rate_table
from schemas import Duplicates, Related, empty_frame

TOP_HOSTS = 15
TOP_TAGS = 20
GROWTH_TAGS = 6
TOP_KEYPHRASES = 40
TOP_REASONS = 15
TOP_PAIRS = 30
# Above this many days between the first and last listing, dates are counted per month.
DAILY_MAX_SPAN_DAYS = 120
UNREAD = "(no reader: file rejected)"


@dataclass(frozen=True)
class Published:
    """A published folder as read from disk."""

    manifest: dict[str, Any]
    metrics: dict[str, Any]
    papers: pl.DataFrame
    links: pl.DataFrame
    tags: pl.DataFrame
    rejected: pl.DataFrame
    provenance: pl.DataFrame
    duplicates: pl.DataFrame
    related: pl.DataFrame


def load_published(out_dir: Path) -> Published:
    """Read the manifest, metrics and tables of a published folder; a missing file is an error.

    A table is read through exactly the files the manifest lists (one file, or a directory's
    node files: dataset.manifest_tables), else from its file or directory glob (io.table_path).
    """
    names = ("papers", "links", "tags", "rejected", "provenance")
    missing = [n for n in ("manifest.json", "metrics.json") if not (out_dir / n).is_file()]
    missing += [f"the {n} table" for n in names if io.table_path(out_dir, n) is None]
    if missing:
        msg = f"no published dataset in {out_dir} (missing {', '.join(missing)}; run `papers run`)"
        raise PapersError(msg)
    manifest = json.loads((out_dir / "manifest.json").read_text("utf-8"))
    listed = manifest_tables(manifest)

    def table(name: str) -> pl.DataFrame:
        if listed.get(name):
            return scan_manifest_table(out_dir, manifest, name).collect()
        return pl.read_parquet(io.table_path(out_dir, name) or out_dir / f"{name}.parquet")

    def similarity(name: str, model: Any) -> pl.DataFrame:
        # versions published before schema 1.2.0 have no similarity tables: shown empty
        if listed.get(name) or io.table_path(out_dir, name) is not None:
            return table(name)
        return empty_frame(model)

    return Published(
        manifest=manifest,
        metrics=json.loads((out_dir / "metrics.json").read_text("utf-8")),
        papers=table("papers"),
        links=table("links"),
        tags=table("tags"),
        rejected=table("rejected"),
        provenance=table("provenance"),
        duplicates=similarity("duplicates", Duplicates),
        related=similarity("related", Related),
    )


def _count(frame: pl.DataFrame, by: str | list[str], name: str = "n") -> pl.DataFrame:
    """Rows per group, most first, ties by the group keys (deterministic)."""
    keys = [by] if isinstance(by, str) else by
    return (
        frame.group_by(keys)
        .agg(pl.len().alias(name))
        .sort([name, *keys], descending=[True] + [False] * len(keys))
    )


def stage_counts(manifest: dict[str, Any]) -> pl.DataFrame:
    """stage, count: raw records in, rejects per stage, records kept, papers after the merge."""
    counts = manifest["counts"]
    rows = [("raw records", int(counts["raw_records"]))]
    rows += [(f"rejected: {s}", int(n)) for s, n in counts["rejected_by_stage"].items()]
    rows += [
        ("records in papers", int(counts["records_in_papers"])),
        ("papers (after merge)", int(counts["papers"])),
    ]
    return pl.DataFrame(rows, schema={"stage": pl.String, "count": pl.Int64}, orient="row")


def source_counts(published: Published) -> pl.DataFrame:
    """source, files, raw_records, records_in_papers, papers: what each reader brought."""
    inputs = pl.DataFrame(
        published.manifest["inputs"],
        schema={"path": pl.String, "reader": pl.String, "records": pl.Int64, "sha256": pl.String},
    )
    # A file no reader recognised has no reader: it is a file-level reject.
    inputs = inputs.with_columns(pl.col("reader").fill_null(UNREAD))
    files = inputs.group_by("reader").agg(
        pl.len().alias("files"), pl.col("records").sum().alias("raw_records")
    )
    kept = _count(published.provenance, "source", "records_in_papers").rename({"source": "reader"})
    papers = _count(
        published.papers.select(pl.col("sources").list.unique()).explode("sources"),
        "sources",
        "papers",
    ).rename({"sources": "reader"})
    return (
        files.join(kept, on="reader", how="full", coalesce=True)
        .join(papers, on="reader", how="full", coalesce=True)
        .with_columns(pl.exclude("reader").fill_null(0))
        .rename({"reader": "source"})
        .sort(["raw_records", "source"], descending=[True, False])
    )


def rejects_by_reason(rejected: pl.DataFrame) -> pl.DataFrame:
    """stage, reason, rows, files, example_file: the reasons records were rejected, most first.

    Reasons that differ only in numbers (positions, sizes) are one group: digits become `N`.
    """
    return (
        rejected.with_columns(pl.col("reason").str.replace_all(r"\d+", "N").alias("reason"))
        .group_by("stage", "reason")
        .agg(
            pl.len().alias("rows"),
            pl.col("source_file").n_unique().alias("files"),
            pl.col("source_file").min().alias("example_file"),
        )
        .sort(["rows", "stage", "reason"], descending=[True, False, False])
    )


def _period(dates: pl.Series) -> str:
    """`1d` or `1mo`: days for a short span, months for a long one."""
    if dates.is_empty():
        return "1d"
    first: Any = dates.min()
    last: Any = dates.max()
    span = (last - first).days
    return "1d" if span <= DAILY_MAX_SPAN_DAYS else "1mo"


def papers_per_date(papers: pl.DataFrame) -> tuple[pl.DataFrame, str]:
    """(date, papers) per listing day or month (papers listed that day), and the period used."""
    dates = papers.select(pl.col("listing_dates").list.unique()).explode("listing_dates")
    dates = dates.drop_nulls().rename({"listing_dates": "date"})
    period = _period(dates["date"])
    frame = (
        dates.with_columns(pl.col("date").dt.truncate(period))
        .group_by("date")
        .agg(pl.len().alias("papers"))
        .sort("date")
    )
    return frame, period


def links_by(links: pl.DataFrame, column: str, top: int | None = None) -> pl.DataFrame:
    """column, links, papers: links per kind or host, most first."""
    frame = (
        links.group_by(column)
        .agg(pl.len().alias("links"), pl.col("paper_id").n_unique().alias("papers"))
        .sort(["links", column], descending=[True, False])
    )
    return frame if top is None else frame.head(top)


def top_tags(tags: pl.DataFrame, top: int = TOP_TAGS) -> pl.DataFrame:
    """tag, papers, mean_score, evidence (the term that matched most often for it)."""
    evidence = _count(tags, ["tag", "evidence"]).group_by("tag", maintain_order=True).first()
    return (
        tags.group_by("tag")
        .agg(pl.len().alias("papers"), pl.col("score").mean().round(2).alias("mean_score"))
        .join(evidence.select("tag", "evidence"), on="tag", how="left")
        .sort(["papers", "tag"], descending=[True, False])
        .head(top)
    )


def tag_growth(papers: pl.DataFrame, tags: list[str], period: str) -> pl.DataFrame:
    """date, tag, papers (cumulative): papers carrying each tag by their first listing date."""
    first = papers.select(
        "tags", pl.col("listing_dates").list.min().dt.truncate(period).alias("date")
    ).drop_nulls("date")
    per = (
        first.explode("tags")
        .filter(pl.col("tags").is_in(tags))
        .group_by("date", "tags")
        .agg(pl.len().alias("new"))
        .rename({"tags": "tag"})
    )
    ranks = pl.DataFrame({"tag": tags, "rank": list(range(len(tags)))})
    grid = first.select("date").unique().join(ranks, how="cross")
    return (
        grid.join(per, on=["date", "tag"], how="left")
        .with_columns(pl.col("new").fill_null(0))
        .sort("rank", "date")  # the tags in the order given (most frequent first)
        .with_columns(pl.col("new").cum_sum().over("tag").alias("papers"))
        .select("date", "tag", "papers")
    )


def top_keyphrases(papers: pl.DataFrame, top: int = TOP_KEYPHRASES) -> pl.DataFrame:
    """keyphrase, papers: the free keyphrases most papers share."""
    frame = papers.select(pl.col("keyphrases").list.unique()).explode("keyphrases").drop_nulls()
    return _count(frame, "keyphrases", "papers").rename({"keyphrases": "keyphrase"}).head(top)


def duplicate_pairs(
    duplicates: pl.DataFrame, papers: pl.DataFrame, top: int = TOP_PAIRS
) -> pl.DataFrame:
    """The `top` near-duplicate pairs by Jaccard with both titles (ties by the ids)."""
    titles = papers.select("paper_id", "title")
    return (
        duplicates.sort(["jaccard", "paper_id_a", "paper_id_b"], descending=[True, False, False])
        .head(top)
        .join(titles.rename({"title": "title_a"}), left_on="paper_id_a", right_on="paper_id",
              how="left", maintain_order="left")
        .join(titles.rename({"title": "title_b"}), left_on="paper_id_b", right_on="paper_id",
              how="left", maintain_order="left")
        .select("paper_id_a", "title_a", "paper_id_b", "title_b",
                pl.col("jaccard").cast(pl.Float64).round(3), "kind")
    )  # fmt: skip


def _percent(share: pl.Expr) -> pl.Expr:
    return pl.format("{}%", (share * 100).round(1))


def related_methods(related: pl.DataFrame, n_papers: int) -> pl.DataFrame:
    """Per method: papers with a list, their share, mean score of the first and the last
    neighbour, and pairs listed both ways' share (how symmetric the lists are)."""
    if related.is_empty():
        return pl.DataFrame(
            schema={"method": pl.String, "papers": pl.UInt32, "share": pl.String,
                    "mean_first": pl.Float64, "mean_last": pl.Float64, "mutual": pl.String}
        )  # fmt: skip
    mutual = related.join(
        related.select("method", pl.col("related_id").alias("paper_id"),
                       pl.col("paper_id").alias("related_id")),
        on=["method", "paper_id", "related_id"], how="semi",
    ).group_by("method").len("mutual")  # fmt: skip
    return (
        related.group_by("method")
        .agg(
            pl.col("paper_id").n_unique().alias("papers"),
            pl.col("score").cast(pl.Float64).filter(pl.col("rank") == 1).mean().round(3)
            .alias("mean_first"),
            pl.col("score").cast(pl.Float64)
            .filter(pl.col("rank") == pl.col("rank").max().over("paper_id"))
            .mean().round(3).alias("mean_last"),
            pl.len().alias("rows"),
        )
        .join(mutual, on="method", how="left")
        .sort("method")
        .select(
            "method", "papers",
            _percent(pl.col("papers") / max(n_papers, 1)).alias("share"),
            "mean_first", "mean_last",
            _percent(pl.col("mutual").fill_null(0) / pl.col("rows")).alias("mutual"),
        )
    )  # fmt: skip


def _pct(value: Any) -> str:
    return "n/a" if value is None else f"{100 * float(value):.1f}%"


def quality_rows(metrics: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(figure, value, measured on) from metrics.json: coverage, code links, links vs gold."""
    papers = int(metrics.get("papers", 0))
    rows = [
        ("tag coverage (papers with at least one tag)", _pct(metrics.get("tag_coverage")),
         f"{papers:,} papers"),
        ("mean tags per paper", f"{metrics.get('mean_tags_per_paper', 0):.2f}",
         f"{papers:,} papers"),
        ("papers with a code link", f"{int(metrics.get('papers_with_code_url', 0)):,}",
         f"{papers:,} papers"),
    ]  # fmt: skip
    quality = metrics.get("quality", {})
    if gold := quality.get("links_gold"):
        on = f"{gold['abstracts']} hand-checked abstracts, {gold['gold_links']} links"
        rows += [
            ("link precision / recall vs gold",
             f"{_pct(gold['precision'])} / {_pct(gold['recall'])}", on),
            ("link kind accuracy / own-code accuracy",
             f"{_pct(gold['kind_accuracy'])} / {_pct(gold['own_code_accuracy'])}", on),
        ]  # fmt: skip
    if (code := quality.get("code_links")) and code.get("papers"):
        rows.append(
            ("code link from the abstract = curated githubRepo", _pct(code["agreement"]),
             f"{code['agree']:,} of {code['papers']:,} papers with both")
        )  # fmt: skip
    if (tags := quality.get("tags")) and tags.get("our_tags_on_those"):
        rows.append(
            ("our tags supported by the paper's hf_keywords", _pct(tags["supported_share"]),
             f"{tags['our_tags_supported']:,} of {tags['our_tags_on_those']:,} tags")
        )  # fmt: skip
    if tags and tags.get("keyword_tags"):
        rows.append(
            ("keyword topics we found", _pct(tags["keyword_tags_found_share"]),
             f"{tags['keyword_tags_found']:,} of {tags['keyword_tags']:,} topics")
        )  # fmt: skip
    return rows


def paper_rows(papers: pl.DataFrame) -> pl.DataFrame:
    """paper_id, title, date, tags, code_url, abstract_raw: the searchable table, compact.

    `date` is the first listing date, else the publication date; `tags` joined by spaces;
    `abstract_raw` (the abstract as listed, TeX kept) for the abstract view; newest first.
    """
    return papers.select(
        "paper_id",
        "title",
        pl.coalesce(pl.col("listing_dates").list.min(), pl.col("published_at").dt.date())
        .cast(pl.String)
        .fill_null("")
        .alias("date"),
        pl.col("tags").list.join(" ").alias("tags"),
        pl.col("code_url").fill_null(""),
        "abstract_raw",
    ).sort(["date", "paper_id"], descending=[True, False])


@dataclass(frozen=True)
class Summary:
    """Everything the page shows, as small frames and rows."""

    dataset: dict[str, Any]
    counts: dict[str, Any]
    stages: pl.DataFrame
    sources: pl.DataFrame
    rejects: pl.DataFrame
    dates: pl.DataFrame
    period: str
    undated_papers: int
    kinds: pl.DataFrame
    hosts: pl.DataFrame
    tags: pl.DataFrame
    growth: pl.DataFrame
    keyphrases: pl.DataFrame
    quality: list[tuple[str, str, str]]
    rows: pl.DataFrame
    fill: pl.DataFrame  # per-source fill rates (metrics.json), papers/fill_rates.py
    pairs: pl.DataFrame  # the closest near-duplicate pairs
    duplicate_kinds: pl.DataFrame  # pairs per kind
    related_methods: pl.DataFrame  # per method: coverage and scores


def summarise(published: Published) -> Summary:
    """The page's content from a published folder (pure: no files, no rendering)."""
    dates, period = papers_per_date(published.papers)
    tags = top_tags(published.tags)
    return Summary(
        dataset={
            **published.manifest["dataset"],
            "schema_version": published.manifest.get("schema_version"),
            "vocabulary_version": published.manifest.get("vocabulary_version"),
        },
        counts=published.manifest["counts"],
        stages=stage_counts(published.manifest),
        sources=source_counts(published),
        rejects=rejects_by_reason(published.rejected),
        dates=dates,
        period=period,
        undated_papers=int((published.papers["listing_dates"].list.len() == 0).sum()),
        kinds=links_by(published.links, "kind"),
        hosts=links_by(published.links, "host", TOP_HOSTS),
        tags=tags,
        growth=tag_growth(published.papers, tags["tag"].head(GROWTH_TAGS).to_list(), period),
        keyphrases=top_keyphrases(published.papers),
        quality=quality_rows(published.metrics),
        rows=paper_rows(published.papers),
        fill=fill_rate_table(published.metrics.get("fill_rates", {})),
        pairs=duplicate_pairs(published.duplicates, published.papers),
        duplicate_kinds=_count(published.duplicates, "kind", "pairs"),
        related_methods=related_methods(published.related, published.papers.height),
    )
