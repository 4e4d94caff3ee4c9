"""The JSON-array variant of the arXiv snapshot (hand-assembled files): each element kept as
written, with the line it starts on, and read as one snapshot record."""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from papers.readers.arxiv_common import GZIP_MAGIC, RAW_CHARS, not_this_format
from papers.readers.arxiv_snapshot_records import snapshot_batch
from papers.readers.generic import file_reject
from papers.readers.limits import LimitExceededError, ReadLimits, file_size_problem, gunzip
from schemas import RawRecords, empty_frame


@dataclass(frozen=True)
class _Element:
    text: str  # as written, pretty-printing included
    line: int  # 1-based line where it starts


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


# Hand-written on purpose. The records and rejects need each element as written (the raw column)
# and the line it starts on, and a broken array needs where it broke; ijson and polars give
# neither: ijson yields decoded values with no positions (re-serialising them changes raw), and
# polars' read_json fails the whole array on one bad element. Not slower either: splitting a
# generated 60 MB array of 37k pretty-printed snapshot records into JSON lines took 0.45-0.52 s
# and +242 MB peak RSS this way, 0.64-0.78 s and +56 MB with ijson 3.6 (yajl2_c) items plus
# json.dumps, 0.62 s and +0 MB with ijson not keeping them; read_json 0.37 s and +376 MB for the
# frame alone. The memory is bounded by read.limits.max_file_bytes (the array is read whole).
def _array_elements(text: str) -> tuple[list[_Element], str | None]:
    """A JSON array's elements as written, and why the array could not be read to its end (None
    when it could). Elements before a syntax error are kept."""
    decoder = json.JSONDecoder()
    pos = _skip_space(text, 0)
    if text[pos : pos + 1] != "[":
        return [], "not a JSON array"
    pos = _skip_space(text, pos + 1)
    elements: list[_Element] = []
    line, counted = 1, 0
    while text[pos : pos + 1] != "]" or elements:
        try:
            _, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            return elements, (
                f"malformed JSON array after {len(elements)} elements: {exc.msg} "
                f"at line {exc.lineno} column {exc.colno}"
            )
        except RecursionError:
            return elements, (
                f"malformed JSON array after {len(elements)} elements: nested too deeply to read"
            )
        line += text.count("\n", counted, pos)
        counted = pos
        elements.append(_Element(text[pos:end], line))
        pos = _skip_space(text, end)
        if text[pos : pos + 1] == ",":
            pos = _skip_space(text, pos + 1)
            continue
        if text[pos : pos + 1] != "]":
            return elements, f"malformed JSON array: expected ',' or ']' at character {pos}"
        break
    if _skip_space(text, pos + 1) != len(text):
        return elements, "malformed JSON array: data after its closing ']'"
    return elements, None


def _given(lines: list[bytes]) -> Callable[[], list[bytes]]:
    return lambda: lines


def snapshot_array(
    path: Path, source_file: str, batch_rows: int, limits: ReadLimits
) -> Iterator[tuple[pl.DataFrame, pl.DataFrame]]:
    """The JSON-array variant, read whole (within read.limits.max_file_bytes, decompressed): it
    is only seen as small hand-assembled files."""
    too_large = file_size_problem(path.stat().st_size, limits)
    if too_large:
        yield not_this_format(source_file, too_large, b"")
        return
    data = path.read_bytes()
    if data[:2] == GZIP_MAGIC:
        try:
            data = gunzip(data, limits)
        except LimitExceededError as exc:
            yield not_this_format(source_file, str(exc), b"")
            return
        except (OSError, EOFError, zlib.error) as exc:
            yield not_this_format(source_file, f"corrupt gzip stream: {exc}", b"")
            return
        too_large = file_size_problem(len(data), limits)
        if too_large:
            yield not_this_format(source_file, f"decompressed, {too_large}", b"")
            return
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        yield not_this_format(source_file, f"not valid UTF-8 (byte {exc.start})", data)
        return
    elements, error = _array_elements(text)
    for start in range(0, len(elements), batch_rows):
        chunk = elements[start : start + batch_rows]
        # Raw newlines in JSON text can only be whitespace between tokens (inside strings they are
        # escaped), so blanking them makes each element one valid JSON line for polars.
        lines = [e.text.replace("\r", " ").replace("\n", " ").encode("utf-8") for e in chunk]
        meta = pl.DataFrame(
            {
                "record_index": range(start, start + len(chunk)),
                "line": [e.line for e in chunk],
                "raw": [e.text[:RAW_CHARS] for e in chunk],
            },
            schema={"record_index": pl.Int64, "line": pl.Int64, "raw": pl.String},
        )
        yield snapshot_batch(meta, b"\n".join(lines), _given(lines), source_file)
    if error is not None:
        yield empty_frame(RawRecords), file_reject(source_file, error, text[:RAW_CHARS])
