"""Versions for real: builds of different inputs, the gates between them, `papers diff`, and
`papers versions` / `dvc metrics diff` / `dvc plots diff` over a git + DVC history of two builds.

The builds run the build-dataset flow on a temporary Prefect server (about 10 s each); the
git + DVC test is slow (-m slow).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml
from typer.testing import CliRunner

from papers.cli import app
from papers.errors import PapersError
from papers.history import diff_datasets, load_dataset, papers_by_date
from tests.conftest import every_file, read_table
from tests.test_changes import DROPPED, NEW_PAPERS

REPO = Path(__file__).resolve().parent.parent
SEED = REPO / "data" / "raw" / "hf_papers_page" / "daily-papers.txt"
HF_DAYS = REPO / "tests" / "fixtures" / "fetch"
DAYS = ("2024-09-03", "2025-01-21", "2025-07-07")
PUBLISHED = ("papers", "links", "tags", "provenance", "rejected", "changes",  # directories
             "manifest.json", "metrics.json", "papers_by_date.json")  # fmt: skip


def build(raw: Path, out: Path, gates: bool = True) -> dict[str, Any]:
    from flows.build import build_dataset

    result: dict[str, Any] = build_dataset(
        raw_dir=str(raw), out_dir=str(out), params_path=str(REPO / "params.yaml"), gates=gates
    )
    return result


def published(folder: Path) -> list[Path]:
    """The dataset's files and table directories (not run state such as .lock)."""
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


def digests(folder: Path) -> dict[str, str]:
    """Every published file, in the table directories too: relative path -> sha256."""
    assert set(PUBLISHED) <= {p.name for p in published(folder)}
    return every_file(folder)


def fetched_papers() -> dict[str, str]:
    """arXiv id -> title of every paper in the fetched HF daily listings (the added ones)."""
    papers = {}
    for day in DAYS:
        for row in json.loads((HF_DAYS / f"hf-{day}.json").read_text()):
            papers[row["paper"]["id"]] = " ".join(row["paper"]["title"].split())
    return papers


@pytest.fixture(scope="module")
def builds(prefect_harness: None, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A: the seed page; B: the seed and three fetched HF days, built over A (gates on)."""
    root = tmp_path_factory.mktemp("history")
    raw_a = root / "raw-a"
    (raw_a / "hf_papers_page").mkdir(parents=True)
    shutil.copy(SEED, raw_a / "hf_papers_page" / SEED.name)
    raw_b = root / "raw-b"
    shutil.copytree(raw_a, raw_b)
    (raw_b / "hf_daily_papers").mkdir()
    for day in DAYS:
        shutil.copy(HF_DAYS / f"hf-{day}.json", raw_b / "hf_daily_papers" / f"{day}.json")
    build(raw_a, root / "a")
    shutil.copytree(root / "a", root / "b")
    build(raw_b, root / "b")  # a normal daily rebuild: more papers, the gates let it through
    return {"root": root, "a": root / "a", "b": root / "b", "raw_a": raw_a, "raw_b": raw_b}


def test_diff_of_two_builds_shows_the_fetched_papers_as_added(builds: dict[str, Path]) -> None:
    result = diff_datasets(
        load_dataset(str(builds["a"]), None), load_dataset(str(builds["b"]), None)
    )
    expected = fetched_papers()
    assert result["papers"]["added"] == len(expected) == 4
    assert result["papers"]["removed"] == 0
    assert {r["paper_id"]: r["title"] for r in result["papers"]["added_examples"]} == expected
    assert result["a"]["papers"] == 57
    assert result["b"]["papers"] == 61
    counts = {r["name"]: r for r in result["counts"]}
    assert counts["papers"]["delta"] == 4
    assert counts["input_files"]["a"] == 1
    assert counts["input_files"]["b"] == 4
    metrics = {r["name"] for r in result["metrics"]}
    assert {"tag_coverage", "quality.tags.coverage"} <= metrics


def test_papers_diff_cli_text_and_json(builds: dict[str, Path]) -> None:
    runner = CliRunner()
    text = runner.invoke(app, ["diff", str(builds["a"]), str(builds["b"])])
    assert text.exit_code == 0, text.stderr
    assert "papers: 4 added, 0 removed" in text.stdout
    for paper_id in fetched_papers():
        assert f"+ {paper_id}" in text.stdout
    first = runner.invoke(
        app, ["diff", str(builds["a"]), str(builds["b"]), "--json", "--limit", "1"]
    )
    data = json.loads(first.stdout)
    assert data["papers"]["added"] == 4
    assert len(data["papers"]["added_examples"]) == 1
    missing = runner.invoke(app, ["diff", str(builds["a"]), "no-such-rev-or-folder"])
    assert missing.exit_code == 1
    assert (
        "'no-such-rev-or-folder' is neither a dataset folder nor a git revision" in missing.stderr
    )


def test_a_gate_trips_on_a_truncated_input_and_the_dataset_stays(builds: dict[str, Path]) -> None:
    root = builds["root"]
    raw_t = root / "raw-truncated" / "hf_papers_page"
    raw_t.mkdir(parents=True)
    lines = SEED.read_text("utf-8").splitlines(keepends=True)
    (raw_t / SEED.name).write_text("".join(lines[: len(lines) // 2]), "utf-8")
    out = root / "t"
    shutil.copytree(builds["b"], out)
    before = digests(out)
    with pytest.raises(PapersError, match=r"quality gates failed, nothing published") as caught:
        build(root / "raw-truncated", out)
    assert "of 61 published papers" in str(caught.value)
    assert "missing from the new build (max_paper_loss_share 5.0%)" in str(caught.value)
    assert digests(out) == before
    assert not list(out.glob(".staging-*"))
    # the escape hatch publishes it anyway
    forced = build(root / "raw-truncated", out, gates=False)
    assert forced["counts"]["papers"] < 40
    assert read_table(out, "papers").height == forced["counts"]["papers"]


def test_papers_by_date_counts_each_listing_date_and_undated_last() -> None:
    papers = pl.DataFrame(
        {
            "listing_dates": [["2025-01-21", "2025-01-22"], ["2025-01-21"], []],
            "code_url": ["https://github.com/a/b", None, None],
            "tags": [["llm"], [], ["vision"]],
        },
        schema_overrides={"listing_dates": pl.List(pl.Date)},
    )
    assert papers_by_date(papers).to_dicts() == [
        {"listing_date": "2025-01-21", "papers": 2, "with_code": 1, "tagged": 1},
        {"listing_date": "2025-01-22", "papers": 1, "with_code": 1, "tagged": 1},
        {"listing_date": "undated", "papers": 1, "with_code": 0, "tagged": 1},
    ]


def sh(cwd: Path, *args: str) -> str:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "DVC_NO_ANALYTICS": "1", "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}  # fmt: skip
    proc = subprocess.run(list(args), cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"{args}: {proc.stdout}\n{proc.stderr}"
    return proc.stdout


def _path(entry: str | dict[str, Any]) -> str:
    return entry if isinstance(entry, str) else next(iter(entry))


@pytest.mark.slow  # a dozen git and DVC commands
def test_versions_and_diffs_through_git_and_dvc(builds: dict[str, Path]) -> None:
    """Two commits pin the two builds; papers, DVC metrics and DVC plots all see both."""
    clone = builds["root"] / "clone"
    clone.mkdir()
    # the repo's build-dataset stage, with the outputs this build writes (others may be added)
    stage = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]["build-dataset"]
    for key in ("outs", "metrics", "plots"):
        stage[key] = [o for o in stage.get(key, []) if (builds["a"] / Path(_path(o)).name).exists()]
    (clone / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"build-dataset": stage}}))
    for name in (
        "params.yaml",
        "tests/fixtures/links/gold.jsonl",
        "tests/fixtures/neardup/checked.csv",
    ):
        (clone / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / name, clone / name)
    for package in ("flows", "papers", "schemas", "vocab"):
        shutil.copytree(REPO / package, clone / package, ignore=shutil.ignore_patterns("__py*"))
    sh(clone, "git", "init", "-q")
    sh(clone, "dvc", "init", "-q")
    sh(clone, "dvc", "config", "core.analytics", "false")
    processed = clone / "data" / "processed"
    processed.mkdir(parents=True)
    for label in ("a", "b"):
        shutil.rmtree(clone / "data" / "raw", ignore_errors=True)
        shutil.copytree(builds[f"raw_{label}"], clone / "data" / "raw")
        for path in published(builds[label]):
            # the table directories and the change feed's are DVC directory outs
            if path.is_dir():
                shutil.rmtree(processed / path.name, ignore_errors=True)
                shutil.copytree(path, processed / path.name, copy_function=shutil.copy)
            else:
                shutil.copy(path, processed / path.name)
        # record the published files as build-dataset's outputs (the real command is not run)
        sh(clone, "dvc", "commit", "--force", "build-dataset")
        sh(clone, "git", "add", "-A")
        sh(clone, "git", "commit", "-q", "-m", f"dataset {label}")
    shutil.rmtree(clone / "data" / "processed")  # revisions are read through DVC, not the tree

    runner = CliRunner()
    listed = runner.invoke(app, ["versions", "--repo", str(clone), "--json"])
    assert listed.exit_code == 0, listed.stderr
    versions = json.loads(listed.stdout)
    assert [v["subject"] for v in versions] == ["dataset b", "dataset a"]
    assert [v["papers"] for v in versions] == [61, 57]
    manifest_b = json.loads((builds["b"] / "manifest.json").read_text())
    assert versions[0]["dataset_version"] == manifest_b["dataset"]["version"]
    table = runner.invoke(app, ["versions", "--repo", str(clone)])
    assert manifest_b["dataset"]["version"] in table.stdout

    diffed = runner.invoke(app, ["diff", "HEAD~1", "HEAD", "--repo", str(clone), "--json"])
    assert diffed.exit_code == 0, diffed.stderr
    result = json.loads(diffed.stdout)
    assert {r["paper_id"] for r in result["papers"]["added_examples"]} == set(fetched_papers())

    metrics = json.loads(sh(clone, "dvc", "metrics", "diff", "HEAD~1", "HEAD", "--json"))
    papers_metric = metrics["data/processed/metrics.json"]["papers"]
    assert (papers_metric["old"], papers_metric["new"], papers_metric["diff"]) == (57, 61, 4)
    plots = json.loads(sh(clone, "dvc", "plots", "diff", "HEAD~1", "HEAD", "--json"))
    assert not plots.get("errors"), plots["errors"]
    [rendered] = plots["data"]["data/processed/papers_by_date.json"]
    assert set(rendered["revisions"]) == {"HEAD~1", "HEAD"}
    values = rendered["content"]["data"]["values"]
    by_rev = {(v["rev"], v["listing_date"]): v["papers"] for v in values}
    assert by_rev[("HEAD~1", "undated")] == 57
    assert by_rev[("HEAD", "2025-01-21")] == 1


# --------------------------------------------------------------------------- the change feed


def record_feed(previous: Path | None, out: Path, params: Any) -> dict[str, Any]:
    """What the publish step does once it writes feeds: the papers changes since `previous`
    written as out/changes/v<N>-….parquet, and the manifest given number, parent and changes."""
    from papers import dataset
    from papers.changes import feed_frame, manifest_changes, version_changes, write_feed

    manifest: dict[str, Any] = json.loads((out / "manifest.json").read_text())
    before = json.loads((previous / "manifest.json").read_text()) if previous else None
    number = before["dataset"]["number"] + 1 if before else 1
    old = dataset.manifest_tables(before)["papers"] if before else []
    diff = version_changes(previous, old, out, dataset.manifest_tables(manifest)["papers"])
    version = manifest["dataset"]["version"]
    entry = write_feed(feed_frame(number, version, diff), out / "changes", number, params.write)
    parent = before["dataset"]["version"] if before else None
    manifest["dataset"] |= {"number": number, "parent": parent}
    manifest["changes"] = manifest_changes(entry, diff)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest


@pytest.fixture(scope="module")
def feeds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Partitioned seed builds a day apart (tests/test_changes.py), each with its feed."""
    from tests.test_changes import build, next_day, partitioned

    root = tmp_path_factory.mktemp("feeds")
    edited, day = next_day(SEED.read_text("utf-8"))
    (root / "raw-a").mkdir()
    shutil.copy(SEED, root / "raw-a" / "seed.txt")
    (root / "raw-b").mkdir()
    (root / "raw-b" / "seed.txt").write_text(edited, "utf-8")
    (root / "raw-b" / "day2.txt").write_text(day, "utf-8")
    params = partitioned()
    build(root / "raw-a", root / "a", params)
    record_feed(None, root / "a", params)
    shutil.copytree(root / "a", root / "b")
    build(root / "raw-b", root / "b", params)
    record_feed(root / "a", root / "b", params)
    return {"root": root, "a": root / "a", "b": root / "b", "raw_a": root / "raw-a",
            "raw_b": root / "raw-b"}  # fmt: skip


def _same_figures(feed: dict[str, Any], tables: dict[str, Any]) -> None:
    for key in ("added", "removed", "changed", "unchanged"):
        assert feed["papers"][key] == tables["papers"][key], key
    assert {f["column"]: f["papers"] for f in feed["changed_fields"]} == {
        f["column"]: f["papers"] for f in tables["changed_fields"]
    }
    assert [r["paper_id"] for r in feed["papers"]["added_examples"]] == [
        r["paper_id"] for r in tables["papers"]["added_examples"]
    ]
    assert feed["counts"] == tables["counts"]
    assert feed["metrics"] == tables["metrics"]


def test_diff_of_consecutive_versions_reads_the_feed_not_the_tables(
    feeds: dict[str, Path], tmp_path: Path
) -> None:
    from papers.history import diff_versions

    a, b = load_dataset(str(feeds["a"]), None), load_dataset(str(feeds["b"]), None)
    result = diff_versions(a, b, limit=2)
    assert result["source"] == "feed"
    assert result["feed"].startswith("changes/v000002-")
    assert b._papers is None  # never read
    assert result["papers"] | {"added_examples": [], "removed_examples": []} == {
        "added": 3, "removed": 1, "changed": 2, "unchanged": 57 - 1 - 2,
        "added_examples": [], "removed_examples": [],
    }  # fmt: skip
    # titles from the papers files the versions do not share (max_rows 6: some are shared)
    titles = {title for title, _ in NEW_PAPERS}
    assert len(result["papers"]["added_examples"]) == 2
    assert {r["title"] for r in result["papers"]["added_examples"]} < titles
    assert result["papers"]["removed_examples"][0]["title"] == DROPPED
    assert result["a"]["number"] == 1
    assert result["b"] | {"label": ""} == {
        "label": "", "dataset_version": b.version, "number": 2, "papers": 59,
    }  # fmt: skip
    changed = {f["column"]: f["papers"] for f in result["changed_fields"]}
    assert changed["abstract"] == changed["abstract_raw"] == 2
    # the same figures as comparing the two papers tables
    _same_figures(result, diff_datasets(a, b, limit=2))
    # B's manifest, metrics and feed alone are enough (no papers file at all)
    bare = tmp_path / "b"
    bare.mkdir()
    for name in ("manifest.json", "metrics.json", result["feed"]):
        (bare / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(feeds["b"] / name, bare / name)
    from_bare = diff_versions(a, load_dataset(str(bare), None), limit=2)
    no_titles = [{**r, "title": None} for r in result["papers"]["added_examples"]]
    assert from_bare == result | {
        "b": result["b"] | {"label": str(bare)},
        "papers": result["papers"] | {"added_examples": no_titles},
    }


def test_diff_falls_back_to_the_tables_when_b_is_not_a_s_successor(feeds: dict[str, Path]) -> None:
    from papers.history import diff_versions

    a, b = load_dataset(str(feeds["a"]), None), load_dataset(str(feeds["b"]), None)
    backwards = diff_versions(b, a)
    assert backwards["source"] == "tables"
    assert (backwards["papers"]["added"], backwards["papers"]["removed"]) == (1, 3)
    assert diff_versions(a, a)["source"] == "tables"  # a's feed is from no version to a


def test_a_feed_that_disagrees_with_its_manifest_is_an_error(
    feeds: dict[str, Path], tmp_path: Path
) -> None:
    from papers.history import diff_versions

    b = tmp_path / "b"
    shutil.copytree(feeds["b"], b)
    manifest = json.loads((b / "manifest.json").read_text())
    manifest["changes"]["added"] += 1
    (b / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(PapersError, match=r"does not match its manifest"):
        diff_versions(load_dataset(str(feeds["a"]), None), load_dataset(str(b), None))


def test_papers_diff_cli_from_the_feed(feeds: dict[str, Path]) -> None:
    runner = CliRunner()
    text = runner.invoke(app, ["diff", str(feeds["a"]), str(feeds["b"]), "--limit", "5"])
    assert text.exit_code == 0, text.stderr
    assert "papers: 3 added, 1 removed, 2 changed, 54 unchanged" in text.stdout
    assert "(from the change feed changes/v000002-" in text.stdout
    assert "  abstract " in text.stdout
    feed = pl.read_parquet(feeds["b"] / json.loads(
        (feeds["b"] / "manifest.json").read_text())["changes"]["path"])  # fmt: skip
    for paper_id in feed.filter(op="added")["paper_id"]:
        assert f"+ {paper_id}" in text.stdout
    for title, _ in NEW_PAPERS:
        assert f"  {title}\n" in text.stdout
    assert f"  {DROPPED}\n" in text.stdout
    data = json.loads(
        runner.invoke(app, ["diff", str(feeds["a"]), str(feeds["b"]), "--json"]).stdout
    )
    assert data["source"] == "feed"


def dvc_repo(
    root: Path, outs: list[Any], versions: list[Path], data: str = "data/processed"
) -> Path:
    """A scratch git + DVC repo whose build-dataset stage has `outs`; one commit per version
    folder (its files copied into data/processed, then `dvc commit`), the tree removed after."""
    clone = root
    clone.mkdir()
    stage = {"cmd": "papers run --raw data/raw --out data/processed", "outs": outs}
    if data == "data/processed":
        stage["metrics"] = [{"data/processed/metrics.json": {"cache": False}}]
    (clone / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"build-dataset": stage}}))
    sh(clone, "git", "init", "-q")
    sh(clone, "dvc", "init", "-q")
    sh(clone, "dvc", "config", "core.analytics", "false")
    processed = clone / "data" / "processed"
    for number, folder in enumerate(versions, 1):
        shutil.rmtree(processed, ignore_errors=True)
        # shutil.copy, not copy2: a preserved mtime on a reused inode can make git's stat check
        # see metrics.json unchanged across versions (it did in CI)
        shutil.copytree(
            folder, processed, ignore=shutil.ignore_patterns(".*"), copy_function=shutil.copy
        )
        sh(clone, "dvc", "commit", "--force", "build-dataset")
        sh(clone, "git", "add", "-A")
        sh(clone, "git", "commit", "-q", "-m", f"dataset {number}")
    shutil.rmtree(processed)  # revisions are read through DVC, not the tree
    return clone


@pytest.mark.slow  # a dozen git and DVC commands
def test_versions_and_diffs_with_directory_outs(feeds: dict[str, Path]) -> None:
    """The tables as DVC directory outs (design §6): `papers versions` lists both versions with
    their numbers and feed totals, `papers diff` reads the feed, or the tables file by file."""
    a = feeds["a"]
    outs: list[Any] = [
        {f"data/processed/{p.name}": {"persist": True}}
        for p in sorted(a.iterdir())
        if not p.name.startswith(".") and p.name not in ("metrics.json", "README.md")
    ]
    assert {"data/processed/papers", "data/processed/changes"} <= {next(iter(o)) for o in outs}
    clone = dvc_repo(feeds["root"] / "dir-outs", outs, [feeds["a"], feeds["b"]])
    lock = yaml.safe_load((clone / "dvc.lock").read_text())
    md5 = {o["path"]: o["md5"] for o in lock["stages"]["build-dataset"]["outs"]}
    assert md5["data/processed/papers"].endswith(".dir")

    runner = CliRunner()
    listed = runner.invoke(app, ["versions", "--repo", str(clone), "--json"])
    assert listed.exit_code == 0, listed.stderr
    versions = json.loads(listed.stdout)
    assert [(v["subject"], v["number"], v["papers"]) for v in versions] == [
        ("dataset 2", 2, 59), ("dataset 1", 1, 57),
    ]  # fmt: skip
    assert versions[0]["parent"] == versions[1]["dataset_version"]
    assert {k: versions[0]["changes"][k] for k in ("added", "updated", "removed")} == {
        "added": 3, "updated": 2, "removed": 1,
    }  # fmt: skip
    table = runner.invoke(app, ["versions", "--repo", str(clone)])
    assert "+3 ~2 -1" in table.stdout
    assert "+57 ~0 -0" in table.stdout

    def diff(*args: str) -> dict[str, Any]:
        done = runner.invoke(app, ["diff", *args, "--repo", str(clone), "--json"])
        assert done.exit_code == 0, done.stderr
        result: dict[str, Any] = json.loads(done.stdout)
        return result

    from papers.history import diff_versions

    folders = diff_versions(
        load_dataset(str(feeds["a"]), None), load_dataset(str(feeds["b"]), None)
    )
    forward = diff("HEAD~1", "HEAD")
    assert forward["source"] == "feed"
    assert forward["papers"] == folders["papers"]
    # B to A is not a successor: the papers tables are read from the DVC cache, file by file
    backwards = diff("HEAD", "HEAD~1")
    assert backwards["source"] == "tables"
    assert (backwards["papers"]["added"], backwards["papers"]["removed"]) == (1, 3)
    assert backwards["papers"]["changed"] == 2


@pytest.mark.slow
def test_versions_with_the_dataset_folder_as_one_directory_out(feeds: dict[str, Path]) -> None:
    clone = dvc_repo(
        feeds["root"] / "one-out", [{"data/processed": {"persist": True}}], [feeds["a"]], "all"
    )
    [version] = list_versions_of(clone)
    manifest = json.loads((feeds["a"] / "manifest.json").read_text())
    assert version["dataset_version"] == manifest["dataset"]["version"]
    assert version["manifest_md5"].endswith(".dir")
    assert version["papers"] == 57


def list_versions_of(clone: Path) -> list[dict[str, Any]]:
    from papers.history import list_versions

    return list_versions(clone)
