"""The figures metrics.json holds beside the fill rates: counts and coverage of the published
tables, and the enrichment quality (papers evaluate), so DVC shows how they move."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
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


# --------------------------------------------------------------------------- per-partition sums
#
# Every figure of metrics.json, the plots and the card is a sum over papers (or over records)
# of numbers that depend on one paper's rows alone, in papers, links and tags. A partition holds
# all the rows of its papers in the three tables and the normalised records they merge (each
# paper and each record is in exactly one partition), so each partition's sums are computed once,
# when it is built, kept in its cache meta (`figures`) and added up at publish: a day's build
# reads no table for them. Distinct counts stay exact because papers do not cross partitions.
# Ratios are formed from the sums with the same arithmetic as the whole-table functions above
# (tests/pipeline/test_figures_sums.py checks the results equal theirs).

FIGURES_VERSION = 1
EXAMPLES = 3  # card.EXAMPLES: the example rows are the first papers by paper_id


def record_fill_flags(records: pl.DataFrame) -> pl.DataFrame:
    """Of normalised records (before the merge): source, source_file, record_index and whether
    each fill_rates.RECORD_COLUMNS column is filled (a small frame, kept while the partition's
    papers are validated)."""
    from papers.fill_rates import RECORD_COLUMNS, filled

    schema = records.schema
    return records.select(
        "source",
        "source_file",
        "record_index",
        *[filled(c, schema[c]).alias(name) for name, c in RECORD_COLUMNS.items()],
    )


def partition_figures(
    papers: pl.DataFrame,
    links: pl.DataFrame,
    tags: pl.DataFrame,
    records: pl.DataFrame,
    rejected: pl.DataFrame,
    params: Params,
    terms: pl.DataFrame,
) -> dict[str, Any]:
    """The sums of one partition (JSON): its published papers, links and tags rows, and the
    normalised records it merged (`records`: record_fill_flags), less those `rejected` at
    validation (not in provenance)."""
    from papers.evaluate import code_link_agreement
    from papers.fill_rates import RECORD_COLUMNS, filled
    from papers.history import papers_by_date
    from papers.stages.tags import agreement, keyword_tags

    with_code = pl.col("code_url").is_not_null()
    tagged = pl.col("tags").list.len() > 0
    schema = papers.schema
    on_papers = {
        name: filled(name, schema[name]) for name in RECORD_COLUMNS if name != "curated_links"
    }
    on_papers["curated_links"] = (
        pl.col("links")
        .list.eval(pl.element().struct.field("origin") == "curated")
        .list.any()
        .fill_null(False)
    )
    row = papers.select(
        pl.len().alias("papers"),
        with_code.sum().alias("with_code"),
        tagged.sum().alias("tagged"),
        pl.col("tags").list.len().sum().alias("tag_count"),
        (pl.col("authors").list.len() == 0).sum().alias("no_authors"),
        (pl.col("listing_dates").list.len() == 0).sum().alias("no_dates"),
        pl.col("arxiv_id").is_null().sum().alias("no_id"),
        *[expr.sum().alias(f"fill:{name}") for name, expr in on_papers.items()],
    ).row(0, named=True)
    sums = {k: int(v or 0) for k, v in row.items()}
    kinds = links.group_by("kind").len().sort("kind")
    # fill rates by source: the records in provenance (not rejected at validation)
    keys = ["source_file", "record_index"]
    kept = records.join(rejected.select(keys), on=keys, how="anti") if rejected.height else records
    by_source = (
        kept.group_by("source")
        .agg(pl.len().alias("records"), *[pl.col(name).sum() for name in RECORD_COLUMNS])
        .sort("source")
    )
    # tag quality: agreement on the papers with keyword tags
    kw = keyword_tags(
        papers.select("paper_id", "hf_keywords").filter(pl.col("hf_keywords").list.len() > 0),
        terms,
    )
    theirs = tags.select("paper_id", "tag").join(
        kw.select("paper_id").unique(), on="paper_id", how="semi"
    )
    agreed = agreement(theirs, kw)
    curated = links.select("paper_id", "url", "curated", "rule").filter(
        pl.col("curated") & (pl.col("rule") == "github-repo")
    )
    text = papers.select("paper_id", "title", "abstract").join(
        curated.select("paper_id").unique(), on="paper_id", how="semi"
    )
    code_links = code_link_agreement(text, curated, params)
    dates = papers_by_date(papers)
    examples = papers.sort("paper_id").head(EXAMPLES)
    examples = examples.select("paper_id", "title", "tags", "code_url")
    return {
        "version": FIGURES_VERSION,
        "sums": sums,
        "links_by_kind": dict(zip(kinds["kind"].to_list(), kinds["len"].to_list(), strict=True)),
        "by_source": {r.pop("source"): r for r in by_source.iter_rows(named=True)},
        "tags": {
            "papers_with_mapped_keywords": int(agreed["papers_with_mapped_keywords"]),
            "covered": int(agreed["papers_with_mapped_keywords_and_our_tags"]),
            "ours": int(agreed["our_tags_on_those"]),
            "supported": int(agreed["our_tags_supported"]),
            "keyword_tags": int(agreed["keyword_tags"]),
            "found": int(agreed["keyword_tags_found"]),
            "rows": tags.height,
            "papers": tags.get_column("paper_id").n_unique(),
        },
        "code_links": {"papers": int(code_links["papers"]), "agree": int(code_links["agree"])},
        "by_date": [list(r) for r in dates.iter_rows()],
        "examples": [list(r) for r in examples.iter_rows()],
    }


@dataclass(frozen=True)
class Summed:
    """The partitions' figures added up: what metrics.json, the plots and the card need."""

    sums: dict[str, int]
    links_by_kind: dict[str, int]
    by_source: dict[str, dict[str, int]]
    tags: dict[str, int]
    code_links: dict[str, int]
    by_date: pl.DataFrame  # history.papers_by_date's frame
    examples: pl.DataFrame  # paper_id, title, tags, code_url: the first EXAMPLES by paper_id


def sum_figures(parts: Iterable[Mapping[str, Any]]) -> Summed | None:
    """The partitions' `figures` added up; None when one has none (a partition cached by code
    that did not keep them: the publish then scans the tables as before)."""
    sums: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    sources: dict[str, Counter[str]] = {}
    tags: Counter[str] = Counter()
    code: Counter[str] = Counter()
    dates: dict[str, list[int]] = {}
    examples: list[list[Any]] = []
    for part in parts:
        found = part.get("figures")
        if not isinstance(found, Mapping) or found.get("version") != FIGURES_VERSION:
            return None
        sums.update(found["sums"])
        kinds.update(found["links_by_kind"])
        for source, values in found["by_source"].items():
            sources.setdefault(source, Counter()).update(values)
        tags.update(found["tags"])
        code.update(found["code_links"])
        for date, *values in found["by_date"]:
            held = dates.setdefault(date, [0, 0, 0])
            dates[date] = [a + int(b) for a, b in zip(held, values, strict=True)]
        examples = sorted([*examples, *found["examples"]], key=lambda r: str(r[0]))[:EXAMPLES]
    by_date = pl.DataFrame(
        [[d, *v] for d, v in dates.items()],
        schema={"listing_date": pl.String, "papers": pl.Int64, "with_code": pl.Int64,
                "tagged": pl.Int64},
        orient="row",
    ).sort("listing_date")  # fmt: skip
    frame = pl.DataFrame(
        examples,
        schema={"paper_id": pl.String, "title": pl.String, "tags": pl.List(pl.String),
                "code_url": pl.String},
        orient="row",
    )  # fmt: skip
    return Summed(
        sums={k: int(v) for k, v in sums.items()},
        links_by_kind={k: int(kinds[k]) for k in sorted(kinds)},
        by_source={s: {k: int(v) for k, v in sources[s].items()} for s in sorted(sources)},
        tags={k: int(v) for k, v in tags.items()},
        code_links={k: int(v) for k, v in code.items()},
        by_date=by_date,
        examples=frame,
    )


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def _mean(filled: int, rows: int) -> float | None:
    """polars' `mean().round(4)` of a boolean column with `filled` true values in `rows`."""
    if not rows:
        return None
    value = pl.select((pl.lit(filled, pl.Float64) / pl.lit(rows, pl.Float64)).round(4)).item()
    return float(value)


def summed_table_figures(summed: Summed, counts: dict[str, Any]) -> dict[str, Any]:
    """table_figures from the sums."""
    s = summed.sums
    n = max(s.get("papers", 0), 1)
    return {
        "papers": counts["papers"],
        "raw_records": counts["raw_records"],
        "rejected": counts["rejected"],
        "links": counts["links"],
        "tags": counts["tags"],
        "links_by_kind": dict(summed.links_by_kind),
        "papers_with_code_url": s.get("with_code", 0),
        "tag_coverage": round(float(s.get("tagged", 0)) / n, 4),
        "mean_tags_per_paper": round(float(s.get("tag_count", 0)) / n, 4),
    }


def summed_quality_figures(summed: Summed, params: Params) -> dict[str, Any]:
    """quality_figures from the sums (the gold links figures do not depend on the data)."""
    from papers.evaluate import GOLD_LINKS, links_against_gold, load_gold
    from papers.stages.tags import agreement_figures

    t, s = summed.tags, summed.sums
    n_papers, covered = t.get("papers_with_mapped_keywords", 0), t.get("covered", 0)
    ours, supported = t.get("ours", 0), t.get("supported", 0)
    n_ref, found = t.get("keyword_tags", 0), t.get("found", 0)
    tags = {
        "papers": s.get("papers", 0),
        "coverage": _ratio(s.get("tagged", 0), s.get("papers", 0)),
        **agreement_figures(
            n_papers, covered, ours, supported, n_ref, found, t.get("rows", 0), t.get("papers", 0)
        ),
    }
    pool, agree = summed.code_links.get("papers", 0), summed.code_links.get("agree", 0)
    quality: dict[str, Any] = {
        "code_links": {"papers": pool, "agree": agree, "agreement": _ratio(agree, pool)},
        "tags": tags,
    }
    if GOLD_LINKS.exists():
        quality["links_gold"] = links_against_gold(load_gold(GOLD_LINKS), params)
    return quality


def summed_fill_rates(summed: Summed) -> dict[str, Any]:
    """fill_rates from the sums."""
    from papers.fill_rates import PAPERS_ROW, RECORD_COLUMNS

    by_source = {
        source: {"records": v["records"], **{c: _mean(v[c], v["records"]) for c in RECORD_COLUMNS}}
        for source, v in summed.by_source.items()
    }
    rows = summed.sums.get("papers", 0)
    papers = {"rows": rows, **{c: _mean(summed.sums[f"fill:{c}"], rows) for c in RECORD_COLUMNS}}
    return {"by_source": by_source, PAPERS_ROW: papers}


def card_figures(summed: Summed) -> dict[str, Any]:
    """What the card reads of the papers table (card.render_card's `summary`)."""
    s = summed.sums
    return {
        "total": s.get("papers", 0),
        "no_authors": s.get("no_authors", 0),
        "no_dates": s.get("no_dates", 0),
        "no_id": s.get("no_id", 0),
        "examples": summed.examples,
    }
