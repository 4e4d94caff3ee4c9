"""`papers run` in a terminal and in scripts (--json, --quiet, --progress, the summary table,
rejects named by file and record), and `papers inspect`."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from rich.console import Console
from typer.testing import CliRunner

from papers.cli import app, terminal
from papers.io import table_path
from tests.conftest import read_table

runner = CliRunner()


def cli_process(*args: str) -> subprocess.CompletedProcess[str]:
    """`python -m papers ...` in a child process, against the session's Prefect server."""
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    return subprocess.run(
        [sys.executable, "-m", "papers", *args],
        capture_output=True, text=True, check=False, timeout=300, env=env,
    )  # fmt: skip


@pytest.fixture(scope="module")
def raw(repo: Path, fixtures: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seed page plus a file with bad records and a truncated file (rejects to report)."""
    folder = tmp_path_factory.mktemp("terminal") / "raw"
    shutil.copytree(repo / "data" / "raw", folder)
    (folder / "feeds").mkdir()
    shutil.copyfile(fixtures / "feeds/hf-papers-2024-05-28.json",
                    folder / "feeds/hf-papers-2024-05-28.json")  # fmt: skip
    shutil.copyfile(fixtures / "hf_api/truncated.json", folder / "feeds/truncated.json")
    return folder


@pytest.fixture(scope="module")
def json_run(
    prefect_harness: None, repo: Path, raw: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, Any], str]:
    out = tmp_path_factory.mktemp("terminal-out")
    proc = cli_process("run", "--raw", str(raw), "--out", str(out),
                       "--params", str(repo / "params.yaml"), "--no-cache", "--json")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return out, json.loads(proc.stdout), proc.stderr


def test_json_is_the_only_thing_on_stdout(json_run: tuple[Path, dict[str, Any], str]) -> None:
    out, summary, _ = json_run
    counts = summary["counts"]
    assert counts["input_files"] == 3
    assert counts["raw_records"] == counts["records_in_papers"] + counts["rejected"]
    assert counts["papers"] >= 57
    assert summary["out_dir"] == str(out)
    assert summary["dataset_version"] == json.loads((out / "manifest.json").read_text())[
        "dataset"]["version"]  # fmt: skip
    stages = {s["stage"]: s for s in summary["stages"]}
    assert {"parse", "normalize", "write"} <= set(stages)  # and whatever else the flow runs
    assert stages["parse"]["records"] == counts["raw_records"]
    assert stages["write"]["records"] == counts["papers"]
    assert all(s["seconds"] is not None and s["seconds"] >= 0 for s in stages.values())
    assert stages["parse"]["records_per_s"] > 0
    rejects = summary["rejects"]
    assert rejects["count"] == counts["rejected"] >= 3
    assert {"source_file": "feeds/truncated.json", "record_index": None, "stage": "read"}.items() <= {
        k: v for r in rejects["first"] if r["source_file"] == "feeds/truncated.json"
        for k, v in r.items()
    }.items()  # fmt: skip


def test_json_mode_keeps_stderr_free_of_prefect_chatter(
    json_run: tuple[Path, dict[str, Any], str],
) -> None:
    _, _, stderr = json_run
    assert "Task run" not in stderr
    assert "Flow run" not in stderr
    assert "temporary server" not in stderr


def test_quiet_prints_nothing_on_success(
    prefect_harness: None, repo: Path, raw: Path, tmp_path: Path
) -> None:
    proc = cli_process("run", "--raw", str(raw), "--out", str(tmp_path), "--params",
                       str(repo / "params.yaml"), "--no-cache", "--quiet")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr == ""
    assert table_path(tmp_path, "papers") is not None


def test_quiet_still_reports_errors(tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", "--quiet", "--raw", str(tmp_path / "missing")])
    assert result.exit_code == 1
    assert result.stderr.strip() == f"error: raw input folder not found: {tmp_path / 'missing'}"


def test_default_run_prints_summary_stages_and_rejects_with_file_and_record(
    prefect_harness: None, repo: Path, raw: Path, tmp_path: Path
) -> None:
    result = runner.invoke(
        app, ["run", "--raw", str(raw), "--out", str(tmp_path), "--params",
              str(repo / "params.yaml"), "--no-cache", "--progress"],
        env={"COLUMNS": "200"},
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("records in:")
    header = next(line for line in lines if line.startswith("stage "))
    assert header.split() == ["stage", "tasks", "seconds", "records", "records/s"]
    assert any(line.split()[0] == "parse" for line in lines[lines.index(header) + 1 :])
    # rejects on stderr, named by file and record, with the stage and the reason
    assert "record(s) rejected; the first" in result.stderr
    assert "\n  feeds/hf-papers-2024-05-28.json:record 4: parse: item is a str" in result.stderr
    assert "feeds/truncated.json: read: truncated JSON" in result.stderr
    # forced progress: one row per stage, records/s filled in once the counts are known
    assert "normalize" in result.stderr
    assert "records/s" in result.stderr


def test_options_that_exclude_each_other() -> None:
    result = runner.invoke(app, ["run", "--quiet", "--json"])
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: give at most one of --quiet, --json and --verbose"


def test_stage_table_and_rich_summary() -> None:
    stages = [
        terminal.StageStat("parse", tasks=2, done=2, first_start=0.0, last_end=2.0, records=1000),
        terminal.StageStat("links", tasks=1, done=1, first_start=2.0, last_end=2.5, records=10),
        terminal.StageStat("custom", tasks=1, done=0, failed=1),
    ]
    text = terminal.plain_stage_table(stages).splitlines()
    assert text[0].split() == ["stage", "tasks", "seconds", "records", "records/s"]
    assert text[1].split() == ["parse", "2", "2.00", "1,000", "500"]
    assert text[2].split() == ["links", "1", "0.50", "10", "20"]
    assert text[3].split() == ["custom", "1", "(1", "failed)"]
    buffer = io.StringIO()
    console = Console(file=buffer, width=120, force_terminal=False)
    for table in terminal.rich_summary([("papers out", "57 [bold]x[/bold]")], stages):
        console.print(table)
    shown = buffer.getvalue()
    assert "records/s" in shown
    assert "57 [bold]x[/bold]" in shown  # data is never read as markup


def test_stage_of_task_run_names() -> None:
    assert terminal.stage_of("parse-3f2") == "parse"
    assert terminal.stage_of("parse-shard-0a1") == "parse-shard"
    assert terminal.stage_of("write") == "write"


# --- papers inspect ---------------------------------------------------------------------


def _dgm_eval_paper(out: Path) -> str:
    links = read_table(out, "links")
    return str(links.filter(pl.col("url").str.ends_with("/dgm-eval"))["paper_id"][0])


def test_inspect_shows_provenance_links_and_tags(
    json_run: tuple[Path, dict[str, Any], str],
) -> None:
    out, _, _ = json_run
    paper_id = _dgm_eval_paper(out)
    result = runner.invoke(app, ["inspect", paper_id, "--out", str(out)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.stderr
    shown = result.stdout
    assert shown.splitlines()[0] == paper_id
    assert "provenance (1 record(s))" in shown
    assert "hf_papers_page/daily-papers.txt" in shown
    row = next(line for line in shown.splitlines() if "github-repo" in line)
    cells = row.replace("│", " ").replace("|", " ").split()  # box characters vary by terminal
    assert cells[:5] == [
        "https://github.com/layer6ai-labs/dgm-eval", "code", "abstract", "github-repo", "1772-1813"
    ]  # fmt: skip
    assert "deep-generative-models" in shown
    assert "generative model" in shown  # the evidence term


def test_inspect_json(json_run: tuple[Path, dict[str, Any], str]) -> None:
    out, _, _ = json_run
    paper_id = _dgm_eval_paper(out)
    result = runner.invoke(app, ["inspect", paper_id, "--out", str(out), "--json"])
    assert result.exit_code == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["paper"]["paper_id"] == paper_id
    assert found["provenance"] == [{"source_file": "hf_papers_page/daily-papers.txt",
                                    "source": "hf_papers_page", "record_index": 54,
                                    "line": 227, "matched_by": "none",
                                    "match_score": None}]  # fmt: skip
    # its related papers (both methods, best first) and near-duplicates (none in the seed)
    assert {r["method"] for r in found["related"]} == {"embeddings", "tfidf"}
    assert [r["rank"] for r in found["related"] if r["method"] == "tfidf"] == list(range(1, 11))
    assert all(r["title"] for r in found["related"])
    assert found["duplicates"] == []
    link = next(x for x in found["links"] if x["url"].endswith("/dgm-eval"))
    assert (link["kind"], link["origin"], link["rule"]) == ("code", "abstract", "github-repo")
    assert (link["start"], link["end"]) == (1772, 1813)
    tags = {t["tag"]: t for t in found["tags"]}
    assert tags["deep-generative-models"]["evidence"] == "generative model"
    assert [t["score"] for t in found["tags"]] == sorted(
        (t["score"] for t in found["tags"]), reverse=True
    )


def test_inspect_finds_by_arxiv_id_in_any_form(json_run: tuple[Path, dict[str, Any], str]) -> None:
    out, _, _ = json_run
    with_arxiv = read_table(out, "papers").filter(pl.col("arxiv_id").is_not_null())
    if with_arxiv.height == 0:
        pytest.skip("no arXiv ids in this build")
    arxiv_id = with_arxiv["arxiv_id"][0]
    result = runner.invoke(app, ["inspect", f"arXiv:{arxiv_id}v2", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["paper"]["arxiv_id"] == arxiv_id


def test_inspect_unknown_id_fails_clearly(json_run: tuple[Path, dict[str, Any], str]) -> None:
    out, _, _ = json_run
    result = runner.invoke(app, ["inspect", "9999.99999", "--out", str(out)])
    assert result.exit_code == 1
    assert result.stderr.strip() == f"error: no paper '9999.99999' in the papers table of {out}"


def test_inspect_without_a_dataset_fails_clearly(tmp_path: Path) -> None:
    result = runner.invoke(app, ["inspect", "x", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"error: no published dataset in {tmp_path} (run `papers run` first)"
    )


def test_run_watcher_hook_travels_to_dask_workers() -> None:
    """Prefect ships the flow run's context, hooks included, with every task to Dask workers:
    the hook must pickle (a bound method of the watcher, with its thread and rich display, did
    not), and calling it where no watcher lives does nothing."""
    import cloudpickle

    watcher = terminal.RunWatcher(None)
    copy = cloudpickle.loads(cloudpickle.dumps(watcher.hook))
    assert copy.token == watcher.hook.token
    watcher.finish(None)  # the watcher is gone, as on a worker
    copy(None, type("Run", (), {"id": "x"})(), None)
    assert watcher.flow_run_id is None
