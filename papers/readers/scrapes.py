"""scrapes: third-party text scrapes (Title/PDF/Summary blocks, bare abstract lines) as records."""

from __future__ import annotations

import re
from typing import Final

import polars as pl

from papers.readers.generic import (
    RAW_MAX_CHARS,
    file_reject,
    finish,
    no_records,
    not_utf8_reason,
    preview,
)
from papers.stages.parse import listing_date_from_name
from schemas import Rejected, conform

# Title/PDF/Summary (InMatrix/ai-papers-reader, paper_metadata_YYYY-MM-DD.txt): blocks of
# `Title: …`, `PDF: https://arxiv.org/pdf/<id>`, `Summary: …` lines separated by `---` lines; a
# title may wrap onto continuation lines (indented by two spaces) and a summary may span lines.
# Parsing is one vectorised pass like parse.py: lines become a frame, each line gets its record
# (a new one after every `---` and at every `Title:`) and its field (the last label above it), and
# records are the per-record, per-field joins.
#
# Abstract lines (artpar/arxivdaily abstracts.txt): one abstract per line, no title, no id. Such a
# record cannot be a paper (nothing identifies it), so every line is a reject: the file is
# accounted for, not silently dropped.

SOURCE_TITLE_PDF_SUMMARY: Final = "hf_title_pdf_summary"
ABSTRACT_WITHOUT_ID: Final = "abstract without title or id: cannot identify the paper"

_SNIFF_BYTES: Final = 4096
_LABEL: Final = r"^(Title|PDF|Summary):[ \t]?"
_SEPARATOR: Final = r"^\s*-{3,}\s*$"
# A line shorter than this, or with fewer words, is not an abstract (titles, headers, labels).
_ABSTRACT_MIN_CHARS: Final = 150
_ABSTRACT_MIN_WORDS: Final = 20
# First lines that mark another layout: labels, JSON/XML/Markdown starts, bare URLs.
_NOT_ABSTRACT: Final = re.compile(r"^(Title:|PDF:|Summary:|https?://|[{\[<#|>])")


def _decode(data: bytes) -> str:
    """UTF-8 text without a BOM; raises UnicodeDecodeError."""
    return data.decode("utf-8").removeprefix("\ufeff")


def _lines(text: str) -> pl.DataFrame:
    """One row per physical line: 1-based line number, text as written (minus a CR)."""
    return (
        pl.DataFrame({"text": [text]})
        .select(pl.col("text").str.split("\n"))
        .explode("text")
        .with_row_index("line", offset=1)
        .with_columns(pl.col("line").cast(pl.Int64), pl.col("text").str.strip_chars_end("\r"))
    )


def sniff_title_pdf_summary(head: bytes) -> bool:
    """Whether a file starting with `head` has the Title/PDF/Summary block layout."""
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    return bool(
        re.match(r"Title:[ \t]*\S", text) and re.search(r"^(PDF|Summary):", text, re.MULTILINE)
    )


def read_title_pdf_summary(data: bytes, source_file: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Title/PDF/Summary text -> (records: RawRecords, rejects: Rejected); never raises.

    title_raw keeps continuation lines as written; arxiv_id_raw is the PDF URL as written;
    listing_date is the date in the file name. A block with neither a Title nor a PDF line, or
    with a repeated PDF/Summary line, is a parse-stage reject; a file with no labelled line at all
    is one read-stage reject.
    """
    try:
        text = _decode(data)
    except UnicodeDecodeError as exc:
        return no_records(), file_reject(source_file, not_utf8_reason(exc, data), preview(data))

    label = pl.col("text").str.extract(_LABEL, 1)
    separator = pl.col("text").str.contains(_SEPARATOR)
    content = ~separator & (pl.col("text").str.strip_chars() != "")
    lines = _lines(text).with_columns(
        label.alias("label"),
        separator.alias("separator"),
        content.alias("content"),
        separator.cum_sum().alias("segment"),
    )
    if lines["label"].is_null().all():
        not_layout = "no Title:/PDF:/Summary: lines: not the title-PDF-summary layout"
        return no_records(), file_reject(source_file, not_layout, text)

    first_in_segment = pl.col("content") & (pl.col("content").cum_sum().over("segment") == 1)
    lines = (
        lines.with_columns(
            # a record starts at the first content line after a separator and at every Title:
            # line, so a missing separator cannot merge two papers into one record
            (first_in_segment | pl.col("label").eq_missing("Title")).cum_sum().alias("record")
        )
        .filter(~pl.col("separator") & (pl.col("record") > 0))
        .with_columns(
            # continuation lines belong to the field of the last label above them
            pl.col("label").forward_fill().over("record").alias("field"),
            pl.col("text").str.replace(_LABEL, "").alias("value"),
        )
    )

    def joined(name: str) -> pl.Expr:
        value = pl.col("value").filter(pl.col("field") == name).str.join("\n")
        return pl.when(value.str.strip_chars() != "").then(value.str.strip_chars("\n"))

    def count(name: str) -> pl.Expr:
        return (pl.col("label") == name).sum()

    blocks = (
        lines.group_by("record", maintain_order=True)
        .agg(
            pl.col("line").filter(pl.col("content")).first(),
            joined("Title").str.strip_chars().alias("title_raw"),
            joined("PDF").str.strip_chars().alias("arxiv_id_raw"),
            joined("Summary").str.strip_chars().alias("abstract_raw"),
            count("Title").alias("n_title"),
            count("PDF").alias("n_pdf"),
            count("Summary").alias("n_summary"),
            # the block as written, without the blank lines around it
            pl.col("text")
            .str.join("\n")
            .str.replace_all(r"^(?:[ \t]*\n)+|(?:\n[ \t]*)+$", "")
            .alias("raw"),
        )
        .with_row_index("record_index")
        .with_columns(pl.col("record_index").cast(pl.Int64))
    )
    problem = (
        pl.when((pl.col("n_title") == 0) & (pl.col("n_pdf") == 0))
        .then(pl.lit("block has no Title: and no PDF: line"))
        .when(pl.col("n_pdf") > 1)
        .then(pl.format("block has {} PDF: lines", "n_pdf"))
        .when(pl.col("n_summary") > 1)
        .then(pl.format("block has {} Summary: lines", "n_summary"))
        .when(pl.col("title_raw").is_null() & pl.col("arxiv_id_raw").is_null())
        .then(pl.lit("block has an empty Title: and an empty PDF: line"))
    )
    blocks = blocks.with_columns(
        pl.format("{} (line {})", problem, "line").alias("reason"),
        listing_date_from_name(source_file),
    )
    return finish(blocks, source_file, SOURCE_TITLE_PDF_SUMMARY)


def sniff_abstract_lines(head: bytes) -> bool:
    """Whether a file starting with `head` is bare abstracts, one per line (no titles, no ids).

    Every complete line in the head must read as a long prose paragraph: no blank lines between
    them (page text separates titles and abstracts by blank lines), no labels, no markup.
    """
    text = head.decode("utf-8", errors="ignore").lstrip("\ufeff \t\r\n")
    lines = text.split("\n")
    if len(head) >= _SNIFF_BYTES and len(lines) > 1:
        lines = lines[:-1]  # the last line is cut off by the head
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines or _NOT_ABSTRACT.match(lines[0]):
        return False
    return all(
        len(line.strip()) >= _ABSTRACT_MIN_CHARS and len(line.split()) >= _ABSTRACT_MIN_WORDS
        for line in lines
    )


def read_abstract_lines(data: bytes, source_file: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Abstract-per-line text -> (no records, one parse-stage reject per non-blank line).

    An abstract with no title and no id cannot become a paper; rejecting each line with its
    0-based record_index keeps the file's content accounted for. Never raises.
    """
    try:
        text = _decode(data)
    except UnicodeDecodeError as exc:
        return no_records(), file_reject(source_file, not_utf8_reason(exc, data), preview(data))
    rejects = (
        _lines(text)
        .filter(pl.col("text").str.strip_chars() != "")
        .with_row_index("record_index")
        .select(
            pl.lit(source_file).alias("source_file"),
            pl.col("record_index").cast(pl.Int64),
            pl.lit("parse").alias("stage"),
            pl.lit(ABSTRACT_WITHOUT_ID).alias("reason"),
            pl.col("text").str.strip_chars().str.head(RAW_MAX_CHARS).alias("raw"),
        )
        .pipe(conform, Rejected)
    )
    if rejects.height == 0:
        return no_records(), file_reject(source_file, "no abstract lines in the file", text)
    return no_records(), rejects
