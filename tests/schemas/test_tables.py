"""schemas: one definition per table gives both the Pandera model and the pyarrow schema."""

from __future__ import annotations

import pandera.errors
import pandera.polars as pa
import polars as pl
import pyarrow as arrow
import pytest

from schemas import (
    PUBLISHED,
    Links,
    Papers,
    Rejected,
    Tags,
    arrow_schema,
    empty_frame,
    polars_schema,
)


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_arrow_schema_matches_model(name: str) -> None:
    model, sort_by = PUBLISHED[name]
    schema = arrow_schema(model)
    assert schema.names == list(polars_schema(model).names())
    assert set(sort_by) <= set(schema.names)
    # widely readable types only: no large_string / string_view / large_list
    for field in schema:
        assert not arrow.types.is_large_string(field.type)
        assert not arrow.types.is_large_list(field.type)
    # nullability follows the model
    nullable = {n for n, c in model.to_schema().columns.items() if c.nullable}
    assert {f.name for f in schema if f.nullable} == nullable


def test_empty_frames_round_trip_through_arrow() -> None:
    for model, _ in PUBLISHED.values():
        table = empty_frame(model).to_arrow().cast(arrow_schema(model))
        assert table.schema.names == arrow_schema(model).names


def bad(model: type[pa.DataFrameModel], frame: pl.DataFrame) -> None:
    with pytest.raises(pandera.errors.SchemaErrors):
        model.validate(frame, lazy=True)


def test_bad_links_fail() -> None:
    row = {"paper_id": "p", "url": "https://github.com/a/b", "url_raw": "x", "kind": "code",
           "host": "github.com", "origin": "abstract", "rule": "r", "start": 0, "end": 5,
           "curated": False}  # fmt: skip
    good = pl.DataFrame([row], schema=polars_schema(Links))
    Links.validate(good)
    bad(Links, good.with_columns(pl.lit("weird").alias("kind")))
    bad(Links, good.with_columns(pl.lit("ftp://x").alias("url")))
    bad(Links, good.with_columns(pl.lit("not a url").alias("url")))
    bad(Links, pl.concat([good, good]))  # (paper_id, url) must be unique
    bad(Links, good.with_columns(pl.lit(-1, pl.Int64).alias("start")))
    Links.validate(
        good.with_columns(
            pl.lit(None, pl.Int64).alias("start"), pl.lit(None, pl.Int64).alias("end")
        )
    )  # curated: no span
    bad(Links, good.with_columns(pl.lit("x").alias("extra")))  # strict: no unknown columns


def test_bad_tags_and_rejects_fail() -> None:
    tags = pl.DataFrame({"paper_id": ["p"], "tag": ["t"], "score": [0.0], "evidence": ["e"]})
    bad(Tags, tags)
    rejects = pl.DataFrame(
        {
            "source_file": ["f"],
            "record_index": [0],
            "stage": ["lunch"],
            "reason": ["r"],
            "raw": [None],
        },
        schema=polars_schema(Rejected),
    )
    bad(Rejected, rejects)


def test_bad_papers_fail() -> None:
    frame = empty_frame(Papers)
    wrong_dtype = frame.with_columns(pl.col("authors").cast(pl.List(pl.Int64)))
    with pytest.raises((pandera.errors.SchemaError, pandera.errors.SchemaErrors)):
        Papers.validate(wrong_dtype, lazy=True)
