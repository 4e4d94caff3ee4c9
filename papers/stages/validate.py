"""validate: Pandera checks at a stage boundary; failing rows become rejects, not exceptions.

Pandera's polars backend checks only names and dtypes on a LazyFrame, so every check here runs on
a collected DataFrame. A schema-level failure (a missing column, a wrong dtype) is a bug in the
pipeline, not bad data, and raises; row-level failures are returned with a readable reason.
"""

from __future__ import annotations

import pandera.errors
import pandera.polars as pa
import polars as pl

from schemas import Rejected, polars_schema


class SchemaBugError(RuntimeError):
    """A frame's columns or dtypes do not match its model: the pipeline, not the data, is wrong."""


def row_failures(frame: pl.DataFrame, model: type[pa.DataFrameModel]) -> pl.DataFrame:
    """Validate `frame` against `model`; return (row, reason) for every failing row (sorted).

    Raises SchemaBugError when the failure is not tied to rows (columns or dtypes).
    """
    empty = pl.DataFrame(schema={"row": pl.UInt32, "reason": pl.String})
    try:
        model.validate(frame, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        cases: pl.DataFrame = exc.failure_cases
        table_level = cases.filter(pl.col("index").is_null())
        if table_level.height:
            first = table_level.row(0, named=True)
            msg = (
                f"{model.__name__}: {first['check']} failed for column {first['column']}: "
                f"{first['failure_case']}"
            )
            raise SchemaBugError(msg) from exc
        return (
            cases.select(
                pl.col("index").cast(pl.UInt32).alias("row"),
                pl.format(
                    "{}: {} failed (value: {})",
                    pl.col("column").fill_null("row"),
                    pl.col("check"),
                    pl.col("failure_case").cast(pl.String).fill_null("null").str.head(80),
                ).alias("reason"),
            )
            .group_by("row")
            .agg(pl.col("reason").sort().str.join("; "))
            .sort("row")
        )
    return empty


def split_valid(
    frame: pl.DataFrame, model: type[pa.DataFrameModel]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(rows that pass `model`, failing rows with a `reason` column)."""
    failures = row_failures(frame, model)
    if failures.is_empty():  # the usual case: no copy of the frame through two joins
        return frame, frame.clear().with_columns(pl.lit(None, pl.String).alias("reason"))
    indexed = frame.with_row_index("row")
    bad = indexed.join(failures, on="row", how="inner").drop("row")
    good = indexed.join(failures, on="row", how="anti").drop("row")
    return good, bad


def validate_papers(
    papers: pl.DataFrame,
    provenance: pl.DataFrame,
    raw: pl.DataFrame,
    model: type[pa.DataFrameModel],
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Papers -> (valid papers, their provenance, Rejected rows for every record of a bad paper).

    `raw` maps (source_file, record_index) to the raw record text, so each rejected record keeps
    what came in.
    """
    good, bad = split_valid(papers, model)
    rejected_records = (
        provenance.join(bad.select("paper_id", "reason"), on="paper_id", how="inner")
        .join(raw, on=["source_file", "record_index"], how="left")
        .select(
            "source_file",
            "record_index",
            pl.lit("validate").alias("stage"),
            pl.format("paper {}: {}", "paper_id", "reason").alias("reason"),
            "raw",
        )
        .cast(polars_schema(Rejected))
    )
    kept = provenance.join(good.select("paper_id"), on="paper_id", how="semi")
    return good, kept, rejected_records
