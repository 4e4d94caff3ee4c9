"""Pandera model of the published `duplicates` table: near-duplicate pairs found by MinHash-LSH."""

from __future__ import annotations

from typing import Final

import pandera.polars as pa
import polars as pl

DUPLICATE_KINDS: Final = ("same_work", "reposted", "boilerplate", "similar_text")


class Duplicates(pa.DataFrameModel):
    """One row per pair (paper_id_a < paper_id_b): estimated Jaccard, kind, evidence."""

    paper_id_a: str
    paper_id_b: str
    jaccard: pl.Float32 = pa.Field(ge=0.0, le=1.0)
    kind: str = pa.Field(isin=DUPLICATE_KINDS)
    evidence: str

    class Config:
        strict = True
        unique = ["paper_id_a", "paper_id_b"]

    @pa.dataframe_check
    @classmethod
    def ordered(cls, data: pa.PolarsData) -> pl.LazyFrame:
        """paper_id_a sorts before paper_id_b."""
        return data.lazyframe.select(pl.col("paper_id_a") < pl.col("paper_id_b"))
