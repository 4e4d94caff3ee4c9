"""Pandera models of the published similarity tables: `duplicates` (near-duplicate pairs found by
MinHash-LSH) and `related` (each paper's k most related papers, per method)."""

from __future__ import annotations

from typing import Final

import pandera.polars as pa
import polars as pl

DUPLICATE_KINDS: Final = ("same_work", "reposted", "boilerplate", "similar_text")
RELATED_METHODS: Final = ("embeddings", "tfidf")


class Duplicates(pa.DataFrameModel):
    """Published: one row per near-duplicate pair (paper_id_a < paper_id_b)."""

    paper_id_a: str = pa.Field(description="the pair's first paper (papers.paper_id), sorts first")
    paper_id_b: str = pa.Field(description="the pair's second paper (papers.paper_id)")
    jaccard: pl.Float32 = pa.Field(
        ge=0.0,
        le=1.0,
        description="estimated Jaccard of their title + abstract word 3-shingles (MinHash)",
    )
    kind: str = pa.Field(
        isin=DUPLICATE_KINDS,
        description="same_work (one work, two ids), reposted (same authors, new title), "
        "boilerplate (a shared template abstract) or similar_text",
    )
    evidence: str = pa.Field(
        description="what the kind rests on: jaccard, title, abstract, authors"
    )

    class Config:
        strict = True
        unique = ["paper_id_a", "paper_id_b"]

    @pa.dataframe_check
    @classmethod
    def ordered(cls, data: pa.PolarsData) -> pl.LazyFrame:
        """paper_id_a sorts before paper_id_b."""
        return data.lazyframe.select(pl.col("paper_id_a") < pl.col("paper_id_b"))


class Related(pa.DataFrameModel):
    """Published: one row per (paper, method, rank): the paper's most related papers."""

    paper_id: str = pa.Field(description="the paper (papers.paper_id)")
    method: str = pa.Field(
        isin=RELATED_METHODS,
        description="embeddings (all-MiniLM-L6-v2 cosine) or tfidf (TF-IDF cosine)",
    )
    rank: pl.UInt8 = pa.Field(ge=1, description="1 = most related; ties broken by related_id")
    related_id: str = pa.Field(description="the related paper (papers.paper_id)")
    score: pl.Float32 = pa.Field(gt=0.0, le=1.0001, description="cosine similarity")

    class Config:
        strict = True
        unique = ["paper_id", "method", "rank"]

    @pa.dataframe_check
    @classmethod
    def not_itself(cls, data: pa.PolarsData) -> pl.LazyFrame:
        """A paper is never its own related paper."""
        return data.lazyframe.select(pl.col("paper_id") != pl.col("related_id"))
