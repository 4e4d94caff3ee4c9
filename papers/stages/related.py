"""related: each paper's k most related papers by cosine similarity, exact and blocked.

Two ways to turn papers into vectors meet one search: sparse TF-IDF over the words of title and
abstract (what arxiv-sanity does; no model, this module) and sentence embeddings
(papers/stages/embed.py). Either way the rows are L2-normalised, so a dot product is the cosine,
and the search multiplies one block of query rows by the whole corpus at a time: memory is
bounded by the block (block x corpus scores), not by corpus x corpus.

Determinism: rows are taken in paper_id order and ties are broken by score descending, then
related_id ascending, over every candidate that ties with the k-th score, so the same papers give
the same table whatever the block size.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
import polars_hash as plh
import scipy.sparse as sp  # type: ignore[import-untyped]

from papers.config import RelatedParams
from papers.stages.keyphrases import STOPWORDS
from schemas import Related, polars_schema

__all__ = ["RELATED_SCHEMA", "RelatedParams", "merge_top_k", "related_tfidf", "text_hashes",
           "tfidf_matrix", "top_k", "update_top_k"]  # fmt: skip

# A word: a letter, then letters, digits or inner hyphens ("state-of-the-art", "gpt-4", "3d" is
# dropped: a bare number or a one-letter token says nothing about a topic).
WORD_PATTERN = r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*"

# The `related` table's columns and dtypes (schemas/similarity.py: Related).
RELATED_SCHEMA = polars_schema(Related)


def related_text() -> pl.Expr:
    """Title and abstract, the text papers are compared on (readable forms)."""
    return pl.concat_str([pl.col("title"), pl.col("abstract").fill_null("")], separator="\n").alias(
        "text"
    )


def text_hashes(frame: pl.DataFrame) -> pl.DataFrame:
    """Adds text (`related_text`), content_hash (its SHA-256: the memo key of the embedding
    vectors) and paper_hash (the text and the authors, which the near-duplicates' pair kinds
    also read: what makes a paper changed for the similarity step) to papers with title,
    abstract and authors."""
    return (
        frame.with_columns(related_text())
        .with_columns(content_hash=plh.col("text").chash.sha2_256())
        .with_columns(
            paper_hash=plh.concat_str(
                [pl.col("content_hash"), pl.col("authors").list.join("\x1f")], separator="\x1e"
            ).chash.sha2_256()
        )
    )


def tfidf_matrix(texts: pl.Series, params: RelatedParams) -> sp.csr_matrix:
    """Rows of L2-normalised TF-IDF weights, one per text, in the order given.

    Weights: sublinear term frequency (1 + ln tf) x smooth idf (ln((1 + n) / (1 + df)) + 1), as
    scikit-learn's TfidfVectorizer(sublinear_tf=True) computes them; words are lower-cased runs of
    WORD_PATTERN outside the keyphrase stop words. Tokens, counts and the vocabulary are polars
    group-bys; only the final assembly is scipy.
    """
    n = len(texts)
    tokens = (
        pl.DataFrame({"text": texts})
        .with_row_index("row")
        .select(pl.col("row"), pl.col("text").str.to_lowercase().str.extract_all(WORD_PATTERN))
        .explode("text")
        .rename({"text": "word"})
        .filter(pl.col("word").is_not_null() & ~pl.col("word").is_in(list(STOPWORDS)))
        .group_by("row", "word")
        .agg(pl.len().alias("tf"))
    )
    vocabulary = (
        tokens.group_by("word")
        .agg(pl.len().alias("df"))
        .filter((pl.col("df") >= params.min_df) & (pl.col("df") <= params.max_df_share * max(n, 1)))
        .sort("word")
        .with_row_index("column")
        .with_columns(
            idf=(((1.0 + n) / (1.0 + pl.col("df"))).log() + 1.0),
        )
    )
    weights = tokens.join(vocabulary, on="word", how="inner").select(
        pl.col("row"),
        pl.col("column"),
        weight=(1.0 + pl.col("tf").cast(pl.Float64).log()) * pl.col("idf"),
    )
    matrix = sp.csr_matrix(
        (
            weights["weight"].to_numpy(),
            (weights["row"].to_numpy(), weights["column"].to_numpy()),
        ),
        shape=(n, vocabulary.height),
        dtype=np.float64,
    )
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    scale = sp.diags(np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0))
    normalised: sp.csr_matrix = (scale @ matrix).astype(np.float32).tocsr()
    normalised.sort_indices()
    return normalised


def top_k(
    vectors: sp.csr_matrix | npt.NDArray[np.float32],
    paper_ids: pl.Series,
    k: int,
    method: str,
    block_mib: int = 256,
    queries: npt.NDArray[np.int64] | None = None,
    candidates: npt.NDArray[np.int64] | None = None,
    column_floor: npt.NDArray[np.float32] | None = None,
    scale: npt.NDArray[np.float32] | None = None,
) -> pl.DataFrame:
    """Each query row's k nearest other rows by dot product, as `related` rows (RELATED_SCHEMA).

    vectors: one L2-normalised row per paper, aligned with paper_ids (sorted, unique). queries:
    the row numbers to search for (all rows when None; the new and changed papers in a daily run).
    candidates: the row numbers a neighbour may be (all rows when None; in a daily run, the old
    papers search the new ones only, see merge_top_k). column_floor (one score per candidate
    column, +inf for none): the same product also yields the candidate papers' rows for every
    query scoring at least their floor (update_top_k: old papers gaining new neighbours). A
    neighbour needs a positive score; a paper with no such neighbour gets fewer than k rows.
    scale (one factor per row): scores are dot products times both rows' factors
    (embed.search_matrix: integer vectors and their inverse norms, an exact cosine).
    """
    n = vectors.shape[0]
    rows = np.arange(n, dtype=np.int64) if queries is None else np.asarray(queries, np.int64)
    columns = np.arange(n, dtype=np.int64) if candidates is None else np.asarray(candidates)
    pool = vectors if candidates is None else vectors[columns]
    # a dense pool is multiplied through its transposed view (no copy: 1.5 GB at 1M x 384)
    transposed = sp.csr_matrix(pool.T) if sp.issparse(pool) else pool.T
    # a column's position by row number, to blank each query's own column
    position = np.full(n, -1, dtype=np.int64)
    position[columns] = np.arange(len(columns))
    keep = min(k, len(columns))
    parts: list[pl.DataFrame] = []
    # the scores and the copies scaling, partition and the comparisons make: ~4 x 4 bytes a score
    block = max(1, block_mib * 2**20 // (16 * max(len(columns), 1)))
    for start in range(0, len(rows), block) if keep > 0 else ():
        query = rows[start : start + block]
        product: Any = vectors[query] @ transposed
        scores = product.toarray() if sp.issparse(product) else np.asarray(product)
        scores = scores.astype(np.float32, copy=False)
        if scale is not None:
            # one factor per pair, s_query x s_column: a product that commutes, so a pair's
            # score has the same bits whichever of the two papers is the query
            scores *= np.multiply.outer(scale[query], scale[columns])
        own = position[query]
        scores[np.nonzero(own >= 0)[0], own[own >= 0]] = -np.inf  # never one's own neighbour
        # The k-th best score per row; every column reaching it is a candidate, so ties at the
        # boundary are settled below by related_id, not by argpartition's order.
        # One comparison pass: the floor keeps zero and negative scores out (rows of a sparse
        # text with fewer than k overlapping papers would otherwise take every zero column).
        width = scores.shape[1]
        kth = np.partition(scores, width - keep, axis=1)[:, width - keep]
        floor = np.maximum(kth, np.finfo(np.float32).tiny)
        hit_row, hit_col = np.nonzero(scores >= floor[:, None])
        parts.append(
            pl.DataFrame(
                {
                    "query": query[hit_row],
                    "neighbour": columns[hit_col],
                    "score": scores[hit_row, hit_col],
                }
            )
        )
        if column_floor is not None:
            back_row, back_col = np.nonzero(scores >= column_floor[None, :])
            parts.append(
                pl.DataFrame(
                    {
                        "query": columns[back_col],
                        "neighbour": query[back_row],
                        "score": scores[back_row, back_col],
                    }
                )
            )
    if not parts:
        return pl.DataFrame(schema=RELATED_SCHEMA)
    hits = (
        pl.concat(parts)
        .sort(["query", "score", "neighbour"], descending=[False, True, False])
        .with_columns(rank=pl.int_range(1, pl.len() + 1).over("query"))
        .filter(pl.col("rank") <= k)
    )
    return (
        pl.DataFrame(
            {
                "paper_id": paper_ids.gather(hits["query"]),
                "rank": hits["rank"],
                "related_id": paper_ids.gather(hits["neighbour"]),
                "score": hits["score"],
                "method": pl.repeat(method, hits.height, eager=True),
            }
        )
        .select(RELATED_SCHEMA.names())
        .cast(RELATED_SCHEMA)
    )


def related_tfidf(papers: pl.DataFrame, params: RelatedParams) -> pl.DataFrame:
    """The `related` rows by TF-IDF cosine for papers (paper_id, title, abstract), all vs all."""
    ordered = papers.select("paper_id", related_text()).sort("paper_id")
    matrix = tfidf_matrix(ordered["text"], params)
    return top_k(matrix, ordered["paper_id"], params.k, "tfidf", params.block_mib)


def merge_top_k(previous: pl.DataFrame, fresh: pl.DataFrame, k: int) -> pl.DataFrame:
    """previous `related` rows updated with a daily run's rows (all RELATED_SCHEMA, one method).

    fresh holds both directions of the daily search: each new or changed paper against every
    paper (top_k with queries=new), and each other paper against the new ones only (top_k with
    queries=old, candidates=new: the same product transposed). A new paper's rows replace its
    list; an old paper's list takes a new paper in when it beats its k-th. Papers deleted or
    changed upstream must be removed from previous first (including as related_id; lists that
    lose a neighbour that way are searched again). The rule is top_k's: score descending, then
    related_id, so the result equals a full search.
    """
    return (
        pl.concat([previous, fresh])
        .unique(["paper_id", "related_id"], keep="last", maintain_order=True)
        .sort(["paper_id", "score", "related_id"], descending=[False, True, False])
        .with_columns(rank=pl.int_range(1, pl.len() + 1).over("paper_id").cast(pl.UInt8))
        .filter(pl.col("rank") <= k)
        .select(RELATED_SCHEMA.names())
    )


def update_top_k(
    vectors: sp.csr_matrix | npt.NDArray[np.float32],
    paper_ids: pl.Series,
    k: int,
    method: str,
    new: npt.NDArray[np.int64],
    previous: pl.DataFrame,
    block_mib: int = 256,
    scale: npt.NDArray[np.float32] | None = None,
) -> pl.DataFrame:
    """The `related` rows of a full search, from previous rows and one new x all product.

    new: row numbers of the new and changed papers; previous: yesterday's rows for this method,
    without the deleted and changed papers (as paper or as related paper). Each new paper gets
    its own list; an old paper takes a new one in when it scores at least its k-th (any positive
    score when its list is short), so a daily run costs N x M products, not 2 x N x M.
    """
    counted = previous.group_by("paper_id").agg(kth=pl.col("score").min(), full=pl.len() >= k)
    floor = (
        pl.DataFrame({"paper_id": paper_ids})
        .join(counted, on="paper_id", how="left", maintain_order="left")
        .select(
            pl.when(pl.col("full"))
            .then(pl.col("kth"))
            .otherwise(float(np.finfo(np.float32).tiny))
            .cast(pl.Float32)
        )
        .to_series()
        .to_numpy()
        .copy()
    )
    floor[np.asarray(new, np.int64)] = np.inf  # new papers' lists come from their own rows
    fresh = top_k(
        vectors, paper_ids, k, method, block_mib, queries=new, column_floor=floor, scale=scale
    )
    return merge_top_k(previous, fresh, k)
