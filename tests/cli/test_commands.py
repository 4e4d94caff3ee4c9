"""The `papers` CLI: summaries, readable one-line errors, and the Great Expectations gate."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from papers import io
from papers.cli import app

runner = CliRunner()


def run_cli(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def built(prefect_harness: None, repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cli-out")
    code, stdout, stderr = run_cli(
        "run",
        "--raw",
        str(repo / "data/raw"),
        "--out",
        str(out),
        "--params",
        str(repo / "params.yaml"),
    )
    assert code == 0, stderr
    assert "papers out:   57" in stdout
    assert "records in:   57 from 1 file(s)" in stdout
    assert "links:        20" in stdout
    return out


def test_validate_passes_on_published_data(built: Path, tmp_path: Path) -> None:
    code, stdout, _ = run_cli("validate", "--out", str(built), "--reports", str(tmp_path / "r"))
    assert code == 0
    assert stdout.startswith("validation passed")
    assert (tmp_path / "r" / "validation.json").exists()
    assert (tmp_path / "r" / "data_docs" / "index.html").exists()
    summary = json.loads((tmp_path / "r" / "quality.json").read_text())
    assert summary["success"] is True
    assert summary["failures"] == []
    first = (tmp_path / "r" / "quality.json").read_bytes()
    run_cli("validate", "--out", str(built), "--reports", str(tmp_path / "r"))
    assert (tmp_path / "r" / "quality.json").read_bytes() == first  # deterministic


def test_validate_with_relative_folders(
    built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(built, tmp_path / "data")
    monkeypatch.chdir(tmp_path)
    code, _, stderr = run_cli("validate", "--out", "data", "--reports", "reports")
    assert code == 0, stderr
    assert (tmp_path / "reports" / "data_docs" / "index.html").exists()


def test_validate_fails_readably_on_duplicate_id_and_null_title(
    built: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "bad"
    shutil.copytree(built, bad)
    manifest = json.loads((bad / "manifest.json").read_text())
    (entry,) = manifest["tables"]["papers"]["files"]  # the seed's papers: one node file
    path = bad / entry["path"]
    papers = pl.read_parquet(path)
    first = papers["paper_id"][0]
    papers = papers.with_columns(
        pl.when(pl.int_range(pl.len()) == 1)
        .then(pl.lit(first))
        .otherwise("paper_id")
        .alias("paper_id"),
        pl.when(pl.int_range(pl.len()) == 2).then(None).otherwise("title").alias("title"),
    )
    papers.write_parquet(path)
    # keep the manifest consistent, as a careless (not malicious) writer would
    entry["sha256"] = io.sha256_file(path)
    (bad / "manifest.json").write_text(json.dumps(manifest))
    code, _, stderr = run_cli("validate", "--out", str(bad), "--reports", str(tmp_path / "r"))
    assert code == 1
    assert "validation FAILED" in stderr
    assert f"{entry['path']}: paper_id has 1 duplicated value(s), e.g. '{first}'" in stderr
    assert f"{entry['path']}: title is null in 1 row(s)" in stderr
    assert "Traceback" not in stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["run", "--raw", "/nonexistent/raw"],
            "error: raw input folder not found: /nonexistent/raw",
        ),
        (["run", "--params", "/nonexistent/params.yaml"], "error: params file not found"),
        (["validate", "--out", "/nonexistent/out"], "error: published folder not found"),
    ],
)
def test_errors_are_one_line(args: list[str], message: str) -> None:
    code, _, stderr = run_cli(*args)
    assert code == 1
    assert stderr.strip().splitlines() == [stderr.strip()]
    assert stderr.startswith(message)


def test_bad_params_value_is_named(tmp_path: Path, repo: Path) -> None:
    params = tmp_path / "params.yaml"
    params.write_text(
        (repo / "params.yaml").read_text().replace("title_max_chars: 300", "title_max_chars: -1")
    )
    code, _, stderr = run_cli("run", "--params", str(params))
    assert code == 1
    assert stderr.startswith(f"error: params file {params}: parse.title_max_chars:")


def test_module_entry_point_prints_no_traceback(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "papers", "run", "--raw", str(tmp_path / "missing")],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"error: raw input folder not found: {tmp_path / 'missing'}"


def test_evaluate_prints_and_writes_the_figures(built: Path, tmp_path: Path) -> None:
    code, stdout, stderr = run_cli("evaluate", "--out", str(built), "--reports", str(tmp_path))
    assert code == 0, stderr
    assert "links vs gold" in stdout
    assert "of 57 papers" in stdout
    assert "tags vs hf_keywords (0 papers with mapped keywords): n/a" in stdout  # the seed has none
    figures = json.loads((tmp_path / "evaluation.json").read_text())
    assert figures["links_gold"]["precision"] >= 0.98
    metrics = json.loads((built / "metrics.json").read_text())
    assert metrics["quality"]["links_gold"] == figures["links_gold"]  # the same figures, tracked


def test_idf_refresh_writes_the_pinned_idf(built: Path, tmp_path: Path, repo: Path) -> None:
    dest = tmp_path / "vocab" / "keyphrase_idf.parquet"
    args = ["idf", "refresh", "--out", str(built), "--params", str(repo / "params.yaml")]
    code, stdout, stderr = run_cli(*args, "--dest", str(dest))
    assert code == 0, stderr
    assert f"wrote {dest}: " in stdout
    assert "in 2+ of 57 papers" in stdout
    assert pl.read_parquet(dest).columns == ["phrase", "df"]
    code, _, stderr = run_cli(*args[:3], str(tmp_path), *args[4:], "--dest", str(dest))
    assert code == 1
    assert "no published dataset" in stderr


def test_evaluate_id_blind_without_a_dataset(tmp_path: Path, repo: Path) -> None:
    raw = repo / "tests" / "fixtures" / "idblind"
    code, stdout, stderr = run_cli(
        "evaluate", "--id-blind", str(raw), "--out", str(tmp_path / "none"),
        "--reports", str(tmp_path), "--params", str(repo / "params.yaml"),
    )  # fmt: skip
    assert code == 0, stderr
    assert (
        "id-blind, hf_daily_papers stripped (as listed), content match: precision 100.0%, "
        "recall 100.0% (14 right, 0 wrong of 14 joinable)" in stdout
    )
    assert "(as listed), exact title: precision 100.0%, recall 78.6%" in stdout
    figures = json.loads((tmp_path / "evaluation.json").read_text())
    assert figures["id_blind"]["subtitles_dropped"]["baseline"]["right"] == 3
    code, _, stderr = run_cli(
        "evaluate", "--id-blind", str(raw), "--strip", "arxiv_oai", "--out", str(tmp_path),
        "--reports", str(tmp_path), "--params", str(repo / "params.yaml"),
    )  # fmt: skip
    assert code == 1
    assert "no arxiv_oai records" in stderr
