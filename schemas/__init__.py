"""Table schemas: one Pandera definition per stage boundary and per published table."""

from schemas.tables import (
    LINK_KINDS,
    LINK_ORIGINS,
    PUBLISHED,
    SCHEMA_VERSION,
    STAGES,
    Links,
    NormalizedRecords,
    Papers,
    Provenance,
    RawRecords,
    Rejected,
    Tags,
    arrow_schema,
    conform,
    empty_frame,
    polars_schema,
)

__all__ = [
    "LINK_KINDS",
    "LINK_ORIGINS",
    "PUBLISHED",
    "SCHEMA_VERSION",
    "STAGES",
    "Links",
    "NormalizedRecords",
    "Papers",
    "Provenance",
    "RawRecords",
    "Rejected",
    "Tags",
    "arrow_schema",
    "conform",
    "empty_frame",
    "polars_schema",
]
