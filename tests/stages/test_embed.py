"""embed (papers/stages/embed.py): the real int8 MiniLM model on a handful of tiny texts."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from papers.stages.embed import (
    DIMENSIONS,
    MODEL_ID,
    VECTORS_SCHEMA,
    Embedder,
    embed_missing,
    embed_texts,
    load_embedder,
    pack,
    unpack,
    with_content_hash,
)

TEXTS = [
    "Graph neural networks for molecules",
    "Message passing on molecular graphs",
    "Quark gluon plasma on the lattice",
    "a",
    "Émile's naïve résumé: TeX α-β",
]
# About 300 word pieces: what the model reads at 256 differs from what it reads at 128.
LONG = " ".join(f"topic{i} sparse spectral clustering" for i in range(80))


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return load_embedder(128)


def test_vectors_are_unit_length_and_deterministic(embedder: Embedder) -> None:
    first = embed_texts(embedder, TEXTS)
    again = embed_texts(load_embedder(128), TEXTS)
    assert first.shape == (5, DIMENSIONS)
    assert first.dtype == np.float32
    assert np.linalg.norm(first, axis=1) == pytest.approx([1.0] * 5, abs=1e-5)
    assert first.tobytes() == again.tobytes()
    # related texts are closer than unrelated ones
    assert first[0] @ first[1] > first[0] @ first[2]


def test_a_vector_does_not_depend_on_its_batch(embedder: Embedder) -> None:
    together = embed_texts(embedder, [*TEXTS, LONG])
    alone = np.vstack([embed_texts(embedder, [text]) for text in [*TEXTS, LONG]])
    assert together.tobytes() == alone.tobytes()


def test_texts_are_tokenized_in_chunks_with_the_same_vectors(
    embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = embed_texts(embedder, [*TEXTS, LONG])
    monkeypatch.setattr("papers.stages.embed.TOKENIZE_CHUNK", 2)
    assert embed_texts(embedder, [*TEXTS, LONG]).tobytes() == whole.tobytes()
    assert embed_texts(embedder, []).shape == (0, DIMENSIONS)


def test_truncation_is_at_the_length_set() -> None:
    assert len(load_embedder(256).tokenizer.encode(LONG).ids) == 256
    short, long = (embed_texts(load_embedder(n), [LONG, TEXTS[0]]) for n in (128, 256))
    assert not np.array_equal(short[0], long[0])  # the shipped tokenizer.json would cut at 128
    assert short[1].tobytes() == long[1].tobytes()  # a short text is the same at both


def test_pack_keeps_direction(embedder: Embedder) -> None:
    vectors = embed_texts(embedder, TEXTS)
    packed, scales = pack(vectors)
    assert {len(row) for row in packed} == {DIMENSIONS}
    back = unpack(pl.DataFrame({"vector": pl.Series(packed, dtype=pl.Binary), "scale": scales}))
    assert np.einsum("ij,ij->i", back, vectors) == pytest.approx([1.0] * 5, abs=1e-3)
    assert unpack(pl.DataFrame(schema=VECTORS_SCHEMA)).shape == (0, DIMENSIONS)


def test_embed_missing_reuses_known_hashes(embedder: Embedder) -> None:
    texts = with_content_hash(pl.DataFrame({"text": [*TEXTS[:3], TEXTS[0]]}))
    full = embed_missing(pl.DataFrame(schema=VECTORS_SCHEMA), texts, embedder)
    assert full.schema == VECTORS_SCHEMA
    assert full.height == 3
    assert full["content_hash"].is_sorted()
    # a remembered row is kept as it is (a sentinel proves it was not recomputed); a row of
    # another max_length is not reused
    sentinel = full.head(1).with_columns(vector=pl.lit(bytes(DIMENSIONS), dtype=pl.Binary))
    stale = full.slice(1, 1).with_columns(max_length=pl.lit(256, dtype=pl.UInt16))
    updated = embed_missing(pl.concat([sentinel, stale]), texts, embedder)
    assert updated.row(0) == sentinel.row(0)
    assert updated.slice(1).equals(full.slice(1))
    assert (updated["model"] == MODEL_ID).all()
