"""Keyphrase agreement: ranked against a pinned IDF table vs against the whole build's counts.

    python bench/keyphrase_agreement.py OUT_DIR [--params params.yaml] [--fractions 1,0.9,0.5]
                                        [--top-k 5]

OUT_DIR is a published build (`papers run`). Every paper's keyphrase candidates are counted
(papers/pipeline/idf.py, as `papers idf refresh` counts them), and each paper's top-k keyphrases
are ranked twice with papers/stages/keyphrases.py: keyphrase_top:

- corpus: against the document frequencies of all the papers (the ranking of a build with no
  pinned IDF: every paper's keyphrases depend on every other paper);
- pinned: against an IDF table refreshed from the oldest fraction of the papers (by first date:
  published_at, else the first listing date; then paper id), df >= 2 kept, as if the corpus had
  grown by the rest since the refresh. Fraction 1 is the first build after a refresh.

For each fraction it prints the share of papers whose top-k lists are the same list, the same
set, their mean Jaccard and mean overlap@k (shared phrases / k), over the papers with at least
one keyphrase.

Then the stability the pinned table buys: of the papers before the newest --growth share, how
many change their keyphrases when that share is added (a day's listing), ranked against the
corpus (every paper may move) and against a pinned table (none can: it is the same table).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from papers.config import (
    TagsParams,
    load_params,
    load_vocabulary,
    resolve_vocabulary,
)
from papers.io import table_path
from papers.pipeline.idf import document_counts
from papers.pipeline.terms import compiled_terms
from papers.stages.keyphrases import (
    keyphrase_candidates,
    keyphrase_idf_rows,
    keyphrase_top,
)


def oldest_first(papers: pl.DataFrame) -> pl.DataFrame:
    """Papers in the order they joined the corpus: first date, then paper id."""
    first = pl.coalesce(pl.col("published_at").dt.date(), pl.col("listing_dates").list.min())
    return papers.sort(first, "paper_id", nulls_last=True)


def agreement(a: pl.DataFrame, b: pl.DataFrame, k: int) -> dict[str, float]:
    """Same list, same set, mean Jaccard, mean overlap@k of two (paper_id, keyphrases) frames."""
    both = a.join(b, on="paper_id", suffix="_b").filter(
        (pl.col("keyphrases").list.len() > 0) | (pl.col("keyphrases_b").list.len() > 0)
    )
    shared = pl.col("keyphrases").list.set_intersection("keyphrases_b").list.len()
    union = pl.col("keyphrases").list.set_union("keyphrases_b").list.len()
    return both.select(
        pl.len().alias("papers"),
        (pl.col("keyphrases") == pl.col("keyphrases_b")).mean().alias("same_list"),
        (shared == union).mean().alias("same_set"),
        (shared / union).mean().alias("jaccard"),
        (shared / k).mean().alias("overlap_at_k"),
    ).row(0, named=True)


def measure(
    papers: pl.DataFrame, tags: TagsParams, vocabulary: dict, fractions: list[float]
) -> list[dict[str, float]]:
    from papers.config import Params

    params = Params(tags=tags)
    papers = oldest_first(papers.select("paper_id", "title", "abstract", "published_at",
                                        "listing_dates"))  # fmt: skip
    candidates = keyphrase_candidates(papers, compiled_terms(vocabulary), tags)
    counts, n_docs = document_counts(papers, params, vocabulary)
    corpus = keyphrase_top(candidates, keyphrase_idf_rows(counts), n_docs, tags)
    rows = []
    for fraction in fractions:
        known = papers.head(round(papers.height * fraction))
        pinned_counts, pinned_docs = document_counts(known, params, vocabulary)
        pinned = keyphrase_top(candidates, keyphrase_idf_rows(pinned_counts), pinned_docs, tags)
        rows.append({"fraction": fraction, "idf_phrases": keyphrase_idf_rows(pinned_counts).height,
                     **agreement(pinned, corpus, tags.keyphrases_top_k)})  # fmt: skip
    return rows


def moved_by_growth(
    papers: pl.DataFrame, tags: TagsParams, vocabulary: dict, growth: float
) -> dict[str, int]:
    """Old papers whose keyphrases change when the newest `growth` share of papers is added."""
    from papers.config import Params

    params = Params(tags=tags)
    papers = oldest_first(papers.select("paper_id", "title", "abstract", "published_at",
                                        "listing_dates"))  # fmt: skip
    old = papers.head(papers.height - round(papers.height * growth))
    candidates = keyphrase_candidates(old, compiled_terms(vocabulary), tags)

    def corpus_ranking(frame: pl.DataFrame) -> pl.DataFrame:
        counts, n_docs = document_counts(frame, params, vocabulary)
        return keyphrase_top(candidates, keyphrase_idf_rows(counts), n_docs, tags)

    def moved(before: pl.DataFrame, after: pl.DataFrame) -> int:
        both = before.join(after, on="paper_id", suffix="_after")
        return both.filter(pl.col("keyphrases") != pl.col("keyphrases_after")).height

    # pinned: a table refreshed from the old papers, each build ranking all of its own papers
    counts, n_docs = document_counts(old, params, vocabulary)
    table = keyphrase_idf_rows(counts)
    every = keyphrase_candidates(papers, compiled_terms(vocabulary), tags)
    return {"old_papers": old.height, "added": papers.height - old.height,
            "moved_corpus": moved(corpus_ranking(old), corpus_ranking(papers)),
            "moved_pinned": moved(keyphrase_top(candidates, table, n_docs, tags),
                                  keyphrase_top(every, table, n_docs, tags))}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--fractions", default="1,0.9,0.5")
    parser.add_argument("--top-k", type=int, default=None)
    parser.add_argument("--growth", type=float, default=0.01)
    args = parser.parse_args(argv)
    params = load_params(args.params)
    vocabulary = load_vocabulary(resolve_vocabulary(params, args.params))
    tags = params.tags
    if args.top_k is not None:
        tags = tags.model_copy(update={"keyphrases_top_k": args.top_k})
    path = table_path(args.out_dir, "papers")
    if path is None:
        parser.error(f"no papers table in {args.out_dir}")
    papers = pl.read_parquet(path)
    rows = measure(papers, tags, vocabulary, [float(f) for f in args.fractions.split(",")])
    k = tags.keyphrases_top_k
    print(f"{papers.height} papers, top-{k} keyphrases: pinned IDF vs the build's own counts")
    print(f"{'IDF from oldest':>16} {'phrases':>8} {'same list':>10} {'same set':>9} "
          f"{'Jaccard':>8} {'overlap@' + str(k):>10}")  # fmt: skip
    for r in rows:
        print(f"{r['fraction']:>15.0%} {r['idf_phrases']:>8} {r['same_list']:>10.3f} "
              f"{r['same_set']:>9.3f} {r['jaccard']:>8.3f} {r['overlap_at_k']:>10.3f}")  # fmt: skip
    growth = moved_by_growth(papers, tags, vocabulary, args.growth)
    print(f"adding the newest {growth['added']} papers ({args.growth:.0%}) changes the keyphrases "
          f"of {growth['moved_corpus']} of {growth['old_papers']} older papers ranked against the "
          f"corpus, {growth['moved_pinned']} against a pinned table")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
