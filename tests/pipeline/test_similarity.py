"""papers.pipeline.similarity: the duplicates and related tables, from scratch and incrementally."""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from papers.config import NeardupParams, Params, RelatedParams
from papers.errors import PapersError
from papers.pipeline import similarity
from papers.pipeline.partition import similarity_rows
from papers.pipeline.similarity import similarity_step
from papers.stages import neardup
from papers.stages.neardup import paper_signatures
from schemas import Duplicates, Related

WORDS = (
    "diffusion transformer language model graph neural network retrieval benchmark robot policy "
    "protein folding speech vision token attention sparse quantum circuit dataset agent reward "
    "image video segmentation reasoning math code compiler privacy federated kernel"
).split()


def _abstract(rng: random.Random, n: int = 60) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)) + "."


def _papers() -> pl.DataFrame:
    rng = random.Random(7)
    rows = [
        {"paper_id": f"2401.{i:05d}", "title": f"Paper {i} on {rng.choice(WORDS)}",
         "abstract": _abstract(rng), "authors": [f"Author {i}", f"Author {i + 1}"]}
        for i in range(30)
    ]  # fmt: skip
    # the same work under a second id (HF title differs in case only), and a re-post
    rows.append(
        {**rows[3], "paper_id": "title:00000000000000aa", "title": rows[3]["title"].upper()}
    )
    rows.append({**rows[5], "paper_id": "2402.00001", "title": "A new title, same text"})
    # a shared boilerplate abstract under two unrelated titles and authors
    rows.append({**rows[8], "paper_id": "2402.00002", "title": "Elsewhere", "authors": ["Z"]})
    rows.append({"paper_id": "2402.00003", "title": "Empty", "abstract": "", "authors": []})
    return pl.DataFrame(rows, schema={"paper_id": pl.String, "title": pl.String,
                                      "abstract": pl.String, "authors": pl.List(pl.String)})  # fmt: skip


def _partitions(papers: pl.DataFrame, folder: Path, parts: int = 3) -> list[dict[str, object]]:
    folder.mkdir(parents=True, exist_ok=True)
    ordered = papers.sort("paper_id")
    size = -(-ordered.height // parts)
    out = []
    for n in range(parts):
        path, signed = folder / f"papers-{n}.parquet", folder / f"signatures-{n}.arrow"
        part = ordered.slice(n * size, size)
        part.write_parquet(path)
        # as the partition step writes them with a cache (the paper hashes), here in another
        # order than the papers'
        shuffled = part.sample(fraction=1.0, shuffle=True, seed=n)
        signatures = paper_signatures(shuffled, NeardupParams())
        similarity_rows(shuffled, signatures, NeardupParams(), paper_hash=True).write_ipc(signed)
        out.append({"papers": str(path), "signatures": str(signed)})
    return out


PARAMS = Params(
    neardup=NeardupParams(),
    related=RelatedParams(method="both", k=3, min_df=1, max_df_share=1.0),
)


def _tables(result: dict[str, object]) -> tuple[pl.DataFrame, pl.DataFrame]:
    return pl.read_parquet(str(result["duplicates"])), pl.read_parquet(str(result["related"]))


def test_finds_the_planted_pairs_with_their_kinds(tmp_path: Path) -> None:
    duplicates, related = _tables(
        similarity_step(_partitions(_papers(), tmp_path / "p"), PARAMS, str(tmp_path / "w"), None)
    )
    Duplicates.validate(duplicates)
    Related.validate(related)
    kinds = dict(
        zip(
            zip(duplicates["paper_id_a"], duplicates["paper_id_b"], strict=True),
            duplicates["kind"],
            strict=True,
        )
    )
    assert kinds[("2401.00003", "title:00000000000000aa")] == "same_work"
    assert kinds[("2401.00005", "2402.00001")] == "reposted"
    assert kinds[("2401.00008", "2402.00002")] == "boilerplate"
    assert "2402.00003" not in set(duplicates["paper_id_a"]) | set(duplicates["paper_id_b"])
    # both methods, k each, never oneself; the planted copies are each other's first neighbour
    assert set(related["method"]) == {"embeddings", "tfidf"}
    assert related.group_by("paper_id", "method").len()["len"].max() == 3
    first = related.filter((pl.col("rank") == 1) & (pl.col("paper_id") == "2401.00003"))
    assert set(first["related_id"]) == {"title:00000000000000aa"}


def test_a_day_after_equals_a_build_from_scratch(tmp_path: Path) -> None:
    papers = _papers()
    day1 = papers.filter(~pl.col("paper_id").is_in(["2402.00001", "2401.00011"]))
    rng = random.Random(11)
    day2 = papers.with_columns(  # one paper's abstract changed, one removed, two added
        pl.when(pl.col("paper_id") == "2401.00020")
        .then(pl.lit(_abstract(rng)))
        .otherwise(pl.col("abstract"))
        .alias("abstract")
    ).filter(pl.col("paper_id") != "2401.00004")
    cache = str(tmp_path / "cache")
    first = similarity_step(_partitions(day1, tmp_path / "d1"), PARAMS, str(tmp_path / "w1"), cache)
    assert first["changed"] is None
    second = similarity_step(
        _partitions(day2, tmp_path / "d2"), PARAMS, str(tmp_path / "w2"), cache
    )
    # 2 added, 1 changed, 1 removed: only their 3 texts are embedded
    assert second["changed"] == 4
    assert second["embedded"] == 3
    scratch = similarity_step(_partitions(day2, tmp_path / "s", parts=2), PARAMS,
                              str(tmp_path / "w3"), None)  # fmt: skip
    for incremental, full in zip(_tables(second), _tables(scratch), strict=True):
        assert_frame_equal(incremental, full, check_exact=True)  # byte for byte, scores too


@pytest.mark.parametrize("method", ["off", "tfidf"])
def test_methods_switch_the_model_off(tmp_path: Path, method: str) -> None:
    params = PARAMS.model_copy(
        update={"related": RelatedParams(method=method, k=2, min_df=1, max_df_share=1.0)}
    )
    result = similarity_step(_partitions(_papers(), tmp_path / "p"), params, str(tmp_path / "w"),
                             None)  # fmt: skip
    _, related = _tables(result)
    assert result["embedded"] == 0
    assert set(related["method"]) == ({"tfidf"} if method == "tfidf" else set())


def test_no_papers_gives_empty_tables(tmp_path: Path) -> None:
    duplicates, related = _tables(similarity_step([], PARAMS, str(tmp_path / "w"), None))
    assert duplicates.is_empty()
    assert related.is_empty()
    Duplicates.validate(duplicates)
    Related.validate(related)


def test_a_full_search_too_large_is_refused_with_the_reason(tmp_path: Path) -> None:
    params = PARAMS.model_copy(
        update={"related": RelatedParams(method="tfidf", max_full_search=10)}
    )
    with pytest.raises(PapersError, match=r"full tfidf search over 34 papers is refused"):
        similarity_step(_partitions(_papers(), tmp_path / "p"), params, str(tmp_path / "w"), None)


def test_a_full_embeddings_search_is_refused_before_any_text_is_embedded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_model(max_length: int) -> None:
        raise AssertionError("the model was loaded for a search that is refused")

    monkeypatch.setattr("papers.pipeline.similarity._embedder", no_model)
    params = PARAMS.model_copy(
        update={"related": RelatedParams(method="embeddings", max_full_search=10)}
    )
    with pytest.raises(PapersError, match=r"full embeddings search over 34 papers is refused"):
        similarity_step(_partitions(_papers(), tmp_path / "p"), params, str(tmp_path / "w"), None)


def test_related_off_reads_a_partition_at_a_time_with_the_same_duplicates(tmp_path: Path) -> None:
    # related off: only the papers' ids read whole, the kinds read only the pairs' papers
    off = PARAMS.model_copy(update={"related": RelatedParams(method="off")})
    papers = _papers()
    copy = papers.filter(pl.col("paper_id") == "2401.00010").with_columns(paper_id=pl.lit("2403.1"))
    papers = pl.concat([papers, copy])  # the same text in the first and the last partition
    first = similarity_step(_partitions(papers, tmp_path / "a"), PARAMS, str(tmp_path / "w1"), None)
    both, _ = _tables(first)
    result = similarity_step(_partitions(papers, tmp_path / "b", parts=5), off,
                             str(tmp_path / "w2"), None)  # fmt: skip
    alone, _ = _tables(result)
    assert alone.height == 4
    assert_frame_equal(alone, both, check_exact=True)
    # incremental with related off equals from scratch
    cache = str(tmp_path / "cache")
    day1 = papers.filter(pl.col("paper_id") != "2402.00001")
    similarity_step(_partitions(day1, tmp_path / "d1"), off, str(tmp_path / "w3"), cache)
    second = similarity_step(_partitions(papers, tmp_path / "d2"), off, str(tmp_path / "w4"), cache)
    assert second["changed"] == 1
    assert_frame_equal(_tables(second)[0], alone, check_exact=True)
    empty, _ = _tables(similarity_step([], off, str(tmp_path / "w5"), None))
    assert empty.is_empty()


def test_signatures_held_a_few_files_at_a_time_give_the_same_duplicates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """neardup.block_mib: the Jaccard estimates hold two blocks of signatures at most; with
    blocks of 3 rows (read from files in another order than their papers), the same table as
    with the corpus held whole."""
    off = PARAMS.model_copy(update={"related": RelatedParams(method="off")})
    papers = _papers()
    copy = papers.filter(pl.col("paper_id") == "2401.00010").with_columns(paper_id=pl.lit("2403.1"))
    partitions = _partitions(pl.concat([papers, copy]), tmp_path / "p", parts=5)
    whole, _ = _tables(similarity_step(partitions, off, str(tmp_path / "w1"), None))
    reads: list[int] = []
    real = similarity._signed

    def counted(*args: Any) -> neardup.Signed:
        signed = real(*args)
        rows = signed.signatures

        def gather(asked: np.ndarray) -> np.ndarray:
            reads.append(len(asked))
            return rows.gather(asked)

        return neardup.Signed(signed.keys, dataclasses.replace(rows, gather=gather))

    monkeypatch.setattr(similarity, "_block_rows", lambda _: 3)
    monkeypatch.setattr(similarity, "_signed", counted)
    blocked, _ = _tables(similarity_step(partitions, off, str(tmp_path / "w2"), None))
    assert whole.height == 4
    assert_frame_equal(blocked, whole, check_exact=True)
    # blocks of 3 rows, only the candidates' rows read
    assert len(reads) > 1
    assert max(reads) <= 3


def test_a_partition_with_no_papers_left_changes_nothing(tmp_path: Path) -> None:
    """A partition whose every paper was rejected writes an empty signature file: its band
    keys and signatures read as nothing, the other partitions' pairs as before."""
    off = PARAMS.model_copy(update={"related": RelatedParams(method="off")})
    partitions = _partitions(_papers(), tmp_path / "p")
    first, _ = _tables(similarity_step(partitions, off, str(tmp_path / "w1"), None))
    empty = _partitions(_papers().head(0), tmp_path / "e", parts=1)
    second, _ = _tables(similarity_step([*empty, *partitions], off, str(tmp_path / "w2"), None))
    assert first.height == 3
    assert_frame_equal(second, first, check_exact=True)


def test_related_off_reads_no_text_for_the_pair_kinds(tmp_path: Path) -> None:
    """The pair kinds compare the pair features kept beside the signatures: with related off
    the partitions' papers files (their titles and abstracts) are not read at all."""
    off = PARAMS.model_copy(update={"related": RelatedParams(method="off")})
    partitions = _partitions(_papers(), tmp_path / "p")
    first, _ = _tables(similarity_step(partitions, off, str(tmp_path / "w1"), None))
    assert set(first["kind"]) == {"same_work", "reposted", "boilerplate"}
    for part in partitions:
        Path(str(part["papers"])).write_bytes(b"no text here")
    second, _ = _tables(similarity_step(partitions, off, str(tmp_path / "w2"), None))
    assert_frame_equal(second, first, check_exact=True)


def test_with_nothing_changed_no_text_or_signature_is_read(tmp_path: Path) -> None:
    """Related off, with a cache: what changed is found from the signature files' paper hashes,
    and when nothing did (a rule change elsewhere) the signatures are not read at all."""
    off = PARAMS.model_copy(update={"related": RelatedParams(method="off")})
    cache = str(tmp_path / "cache")
    partitions = _partitions(_papers(), tmp_path / "p")
    first, _ = _tables(similarity_step(partitions, off, str(tmp_path / "w1"), cache))
    assert first.height > 0
    for part in partitions:
        Path(str(part["papers"])).write_bytes(b"no text here")
        signed = pl.read_ipc(str(part["signatures"]))
        zeros = pl.Series(
            "signature", signed["signature"].to_numpy() * 0, signed["signature"].dtype
        )
        # signatures and band keys that would pair every paper with every other
        keys = pl.col("^band_.*$").fill_null(0) * 0
        signed.with_columns(zeros, keys).write_ipc(str(part["signatures"]))
    second = similarity_step(partitions, off, str(tmp_path / "w2"), cache)
    assert second["changed"] == 0
    assert_frame_equal(_tables(second)[0], first, check_exact=True)


def test_signatures_that_do_not_match_the_papers_are_refused(tmp_path: Path) -> None:
    partitions = _partitions(_papers(), tmp_path / "p")
    first = pl.read_ipc(str(partitions[0]["signatures"]))
    first.head(-1).write_ipc(str(partitions[0]["signatures"]))  # a paper's signature missing
    with pytest.raises(PapersError, match=r"33 signatures for 34 papers"):
        similarity_step(partitions, PARAMS, str(tmp_path / "w"), None)
    first.with_columns(paper_id=pl.lit("9999.99999")).head(1).write_ipc(
        str(partitions[0]["signatures"])
    )
    with pytest.raises(PapersError, match=r"does not match its partition's papers"):
        similarity_step(partitions, PARAMS, str(tmp_path / "w"), None)
