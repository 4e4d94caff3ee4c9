"""The similarity step: near-duplicate pairs (`duplicates`) and each paper's most related papers
(`related`), over the whole corpus, after enrich (docs/neardup.md, docs/related.md).

The MinHash signatures are not signed here: the partition step signs each paper with the rest
of its enrichment and keeps them per paper in its cache, so a daily build signs only its new and
changed papers; this step joins them. With a cache the partition step also writes each paper's
paper_hash (text and authors, related.text_hashes) beside its signature, and with or without
a cache the paper's pair features (neardup.pair_features: what the near-duplicates' pair kinds
compare): without related methods this step then reads no text at all, and reads no signature
when nothing changed (a rule change that leaves the texts alone).

Global, and incremental with a cache: the last build's result is kept under
cache_dir/similarity (its papers' content hashes, its two tables and the embedding vectors by
content hash). A build with the same code and params then computes only what its new, changed
and removed papers touch:
- vectors only for texts not seen before (memoised by content hash);
- duplicates: the changed papers' LSH band keys against every paper's, the other pairs kept;
- related (embeddings): the changed papers searched against all, the others taking a changed
  paper in when it beats their k-th (related.update_top_k); a list that lost a neighbour is
  searched again. TF-IDF lists move with the corpus-wide IDF and are searched in full.
The result equals a build from scratch, byte for byte (tests/pipeline/test_similarity.py).
Embedding scores are exact: the int8 vectors' dot products are integers below 2^24, exact in
float32 whatever the blocking, then scaled by the two norms.
"""

from __future__ import annotations

import itertools
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa

from papers import io
from papers.config import NeardupParams, Params, RelatedParams
from papers.errors import PapersError
from papers.pipeline.cache import cache_key
from papers.pipeline.parallel import parallel_map
from papers.pipeline.version import code_sha256
from papers.stages import embed, neardup, related
from schemas import Duplicates, Related, empty_frame

_POINTER = "current.json"


def similarity_step(
    partitions: list[dict[str, Any]], params: Params, work: str, cache_dir: str | None
) -> dict[str, Any]:
    """Write the duplicates and related rows of the partitions' papers to the work folder.

    The papers' signatures come signed from the partition step (one file per partition, kept in
    its cache with the rest of a paper's enrichment); here they are placed in one matrix,
    row-aligned with the papers sorted by id, for the corpus-wide LSH join.

    Returns their paths and what was computed (papers changed since the cached state, texts
    embedded)."""
    paths = [str(p["papers"]) for p in partitions]
    key = cache_key(code_sha256(), params.neardup.shaping(),
                    params.related.model_dump(mode="json"))  # fmt: skip
    root = Path(cache_dir) / "similarity" if cache_dir else None
    previous = _load_state(root, key)
    signed = [str(p["signatures"]) for p in partitions]
    if params.related.methods:
        corpus = _corpus(paths)  # related (embeddings, tfidf) reads every paper's text
    elif root is not None:
        # what the cached state compares: the papers' hashes, hashed by the partition step
        corpus = _signed_ids(signed, ["paper_id", "paper_hash"])
    else:
        corpus = _signed_ids(signed, ["paper_id"])
    if previous is None:
        dirty = corpus.select("paper_id")
    else:
        state = corpus.select("paper_id", "paper_hash")
        gone = previous["state"].join(state, on="paper_id", how="anti").select("paper_id")
        fresh = state.join(previous["state"], on=["paper_id", "paper_hash"], how="anti")
        dirty = pl.concat([fresh.select("paper_id"), gone])
    if dirty.height:
        sig = _signed(signed, corpus, params.neardup)
        pairs = neardup.scored_pairs(dirty, corpus, sig, params.neardup, map_tasks=parallel_map)
    else:  # nothing new, changed or removed (a rule change elsewhere): every pair is kept
        pairs = pl.DataFrame(schema=_PAIRS_SCHEMA)
    duplicates = _duplicates(pairs, signed, previous, dirty)
    related_rows, vectors, embedded = _related(corpus, params.related, previous, dirty)
    Duplicates.validate(duplicates)
    Related.validate(related_rows)
    if root is not None:
        _save_state(root, key, {"state": corpus.select("paper_id", "paper_hash"),
                                "duplicates": duplicates, "related": related_rows,
                                "vectors": vectors})  # fmt: skip
    out = Path(work) / "similarity"
    return {
        "duplicates": io.write_frame(duplicates, out / "duplicates.parquet"),
        "related": io.write_frame(related_rows, out / "related.parquet"),
        "papers": corpus.height,
        "changed": dirty.height if previous is not None else None,
        "embedded": embedded,
    }


_TEXT_SCHEMA = pl.Schema(
    [
        ("paper_id", pl.String()),
        ("title", pl.String()),
        ("abstract", pl.String()),
        ("authors", pl.List(pl.String())),
    ]
)
_TEXT_COLUMNS = _TEXT_SCHEMA.names()
_PAIRS_SCHEMA = {"paper_id_a": pl.String, "paper_id_b": pl.String, "jaccard": pl.Float32}


def _corpus(paths: list[str]) -> pl.DataFrame:
    """paper_id, title, abstract, authors of every paper, sorted by id, with text, content_hash
    and paper_hash (related.text_hashes)."""
    if not paths:
        frame = pl.DataFrame(schema=_TEXT_SCHEMA)
    else:
        frame = pl.scan_parquet(paths).select(_TEXT_COLUMNS).collect()
    return related.text_hashes(frame.sort("paper_id"))


def _signed_ids(paths: list[str], columns: list[str]) -> pl.DataFrame:
    """The given columns (paper_id, and paper_hash with a cache) of the partitions' signature
    files, sorted by paper_id: the similarity step reads no text when nothing else needs it."""
    schema = dict.fromkeys(columns, pl.String)
    parts = [pl.read_ipc(path, columns=columns) for path in paths]
    return pl.concat([pl.DataFrame(schema=schema), *parts]).sort("paper_id")


def _signed(paths: list[str], corpus: pl.DataFrame, params: NeardupParams) -> neardup.Signed:
    """The partitions' signature files (partition step) as the corpus's band keys, read a band
    at a time, and its signatures, read on demand (neardup.Signed): the corpus's signatures
    are held whole only when they fit in one block (neardup.block_mib; at 4.7M papers their
    128 minhashes are 2.4 GB), else only the rows in a candidate pair, a block at a time.

    Each file's rows in the corpus (sorted by id) are found once: a partition is a range of
    paper ids, its file sorted by id, so its rows are a slice of the corpus's (one search), else
    placed by a join."""
    ids = corpus["paper_id"]
    numbered = ids.to_frame().with_row_index("_row")
    files: list[tuple[str, np.ndarray]] = []
    placed = 0
    for path in paths:
        part = pl.read_ipc(path, columns=["paper_id"])
        if _signature_nulls(path):
            raise PapersError(f"similarity: {path} does not match its partition's papers")
        start = int(ids.search_sorted(part["paper_id"][0])) if part.height else 0
        if part["paper_id"].equals(ids.slice(start, part.height)):
            rows = np.arange(start, start + part.height, dtype=np.uint32)
        else:
            found = part.select("paper_id").join(numbered, on="paper_id", how="left")["_row"]
            if found.null_count():
                raise PapersError(f"similarity: {path} does not match its partition's papers")
            rows = found.to_numpy().astype(np.uint32)
        files.append((path, rows))
        placed += part.height
    if placed != corpus.height:
        raise PapersError(
            f"similarity: {placed:,} signatures for {corpus.height:,} papers (a partition's "
            "signature file does not match its papers)"
        )
    names = neardup.band_names(params)

    def key(band: int) -> tuple[np.ndarray, np.ndarray]:
        keys = np.zeros(corpus.height, dtype=np.uint64)
        valid = np.zeros(corpus.height, dtype=bool)
        for path, rows in files:
            keys[rows], valid[rows] = _band_column(path, names[band])
        return keys, valid

    owner = np.zeros(corpus.height, dtype=np.uint32)  # each row's file, and its row there
    at = np.zeros(corpus.height, dtype=np.uint32)
    for number, (_, rows) in enumerate(files):
        owner[rows] = number
        at[rows] = np.arange(len(rows), dtype=np.uint32)

    def gather(rows: np.ndarray) -> np.ndarray:
        out = np.empty((len(rows), params.num_perm), dtype=np.uint32)
        which = owner[rows]
        order = np.argsort(which, kind="stable")  # by file (already so for the partitions)
        cuts = np.searchsorted(which[order], np.arange(len(files) + 1))
        for number, (lo, hi) in enumerate(itertools.pairwise(cuts)):
            if hi > lo:
                picked = order[lo:hi]
                out[picked] = _signature_rows(files[number][0], at[rows[picked]], params)
        return out

    return neardup.Signed(
        neardup.BandKeys(corpus.height, key),
        neardup.SignatureRows(corpus.height, gather, _block_rows(params)),
    )


@contextmanager
def _mapped_column(path: str, name: str) -> Iterator[pa.Array]:
    """One column of a signature file (Arrow IPC) as one array over a memory map: only the
    pages read are loaded, and the map closes on leaving (copy out what is kept)."""
    with pa.memory_map(path) as source:
        column = pa.ipc.open_file(source).read_all().column(name)
        # one chunk (polars writes one batch) read in place; combine_chunks would copy it
        yield column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()


def _band_column(path: str, name: str) -> tuple[np.ndarray, np.ndarray]:
    """A signature file's band key column: (values, valid) (a quarter of polars' time to read
    one column of a file, 32 times per file)."""
    with _mapped_column(path, name) as keys:
        values = np.frombuffer(keys.buffers()[1], dtype=np.uint64, count=keys.offset + len(keys))
        valid = (
            np.ones(len(keys), dtype=bool)
            if keys.null_count == 0
            else keys.is_valid().to_numpy(zero_copy_only=False)
        )
        return values[keys.offset :].copy(), valid


def _signature_nulls(path: str) -> int:
    """Papers of a signature file with no signature (the column's validity only)."""
    with _mapped_column(path, "signature") as signatures:
        nulls: int = signatures.null_count
        return nulls


def _signature_rows(path: str, rows: np.ndarray, params: NeardupParams) -> np.ndarray:
    """Rows of a signature file's matrix (only the pages of the rows asked for are read)."""
    with _mapped_column(path, "signature") as signatures:
        matrix = signatures.flatten().to_numpy(zero_copy_only=True).reshape(-1, params.num_perm)
        picked: np.ndarray = matrix[rows]  # a copy: the map closes next
        return picked


def _block_rows(params: NeardupParams) -> int:
    """Signatures in one block of whole files (a file alone may exceed it): block_mib's worth
    (two blocks are held at once)."""
    return max(1, params.block_mib * 2**20 // (4 * params.num_perm))


def _duplicates(
    pairs: pl.DataFrame,
    signed: list[str],
    previous: dict[str, pl.DataFrame] | None,
    dirty: pl.DataFrame,
) -> pl.DataFrame:
    """The duplicates rows: the pairs' kinds (from the pair features the partition step keeps
    beside each paper's signature, read for the pairs' papers only) and the cached rows still
    valid."""
    if signed and pairs.height:
        features = pl.scan_ipc(signed).select(neardup.PAIR_FEATURES.names())
    else:
        features = pl.LazyFrame(schema=neardup.PAIR_FEATURES)
    # each pair once (scored_pairs), sorted by pair (pair_kinds); Duplicates.validate checks
    found = neardup.pair_kinds(pairs, features)
    if previous is not None:
        # the kept pairs are those with no changed paper, the found ones have one: disjoint
        kept = (
            previous["duplicates"]
            .join(dirty, left_on="paper_id_a", right_on="paper_id", how="anti")
            .join(dirty, left_on="paper_id_b", right_on="paper_id", how="anti")
        )
        found = pl.concat([kept, found.cast(kept.schema)]).sort("paper_id_a", "paper_id_b")
    return found.select(Duplicates.to_schema().columns.keys())


@lru_cache(maxsize=2)
def _embedder(max_length: int) -> embed.Embedder:
    """The model, loaded once per process and max_length (~0.3 s)."""
    return embed.load_embedder(max_length)


def load_model(params: RelatedParams) -> None:
    """Load the related papers' model now when the params embed (kept for this process's
    builds: papers.pipeline.warm)."""
    if "embeddings" in params.methods:
        _embedder(params.max_length)


def _related(
    corpus: pl.DataFrame,
    params: RelatedParams,
    previous: dict[str, pl.DataFrame] | None,
    dirty: pl.DataFrame,
) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """(related rows of every method, the vectors memo, texts embedded now)."""
    ids = corpus["paper_id"]
    parts: list[pl.DataFrame] = []
    vectors = pl.DataFrame(schema=embed.VECTORS_SCHEMA)
    embedded = 0
    if "embeddings" in params.methods:
        if previous is None:  # refused before embedding every text (~36 texts/s)
            _check_full_search(corpus.height, params, "embeddings")
        vectors, embedded = _vectors(corpus, params, previous)
        matrix, scale = embed.search_matrix(
            corpus.select("content_hash").join(
                vectors, on="content_hash", how="left", maintain_order="left"
            )
        )
        before = None if previous is None else previous["related"].filter(
            pl.col("method") == "embeddings"
        )  # fmt: skip
        parts.append(_search(matrix, scale, ids, params, "embeddings", before, dirty))
    if "tfidf" in params.methods:
        _check_full_search(corpus.height, params, "tfidf")
        parts.append(related.related_tfidf(corpus, params))
    if not parts:
        return empty_frame(Related), vectors, embedded
    rows = pl.concat(parts).sort("paper_id", "method", "rank")
    return rows.select(Related.to_schema().columns.keys()), vectors, embedded


def _vectors(
    corpus: pl.DataFrame, params: RelatedParams, previous: dict[str, pl.DataFrame] | None
) -> tuple[pl.DataFrame, int]:
    """The vectors of the corpus's texts, from the memo where known (embed.embed_missing)."""
    texts = corpus.select("content_hash", "text")
    before = previous["vectors"] if previous is not None else pl.DataFrame(
        schema=embed.VECTORS_SCHEMA
    )  # fmt: skip
    known = before.filter(
        (pl.col("model") == embed.MODEL_ID) & (pl.col("max_length") == params.max_length)
    ).join(texts, on="content_hash", how="semi")
    missing = texts.join(known, on="content_hash", how="anti").unique("content_hash").height
    if missing == 0:
        return known.sort("content_hash"), 0
    return embed.embed_missing(known, texts, _embedder(params.max_length)), missing


def _search(
    matrix: npt.NDArray[np.float32],
    scale: npt.NDArray[np.float32],
    ids: pl.Series,
    params: RelatedParams,
    method: str,
    before: pl.DataFrame | None,
    dirty: pl.DataFrame,
) -> pl.DataFrame:
    """A full exact search, or the previous lists updated for the dirty papers."""
    if before is None:
        _check_full_search(len(ids), params, method)
        return related.top_k(matrix, ids, params.k, method, params.block_mib, scale=scale)
    # lists that lost a neighbour (changed or removed) are searched again, like new ones
    lost = before.join(dirty, left_on="related_id", right_on="paper_id", how="semi")
    redo = pl.concat([dirty, lost.select("paper_id")]).unique()
    base = before.join(redo, on="paper_id", how="anti")
    rows = (
        pl.DataFrame({"paper_id": ids})
        .with_row_index("row")
        .join(redo, on="paper_id", how="semi")["row"]
        .to_numpy()
        .astype(np.int64)
    )
    return related.update_top_k(
        matrix, ids, params.k, method, rows, base, params.block_mib, scale=scale
    )


def _check_full_search(papers: int, params: RelatedParams, method: str) -> None:
    if papers > params.max_full_search:
        raise PapersError(
            f"related: a full {method} search over {papers:,} papers is refused (more than "
            f"related.max_full_search = {params.max_full_search:,}; exact search is quadratic, "
            "docs/related.md). Set related.method to embeddings (a daily run then searches only "
            "the changed papers) or off, or raise related.max_full_search."
        )


def _load_state(root: Path | None, key: str) -> dict[str, pl.DataFrame] | None:
    """The cached state of the last build with this code and params, or None."""
    if root is None or not (root / _POINTER).is_file():
        return None
    try:
        pointer = io.read_json(root / _POINTER)
        if pointer.get("key") != key:
            return None
        folder = root / str(pointer["folder"])
        return {name: pl.read_parquet(folder / f"{name}.parquet") for name in pointer["tables"]}
    except (OSError, ValueError, KeyError, pl.exceptions.PolarsError):
        return None  # a damaged state costs a full computation, never a wrong result


def _save_state(root: Path, key: str, tables: dict[str, pl.DataFrame]) -> None:
    """Write the state to a new folder, then switch the pointer to it (atomic), then drop the
    older folders."""
    folder = f"state-{uuid.uuid4().hex[:16]}"
    target = root / folder
    tmp = io.cache_tmp_dir(target)
    for name, table in tables.items():
        io.write_frame(table, tmp / f"{name}.parquet")
    shutil.rmtree(target, ignore_errors=True)
    io.commit_cache_entry(tmp, target)
    io.replace_json({"key": key, "folder": folder, "tables": sorted(tables)}, root / _POINTER)
    for old in root.glob("state-*"):
        if old.name != folder:
            shutil.rmtree(old, ignore_errors=True)
