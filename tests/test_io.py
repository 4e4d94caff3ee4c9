"""io: deterministic Parquet bytes, metadata, atomic publish and stale-run clean-up."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from papers import io
from papers.config import WriteParams
from schemas import Tags, polars_schema


def tags_frame(rows: list[tuple[str, str, float]]) -> pl.DataFrame:
    return pl.DataFrame(
        [(p, t, s, "e") for p, t, s in rows], schema=polars_schema(Tags), orient="row"
    )


def test_same_rows_any_order_same_bytes(tmp_path: Path) -> None:
    rows = [("b", "x", 1.0), ("a", "y", 2.0), ("a", "x", 3.0)]
    meta = {"papers.schema_version": "1", "papers.table": "tags"}
    io.write_parquet(
        tags_frame(rows), Tags, tmp_path / "1.parquet", WriteParams(), meta, ["paper_id", "tag"]
    )
    io.write_parquet(
        tags_frame(rows[::-1]),
        Tags,
        tmp_path / "2.parquet",
        WriteParams(),
        meta,
        ["paper_id", "tag"],
    )
    assert (tmp_path / "1.parquet").read_bytes() == (tmp_path / "2.parquet").read_bytes()
    back = pl.read_parquet(tmp_path / "1.parquet")
    assert back["paper_id"].to_list() == ["a", "a", "b"]
    kv = pq.read_metadata(tmp_path / "1.parquet").metadata
    assert kv[b"papers.table"] == b"tags"
    assert kv[b"papers.schema_version"] == b"1"


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(st.text(max_size=5), st.text(max_size=5), st.floats(0.1, 1e6)),
        max_size=20,
    )
)
def test_parquet_round_trip(tmp_path: Path, rows: list[tuple[str, str, float]]) -> None:
    path = tmp_path / "t.parquet"
    frame = tags_frame(rows)
    io.write_parquet(frame, Tags, path, WriteParams(), {}, ["paper_id", "tag", "score"])
    back = pl.read_parquet(path)
    assert back.schema == frame.schema
    assert back.sort("paper_id", "tag", "score").equals(frame.sort("paper_id", "tag", "score"))


def test_json_is_deterministic(tmp_path: Path) -> None:
    io.write_json({"b": 1, "a": [1, "é"]}, tmp_path / "x.json")
    assert (tmp_path / "x.json").read_text(
        "utf-8"
    ) == '{\n  "a": [\n    1,\n    "é"\n  ],\n  "b": 1\n}\n'
    assert json.loads((tmp_path / "x.json").read_text("utf-8")) == {"a": [1, "é"], "b": 1}


def test_publish_replaces_files_and_removes_staging(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.parquet").write_text("old")
    (out / io.MANIFEST).write_text("old manifest")
    staging = io.staging_dir(out, "run1")
    (staging / "a.parquet").write_text("new")
    (staging / io.MANIFEST).write_text("new manifest")
    io.publish(staging, out, ["a.parquet", io.MANIFEST])
    assert (out / "a.parquet").read_text() == "new"
    assert (out / io.MANIFEST).read_text() == "new manifest"
    assert not staging.exists()


def test_recover_removes_leftovers_only(tmp_path: Path) -> None:
    (tmp_path / ".staging-x").mkdir()
    (tmp_path / ".work-y").mkdir()
    (tmp_path / "papers.parquet").write_text("keep")
    done = io.recover(tmp_path)
    assert done == [
        "removed .staging-x left by an interrupted run",
        "removed .work-y left by an interrupted run",
    ]
    assert (tmp_path / "papers.parquet").read_text() == "keep"


def test_recover_completes_an_interrupted_publish(tmp_path: Path) -> None:
    out = tmp_path
    for name in ("a.parquet", "b.parquet", io.MANIFEST):
        (out / name).write_text("old")
    staging = io.staging_dir(out, "run1")
    for name in ("a.parquet", "b.parquet", io.MANIFEST):
        (staging / name).write_text("new")
    # the crash happened after the first rename
    io.write_json(
        {"staging": staging.name, "names": ["a.parquet", "b.parquet", io.MANIFEST]},
        out / io.JOURNAL,
    )
    (staging / "a.parquet").rename(out / "a.parquet")
    io.recover(out)
    assert [(out / n).read_text() for n in ("a.parquet", "b.parquet", io.MANIFEST)] == ["new"] * 3
    assert not (out / io.JOURNAL).exists()
    assert not staging.exists()


def test_publish_and_recover_files_inside_table_directories(tmp_path: Path) -> None:
    """write.layout partitioned: names with a folder (`papers/<node>-<sha12>.parquet`); the
    table directory is created in out, and a publish cut after its first rename is completed
    by recover into that directory."""
    out = tmp_path / "out"
    out.mkdir()
    names = ["papers/all-aaaaaaaaaaaa.parquet", "tags/all-bbbbbbbbbbbb.parquet", io.MANIFEST]
    staging = io.staging_dir(out, "run1")
    for name in names:
        (staging / name).parent.mkdir(parents=True, exist_ok=True)
        (staging / name).write_text(f"new {name}")
    io.publish(staging, out, names)
    assert [(out / n).read_text() for n in names] == [f"new {n}" for n in names]
    assert not staging.exists()

    names2 = ["papers/all-cccccccccccc.parquet", "links/all-dddddddddddd.parquet", io.MANIFEST]
    staging = io.staging_dir(out, "run2")
    for name in names2:
        (staging / name).parent.mkdir(parents=True, exist_ok=True)
        (staging / name).write_text(f"new {name}")
    io.write_json({"staging": staging.name, "names": names2}, out / io.JOURNAL)
    (staging / names2[0]).rename(out / names2[0])  # the crash: after the first rename
    io.recover(out)
    assert [(out / n).read_text() for n in names2] == [f"new {n}" for n in names2]
    assert not (out / io.JOURNAL).exists()
    assert not staging.exists()


def test_table_path_is_the_single_file_or_the_directory_glob(tmp_path: Path) -> None:
    assert io.table_path(tmp_path, "papers") is None
    (tmp_path / "papers").mkdir()
    (tmp_path / "papers" / ".hidden.parquet").write_text("x")
    assert io.table_path(tmp_path, "papers") is None
    (tmp_path / "papers" / "all-aaaaaaaaaaaa.parquet").write_text("x")
    assert io.table_path(tmp_path, "papers") == tmp_path / "papers" / "*.parquet"
    (tmp_path / "papers.parquet").write_text("x")
    assert io.table_path(tmp_path, "papers") == tmp_path / "papers.parquet"


def test_second_run_fails_clearly_while_the_first_holds_the_lock(tmp_path: Path) -> None:
    import pytest

    from papers.errors import PapersError

    with (
        io.output_lock(tmp_path),
        pytest.raises(PapersError, match="another run is writing to"),
        io.output_lock(tmp_path, wait_s=0.3),
    ):
        pass
    with io.output_lock(tmp_path):  # released: the next run proceeds
        pass


def test_list_inputs_sorted_and_skips_dotfiles(tmp_path: Path) -> None:
    for name in ["b/2.txt", "a.txt", ".hidden/x.txt", "b/.gitkeep", "b/1.txt"]:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    assert [p.relative_to(tmp_path).as_posix() for p in io.list_inputs(tmp_path)] == [
        "a.txt", "b/1.txt", "b/2.txt"
    ]  # fmt: skip


# ---- sha256_files: hashes remembered by stat in the cache


def _reads(monkeypatch: object) -> list[Path]:
    read: list[Path] = []
    real = io.sha256_file

    def counting(path: Path) -> str:
        read.append(path)
        return real(path)

    monkeypatch.setattr(io, "sha256_file", counting)  # type: ignore[attr-defined]
    return read


def test_sha256_files_reads_a_file_again_only_when_it_changed(
    tmp_path: Path, monkeypatch: object
) -> None:
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text("one\n")
    b.write_text("two\n")
    cache = tmp_path / "cache"
    read = _reads(monkeypatch)
    first = io.sha256_files({"a": a, "b": b}, cache)
    assert first == {"a": io.sha256_file(a), "b": io.sha256_file(b)}
    read.clear()
    assert io.sha256_files({"a": a, "b": b}, cache) == first
    assert read == []  # both from the state
    # same size, mtime put back: the ctime still tells the rewrite apart
    stat = a.stat()
    a.write_text("ONE\n")
    os.utime(a, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    again = io.sha256_files({"a": a, "b": b}, cache)
    assert read == [a]
    assert again["a"] != first["a"]
    assert again["a"] == hashlib.sha256(b"ONE\n").hexdigest()


def test_sha256_files_without_a_cache_or_with_a_damaged_state(
    tmp_path: Path, monkeypatch: object
) -> None:
    a = tmp_path / "a.jsonl"
    a.write_text("one\n")
    read = _reads(monkeypatch)
    assert io.sha256_files({"a": a}, None) == {"a": hashlib.sha256(b"one\n").hexdigest()}
    assert io.sha256_files({"a": a}, None) == {"a": hashlib.sha256(b"one\n").hexdigest()}
    assert len(read) == 2  # no state kept without a cache
    cache = tmp_path / "cache"
    cache.mkdir()
    for damaged in ("{not json", "[1, 2]", '{"' + str(a.resolve()) + '": 3}'):
        (cache / io.HASH_STATE).write_text(damaged)
        assert io.sha256_files({"a": a}, cache) == {"a": hashlib.sha256(b"one\n").hexdigest()}
