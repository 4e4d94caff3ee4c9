"""The pinned keyphrase IDF, refreshed from a published build: every published paper's keyphrase
candidates counted (in batches of rows, so memory is bounded by a batch and the counts), the
phrases in at least two papers written to the IDF file (`papers idf refresh`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq

from papers import io
from papers.config import Params
from papers.dataset import manifest_tables
from papers.errors import PapersError
from papers.pipeline.terms import compiled_terms
from papers.stages.keyphrases import (
    keyphrase_candidates,
    keyphrase_document_counts,
    keyphrase_idf_rows,
)

# Papers per batch of candidates: bounds the refresh's memory (a few hundred MB at 100k).
BATCH_ROWS = 100_000


def document_counts(
    papers: pl.DataFrame | Iterable[pl.DataFrame], params: Params, vocabulary: dict[str, Any]
) -> tuple[pl.DataFrame, int]:
    """((phrase, df) over all the papers given, n_docs): document frequencies of the keyphrase
    candidates of papers (paper_id, title, abstract), given whole or in batches."""
    terms = compiled_terms(vocabulary)
    total = pl.DataFrame(schema={"phrase": pl.String, "df": pl.UInt32})
    n_docs = 0
    for batch in [papers] if isinstance(papers, pl.DataFrame) else papers:
        counts = keyphrase_document_counts(keyphrase_candidates(batch, terms, params.tags))
        total = pl.concat([total, counts]).group_by("phrase").agg(pl.col("df").sum())
        n_docs += batch.height
    return total, n_docs


def refresh_idf(
    out_dir: Path, params: Params, vocabulary: dict[str, Any], dest: Path
) -> dict[str, Any]:
    """Count the keyphrase candidates of the papers published in out_dir and write the pinned
    IDF file at dest (atomically, same bytes for the same build). Its version is the dataset
    version of that build. Returns {path, version, n_docs, phrases, bytes}."""
    manifest_path = out_dir / io.MANIFEST
    manifest = io.read_json(manifest_path) if manifest_path.is_file() else {}
    # the papers files the manifest lists: one file, or a partitioned table's node files
    paths = [out_dir / str(e["path"]) for e in manifest_tables(manifest).get("papers", [])]
    if not paths or not all(path.is_file() for path in paths):
        raise PapersError(f"no published dataset in {out_dir} (build one with `papers run`)")
    version = str(manifest["dataset"]["version"])
    batches = (batch for path in paths for batch in _batches(path))
    counts, n_docs = document_counts(batches, params, vocabulary)
    rows = io.write_keyphrase_idf(keyphrase_idf_rows(counts), n_docs, version, dest)
    return {"path": str(dest), "version": version, "n_docs": n_docs, "phrases": rows,
            "bytes": dest.stat().st_size}  # fmt: skip


def _batches(path: Path) -> Iterator[pl.DataFrame]:
    source = pq.ParquetFile(path)
    for batch in source.iter_batches(BATCH_ROWS, columns=["paper_id", "title", "abstract"]):
        yield pl.DataFrame(pl.from_arrow(batch))
