"""The figures metrics.json holds beside the fill rates: counts and coverage of the published
tables, and the enrichment quality (papers evaluate), so DVC shows how they move."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from papers.config import Params
from papers.pipeline.terms import compiled_terms


def quality_figures(
    staging: Path,
    papers: pl.LazyFrame,
    links: pl.LazyFrame,
    params: Params,
    vocabulary: dict[str, Any],
    base: Path | None = None,
) -> dict[str, Any]:
    """The enrichment quality figures (papers evaluate), so DVC shows how they move.

    The tags table is read through the staged manifest's file list (its one file or its node
    files), each file from staging or else from base, the published folder
    (gates.scan_folder_table); without a staged manifest, from staging's file or glob.
    """
    from papers.evaluate import (
        GOLD_LINKS,
        code_link_agreement,
        links_against_gold,
        load_gold,
        tag_quality_of_file,
    )
    from papers.gates import scan_folder_table

    tags = scan_folder_table(staging, "tags", base)
    if tags is None:
        raise FileNotFoundError(f"no tags table in {staging}")
    terms = compiled_terms(vocabulary)
    # Only papers with a curated GitHub repository count in the code-link agreement: mining the
    # text of the others again would cost a second links pass over the whole dataset.
    curated = (
        links.select("paper_id", "url", "curated", "rule")
        .filter(pl.col("curated") & (pl.col("rule") == "github-repo"))
        .collect(engine="streaming")
    )
    text = (
        papers.select("paper_id", "title", "abstract")
        .join(curated.lazy().select("paper_id").unique(), on="paper_id", how="semi")
        .collect()
    )
    quality: dict[str, Any] = {
        # the curated GitHub rows are all of links that code_link_agreement reads
        "code_links": code_link_agreement(text, curated, params),
        "tags": tag_quality_of_file(papers, tags, terms),
    }
    if GOLD_LINKS.exists():
        quality["links_gold"] = links_against_gold(load_gold(GOLD_LINKS), params)
    return quality


def table_figures(
    papers: pl.LazyFrame, links: pl.LazyFrame, counts: dict[str, Any]
) -> dict[str, Any]:
    whole = (
        papers.select(
            pl.len().alias("n"),
            pl.col("code_url").is_not_null().sum().alias("with_code"),
            (pl.col("tags").list.len() > 0).sum().alias("tagged"),
            pl.col("tags").list.len().sum().alias("tags"),
        )
        .collect(engine="streaming")
        .row(0, named=True)
    )
    n = max(int(whole["n"]), 1)
    kinds = links.group_by("kind").len().sort("kind").collect(engine="streaming")
    return {
        "papers": counts["papers"],
        "raw_records": counts["raw_records"],
        "rejected": counts["rejected"],
        "links": counts["links"],
        "tags": counts["tags"],
        "links_by_kind": dict(zip(kinds["kind"].to_list(), kinds["len"].to_list(), strict=True)),
        "papers_with_code_url": int(whole["with_code"]),
        "tag_coverage": round(float(whole["tagged"] or 0) / n, 4),
        "mean_tags_per_paper": round(float(whole["tags"] or 0) / n, 4),
    }
