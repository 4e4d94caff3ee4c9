"""The partition step: merge, enrich (links, tags, keyphrase candidates, near-duplicate
signatures) and validate the papers of one paper-id range, with the enrichment kept per paper for
the next build (the memo)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from papers import io
from papers.config import KeyphraseIdf, NeardupParams, Params
from papers.layout import leaf_of
from papers.pipeline.cache import (
    build_entry,
    cache_entry,
    cache_key,
    commit_entry,
    drop_scratch,
    read_meta,
)
from papers.pipeline.figures import partition_figures, record_fill_flags
from papers.pipeline.terms import compiled_terms
from papers.pipeline.version import code_sha256
from papers.stages.keyphrases import keyphrase_candidates, keyphrase_document_counts, keyphrase_top
from papers.stages.links import code_url, extract_links, links_per_paper
from papers.stages.neardup import band_key_columns, band_names, paper_signatures
from papers.stages.normalize import merge_duplicates
from papers.stages.related import text_hashes
from papers.stages.tags import category_matches, tag_papers, tags_per_paper
from papers.stages.validate import split_valid, validate_papers
from schemas import Links, Papers, Tags, polars_schema


def _assemble_papers(
    papers: pl.DataFrame, links_pp: pl.DataFrame, tags_pp: pl.DataFrame
) -> pl.DataFrame:
    empty_list = pl.lit([], pl.List(pl.String))
    return (
        papers.join(links_pp, on="paper_id", how="left")
        .join(tags_pp, on="paper_id", how="left")
        .with_columns(
            pl.col("links").fill_null(pl.lit([], polars_schema(Papers)["links"])),
            pl.col("tags").fill_null(empty_list),
            pl.col("keyphrases").fill_null(empty_list),
        )
        .select(polars_schema(Papers).names())
        .cast(polars_schema(Papers))
    )


def _validate_tables(
    papers: pl.DataFrame,
    provenance: pl.DataFrame,
    raw: pl.DataFrame,
    links: pl.DataFrame,
    tags: pl.DataFrame,
) -> tuple[
    pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame, list[dict[str, Any]]
]:
    """(good papers, their provenance, rejected records, link rows, tag rows, dropped rows)."""
    good, provenance, rejected_records = validate_papers(papers, provenance, raw, Papers)
    kept = good.select("paper_id")
    # Links and tags are derived rows: those of rejected papers go with them; a derived row that
    # fails its own model is dropped and counted (it would be a pipeline bug, not lost input).
    link_rows, bad_links = split_valid(links.join(kept, on="paper_id", how="semi"), Links)
    tag_rows, bad_tags = split_valid(tags.join(kept, on="paper_id", how="semi"), Tags)
    # a bad row is a pipeline bug, rare by construction: a Python list of them is fine
    dropped = [
        {"table": "links", "paper_id": r["paper_id"], "reason": r["reason"]}
        for r in bad_links.iter_rows(named=True)
    ] + [
        {"table": "tags", "paper_id": r["paper_id"], "reason": r["reason"]}
        for r in bad_tags.iter_rows(named=True)
    ]
    if bad_links.height or bad_tags.height:
        # Keep the papers' list columns consistent with the link and tag tables.
        good = good.with_columns(
            pl.col("links").list.eval(
                pl.element().filter(
                    pl.element().struct.field("url").is_in(link_rows["url"].unique().implode())
                )
            )
        )
    return good, provenance, rejected_records, link_rows, tag_rows, dropped


# The enrichment's stages and the memo tables each gives: a stage's rows are kept per paper
# under its own key (_stage_keys), so a rule change re-runs only the stages that read it.
STAGES: dict[str, tuple[str, ...]] = {
    "links": ("links", "links_pp"),
    "tags": ("tags", "tags_pp"),
    "candidates": ("candidates",),
    "signatures": ("signatures",),
}


def _enrich(
    papers: pl.DataFrame,
    params: Params,
    vocabulary: dict[str, Any],
    terms: pl.DataFrame,
    stages: tuple[str, ...] = tuple(STAGES),
) -> dict[str, pl.DataFrame]:
    """The per-paper enrichment of merged papers, the given stages of it: every row it gives
    belongs to one paper and depends on that paper's row alone (so it can be kept per paper,
    see partition_step). The near-duplicate signatures are signed here, per partition with its
    texts in hand, rather than by the global similarity step, which then only joins them
    (papers/pipeline/similarity.py)."""
    out: dict[str, pl.DataFrame] = {}
    if "links" in stages:
        links = extract_links(papers, params.links)
        out["links"] = links
        out["links_pp"] = links_per_paper(links).join(
            code_url(papers, links, params.links), on="paper_id", how="left"
        )
    if "tags" in stages:
        tags = tag_papers(
            papers,
            terms,
            params.tags,
            categories=category_matches(papers, vocabulary),
            category_weight=params.tags.category_weight,
        )
        out["tags"] = tags
        out["tags_pp"] = tags_per_paper(tags)
    if "candidates" in stages:
        out["candidates"] = (
            keyphrase_candidates(papers, terms, params.tags)
            if params.tags.keyphrases_top_k
            else pl.DataFrame(schema={"paper_id": pl.String, "phrase": pl.String, "tf": pl.UInt32})
        )
    if "signatures" in stages:
        out["signatures"] = paper_signatures(papers, params.neardup)
    return out


def _stage_keys(params: Params, vocabulary: dict[str, Any]) -> dict[str, str]:
    """Each enrichment stage's key: what its rows depend on (besides the paper's row)."""
    code = code_sha256()
    tags = params.tags
    return {
        "links": cache_key("links", params.links.model_dump(mode="json"), code),
        "tags": cache_key(
            "tags",
            tags.model_dump(
                mode="json",
                include={"title_weight", "abstract_weight", "min_score", "category_weight"},
            ),
            vocabulary,
            code,
        ),
        "candidates": cache_key(
            "candidates", bool(tags.keyphrases_top_k), tags.keyphrase_max_words, vocabulary, code
        ),
        "signatures": cache_key(
            "signatures",
            params.neardup.model_dump(mode="json", include={"shingle", "num_perm"}),
            code,
        ),
    }


def leaf_stats(frame: pl.DataFrame) -> dict[str, list[int]]:
    """Per layout leaf (layout.leaf_of of paper_id) of a papers, links or tags frame: [rows,
    then a 128-bit multiset hash of its rows] (the sums of two seeded row hashes, each cut in
    32-bit halves so a sum never overflows). Kept in the partition's meta: the publish plans
    its node files from the row counts, and keys a node by its leaves' hashes (summed over the
    partitions holding them), so a node whose rows did not change is known without reading it.
    Row hashes are polars' (stable within a polars version, which the node key includes)."""
    hashes = [frame.hash_rows(seed=seed) for seed in (11, 12)]
    halves = [part for h in hashes for part in (h % 2**32, h // 2**32)]
    sums = [pl.col(f"h{i}").sum() for i in range(4)]
    # summed per paper first, so the leaf (a SHA-256 of the id) is found once per paper, not
    # once per link or tag row: the sums are of integers, the same in any order
    per_paper = (
        frame.select("paper_id")
        .with_columns([half.alias(f"h{i}") for i, half in enumerate(halves)])
        .group_by("paper_id")
        .agg(pl.len().cast(pl.UInt64).alias("rows"), *sums)
    )
    stats = (
        per_paper.with_columns(leaf_of(pl.col("paper_id")))
        .group_by("leaf")
        .agg(pl.col("rows").sum(), *sums)
        .sort("leaf")
    )
    return {
        str(row[0]): [int(v) for v in row[1:]]
        for row in stats.select("leaf", "rows", "h0", "h1", "h2", "h3").iter_rows()
    }


# The signatures go to the similarity step as Arrow IPC: 128 minhashes a paper read back as one
# buffer (1M papers: 0.35 s, against 1.3 s decoding Parquet's repeated column)
_TABLES = ("papers", "links", "tags", "rejected", "candidates", "df")
_FILES = {name: f"{name}.parquet" for name in _TABLES} | {"signatures": "signatures.arrow"}


def similarity_rows(
    papers: pl.DataFrame, signatures: pl.DataFrame, params: NeardupParams, *, paper_hash: bool
) -> pl.DataFrame:
    """A partition's signatures file: its (validated) papers' signatures, their LSH band keys
    (neardup.band_key_columns: the similarity step joins them a band at a time) and pair
    features (neardup.paper_signatures: what the near-duplicates' pair kinds compare) in the
    papers' order, and with a cache (`paper_hash`) the hash the similarity step's cached state
    compares (related.text_hashes). The step then reads no text."""
    rows = papers.select("paper_id").join(
        signatures, on="paper_id", how="left", maintain_order="left"
    )
    if rows["signature"].null_count():  # a paper not signed: the similarity step refuses it
        keys = pl.DataFrame(schema=dict.fromkeys(band_names(params), pl.UInt64))
        keys = keys.clear(rows.height)
    else:
        keys = band_key_columns(rows["signature"].to_numpy(), params)
    return pl.concat([rows, keys], how="horizontal").with_columns(
        text_hashes(papers.select("title", "abstract", "authors"))["paper_hash"]
        if paper_hash
        else pl.lit(None, pl.String).alias("paper_hash")
    )


def _paper_hashes(papers: pl.DataFrame) -> pl.DataFrame:
    # 128 bits of each merged paper's whole row (two seeds): what its enrichment depends on
    return papers.select("paper_id").with_columns(
        papers.hash_rows(seed=1).alias("_h1"),
        papers.hash_rows(seed=2).alias("_h2"),
    )


def _memo_pointer(cache_dir: str, piece_key: str) -> Path:
    key = cache_key("memo", piece_key)
    return Path(cache_dir) / "memo" / key[:2] / f"{key}.json"


def _memo(
    cache_dir: str | None, pieces: list[tuple[str, str]], stage_keys: dict[str, str]
) -> dict[str, Any] | None:
    """The enrichment a previous build kept for a partition sharing one of these pieces: its
    papers' hashes and the tables of the stages whose key is still the same (`stages`).

    Pieces are (piece key, part file) pairs, a key naming a shard's rows in this paper-id range:
    a day's new file adds a piece to a partition and keeps the others, so the previous build of
    the same range is found through any of them. None when there is none, or when every stage's
    params, vocabulary or code changed.
    """
    if not cache_dir:
        return None
    for piece_key, _ in pieces:
        pointer = _memo_pointer(cache_dir, piece_key)
        if not pointer.exists():
            continue
        try:
            found: dict[str, Any] = io.read_json(pointer)
            entry = Path(found["entry"])
            kept = found.get("stage_keys", {})
            stages = tuple(name for name, key in stage_keys.items() if kept.get(name) == key)
            if not stages or not (entry / "meta.json").exists():
                continue
            tables = {
                name: pl.read_parquet(entry / _memo_file(name))
                for stage in stages
                for name in STAGES[stage]
            }
            hashes = pl.read_parquet(entry / "memo-hashes.parquet")
            return {"stages": stages, "hashes": hashes, **tables}
        except (OSError, ValueError, KeyError, TypeError, pl.exceptions.PolarsError):
            continue  # a damaged or half-removed memo costs a re-enrichment, nothing else
    return None


def _memo_file(name: str) -> str:
    # the candidates are the partition's own candidates.parquet (kept whenever a cache is)
    return "candidates.parquet" if name == "candidates" else f"memo-{name}.parquet"


def partition_step(
    pieces: list[tuple[str, str]],
    params: Params,
    vocabulary: dict[str, Any],
    work: str,
    cache_dir: str | None,
    idf: KeyphraseIdf | None = None,
) -> dict[str, Any]:
    """Merge, enrich and validate the papers of one paper-id range.

    Writes the partition's validated papers, links, tags, the records rejected at validation
    (raw text filled in at publish), the keyphrase candidates and their document counts (both
    empty when ranked here, below: the candidates kept with a cache, for the memo); its
    meta records the rows and a row hash per layout leaf of papers, links and tags (`leaves`,
    leaf_stats), from which the publish plans the node files, finds which partitions feed each
    node and which nodes kept their rows. With
    the pinned keyphrase IDF the papers' keyphrases are ranked here, against it alone (the
    partition's papers then depend on its own records and the inputs only); without it they are
    left empty for publish_step, which ranks them against the counts over all partitions.

    With a cache, enrichment is kept per paper and per stage (STAGES): a paper whose merged row
    (all columns, hashed) is the same as in the previous build of this range takes that build's
    links, tags, keyphrase candidates and signatures, and only new or changed papers are
    enriched. A day's listing that re-lists a few older papers then costs a merge and a
    validation of their partitions, not their enrichment. Each stage's rows are kept under the
    key of what it reads (_stage_keys): a rule change (a vocabulary topic, a link rule) re-runs
    the stages that read it over every paper and keeps the others' rows; the meta's `rerun`
    names them. The outputs are the same as without the cache. Pieces in `work` (a build
    without a cache) are deleted once the partition is committed.
    """
    stage_keys = _stage_keys(params, vocabulary)
    key = cache_key(
        "partition",
        # the pieces' keys: the content of this partition's input (shuffle.partition_inputs)
        [k for k, _ in pieces],
        params.model_dump(mode="json", include={"normalize"}),
        # the signatures file's LSH band keys (similarity_rows)
        params.neardup.model_dump(mode="json", include={"bands", "rows"}),
        stage_keys,  # each holds the code's hash, and the vocabulary where the stage reads it
        # the keyphrases ranked here against the pinned IDF: how many, and the IDF
        params.tags.keyphrases_top_k,
        idf.sha256 if idf is not None else None,
    )
    entry, done = cache_entry(cache_dir, work, "partitions", key)
    if not done:
        target = build_entry(entry, cache_dir)
        records = pl.concat([pl.read_parquet(path) for _, path in pieces])
        papers, provenance = merge_duplicates(records, params.normalize)
        filled = record_fill_flags(records)  # what the fill rates need of the records
        del records
        terms = compiled_terms(vocabulary)
        # each paper's key in the memo, which only a cache keeps (zero rows without one)
        hashes = _paper_hashes(papers if cache_dir else papers.head(0))
        prior = _memo(cache_dir, pieces, stage_keys)
        kept_stages = prior["stages"] if prior is not None else ()
        redo = tuple(stage for stage in STAGES if stage not in kept_stages)
        # stages whose rules changed (or with no memo): every paper
        enriched = _enrich(papers, params, vocabulary, terms, redo) if redo else {}
        reused = 0
        if prior is not None:
            # stages whose rules did not: the unchanged papers' rows kept, the others enriched
            same = hashes.join(prior["hashes"], on=["paper_id", "_h1", "_h2"], how="semi")
            if same.height == papers.height == prior["hashes"].height:
                # the same papers, none changed (a rule change elsewhere): the kept stages'
                # rows are the memo's as they are, unsorted (no join, no sort): nothing after
                # reads their order (the tables are written sorted, keyphrases ranked per
                # paper), as the two row orders below and from scratch already show
                enriched |= {name: prior[name] for stage in kept_stages for name in STAGES[stage]}
            else:
                changed = papers.join(same, on="paper_id", how="anti")
                fresh = _enrich(changed, params, vocabulary, terms, kept_stages)
                order = papers.select("paper_id").with_row_index("_order")
                enriched |= {
                    # the kept rows and the new ones in paper order, as one enrichment gives
                    name: pl.concat([prior[name].join(same, on="paper_id", how="semi"), rows])
                    .join(order, on="paper_id", how="left")
                    .sort("_order", maintain_order=True)
                    .drop("_order")
                    for name, rows in fresh.items()
                }
            reused = same.height if not redo else 0
        links, candidates = enriched["links"], enriched["candidates"]
        links_pp = enriched["links_pp"]
        tags = enriched["tags"]
        tags_pp = papers.select("paper_id").join(enriched["tags_pp"], on="paper_id", how="left")
        if idf is not None and params.tags.keyphrases_top_k:
            top = keyphrase_top(candidates, idf.table, idf.n_docs, params.tags)
            tags_pp = tags_pp.join(top, on="paper_id", how="left")
        else:
            tags_pp = tags_pp.with_columns(pl.lit([], pl.List(pl.String)).alias("keyphrases"))
        no_raw = pl.DataFrame(
            schema={"source_file": pl.String, "record_index": pl.Int64, "raw": pl.String}
        )
        good, _, rejected, link_rows, tag_rows, dropped = _validate_tables(
            _assemble_papers(papers, links_pp, tags_pp), provenance, no_raw, links, tags
        )
        # the publish's figures, summed over the partitions (figures.partition_figures)
        figures = partition_figures(good, link_rows, tag_rows, filled, rejected, params, terms)
        io.write_frame(good, target / "papers.parquet")
        io.write_frame(link_rows, target / "links.parquet")
        io.write_frame(tag_rows, target / "tags.parquet")
        io.write_frame(rejected, target / "rejected.parquet")
        signatures = similarity_rows(
            good, enriched["signatures"], params.neardup, paper_hash=bool(cache_dir)
        )
        io.write_frame(signatures, target / _FILES["signatures"])
        # The candidates and their document counts are what the publish ranks keyphrases from
        # without a pinned IDF. Ranked here, it reads neither: the counts are left empty, and
        # the candidates too unless a cache keeps them for the next build's memo (_memo).
        ranked = idf is not None
        kept = candidates if not ranked or cache_dir else candidates.head(0)
        io.write_frame(kept, target / "candidates.parquet")
        counts = keyphrase_document_counts(candidates if not ranked else candidates.head(0))
        io.write_frame(counts, target / "df.parquet")
        if cache_dir:
            io.write_frame(hashes, target / "memo-hashes.parquet")
            for name, frame in enriched.items():
                if name != "candidates":  # candidates.parquet, written above
                    io.write_frame(frame, target / _memo_file(name))
        commit_entry(target, entry, {"papers_in": papers.height, "papers": good.height,
                                "rejected": rejected.height, "dropped": dropped,
                                "enriched": papers.height - reused, "rerun": list(redo),
                                "figures": figures,
                                "leaves": {"papers": leaf_stats(good),
                                           "links": leaf_stats(link_rows),
                                           "tags": leaf_stats(tag_rows)}})  # fmt: skip
        if cache_dir:
            for piece_key, _ in pieces:
                pointer = _memo_pointer(cache_dir, piece_key)
                io.replace_json({"entry": str(entry), "stage_keys": stage_keys}, pointer)
        drop_scratch([path for _, path in pieces], work)  # the publish reads provenance files
    return {
        **read_meta(entry),
        "key": key,
        "cached": done,
        "ranked": idf is not None,
        **{name: str(entry / file) for name, file in _FILES.items()},
    }
