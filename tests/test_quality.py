"""Tests for the Great Expectations quality gate over a published folder."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from papers.quality import QualityResult, validate_published
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


def publish(out_dir: Path, tables: Tables) -> Path:
    """Write the parquet files and a manifest that matches them exactly."""
    out_dir.mkdir(parents=True, exist_ok=True)
    outputs = []
    for name, frame in tables.items():
        path = out_dir / name
        frame.write_parquet(path)
        outputs.append({"path": name, "sha256": sha256(path), "rows": frame.height})
    manifest = {
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
