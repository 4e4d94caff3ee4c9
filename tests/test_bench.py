"""bench/: the generator is deterministic and readable, the baseline agrees with the pipeline, and
bench/run.py measures end to end."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from bench import baseline, generate, harness
from bench.children import run_steps
from papers.config import load_params
from papers.readers import iter_file
from schemas import PUBLISHED
from tests.conftest import read_table

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"
POOL_SOURCES = (FIXTURES, REPO / "data" / "raw")  # what a fresh clone has: no ../shared/realdata


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bench")


@pytest.fixture(scope="module")
def pool(work: Path) -> pl.DataFrame:
    return generate.load_pool(POOL_SOURCES, cache=work)


@pytest.fixture(scope="module")
def generated(work: Path, pool: pl.DataFrame) -> Path:
    raw = work / "raw-600"
    generate.generate(600, raw / "arxiv-snapshot.jsonl", seed=3, pool=pool, chunk=128)
    return raw


def _read(path: Path) -> pl.DataFrame:
    _, batches = iter_file(path, path.name, load_params(REPO / "params.yaml"))
    frames = list(batches)
    assert all(rejects.height == 0 for _, rejects in frames)
    return pl.concat([records for records, _ in frames])


def test_pool_holds_distinct_real_texts(pool: pl.DataFrame) -> None:
    assert pool.height >= 100
    assert pool["title"].n_unique() == pool.height
    assert pool["tail"].str.contains("http").any()  # URLs survive into the pool


def test_generate_is_deterministic_and_a_prefix_of_larger_runs(
    tmp_path: Path, pool: pl.DataFrame, generated: Path
) -> None:
    data = (generated / "arxiv-snapshot.jsonl").read_bytes()
    again = generate.generate(600, tmp_path / "again.jsonl", seed=3, pool=pool, chunk=1000)
    assert again.read_bytes() == data  # chunking does not change the bytes
    head = generate.generate(250, tmp_path / "head.jsonl", seed=3, pool=pool)
    assert data.startswith(head.read_bytes())
    other = generate.generate(600, tmp_path / "other.jsonl", seed=4, pool=pool)
    assert other.read_bytes() != data


def test_sentence_text_repeats_sentences_not_halves(tmp_path: Path, pool: pl.DataFrame) -> None:
    path = generate.generate(600, tmp_path / "s.jsonl", seed=3, pool=pool, chunk=128,
                             text="sentences")  # fmt: skip
    data = path.read_bytes()
    again = generate.generate(600, tmp_path / "again.jsonl", seed=3, pool=pool, text="sentences")
    assert again.read_bytes() == data
    pairs = _read(generate.generate(600, tmp_path / "p.jsonl", seed=3, pool=pool))
    mixed = _read(path)
    # the same rows, ids and titles: only the abstracts differ
    assert mixed.select("arxiv_id_raw", "title_raw").equals(
        pairs.select("arxiv_id_raw", "title_raw")
    )
    abstracts = mixed["abstract_raw"].str.replace_all(r"\s+", " ").str.strip_chars()
    assert abstracts.str.contains("\n").sum() == 0
    assert mixed["abstract_raw"].str.contains("\n").mean() > 0.9  # hard-wrapped
    sentences = set(generate.sentence_pool(pool).to_list())
    first = abstracts.str.extract(r"^(.+?[.!?]) [A-Z]").drop_nulls()
    assert first.len() > 500
    assert first.is_in(list(sentences)).mean() > 0.9
    # a re-listed paper (the same id, or no id and the same title) has its paper's abstract
    assert (mixed["arxiv_id_raw"] == "").sum() == 15
    by_title = mixed.with_columns(key=pl.col("title_raw").str.replace_all(r"\s+|\.$", ""))
    groups = by_title.with_columns(abstracts.alias("a")).group_by("key").agg(pl.col("a").n_unique())
    assert (groups["a"] == 1).all()
    with pytest.raises(ValueError, match="text must be one of"):
        generate.generate(10, tmp_path / "x.jsonl", pool=pool, text="words")


def test_generated_records_read_with_the_shares_of_duplicates(generated: Path) -> None:
    records = _read(generated / "arxiv-snapshot.jsonl")
    assert records.height == 600
    ids = records["arxiv_id_raw"]
    # rows 100..599 cycle through every residue five times: 3% id, 2% title, 1% DOI duplicates
    assert (ids == "").sum() == 15
    assert ids.filter(ids != "").n_unique() == 600 - 15 - 15
    assert records["published_at"].null_count() == 0
    assert records["abstract_raw"].str.contains("\n").mean() > 0.9  # hard-wrapped
    assert records["title_raw"].str.contains("\n  ").any()
    assert records["abstract_raw"].str.contains(r"https?://").any()
    assert records["abstract_raw"].str.contains(r"\$|\\").any()


def _compare(raw: Path, out: Path) -> dict[str, int]:
    """Pipeline and baseline on raw: the same papers, links and tags; their row counts."""
    params = REPO / "params.yaml"
    run_steps(raw, out / "pipeline", params, None)
    baseline.run(raw, out / "baseline", params)
    tables = {
        "papers": ["paper_id", "arxiv_id", "title", "abstract", "title_key", "doi", "categories",
                   "sources", "tags"],
        "links": ["paper_id", "url", "url_raw", "kind", "host", "origin", "rule", "start", "end",
                  "curated"],
        "tags": ["paper_id", "tag", "score", "evidence"],
        "provenance": ["paper_id", "source_file", "source", "record_index", "line"],
    }  # fmt: skip
    counts = {}
    for name, columns in tables.items():
        ours = read_table(out / "pipeline", name).select(columns)
        theirs = pl.read_parquet(out / "baseline" / f"{name}.parquet")
        theirs = (theirs if theirs.height else pl.DataFrame(schema=ours.schema)).select(columns)
        ours, theirs = ours.sort(columns[:2]), theirs.cast(ours.schema).sort(columns[:2])
        assert ours.equals(theirs, null_equal=True), f"{name} differ"
        counts[name] = ours.height
    # each paper's links in text order
    link_lists = [
        read_table(out / side, "papers")
        .select("paper_id", pl.col("links").list.eval(pl.element().struct.field("url")))
        .sort("paper_id")
        for side in ("pipeline", "baseline")
    ]
    assert link_lists[0].equals(link_lists[1])
    return counts


def test_baseline_matches_pipeline_on_the_seed(tmp_path: Path) -> None:
    counts = _compare(REPO / "data" / "raw", tmp_path)
    assert counts["papers"] == 57
    assert counts["links"] > 0
    assert counts["tags"] > 0


def test_baseline_matches_pipeline_on_real_snapshot_records(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "snapshot.jsonl").write_bytes(
        (FIXTURES / "bench" / "arxiv-snapshot-excerpt.jsonl").read_bytes()
    )
    counts = _compare(raw, tmp_path / "out")
    assert counts["papers"] == 36
    assert counts["links"] > 0
    assert counts["tags"] > 0


def test_baseline_matches_pipeline_on_generated_records(generated: Path, tmp_path: Path) -> None:
    counts = _compare(generated, tmp_path)
    # 15 re-listed ids merge, and the 15 records without an id join their papers by DOI or title
    assert counts["provenance"] == 600
    assert counts["papers"] == 600 - 30
    assert counts["links"] > 20


# The bench's own end-to-end runs are slow (~30 s each: it builds 20k records to compile the
# kernels, then every measurement in a child): CI runs them with the slow tests, and its
# `make bench-smoke` runs the bench itself.
def test_auto_text_takes_sentences_once_a_pool_record_would_recur_in_many_papers(
    work: Path, pool: pl.DataFrame
) -> None:
    """The halves of a small pool recur in ~n / pool size papers: near-duplicate clusters that
    grow with n (1M records from a fresh clone's pool ran the similarity step out of 24 GB)."""
    per = generate.PAIRS_PER_RECORD
    assert generate.text_for(per * 169, 169) == "pairs"
    assert generate.text_for(per * 169 + 1, 169) == "sentences"
    assert generate.text_for(1_000_000, 13_481) == "pairs"  # the realdata pool, as measured
    assert generate.text_for(5_000_000, 13_481) == "sentences"
    assert generate.text_for(5_000_000, 169, "pairs") == "pairs"  # asked for: kept
    opts = argparse.Namespace(text="auto", sources=list(POOL_SOURCES), work=work, seed=0)
    assert harness.pool_records(opts) == pool.height  # the pool a fresh clone generates from
    assert harness.text_for(per * pool.height, opts) == "pairs"
    assert harness.text_for(per * pool.height + 1, opts) == "sentences"
    assert harness.text_for(10**9, argparse.Namespace(**{**vars(opts), "text": "pairs"})) == "pairs"


@pytest.mark.slow
def test_run_measures_end_to_end(work: Path, pool: pl.DataFrame, tmp_path: Path) -> None:
    del pool  # built into `work` already: run.py finds it there
    result = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "run.py"), "--sizes", "400", "--work", str(work),
         "--json", str(result), *[f"--from={s}" for s in POOL_SOURCES]],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "I/O floor" in done.stdout
    assert "baseline" in done.stdout
    payload = json.loads(result.read_text())
    assert {"cores", "ram_gib", "python", "polars", "cpu"} <= payload["machine"].keys()
    (entry,) = payload["results"]
    assert entry["n"] == 400
    assert entry["text"] == "pairs"  # 400 records from a pool of more than 4
    assert entry["pool_records"] > 4
    pipe = entry["pipeline"]
    assert {"parse", "normalize", "write"} <= set(pipe["stages"])
    assert sum(s["seconds"] for s in pipe["stages"].values()) == pytest.approx(pipe["seconds"])
    assert pipe["counts"]["raw_records"] == 400
    for key in ("seconds", "records_per_s", "peak_rss_mib", "ratio_to_floor",
                "speedup_vs_baseline"):  # fmt: skip
        assert pipe[key] > 0
    assert entry["floor"]["seconds"] > 0
    assert entry["baseline"]["counts"]["papers"] == pipe["counts"]["papers"]
    assert entry["baseline"]["extrapolated"] is False
    cli = entry["cli"]  # `papers run` end to end, the figure the targets are judged on
    assert cli["returncode"] == 0
    assert cli["aborted"] is None
    assert cli["seconds"] > pipe["seconds"]  # a new interpreter and a Prefect server on top
    assert cli["peak_tree_rss_mib"] > 0
    assert cli["ratio_to_floor_cpu"] > 0
    assert "papers run (end to end)" in done.stdout
    for target in ("x floor, wall", "x floor, CPU", "x baseline, wall", "peak RSS"):
        assert target in done.stdout


@pytest.mark.slow
def test_run_measures_papers_run_alone(work: Path, pool: pl.DataFrame, tmp_path: Path) -> None:
    """--no-pipeline: `papers run` alone (the memory check at a large size), its targets
    judged on it; with --no-cli too there is nothing to measure, and it says so."""
    del pool
    result = tmp_path / "results.json"
    command = [sys.executable, str(REPO / "bench" / "run.py"), "--sizes", "400", "--work",
               str(work), "--json", str(result), *[f"--from={s}" for s in POOL_SOURCES]]  # fmt: skip
    done = subprocess.run(
        [*command, "--no-pipeline", "--no-baseline"],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    (entry,) = json.loads(result.read_text())["results"]
    assert "pipeline" not in entry
    assert "baseline" not in entry
    assert entry["cli"]["returncode"] == 0
    assert entry["cli"]["ratio_to_floor_cpu"] > 0
    assert "overhead_seconds" not in entry["cli"]
    assert "pipeline (total)" not in done.stdout
    assert "papers run (end to end)" in done.stdout
    assert "x floor, CPU" in done.stdout
    assert "the largest of `papers run` with its server)" in done.stdout
    for flag, reason in (("--no-cli", "leaves no build to measure"),
                         ("--prefect", "not with --no-pipeline")):  # fmt: skip
        refused = subprocess.run(
            [*command, "--no-pipeline", flag],
            cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert refused.returncode == 2
        assert reason in refused.stderr


def test_keyphrase_agreement_prints_the_figures(tmp_path: Path) -> None:
    """bench/keyphrase_agreement.py on a seed build: a table refreshed from every paper agrees
    exactly with the build's own ranking, and growth moves no paper against a pinned table."""
    run_steps(REPO / "data" / "raw", tmp_path / "out", REPO / "params.yaml", None)
    done = subprocess.run(
        [sys.executable, "bench/keyphrase_agreement.py", str(tmp_path / "out"),
         "--fractions", "1,0.5", "--growth", "0.2"],
        cwd=REPO, capture_output=True, text=True, check=True,
    )  # fmt: skip
    lines = done.stdout.splitlines()
    assert lines[0].startswith("57 papers, top-5 keyphrases")
    assert lines[2].split()[2:] == ["1.000"] * 4  # fraction 1: same list, set, Jaccard, overlap
    assert lines[-1].endswith("older papers ranked against the corpus, 0 against a pinned table")


def test_generate_day_updates_existing_ids_and_adds_a_new_month(
    tmp_path: Path, pool: pl.DataFrame, generated: Path
) -> None:
    """One more day after the 600 rows: updates re-list distinct base ids (the newest 2% for
    "recent"), new papers number from the next arXiv month; the same arguments, the same bytes."""
    base = pl.read_ndjson(generated / "arxiv-snapshot.jsonl")
    base_ids = base.filter(pl.col("id") != "")["id"]
    recent = generate.generate_day(600, tmp_path / "recent.jsonl", 5, 3, "recent", 3, pool)
    day = pl.read_ndjson(recent)
    updates, new = day.head(3), day.tail(5)
    assert updates["id"].is_in(base_ids.implode()).all()
    assert updates["id"].n_unique() == 3
    assert set(updates["id"]) <= {f"1501.{i + 1:05d}" for i in range(588, 600)}  # newest 2%
    assert updates["comments"].str.starts_with("v3: ").all()
    assert new["id"].to_list() == [f"1502.0000{k}" for k in range(1, 6)]
    again = generate.generate_day(600, tmp_path / "again.jsonl", 5, 3, "recent", 3, pool)
    assert again.read_bytes() == recent.read_bytes()
    uniform = generate.generate_day(600, tmp_path / "uniform.jsonl", 0, 40, "uniform", 3, pool)
    assert pl.read_ndjson(uniform)["id"].is_in(base_ids.implode()).all()
    with pytest.raises(ValueError, match="only"):
        generate.generate_day(600, tmp_path / "x.jsonl", 0, 40, "recent", 3, pool)


def test_an_update_changes_the_merged_paper(
    tmp_path: Path, pool: pl.DataFrame, generated: Path
) -> None:
    """The pipeline merges a day's update into its paper: its abstract and comments change."""
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "base.jsonl").symlink_to(generated / "arxiv-snapshot.jsonl")
    generate.generate_day(600, raw / "day.jsonl", 0, 2, "recent", 3, pool)
    updated = pl.read_ndjson(raw / "day.jsonl")["id"]
    run_steps(raw, tmp_path / "out", REPO / "params.yaml", None)
    papers = read_table(tmp_path / "out", "papers")
    changed = papers.filter(pl.col("arxiv_id").is_in(updated.implode()))
    assert changed.height == 2
    assert changed["comments"].str.starts_with("v3: ").all()
    assert changed["abstract"].str.contains("This revision extends the experiments").all()


@pytest.mark.slow
def test_run_incremental_prints_every_target(
    work: Path, pool: pl.DataFrame, tmp_path: Path
) -> None:
    """bench/run.py --incremental at 2k records: a partitioned build, one more day, a rerun,
    validation and DVC; the table names every figure of issue 14 (the values are not tested)."""
    del pool  # built into `work` already: run.py finds it there
    result = tmp_path / "incremental.json"
    env = os.environ | {"DO_NOT_TRACK": "1", "GX_ANALYTICS_ENABLED": "False"}
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "run.py"), "--incremental", "--records", "2000",
         "--work", str(work), "--json", str(result), *[f"--from={s}" for s in POOL_SOURCES]],
        cwd=REPO, capture_output=True, text=True, timeout=600, check=False, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    for figure in (
        "+1 day build / full build",
        "unchanged rerun",
        "DVC cache growth for the day",
        "DVC remote growth for the day",
        "papers validate peak RSS (full)",
        "papers validate peak RSS (after the day)",
        "validate after the day / full",
        "full build vs today: time",
        "full build vs today: peak RSS",
    ):
        assert figure in done.stdout, figure
    assert "+1 day build by stage" in done.stdout
    (entry,) = json.loads(result.read_text())["results"]
    assert (entry["n"], entry["new"], entry["updates"]) == (2000, 20, 4)
    # every published table, as dvc.yaml tracks them (partitioned: directories)
    assert entry["dvc_full"]["tracked"][:7] == list(PUBLISHED)
    assert {t["met"] for t in entry["targets"]} <= {"met", "NOT met", "n/a"}


def test_the_incremental_reference_is_this_machines_only(tmp_path: Path) -> None:
    """The full build is compared with the main benchmark's figures only when they were measured
    on this kind of machine in the last hours: another VM's speed says nothing about the code."""
    from datetime import UTC, datetime, timedelta

    from bench.incremental import REFERENCE_HOURS, reference

    def results(cpu: str, hours_ago: float) -> Path:
        finished = datetime.now(UTC) - timedelta(hours=hours_ago)
        path = tmp_path / f"results-{cpu}-{hours_ago}.json"
        pipeline = {"seconds": 12.5, "peak_rss_mib": 900.0, "cpu_seconds": 20.0}
        path.write_text(json.dumps({
            "finished_at": finished.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "machine": {"cpu": cpu, "load_average_at_start": [0.1]},
            "results": [{"n": 1000, "pipeline": pipeline}],
        }))  # fmt: skip
        return path

    same = reference(1000, results("AMD EPYC", 1), "AMD EPYC")
    assert same is not None
    assert (same["seconds"], same["peak_rss_mib"]) == (12.5, 900.0)
    assert reference(1000, results("Intel Xeon Processor", 1), "AMD EPYC") is None
    assert reference(1000, results("AMD EPYC", REFERENCE_HOURS + 1), "AMD EPYC") is None
    assert reference(2000, results("AMD EPYC", 1), "AMD EPYC") is None  # no figures at that size
    assert reference(1000, tmp_path / "absent.json", "AMD EPYC") is None
    assert reference(1000, results("AMD EPYC", REFERENCE_HOURS + 1)) is not None  # no machine


def test_a_worktree_finds_the_main_checkout(tmp_path: Path) -> None:
    """The generator looks for ../shared/realdata beside the main checkout of a git worktree."""
    gitdir = tmp_path / "main" / ".git" / "worktrees" / "wt"
    gitdir.mkdir(parents=True)
    (gitdir / "commondir").write_text("../..\n")
    worktree = tmp_path / "elsewhere" / "wt"
    worktree.mkdir(parents=True)
    (worktree / ".git").write_text(f"gitdir: {gitdir}\n")
    assert generate._main_checkout(worktree) == tmp_path / "main"
    assert generate._main_checkout(tmp_path / "main") == tmp_path / "main"  # a .git directory


def test_scan_prints_each_reader_on_a_build(tmp_path: Path) -> None:
    from tests.conftest import build_local

    out = tmp_path / "out"
    build_local(REPO / "data" / "raw", out)
    figures = tmp_path / "scan.json"
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "scan.py"), str(out), "--repeat", "1",
         "--json", str(figures)],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    papers = read_table(out, "papers")
    found = json.loads(figures.read_text())
    assert found["files"] == len(list((out / "papers").glob("*.parquet")))
    rows = {name: q["rows"] for name, q in found["queries"].items()}
    for reader in ("polars: full read", "duckdb: count", "pyarrow.dataset: full read"):
        (name,) = [n for n in rows if n.startswith(reader)]
        assert rows[name] == papers.height, name
        assert name in done.stdout
    tenth = [n for n in rows if "a tenth of the ids" in n]
    assert len(tenth) == 2
    assert rows[tenth[0]] == rows[tenth[1]]  # polars and DuckDB agree on the filtered query


def test_rule_change_rebuilds_with_the_cache(
    work: Path, pool: pl.DataFrame, tmp_path: Path
) -> None:
    """bench/rule_change.py at 400 records: a full build, then a vocabulary and a link-rule
    change rebuilt with its cache (the partition step's per-stage memo; the values are not
    tested, the builds and their figures are)."""
    del pool  # built into `work` already
    result = tmp_path / "rule-change.json"
    env = os.environ | {"DO_NOT_TRACK": "1", "GX_ANALYTICS_ENABLED": "False"}
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "rule_change.py"), "--records", "400",
         "--work", str(work), "--json", str(result), *[f"--from={s}" for s in POOL_SOURCES]],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    for line in ("full build (empty cache)", "vocabulary changed", "link rule changed"):
        assert line in done.stdout
    results = json.loads(result.read_text())["results"]
    assert set(results) == {"full", "vocabulary", "links"}
    papers = {name: r["counts"]["papers"] for name, r in results.items()}
    assert len(set(papers.values())) == 1
    # the vocabulary change re-tags: a topic fewer, fewer or as many tags
    assert results["vocabulary"]["counts"]["tags"] <= results["full"]["counts"]["tags"]
    # each change re-runs the stages that read it over every paper, and no other
    assert results["full"]["rerun"] == ["candidates", "links", "signatures", "tags"]
    assert results["vocabulary"]["rerun"] == ["candidates", "tags"]
    assert results["links"]["rerun"] == ["links"]
