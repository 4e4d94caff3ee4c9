"""io: deterministic Parquet bytes, metadata, atomic publish and stale-run clean-up."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
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


def test_an_intermediate_keeps_its_rows_uncompressed(tmp_path: Path) -> None:
    # what a parse shard holds: text, nulls, lists, structs, dates
    frame = pl.DataFrame(
        {
            "raw": ['{"id": "2401.00001", "title": "ä \\u00e9"}', None, ""],
            "title": ["A", None, "Ω"],
            "authors": [["a", "b"], [], None],
            "links": [[{"url": "u", "kind": "code"}], [], None],
            "published_at": [None, 0, 86_400_000_000],
            "record_index": [0, 1, 2],
        },
        schema_overrides={"published_at": pl.Datetime("us", "UTC")},
    )
    path = tmp_path / "records-00000.parquet"
    io.write_frame(frame, path)
    back = pl.read_parquet(path)
    assert back.schema == frame.schema
    assert back.equals(frame)
    chunks = pq.ParquetFile(path).metadata.row_group(0)
    codecs = {chunks.column(i).path_in_schema: chunks.column(i).compression
              for i in range(chunks.num_columns)}  # fmt: skip
    assert set(codecs.values()) == {"UNCOMPRESSED"}
    assert len(codecs) == 7  # raw, title, authors, links' url and kind, published_at, index
    assert not list(tmp_path.glob(".*.tmp"))  # renamed into place


def test_json_is_deterministic(tmp_path: Path) -> None:
    io.write_json({"b": 1, "a": [1, "é"]}, tmp_path / "x.json")
    assert (tmp_path / "x.json").read_text(
        "utf-8"
    ) == '{\n  "a": [\n    1,\n    "é"\n  ],\n  "b": 1\n}\n'
    assert json.loads((tmp_path / "x.json").read_text("utf-8")) == {"a": [1, "é"], "b": 1}


def _manifest(*paths: str) -> dict[str, object]:
    """A format-2 manifest listing these table files (enough for publish, recover and GC)."""
    tables: dict[str, dict[str, object]] = {}
    for path in paths:
        name = path.partition("/")[0] if "/" in path else path.removesuffix(".parquet")
        table = tables.setdefault(name, {"files": []})
        table["files"].append({"path": path, "sha256": "0" * 64, "rows": 0})  # type: ignore[attr-defined]
    return {"format": 2, "tables": tables}


def _stage(out: Path, run: str, files: dict[str, str], listed: list[str]) -> Path:
    staging = io.staging_dir(out, run)
    for name, text in files.items():
        (staging / name).parent.mkdir(parents=True, exist_ok=True)
        (staging / name).write_text(text)
    io.write_json(_manifest(*listed), staging / io.MANIFEST)
    return staging


def test_publish_replaces_files_and_removes_staging(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "papers.parquet").write_text("old")
    io.write_json(_manifest("papers.parquet"), out / io.MANIFEST)
    staging = _stage(out, "run1", {"papers.parquet": "new", "metrics.json": "{}"},
                     ["papers.parquet"])  # fmt: skip
    new_manifest = (staging / io.MANIFEST).read_text()
    io.publish(staging, out, ["papers.parquet", "metrics.json", io.MANIFEST])
    assert (out / "papers.parquet").read_text() == "new"
    assert (out / "metrics.json").read_text() == "{}"
    assert (out / io.MANIFEST).read_text() == new_manifest
    assert not staging.exists()
    assert not (out / io.JOURNAL).exists()


def test_publish_needs_a_staged_manifest(tmp_path: Path) -> None:
    staging = io.staging_dir(tmp_path, "run1")
    (staging / "papers.parquet").write_text("new")
    with pytest.raises(ValueError, match=r"manifest\.json"):
        io.publish(staging, tmp_path, ["papers.parquet"])


def test_recover_removes_leftovers_only(tmp_path: Path) -> None:
    (tmp_path / ".staging-x").mkdir()
    (tmp_path / ".work-y").mkdir()
    (tmp_path / "papers.parquet").write_text("keep")
    done = io.recover(tmp_path)
    assert done == [
        "removed .staging-x left by an interrupted run",
        "removed .work-y left by an interrupted run",
    ]
    # no manifest: nothing says what is published, so no table file is garbage
    assert (tmp_path / "papers.parquet").read_text() == "keep"


def test_recover_completes_a_publish_of_the_old_journal_format(tmp_path: Path) -> None:
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


def _published(out: Path) -> dict[str, str]:
    return {
        str(p.relative_to(out)): p.read_text()
        for p in sorted(out.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


OLD = [
    "papers/a-aaaaaaaaaaaa.parquet",
    "papers/b-bbbbbbbbbbbb.parquet",
    "tags/all-cccccccccccc.parquet",
]
NEW = ["papers/a-aaaaaaaaaaaa.parquet", "papers/b-dddddddddddd.parquet", "tags/all-eeeeeeeeeeee.parquet",
       "links/all-ffffffffffff.parquet"]  # fmt: skip


def _old_version(out: Path) -> dict[str, str]:
    out.mkdir()
    staging = _stage(out, "run0", {n: f"v {n}" for n in OLD} | {"metrics.json": "old"}, OLD)
    io.publish(staging, out, [*OLD, "metrics.json", io.MANIFEST])
    return _published(out)


def test_publish_keeps_a_content_named_file_and_collects_the_rest(tmp_path: Path) -> None:
    """Node files are content-named: one already in place is kept as it is (same inode); after
    the commit every table file the new manifest does not list is removed, and a table
    directory that no longer holds a file goes too."""
    out = tmp_path / "out"
    _old_version(out)
    kept = (out / NEW[0]).stat()
    (out / "links.parquet").write_text("a single file of an older layout")
    staging = _stage(out, "run1", {n: f"v {n}" for n in NEW} | {"metrics.json": "new"}, NEW)
    io.publish(staging, out, [*NEW, "metrics.json", io.MANIFEST])
    assert (out / NEW[0]).stat().st_ino == kept.st_ino
    assert (out / NEW[0]).stat().st_mtime_ns == kept.st_mtime_ns
    published = _published(out)
    assert set(published) == {*NEW, "metrics.json", io.MANIFEST}
    assert published["metrics.json"] == "new"
    assert not staging.exists()
    assert not (out / io.JOURNAL).exists()
    staging = _stage(out, "run2", {"papers.parquet": "single"}, ["papers.parquet"])
    io.publish(staging, out, ["papers.parquet", io.MANIFEST])
    assert set(_published(out)) == {"papers.parquet", "metrics.json", io.MANIFEST}
    assert not (out / "papers").exists()


@pytest.mark.parametrize("point", ["staged", "adding", "committed", "gc"])
def test_recover_rolls_an_interrupted_publish_forward(tmp_path: Path, point: str) -> None:
    """The §4 protocol cut at each fault point (simulated: the renames done up to it): the
    manifest in place always lists files that are all there (old or new version), and recover
    completes the new version with no unlisted file left."""
    out = tmp_path / "out"
    old = _old_version(out)
    (out / "links.parquet").write_text("garbage of an older layout")
    staging = _stage(out, "run1", {n: f"v {n}" for n in NEW} | {"metrics.json": "new"}, NEW)
    new_manifest = (staging / io.MANIFEST).read_text()
    io.write_json({"staging": staging.name, "add": NEW, "replace": ["metrics.json"], "remove": [],
                   "manifest": {"path": io.MANIFEST}}, out / io.JOURNAL)  # fmt: skip
    if point != "staged":
        (staging / NEW[1]).rename(out / NEW[1])  # "adding": after the first rename
    if point in ("committed", "gc"):
        for name in NEW[2:]:
            (out / name).parent.mkdir(exist_ok=True)
            (staging / name).rename(out / name)
        (staging / NEW[0]).unlink()
        (staging / "metrics.json").rename(out / "metrics.json")
        (staging / io.MANIFEST).rename(out / io.MANIFEST)
    if point == "gc":
        (out / OLD[1]).unlink()
    manifest = io.read_json(out / io.MANIFEST)
    listed = [e["path"] for files in io.manifest_tables(manifest).values() for e in files]
    assert all((out / path).is_file() for path in listed)
    assert sorted(listed) == sorted(NEW if point in ("committed", "gc") else OLD)
    if point in ("staged", "adding"):
        assert {k: v for k, v in _published(out).items() if k in old} == old
    io.recover(out)
    published = _published(out)
    assert set(published) == {*NEW, "metrics.json", io.MANIFEST}
    assert published[io.MANIFEST] == new_manifest
    assert published["metrics.json"] == "new"
    assert not (out / io.JOURNAL).exists()
    assert not staging.exists()


def test_recover_collects_files_no_manifest_lists(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _old_version(out)
    (out / "papers" / "z-000000000000.parquet").write_text("a node of a dead run")
    (out / "papers" / ".hidden.parquet").write_text("hidden, but some readers glob it")
    (out / "papers.parquet").write_text("old single file")
    done = io.recover(out)
    assert len(done) == 3
    assert set(_published(out)) == {*OLD, "metrics.json", io.MANIFEST}
    assert not (out / "papers" / ".hidden.parquet").exists()


def test_recover_leaves_tables_alone_when_the_manifest_is_unreadable(tmp_path: Path) -> None:
    (tmp_path / io.MANIFEST).write_text("not json")
    (tmp_path / "papers.parquet").write_text("keep")
    assert io.recover(tmp_path) == []
    assert (tmp_path / "papers.parquet").read_text() == "keep"


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


def test_an_intermediate_named_arrow_is_arrow_ipc(tmp_path: Path) -> None:
    # a partition's signatures: fixed-size lists read back as one buffer
    frame = pl.DataFrame(
        {"paper_id": ["a", "b"], "signature": [[1, 2], [3, 4]]},
        schema={"paper_id": pl.String, "signature": pl.Array(pl.UInt32, 2)},
    )
    path = tmp_path / "signatures.arrow"
    io.write_frame(frame, path)
    assert pl.read_ipc(path).equals(frame)
    assert not list(tmp_path.glob(".*.tmp"))
