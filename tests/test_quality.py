"""Tests for the Great Expectations quality gate over a published folder."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from papers.config import WriteParams
from papers.dataset import manifest_tables, split_by_node, write_table
from papers.layout import leaf_of, plan_files
from papers.quality import COUNT_KEYS, QualityResult, node_covers, validate_published
from schemas import PUBLISHED, conform

LINK = pl.Struct({"url": pl.String, "kind": pl.String, "origin": pl.String})
UTC = dt.UTC

PAPERS_SCHEMA: dict[str, pl.DataType] = {
    "paper_id": pl.String(),
    "arxiv_id": pl.String(),
    "title": pl.String(),
    "title_raw": pl.String(),
    "abstract": pl.String(),
    "abstract_raw": pl.String(),
    "title_key": pl.String(),
    "authors": pl.List(pl.String),
    "published_at": pl.Datetime("us", "UTC"),
    "listing_dates": pl.List(pl.Date),
    "sources": pl.List(pl.String),
    "links": pl.List(LINK),
    "code_url": pl.String(),
    "tags": pl.List(pl.String),
    "keyphrases": pl.List(pl.String),
}
LINKS_SCHEMA: dict[str, pl.DataType] = {
    "paper_id": pl.String(),
    "url": pl.String(),
    "url_raw": pl.String(),
    "kind": pl.String(),
    "host": pl.String(),
    "origin": pl.String(),
    "rule": pl.String(),
    "start": pl.Int64(),
    "end": pl.Int64(),
}
TAGS_SCHEMA: dict[str, pl.DataType] = {
    "paper_id": pl.String(),
    "tag": pl.String(),
    "score": pl.Float64(),
    "evidence": pl.String(),
}
REJECTED_SCHEMA: dict[str, pl.DataType] = {
    "source_file": pl.String(),
    "record_index": pl.Int64(),
    "stage": pl.String(),
    "reason": pl.String(),
    "raw": pl.String(),
}
PROVENANCE_SCHEMA: dict[str, pl.DataType] = {
    "paper_id": pl.String(),
    "source_file": pl.String(),
    "source": pl.String(),
    "record_index": pl.Int64(),
    "line": pl.Int64(),
    "matched_by": pl.String(),
    "match_score": pl.Float64(),
}

Tables = dict[str, pl.DataFrame]


def base_tables() -> Tables:
    """A tiny but complete, valid published dataset."""
    gh = "https://github.com/acme/fastnet"
    hf = "https://huggingface.co/datasets/acme/corpus"
    papers = pl.DataFrame(
        {
            "paper_id": ["2401.00001", "hep-th/9901001", "openreview:abc123"],
            "arxiv_id": ["2401.00001", "hep-th/9901001", None],
            "title": ["FastNet: Quick Nets", "Strings at 10% Speed", "A Corpus of Things"],
            "title_raw": ["FastNet: Quick Nets", "Strings at 10\\% Speed", "A Corpus of Things"],
            "abstract": ["We train nets fast.", "Old strings.", "We release data."],
            "abstract_raw": ["We train nets fast.", "Old strings.", "We release data."],
            "title_key": ["fastnet quick nets", "strings at 10 speed", "a corpus of things"],
            "authors": [["Ada Lovelace"], ["Ed Witten", "A. N. Other"], []],
            "published_at": [
                dt.datetime(2024, 1, 2, 3, 4, tzinfo=UTC),
                None,
                dt.datetime(2023, 5, 6, tzinfo=UTC),
            ],
            "listing_dates": [[dt.date(2024, 1, 2)], [dt.date(1999, 1, 1)], []],
            "sources": [["a.jsonl", "b.jsonl"], ["a.jsonl"], ["b.jsonl"]],
            "links": [
                [{"url": gh, "kind": "code", "origin": "abstract"}],
                [],
                [{"url": hf, "kind": "dataset", "origin": "abstract"}],
            ],
            "code_url": [gh, None, None],
            "tags": [["ml"], ["physics"], ["ml", "data"]],
            "keyphrases": [["fast nets"], [], ["corpus"]],
        },
        schema=PAPERS_SCHEMA,
    )
    links = pl.DataFrame(
        {
            "paper_id": ["2401.00001", "openreview:abc123", "openreview:abc123"],
            "url": [gh, hf, "https://acme.example/corpus"],
            "url_raw": [gh + ".", hf, "https://acme.example/corpus)"],
            "kind": ["code", "dataset", "project"],
            "host": ["github.com", "huggingface.co", "acme.example"],
            "origin": ["abstract", "abstract", "curated"],
            "rule": ["github", "hf-dataset", "curated"],
            "start": [10, 0, 5],
            "end": [41, 43, 32],
        },
        schema=LINKS_SCHEMA,
    )
    tags = pl.DataFrame(
        {
            "paper_id": ["2401.00001", "hep-th/9901001", "openreview:abc123"],
            "tag": ["ml", "physics", "data"],
            "score": [1.5, 0.25, 2.0],
            "evidence": ["nets", "strings", "corpus"],
        },
        schema=TAGS_SCHEMA,
    )
    rejected = pl.DataFrame(
        {
            "source_file": ["b.jsonl"],
            "record_index": [2],
            "stage": ["parse"],
            "reason": ["missing title"],
            "raw": ['{"id": "x"}'],
        },
        schema=REJECTED_SCHEMA,
    )
    provenance = pl.DataFrame(
        {
            "paper_id": ["2401.00001", "2401.00001", "hep-th/9901001", "openreview:abc123"],
            "source_file": ["a.jsonl", "b.jsonl", "a.jsonl", "b.jsonl"],
            "source": ["arxiv_snapshot", "hf_daily_papers", "arxiv_snapshot", "hf_daily_papers"],
            "record_index": [0, 0, 1, 1],
            "line": [1, 1, 2, None],
            "matched_by": ["arxiv_id", "arxiv_id", "arxiv_id", "none"],
            "match_score": [None, None, None, None],
        },
        schema=PROVENANCE_SCHEMA,
    )
    tables = {
        "papers.parquet": papers,
        "links.parquet": links.with_columns(pl.lit(False).alias("curated")),
        "tags.parquet": tags,
        "rejected.parquet": rejected,
        "provenance.parquet": provenance,
    }
    # columns added by later schema versions, filled as a reader without them would
    return {
        name: conform(frame, PUBLISHED[name.removesuffix(".parquet")][0])
        for name, frame in tables.items()
    }


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def base_manifest(tables: Tables, outputs: list[dict[str, object]]) -> dict[str, object]:
    """A manifest listing `outputs`, with counts that match `tables`."""
    return {
        "dataset": {"name": "papers", "version": "0.1.0"},
        "schema_version": "1",
        "vocabulary_version": "2024-01",
        "params_sha256": "0" * 64,
        "inputs": [
            {"path": "data/raw/a.jsonl", "sha256": "a" * 64, "records": 2},
            {"path": "data/raw/b.jsonl", "sha256": "b" * 64, "records": 3},
        ],
        "outputs": outputs,
        "counts": {
            "raw_records": tables["provenance.parquet"].height + tables["rejected.parquet"].height,
            "papers": tables["papers.parquet"].height,
            "rejected": tables["rejected.parquet"].height,
            "links": tables["links.parquet"].height,
            "tags": tables["tags.parquet"].height,
        },
    }


def publish(out_dir: Path, tables: Tables) -> Path:
    """Write the parquet files and a manifest that matches them exactly."""
    out_dir.mkdir(parents=True, exist_ok=True)
    outputs: list[dict[str, object]] = []
    for name, frame in tables.items():
        path = out_dir / name
        frame.write_parquet(path)
        outputs.append({"path": name, "sha256": sha256(path), "rows": frame.height})
    manifest = base_manifest(tables, outputs)
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return out_dir


def run(
    tmp_path: Path, tables: Tables, tamper: Callable[[Path], None] | None = None
) -> QualityResult:
    out_dir = publish(tmp_path / "processed", tables)
    if tamper is not None:
        tamper(out_dir)
    return validate_published(out_dir, tmp_path / "reports")


def assert_failure(result: QualityResult, *fragments: str) -> None:
    """Each fragment must appear in some failure line (with a readable message)."""
    assert not result.success
    for fragment in fragments:
        assert any(fragment in line for line in result.failures), (fragment, result.failures)


def test_valid_folder_passes_and_writes_reports(tmp_path: Path) -> None:
    result = run(tmp_path, base_tables())

    assert result.failures == ()
    assert result.success
    assert result.checks_run > 40
    assert result.result_json == tmp_path / "reports" / "validation.json"
    report = json.loads(result.result_json.read_text(encoding="utf-8"))
    assert report["success"] is True
    assert report["checks_run"] == result.checks_run
    assert set(report["great_expectations"]["results"]) == {
        "papers.parquet",
        "links.parquet",
        "tags.parquet",
        "rejected.parquet",
        "provenance.parquet",
    }
    assert all(r["success"] for r in report["great_expectations"]["results"].values())
    assert result.data_docs_index is not None
    assert result.data_docs_index.is_file()
    assert result.data_docs_index.is_relative_to(tmp_path / "reports")
    assert "papers" in result.data_docs_index.read_text(encoding="utf-8")


def test_empty_rejected_is_fine(tmp_path: Path) -> None:
    tables = base_tables()
    tables["rejected.parquet"] = tables["rejected.parquet"].clear()

    result = run(tmp_path, tables)

    assert result.failures == ()


def test_duplicate_paper_id_and_null_title(tmp_path: Path) -> None:
    tables = base_tables()
    tables["papers.parquet"] = tables["papers.parquet"].with_columns(
        paper_id=pl.Series(["2401.00001", "2401.00001", "openreview:abc123"]),
        title=pl.Series(["FastNet: Quick Nets", None, "A Corpus of Things"], dtype=pl.String),
    )

    result = run(tmp_path, tables)

    assert_failure(
        result,
        "papers.parquet: paper_id has 1 duplicated value(s), e.g. '2401.00001'",
        "papers.parquet: title is null in 1 row(s)",
    )
    # The orphaned provenance row is reported too, by value.
    assert_failure(result, "provenance.parquet: paper_id not found in papers.parquet in 1 row(s)")
    report = json.loads(result.result_json.read_text(encoding="utf-8"))
    assert report["success"] is False
    assert report["failures"] == list(result.failures)


def test_unknown_link_kind(tmp_path: Path) -> None:
    tables = base_tables()
    links = tables["links.parquet"]
    tables["links.parquet"] = links.with_columns(
        kind=pl.when(pl.col("kind") == "project").then(pl.lit("weird")).otherwise("kind")
    )

    result = run(tmp_path, tables)

    assert_failure(result, "links.parquet: kind has 1 value(s) outside {", "e.g. 'weird'")
    assert len(result.failures) == 1


def test_link_and_tag_rules(tmp_path: Path) -> None:
    tables = base_tables()
    tables["links.parquet"] = tables["links.parquet"].with_columns(
        start=pl.Series([10, 50, 5]),
        url=pl.Series(["https://github.com/acme/fastnet", "ftp://x", "https://acme.example/c"]),
        paper_id=pl.Series(["2401.00001", "openreview:abc123", "nope"]),
    )
    tables["tags.parquet"] = tables["tags.parquet"].with_columns(
        score=pl.Series([1.5, 0.0, 2.0]), tag=pl.Series(["ml", "ml", "data"])
    )
    tables["tags.parquet"] = tables["tags.parquet"].with_columns(
        paper_id=pl.Series(["2401.00001", "2401.00001", "openreview:abc123"])
    )
    tables["papers.parquet"] = tables["papers.parquet"].with_columns(
        title=pl.Series(["FastNet in $O(n)$", "Strings", "Corpus"]),
        code_url=pl.Series(["git@github.com:acme/fastnet", None, None], dtype=pl.String),
        keyphrases=pl.Series([["fast nets"], None, []], dtype=pl.List(pl.String)),
    )

    result = run(tmp_path, tables)

    assert_failure(
        result,
        "links.parquet: start < end does not hold in 1 row(s), e.g. start=50, end=43",
        "links.parquet: url is not a valid URL in 1 row(s), e.g. 'ftp://x'",
        "links.parquet: paper_id not found in papers.parquet in 1 row(s), e.g. 'nope'",
        "tags.parquet: score is not > 0 in 1 row(s), e.g. 0.0",
        "tags.parquet: (paper_id, tag) has 1 duplicated combination(s)",
        "papers.parquet: title contains LaTeX markup in 1 row(s)",
        "papers.parquet: code_url is not an http(s) URL in 1 row(s)",
        "papers.parquet: keyphrases is null in 1 row(s)",
    )


def test_manifest_sha256_mismatch(tmp_path: Path) -> None:
    def tamper(out_dir: Path) -> None:
        path = out_dir / "manifest.json"
        manifest = json.loads(path.read_text(encoding="utf-8"))
        manifest["outputs"][2]["sha256"] = "f" * 64
        manifest["counts"]["raw_records"] += 1
        path.write_text(json.dumps(manifest), encoding="utf-8")

    result = run(tmp_path, base_tables(), tamper)

    assert_failure(
        result,
        "tags.parquet: sha256 ",
        "does not match manifest (ffffffffffff…)",
        "manifest.json: counts.raw_records is 6 but provenance (4) + rejected (1) = 5",
    )
    assert len(result.failures) == 2


def test_manifest_row_count_mismatch(tmp_path: Path) -> None:
    def tamper(out_dir: Path) -> None:
        path = out_dir / "manifest.json"
        manifest = json.loads(path.read_text(encoding="utf-8"))
        manifest["counts"]["papers"] = 4
        manifest["outputs"][0]["rows"] = 4
        path.write_text(json.dumps(manifest), encoding="utf-8")

    result = run(tmp_path, base_tables(), tamper)

    assert_failure(
        result,
        "papers.parquet: has 3 row(s) but manifest outputs say 4",
        "papers.parquet: has 3 row(s) but manifest counts.papers is 4",
    )


@pytest.mark.parametrize("missing", ["tags.parquet", "papers.parquet", "manifest.json"])
def test_missing_file_is_a_readable_failure(tmp_path: Path, missing: str) -> None:
    result = run(tmp_path, base_tables(), lambda out_dir: (out_dir / missing).unlink())

    assert_failure(result, f"{missing}: file is missing")
    assert result.result_json.is_file()


def test_wrong_dtype_is_reported(tmp_path: Path) -> None:
    tables = base_tables()
    tables["links.parquet"] = tables["links.parquet"].with_columns(pl.col("start").cast(pl.Int32))

    result = run(tmp_path, tables)

    assert_failure(result, "links.parquet: column start has type Int32, expected Int64")


# --------------------------------------------------------------------------- partitioned layout

MAX_ROWS = {"papers": 1, "links": 1, "tags": 1, "provenance": 10, "rejected": 10}


def publish_partitioned(out_dir: Path, tables: Tables, format_2: bool = False) -> Path:
    """Write every table as a directory of node files (max_rows 1: a file per planned node) and
    a manifest listing them, as `write.layout: partitioned` does."""
    out_dir.mkdir(parents=True, exist_ok=True)
    listed: dict[str, list[dict[str, object]]] = {}
    for file_name, frame in tables.items():
        name = file_name.removesuffix(".parquet")
        model, order = PUBLISHED[name]
        nodes = (
            split_by_node(frame, MAX_ROWS[name]) if "paper_id" in frame.columns else {"all": frame}
        )
        entries = write_table(nodes, model, out_dir / name, WriteParams(), {}, order)
        listed[name] = [e.as_json() for e in entries]
    manifest = base_manifest(tables, [e for files in listed.values() for e in files])
    manifest["layout"] = "partitioned"
    if format_2:
        manifest["format"] = 2
        manifest["tables"] = {
            name: {"rows": sum(int(str(e["rows"])) for e in files), "files": files}
            for name, files in listed.items()
        }
        del manifest["outputs"], manifest["layout"]
    path = out_dir / "manifest.json"
    path.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return out_dir


def entry_of(out_dir: Path, node: str, table: str) -> dict[str, object]:
    manifest = json.loads((out_dir / "manifest.json").read_text(encoding="utf-8"))
    (entry,) = (e for e in manifest_tables(manifest)[table] if e["node"] == node)
    return entry


def rewrite(out_dir: Path, path: str, frame: pl.DataFrame) -> None:
    """Replace a listed file's rows and make its manifest entry match the new file."""
    frame.write_parquet(out_dir / path)
    manifest_path = out_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    for entry in manifest["outputs"]:
        if entry["path"] == path:
            entry["sha256"] = sha256(out_dir / path)
            entry["rows"] = frame.height
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")


def run_partitioned(
    tmp_path: Path,
    tamper: Callable[[Path], None] | None = None,
    tables: Tables | None = None,
    *,
    changed_only: bool = False,
    rehash: bool = False,
) -> QualityResult:
    out_dir = tmp_path / "processed"
    if not out_dir.exists():
        publish_partitioned(out_dir, tables or base_tables())
    if tamper is not None:
        tamper(out_dir)
    # A hash cache, as `papers validate` uses (rehash: every file is read again).
    cache = None if rehash else tmp_path / "hash-cache"
    return validate_published(
        out_dir, tmp_path / "reports", changed_only=changed_only, cache_dir=cache
    )


def test_partitioned_folder_passes_file_by_file(tmp_path: Path) -> None:
    result = run_partitioned(tmp_path)

    assert result.failures == ()
    report = json.loads(result.result_json.read_text(encoding="utf-8"))
    papers = sorted(p for p in report["great_expectations"]["results"] if p.startswith("papers/"))
    assert [p.rpartition("-")[0] for p in papers] == [
        "papers/arxiv-1999",
        "papers/arxiv-2024",
        "papers/other",
    ]
    assert len(result.validated) == len(report["files"]) == 3 + 2 + 3 + 1 + 1
    # one Data Docs page over every table's files, counts per table (row conditions)
    summary = report["great_expectations"]["files"]
    assert summary["success"]
    assert summary["statistics"]["evaluated_expectations"] == 6 + len(COUNT_KEYS)
    assert result.data_docs_index is not None
    assert result.data_docs_index.is_file()


def test_format_2_manifest_passes(tmp_path: Path) -> None:
    out_dir = publish_partitioned(tmp_path / "processed", base_tables(), format_2=True)

    result = validate_published(out_dir, tmp_path / "reports")

    assert result.failures == ()
    assert len(result.validated) == 10


def test_flipped_byte_names_the_partition_file(tmp_path: Path) -> None:
    def flip(out_dir: Path) -> None:
        path = out_dir / str(entry_of(out_dir, "arxiv-2024", "papers")["path"])
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))

    result = run_partitioned(tmp_path, flip, rehash=True)

    assert_failure(result, "papers/arxiv-2024-")
    line = next(f for f in result.failures if "sha256" in f)
    assert line.startswith("papers/arxiv-2024-")
    assert "does not match manifest" in line


def test_misplaced_paper_fails(tmp_path: Path) -> None:
    def move(out_dir: Path) -> None:
        source, target = (entry_of(out_dir, n, "papers") for n in ("arxiv-2024", "arxiv-1999"))
        moved = pl.read_parquet(out_dir / str(source["path"]))
        rewrite(out_dir, str(source["path"]), moved.clear())
        stay = pl.read_parquet(out_dir / str(target["path"]))
        rewrite(out_dir, str(target["path"]), pl.concat([stay, moved]))

    result = run_partitioned(tmp_path, move)

    target = str(entry_of(tmp_path / "processed", "arxiv-1999", "papers")["path"])
    assert_failure(
        result,
        f"{target}: 1 row(s) whose paper_id belongs to another node than arxiv-1999, "
        "e.g. '2401.00001' (leaf arxiv/2024/01/b0)",
    )
    assert len(result.failures) == 1


def test_same_leaf_in_two_files_fails(tmp_path: Path) -> None:
    # A copy of a paper in a file whose node also covers it (the root): every file is sound on
    # its own, but the id is now published twice.
    def duplicate(out_dir: Path) -> None:
        papers = pl.read_parquet(out_dir / str(entry_of(out_dir, "arxiv-2024", "papers")["path"]))
        extra = "papers/all-000000000000.parquet"
        papers.write_parquet(out_dir / extra)
        manifest_path = out_dir / "manifest.json"
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        manifest["outputs"].append(
            {"path": extra, "node": "all", "rows": 1, "sha256": sha256(out_dir / extra)}
        )
        manifest["counts"]["papers"] += 1
        manifest_path.write_text(json.dumps(manifest), encoding="utf-8")

    result = run_partitioned(tmp_path, duplicate)

    assert_failure(result, "holds leaf arxiv/2024/01/b0 that papers/a", "ids can repeat")


def test_orphan_link_in_another_nodes_file(tmp_path: Path) -> None:
    def orphan(out_dir: Path) -> None:
        path = str(entry_of(out_dir, "arxiv", "links")["path"])
        links = pl.read_parquet(out_dir / path)
        rewrite(out_dir, path, links.with_columns(paper_id=pl.lit("2401.09999")))

    result = run_partitioned(tmp_path, orphan)

    path = str(entry_of(tmp_path / "processed", "arxiv", "links")["path"])
    assert_failure(
        result,
        f"{path}: paper_id not found in papers/*.parquet in 1 row(s), e.g. '2401.09999'",
    )
    assert len(result.failures) == 1


def test_footer_rows_differ_from_manifest(tmp_path: Path) -> None:
    def miscount(out_dir: Path) -> None:
        manifest_path = out_dir / "manifest.json"
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        entry = next(e for e in manifest["outputs"] if e["node"] == "other-hc30")
        entry["rows"] = 5
        manifest_path.write_text(json.dumps(manifest), encoding="utf-8")

    result = run_partitioned(tmp_path, miscount)

    path = str(entry_of(tmp_path / "processed", "other-hc30", "links")["path"])
    assert result.failures == (f"{path}: has 2 row(s) but manifest outputs say 5",)


def test_unlisted_file_in_a_table_dir_fails(tmp_path: Path) -> None:
    def stray(out_dir: Path) -> None:
        source = out_dir / str(entry_of(out_dir, "other", "papers")["path"])
        (out_dir / "papers" / "other-ffffffffffff.parquet").write_bytes(source.read_bytes())
        (out_dir / "tags.parquet").write_bytes(b"left over")

    result = run_partitioned(tmp_path, stray)

    assert_failure(
        result,
        "papers/other-ffffffffffff.parquet: not in the manifest",
        "tags.parquet: not in the manifest",
    )
    assert len(result.failures) == 2


def test_changed_only_runs_gx_on_changed_files_only(tmp_path: Path) -> None:
    full = run_partitioned(tmp_path)
    assert len(full.validated) == 10
    record = json.loads((tmp_path / "reports" / "validated.json").read_text(encoding="utf-8"))
    assert len(record) == 10
    assert all(r["success"] for r in record.values())

    again = run_partitioned(tmp_path, changed_only=True)
    assert again.success
    assert again.validated == ()
    assert len(again.skipped) == 10
    assert again.checks_run == full.checks_run  # every check is covered, run or recorded

    def edit(out_dir: Path) -> None:
        path = str(entry_of(out_dir, "arxiv-1999", "tags")["path"])
        tags = pl.read_parquet(out_dir / path)
        rewrite(out_dir, path, tags.with_columns(score=pl.lit(0.5)))

    changed = run_partitioned(tmp_path, edit, changed_only=True)
    path = str(entry_of(tmp_path / "processed", "arxiv-1999", "tags")["path"])
    assert changed.success
    assert changed.validated == (path,)

    # An unchanged links file is not re-run, but its ids are still checked against the papers.
    def drop_paper(out_dir: Path) -> None:
        path = str(entry_of(out_dir, "other", "papers")["path"])
        rewrite(out_dir, path, pl.read_parquet(out_dir / path).clear())
        manifest_path = out_dir / "manifest.json"
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        manifest["counts"]["papers"] -= 1
        manifest_path.write_text(json.dumps(manifest), encoding="utf-8")

    orphaned = run_partitioned(tmp_path, drop_paper, changed_only=True)
    links = str(entry_of(tmp_path / "processed", "other-hc30", "links")["path"])
    assert links in orphaned.skipped
    assert_failure(orphaned, f"{links}: paper_id not found in papers/*.parquet in 2 row(s)")


ID_POOL = [
    *(f"{y:02d}{m:02d}.{n:05d}" for y in (15, 24) for m in (1, 2, 11) for n in (1, 10_001, 90_001)),
    *(f"0{m}{d:02d}.{n:04d}" for m, d, n in [(7, 4, 1), (9, 12, 22), (8, 1, 3)]),
    *(f"{a}/{y}{m}001" for a in ("hep-th", "math", "q-bio", "astro-ph") for y in ("99", "05")
      for m in ("01", "07")),
    "math.AG/0501001", "cond-mat/0703001",
    *(f"title:{i:016x}" for i in range(40)), "doi:10.1/x", "doi:10.1/y",
]  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(
    ids=st.lists(st.sampled_from(ID_POOL), min_size=1, max_size=120),
    max_rows=st.integers(1, 40),
)
def test_node_covers_agrees_with_the_plan(ids: list[str], max_rows: int) -> None:
    leaves = pl.DataFrame({"paper_id": ids}).select(leaf_of(pl.col("paper_id")))["leaf"]
    counts = leaves.value_counts(name="rows")
    plan = plan_files(dict(zip(counts["leaf"], counts["rows"], strict=True)), max_rows)
    nodes = set(plan.values())
    every_leaf = set(
        pl.DataFrame({"paper_id": ID_POOL}).select(leaf_of(pl.col("paper_id")))["leaf"]
    )

    for leaf, node in plan.items():
        assert node_covers(node, leaf), (leaf, node)
    # A leaf the plan does not hold yet must not look covered by two nodes either.
    for leaf in every_leaf:
        covering = [n for n in nodes if node_covers(n, leaf)]
        assert len(covering) <= 1, (leaf, covering)
        if leaf in plan:
            assert covering == [plan[leaf]], (leaf, covering)


def test_unreadable_partition_file_is_reported_not_raised(tmp_path: Path) -> None:
    def garble(out_dir: Path) -> None:
        path = out_dir / str(entry_of(out_dir, "other", "papers")["path"])
        path.write_bytes(b"PAR1 not really PAR1")

    result = run_partitioned(tmp_path, garble)

    path = str(entry_of(tmp_path / "processed", "other", "papers")["path"])
    assert_failure(result, f"{path}: cannot be read as Parquet", f"{path}: sha256 ")
    assert result.data_docs_index is not None


@pytest.mark.parametrize(
    ("text", "flagged"),
    [
        ("the bound $O(n^2)$ holds", True),
        ("we get a $1.5$ speedup", True),
        ("with $x = 3.14$ here", True),
        (r"an \alpha remnant", True),
        # two dollar amounts in prose (a 1M generated build failed its gate on this): not math
        ("(approx. $630K). Our scheme ... a set of 90$ synthetic data", False),
        ("it costs $5 and $6", False),
    ],
)
def test_the_latex_check_flags_math_not_dollar_amounts(text: str, flagged: bool) -> None:
    from papers.quality import LATEX_RE

    assert pl.Series([text]).str.contains(LATEX_RE).item() is flagged
    assert (re.search(LATEX_RE, text) is not None) is flagged  # GX matches with Python's re
