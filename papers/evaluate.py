"""Measured enrichment quality: links against a hand-checked gold set, code links and tags against
the curated fields real sources carry (which the pipeline itself never copies)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from papers import io
from papers.config import Params
from papers.errors import PapersError
from papers.stages.latex import to_unicode_series
from papers.stages.links import code_url, extract_links
from papers.stages.tags import agreement, keyword_tags

GOLD_LINKS = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "links" / "gold.jsonl"
# near-duplicate pairs judged by hand (paper_id_a, paper_id_b, verdict: right/wrong, note)
CHECKED_PAIRS = GOLD_LINKS.parent.parent / "neardup" / "checked.csv"


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def load_gold(path: Path) -> pl.DataFrame:
    """The gold set: one row per abstract with its hand-checked links and own code link."""
    rows = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
    return pl.DataFrame(
        {
            "paper_id": [str(r["id"]) for r in rows],
            "title_raw": [r.get("title") or "" for r in rows],
            "abstract_raw": [r.get("abstract") or "" for r in rows],
            "gold": [[(link["url"], link["kind"]) for link in r.get("links", [])] for r in rows],
            "own_code": [r.get("own_code") for r in rows],
        },
        schema_overrides={"gold": pl.List(pl.List(pl.String))},
    )


def links_against_gold(gold: pl.DataFrame, params: Params) -> dict[str, Any]:
    """Precision and recall of (abstract, canonical url) pairs, kind accuracy, own-code accuracy.

    The gold text is normalised exactly as the pipeline normalises it before extraction.
    """
    # to_unicode_series: the same values as the to_unicode expression, rewriting only the rows
    # that need it (the gold set's 0.57 s was the largest fixed cost of a day's publish; 0.10 s)
    papers = pl.DataFrame(
        {
            "paper_id": gold["paper_id"],
            "title": to_unicode_series(gold["title_raw"]),
            "abstract": to_unicode_series(gold["abstract_raw"]),
        }
    )
    mined = extract_links(papers, params.links)
    predicted = mined.select("paper_id", "url", "kind")
    truth = (
        gold.select("paper_id", "gold")
        .explode("gold")
        .drop_nulls("gold")
        .select(
            "paper_id",
            pl.col("gold").list.get(0).alias("url"),
            pl.col("gold").list.get(1).alias("gold_kind"),
        )
    )
    hits = predicted.join(truth, on=["paper_id", "url"], how="inner")
    chosen = code_url(papers, mined, params.links)
    own = gold.select("paper_id", "own_code").join(chosen, on="paper_id", how="left")
    own_right = own.filter(
        pl.col("own_code").fill_null("").str.to_lowercase()
        == pl.col("code_url").fill_null("").str.to_lowercase()
    ).height
    return {
        "abstracts": gold.height,
        "gold_links": truth.height,
        "predicted_links": predicted.height,
        "precision": _ratio(hits.height, predicted.height),
        "recall": _ratio(hits.height, truth.height),
        "kind_accuracy": _ratio(
            hits.filter(pl.col("kind") == pl.col("gold_kind")).height, hits.height
        ),
        "own_code_accuracy": _ratio(own_right, own.height),
    }


def code_link_agreement(
    papers: pl.DataFrame, links: pl.DataFrame, params: Params
) -> dict[str, Any]:
    """Does the code link chosen from the abstract alone match the curated githubRepo?

    Counted over papers that have a curated GitHub repository and whose title or abstract names a
    GitHub repository; compared canonically and case-insensitively (GitHub names are).
    """
    curated = links.filter(pl.col("curated") & (pl.col("rule") == "github-repo")).select(
        "paper_id", pl.col("url").str.to_lowercase().alias("curated_repo")
    )
    curated = curated.group_by("paper_id").agg(pl.col("curated_repo"))
    text_only = papers.select("paper_id", "title", "abstract")
    mined = extract_links(text_only, params.links)
    with_repo = mined.filter(pl.col("rule") == "github-repo").select("paper_id").unique()
    chosen = code_url(text_only, mined, params.links)
    pool = curated.join(with_repo, on="paper_id", how="semi").join(
        chosen, on="paper_id", how="left"
    )
    agree = pool.filter(
        pl.col("curated_repo").list.contains(pl.col("code_url").fill_null("").str.to_lowercase())
    ).height
    return {"papers": pool.height, "agree": agree, "agreement": _ratio(agree, pool.height)}


def tag_quality(papers: pl.DataFrame, tags: pl.DataFrame, terms: pl.DataFrame) -> dict[str, Any]:
    """Tag coverage, and agreement of our tags with the papers' hf_keywords mapped to topics."""
    coverage = _ratio(int((papers["tags"].list.len() > 0).sum()), papers.height)
    kw = keyword_tags(papers.select("paper_id", "hf_keywords"), terms)
    return {"papers": papers.height, "coverage": coverage, **agreement(tags, kw)}


def tag_quality_of_file(
    papers: pl.DataFrame | pl.LazyFrame, tags_path: Path | pl.LazyFrame, terms: pl.DataFrame
) -> dict[str, Any]:
    """tag_quality(papers, <the tags table in tags_path>, terms) without loading either table.

    tags_path: the tags file, a glob of its node files, or a scan of them.
    papers: the papers table or a scan of it; only its paper count, tag-list lengths and the
    papers with hf_keywords are read. Agreement is counted on the papers with keyword tags only,
    so only their tag rows are read; the two whole-table figures come from the table's invariant
    (one row per paper and tag, schemas.Tags) and a streamed distinct count. At 1M records
    loading the tags table cost 1.2 GB.
    """
    lazy = papers.lazy()
    whole_papers = lazy.select(
        pl.len().alias("papers"), (pl.col("tags").list.len() > 0).sum().alias("tagged")
    ).collect(engine="streaming")
    n_papers = int(whole_papers["papers"].item())
    coverage = _ratio(int(whole_papers["tagged"].item()), n_papers)
    # papers without keywords map to no topic: only the others are read
    with_keywords = (
        lazy.select("paper_id", "hf_keywords")
        .filter(pl.col("hf_keywords").list.len() > 0)
        .collect(engine="streaming")
    )
    kw = keyword_tags(with_keywords, terms)
    tags = tags_path if isinstance(tags_path, pl.LazyFrame) else pl.scan_parquet(tags_path)
    scan = tags.select("paper_id", "tag")
    theirs = scan.join(kw.lazy().select("paper_id").unique(), on="paper_id", how="semi")
    figures = agreement(theirs.collect(), kw)
    whole = scan.select(
        pl.len().alias("rows"), pl.col("paper_id").n_unique().alias("papers")
    ).collect(engine="streaming")
    figures["our_tags_all"] = int(whole["rows"].item())
    figures["papers_with_our_tags"] = int(whole["papers"].item())
    return {"papers": n_papers, "coverage": coverage, **figures}


def related_quality(
    papers: pl.DataFrame, related: pl.DataFrame, duplicates: pl.DataFrame, top: int = 5
) -> dict[str, Any]:
    """Per method: the share of top-`top` neighbours with the paper's primary arXiv category
    (the first listed), against chance (a random other categorised paper), over the papers that
    have one; and recall@k of the near-duplicate pairs (one work under two ids or in two
    versions): the share of pair ends that list the other end among their related papers."""
    primary = papers.select(
        "paper_id", pl.col("categories").list.first().alias("category")
    ).drop_nulls("category")
    n = primary.height
    sizes = primary.group_by("category").len()["len"].cast(pl.Float64)
    chance = float(((sizes * (sizes - 1)).sum()) / (n * (n - 1))) if n > 1 else None
    ends = pl.concat(
        [
            duplicates.select(pl.col("paper_id_a").alias("paper_id"),
                              pl.col("paper_id_b").alias("related_id")),
            duplicates.select(pl.col("paper_id_b").alias("paper_id"),
                              pl.col("paper_id_a").alias("related_id")),
        ]
    )  # fmt: skip
    methods: dict[str, Any] = {}
    for method in sorted(set(related["method"].to_list())):
        rows = related.filter(pl.col("method") == method)
        near = (
            rows.filter(pl.col("rank") <= top)
            .join(primary, on="paper_id")
            .join(primary.rename({"paper_id": "related_id", "category": "other"}), on="related_id")
        )
        same = int((near["category"] == near["other"]).sum())
        found = ends.join(rows, on=["paper_id", "related_id"], how="semi").height
        methods[method] = {
            "same_category_top": _ratio(same, near.height),
            "neighbours_judged": near.height,
            "duplicate_recall_at_k": _ratio(found, ends.height),
            "k": int(rows["rank"].cast(pl.Int64).max() or 0),  # type: ignore[arg-type]
        }
    return {
        "top": top,
        "papers_with_category": n,
        "chance": round(chance, 4) if chance is not None else None,
        "duplicate_pair_ends": ends.height,
        "methods": methods,
    }


def load_checked_pairs(path: Path) -> pl.DataFrame:
    """Hand-judged near-duplicate pairs (CSV: paper_id_a, paper_id_b, verdict, note)."""
    checked = pl.read_csv(path, schema_overrides={"paper_id_a": pl.String, "paper_id_b": pl.String})
    bad = checked.filter(~pl.col("verdict").is_in(["right", "wrong"]))
    if bad.height:
        raise PapersError(f"{path}: verdict must be right or wrong, got {bad['verdict'][0]!r}")
    return checked


def duplicate_precision(duplicates: pl.DataFrame, checked: pl.DataFrame) -> dict[str, Any]:
    """Precision of the flagged pairs on the hand-checked sample: of the flagged pairs that were
    judged, the share judged right; and how many flagged pairs the sample does not cover."""
    judged = duplicates.join(checked, on=["paper_id_a", "paper_id_b"], how="inner")
    right = int((judged["verdict"] == "right").sum())
    return {
        "flagged": duplicates.height,
        "judged": judged.height,
        "right": right,
        "precision": _ratio(right, judged.height),
        "sample": checked.height,
        "by_kind": {
            str(kind): int(n)
            for kind, n in duplicates.group_by("kind").len().sort("kind").iter_rows()
        },
    }


def similarity_figures(
    papers: pl.LazyFrame,
    related: pl.LazyFrame,
    duplicates: pl.LazyFrame,
    checked_path: Path | None = CHECKED_PAIRS,
) -> dict[str, Any]:
    """The related-paper and near-duplicate figures of metrics.json and `papers evaluate`,
    reading only the columns they need (the published tables, lazily)."""
    pairs = duplicates.select("paper_id_a", "paper_id_b", "kind").collect()
    result: dict[str, Any] = {
        "related": related_quality(
            papers.select("paper_id", "categories").collect(),
            related.select("paper_id", "method", "rank", "related_id").collect(),
            pairs,
        )
    }
    if checked_path is not None and checked_path.exists():
        result["duplicates"] = duplicate_precision(pairs, load_checked_pairs(checked_path))
    return result


def evaluate(
    out_dir: Path, params: Params, terms: pl.DataFrame, gold_path: Path | None
) -> dict[str, Any]:
    """Every figure, for a published folder and (when given) the gold link set.

    Each table is its one file or the glob of its directory's node files (io.table_path).
    """

    def read(name: str) -> pl.DataFrame:
        path = io.table_path(out_dir, name)
        if path is None:
            raise PapersError(f"no published {name} table in {out_dir} (run `papers run` first)")
        return pl.read_parquet(path)

    papers, links, tags = read("papers"), read("links"), read("tags")
    result: dict[str, Any] = {
        "code_links": code_link_agreement(papers, links, params),
        "tags": tag_quality(papers, tags, terms),
    }
    if io.table_path(out_dir, "related") is not None:
        duplicates = read("duplicates")
        result["related"] = related_quality(papers, read("related"), duplicates)
        if CHECKED_PAIRS.exists():
            result["duplicates"] = duplicate_precision(
                duplicates, load_checked_pairs(CHECKED_PAIRS)
            )
    if gold_path is not None and gold_path.exists():
        result["links_gold"] = links_against_gold(load_gold(gold_path), params)
    return result
