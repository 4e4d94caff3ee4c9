"""What the three arXiv readers (snapshot, OAI-PMH, Atom) share: raw-text caps, rejects, dates."""

from __future__ import annotations

from typing import Final

import polars as pl

from papers.readers.generic import file_reject
from schemas import RawRecords, Rejected, conform, empty_frame

# Longest raw text kept per record or file-level reject.
RAW_CHARS: Final = 2000
# How much of a file papers.readers reads to sniff; the readers re-check their input the same way.
SNIFF_BYTES: Final = 4096
# What may come before a file's first token: a UTF-8 BOM and whitespace.
PADDING: Final = b"\xef\xbb\xbf \t\r\n"
GZIP_MAGIC: Final = b"\x1f\x8b"


def head_text(data: bytes) -> str:
    """The first RAW_CHARS characters of some bytes (UTF-8, undecodable bytes replaced)."""
    return data[: RAW_CHARS * 4].decode("utf-8", errors="replace")[:RAW_CHARS]


def record_rejects(source_file: str, rows: list[tuple[int, str, str]]) -> pl.DataFrame:
    """Parse-stage rejects from (record_index, reason, raw) tuples."""
    index, reason, raw = zip(*rows, strict=True) if rows else ((), (), ())
    frame = pl.DataFrame(
        {
            "source_file": source_file,
            "record_index": pl.Series(index, dtype=pl.Int64),
            "stage": "parse",
            "reason": pl.Series(reason, dtype=pl.String),
            "raw": pl.Series(raw, dtype=pl.String),
        }
    )
    return conform(frame, Rejected)


def not_this_format(
    source_file: str, reason: str, data: bytes
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """No records and one read reject: the file as a whole is not what the reader reads."""
    return empty_frame(RawRecords), file_reject(source_file, reason, head_text(data))


def utc(text: pl.Expr) -> pl.Expr:
    """ISO-8601 timestamps with an offset ("2019-10-14T14:25:25Z") or bare dates as UTC datetimes;
    null when the text is neither (a bad date does not cost the record)."""
    text = text.str.strip_chars()
    return pl.coalesce(
        text.str.to_datetime("%Y-%m-%dT%H:%M:%S%#z", strict=False, time_zone="UTC"),
        text.str.to_date("%Y-%m-%d", strict=False)
        .cast(pl.Datetime("us"))
        .dt.replace_time_zone("UTC"),
    )
