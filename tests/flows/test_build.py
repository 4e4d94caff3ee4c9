"""The build-dataset flow under a real (temporary) Prefect server: seed acceptance, determinism,
reconciliation of counts, and atomic publishing when a run crashes."""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import polars as pl
import pytest

from papers import io
from papers.dataset import manifest_tables
from papers.errors import PapersError
from papers.io import read_json
from schemas import Duplicates, Papers, Related
from tests.conftest import FIXTURES, read_table

FETCH = FIXTURES / "fetch"
SEED_LINKS = [
    ("https://anypattern.github.io", "project"),
    ("https://github.com/AngusDujw/Diversity-Driven-Synthesis", "code"),
    ("https://github.com/ChenJoya/sampling-free", "code"),
    ("https://github.com/DeepMed-Lab-ECNU/BCP", "code"),
    ("https://github.com/LiheYoung/ShrinkMatch", "code"),
    ("https://github.com/MVP-Harry/SoundnessBench", "code"),
    ("https://github.com/Mingxiao-Li/TS-DPM", "code"),
    ("https://github.com/SCLBD/DeepfakeBench", "code"),
    ("https://github.com/SLAMPAI/generative-models-for-highres-solar-images", "code"),
    ("https://github.com/WangWenhao0716/ASL", "code"),
    ("https://github.com/chuangchuangtan/NPR-DeepfakeDetection", "code"),
    ("https://github.com/devavratTomar/unmixtns", "code"),
    ("https://github.com/harshays/inputgradients", "code"),
    ("https://github.com/jiamingzhang94/Unlearnable-Clusters", "code"),
    ("https://github.com/layer6ai-labs/dgm-eval", "code"),
    ("https://github.com/locuslab/diffusion-model-hallucination", "code"),
    ("https://github.com/miccunifi/iamcl2r", "code"),
    ("https://github.com/mqraitem/From-Fake-to-Real", "code"),
    ("https://github.com/soobin-um/minority-guidance", "code"),
    ("https://huggingface.co/datasets/SoundnessBench/SoundnessBench", "dataset"),
]

# The LaTeX forms the seed's abstracts and titles hold, as they are written there.
SEED_LATEX_FORMS = [
    r"\%", r"Fr\'echet", r"{\tau}", r"{\em", "``", "~", r"\eg", "ell_p", "ell_2", "64times 64",
    "1leq p<2", "pneq 2", "mathfrak S^{2/p}", "scriptsizeFLaws", r"\ssl", "infty", "3.5times",
]  # fmt: skip


def build(raw: Path, out: Path, params: Path) -> dict[str, object]:
    from flows.build import build_dataset

    result: dict[str, object] = build_dataset(
        raw_dir=str(raw), out_dir=str(out), params_path=str(params)
    )
    return result


def digests(folder: Path) -> dict[str, str]:
    """Every published file, table directories included: relative path -> sha256."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        # run state (.lock, staging) is not the dataset
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    }


@pytest.fixture(scope="module")
def seed_out(prefect_harness: None, repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("seed-out")
    build(repo / "data" / "raw", out, repo / "params.yaml")
    return out


def test_seed_outputs(seed_out: Path) -> None:
    names = sorted(p.name for p in seed_out.iterdir() if p.name != ".lock")
    assert names == [
        "README.md",  # the dataset card
        "changes",  # the change feed, a file per version
        "duplicates",  # tables: directories of node files
        "links", "manifest.json", "metrics.json", "papers",
        "papers_by_date.json",  # the DVC plot
        "provenance", "rejected", "related", "tags",
    ]  # fmt: skip
    manifest = read_json(seed_out / "manifest.json")
    for name, table in manifest_tables(manifest).items():
        assert sorted(str(p.relative_to(seed_out)) for p in (seed_out / name).iterdir()) == sorted(
            e["path"] for e in table
        )
    papers = read_table(seed_out, "papers")
    Papers.validate(papers)
    assert papers.height == 57
    assert papers["paper_id"].n_unique() == 57
    assert read_table(seed_out, "rejected").height == 0
    # the similarity tables, built for real (the embedding model runs on the seed)
    related = read_table(seed_out, "related")
    Related.validate(related)
    assert set(related["method"]) == {"embeddings", "tfidf"}
    assert related.group_by("paper_id", "method").len()["len"].max() == 10
    Duplicates.validate(read_table(seed_out, "duplicates"))


def test_seed_text_is_free_of_latex(seed_out: Path) -> None:
    papers = read_table(seed_out, "papers")
    raw_text = " ".join(papers["title_raw"].to_list() + papers["abstract_raw"].to_list())
    clean_text = " ".join(papers["title"].to_list() + papers["abstract"].to_list())
    for form in SEED_LATEX_FORMS:
        assert form in raw_text, f"fixture drift: {form!r} no longer in the seed"
        if form == "~":
            # "~95%" (approximately) is prose; a tie between two words is not
            assert not re.search(r"\S~", clean_text)
        else:
            assert form not in clean_text, form
    assert not re.search(r"\\[A-Za-z]", clean_text)
    titles = papers["title"].to_list()
    assert (
        "Inference Scaling FLaws: The Limits of LLM Resampling with Imperfect Verifiers" in titles
    )
    assert "Fréchet Inception Distance" in clean_text
    assert "“naive samples”" in clean_text
    assert "𝔖^(2/p) for 1≤p<2" in clean_text


def test_seed_links_are_exactly_those_of_the_abstracts(seed_out: Path) -> None:
    links = read_table(seed_out, "links")
    assert sorted(zip(links["url"], links["kind"], strict=True)) == SEED_LINKS
    papers = read_table(seed_out, "papers")
    spans = links.join(papers.select("paper_id", "abstract"), on="paper_id")
    for row in spans.iter_rows(named=True):
        assert row["abstract"][row["start"] : row["end"]] == row["url_raw"]
    # each paper's list column agrees with the links table
    listed = papers.select("paper_id", pl.col("links").list.len().alias("n"))
    counted = links.group_by("paper_id").len()
    joined = listed.join(counted, on="paper_id", how="left").fill_null(0)
    assert (joined["n"] == joined["len"]).all()
    # every code link of the seed belongs to a different paper
    assert papers["code_url"].drop_nulls().len() == 18


def test_seed_tags_and_manifest(seed_out: Path, repo: Path) -> None:
    papers = read_table(seed_out, "papers")
    tags = read_table(seed_out, "tags")
    assert tags.height > 0
    assert (papers["tags"].list.len() > 0).mean() >= 0.9  # type: ignore[operator]
    assert (papers["keyphrases"].list.len() > 0).all()
    manifest = read_json(seed_out / "manifest.json")
    assert manifest["counts"]["raw_records"] == 57
    assert manifest["counts"]["papers"] == 57
    assert manifest["inputs"] == [
        {
            "path": "hf_papers_page/daily-papers.txt",
            "sha256": io.sha256_file(repo / "data/raw/hf_papers_page/daily-papers.txt"),
            "records": 57,
            "reader": "hf_papers_page",
        }
    ]
    for entry in [e for files in manifest_tables(manifest).values() for e in files]:
        assert io.sha256_file(seed_out / entry["path"]) == entry["sha256"]


def test_rerun_is_byte_identical(seed_out: Path, repo: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    build(repo / "data" / "raw", again, repo / "params.yaml")
    assert digests(again) == digests(seed_out)


def test_ugly_inputs_reconcile(
    prefect_harness: None, repo: Path, fixtures: Path, tmp_path: Path
) -> None:
    raw = tmp_path / "raw"
    shutil.copytree(fixtures / "pages", raw / "pages")
    shutil.copy(repo / "data/raw/hf_papers_page/daily-papers.txt", raw / "seed.txt")
    out = tmp_path / "out"
    build(raw, out, repo / "params.yaml")
    manifest = read_json(out / "manifest.json")
    counts = manifest["counts"]
    provenance = read_table(out, "provenance")
    rejected = read_table(out, "rejected")
    assert counts["raw_records"] == sum(i["records"] for i in manifest["inputs"])
    assert counts["raw_records"] == provenance.height + rejected.height
    # ugly page: 4 records (1 rejected, 2 merged), orphan: 2 (1 rejected), seed: 57,
    # blank, error body, latin1: 1 file-level reject each
    assert counts["raw_records"] == 4 + 2 + 57 + 3
    assert counts["papers"] == 2 + 1 + 57
    assert counts["merged_duplicates"] == 1
    assert sorted(rejected["stage"].to_list()) == ["parse", "parse", "read", "read", "read"]
    merged = read_table(out, "papers").filter(
        pl.col("title_key") == "cafe models frechet distances for everyone"
    )
    assert merged.height == 1
    assert merged["listing_dates"].item().to_list()[0].isoformat() == "2024-05-27"


def test_crash_leaves_last_good_dataset(
    seed_out: Path, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    shutil.copytree(seed_out, out)
    before = digests(out)
    # one more day of input: a new version, whose papers node files are written anew
    raw = tmp_path / "raw"
    shutil.copytree(repo / "data" / "raw", raw)
    (raw / "hf_daily_papers").mkdir()
    shutil.copy(FETCH / "hf-2024-09-03.json", raw / "hf_daily_papers" / "2024-09-03.json")
    calls = {"n": 0}
    real = io.write_parquet

    def flaky(*args: object, **kwargs: object) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full (injected)")
        real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(io, "write_parquet", flaky)
    with pytest.raises(OSError, match="injected"):
        build(raw, out, repo / "params.yaml")
    # node files are written two at a time: the write beside the failed one may end and its
    # thread start one more before the failure is seen; the rest are never started
    assert 3 <= calls["n"] <= 5
    assert digests(out) == before
    monkeypatch.setattr(io, "write_parquet", real)
    build(repo / "data" / "raw", out, repo / "params.yaml")
    assert digests(out) == before
    assert not list(out.glob(".staging-*"))
    assert not list(out.glob(".work-*"))


def test_bad_input_folder_is_a_readable_error(
    prefect_harness: None, repo: Path, tmp_path: Path
) -> None:
    with pytest.raises(PapersError, match="no input files under"):
        build(tmp_path, tmp_path / "out", repo / "params.yaml")


def test_one_paper_from_three_sources(prefect_harness: None, repo: Path, tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    (raw / "hf").mkdir(parents=True)
    (raw / "arxiv").mkdir()
    (raw / "scrape").mkdir()
    (raw / "hf" / "2024-01-05.json").write_text(
        '[{"paper": {"id": "2401.00001", "title": "Sparse\\n  Attention for Long Documents",'
        ' "summary": "We propose sparse attention.", "upvotes": 7,'
        ' "githubRepo": "https://github.com/acme/sparse/tree/main", "ai_keywords": ["sparse attention"],'
        ' "authors": [{"name": "Ada Lovelace", "hidden": false}]}, "publishedAt": "2024-01-05T00:00:00.000Z"}]'
    )
    (raw / "hf" / "2024-01-08.json").write_text(
        '[{"paper": {"id": "2401.00001", "title": "Sparse Attention for Long Documents",'
        ' "summary": "We propose sparse attention.", "upvotes": 42}}]'
    )
    (raw / "arxiv" / "snapshot.jsonl").write_text(
        '{"id": "2401.00001", "submitter": "Ada", "authors": "Ada Lovelace and Alan Turing",'
        ' "title": "Sparse Attention for Long\\n  Documents", "comments": "9 pages", "journal-ref": null,'
        ' "doi": null, "report-no": null, "categories": "cs.CL cs.LG", "license": null,'
        ' "abstract": "  We propose sparse attention for long documents.\\n",'
        ' "versions": [{"version": "v1", "created": "Mon, 1 Jan 2024 10:00:00 GMT"}],'
        ' "update_date": "2024-01-02", "authors_parsed": [["Lovelace", "Ada", ""], ["Turing", "Alan", ""]]}\n'
    )
    (raw / "scrape" / "paper_metadata_2024-01-12.txt").write_text(
        "Title: Sparse Attention for Long Documents\nPDF: https://arxiv.org/pdf/2401.00001\n"
        "Summary: We propose sparse attention.\n---\n"
    )
    out = tmp_path / "out"
    build(raw, out, repo / "params.yaml")
    papers = read_table(out, "papers")
    assert papers.height == 1
    row = papers.row(0, named=True)
    assert row["paper_id"] == "2401.00001"
    assert row["sources"] == ["arxiv_snapshot", "hf_daily_papers", "hf_title_pdf_summary"]
    assert [d.isoformat() for d in row["listing_dates"]] == [
        "2024-01-05",
        "2024-01-08",
        "2024-01-12",
    ]
    # arXiv metadata wins for text and authors; the HF API for upvotes (latest) and curated links
    assert row["abstract"] == "We propose sparse attention for long documents."
    assert row["authors"] == ["Ada Lovelace", "Alan Turing"]
    assert row["categories"] == ["cs.CL", "cs.LG"]
    assert row["upvotes"] == 42
    assert row["hf_keywords"] == ["sparse attention"]
    assert row["code_url"] == "https://github.com/acme/sparse"
    provenance = read_table(out, "provenance")
    assert provenance.height == 4
    assert (provenance["paper_id"] == "2401.00001").all()


def test_bounded_submits_the_next_task_when_any_one_ends(prefect_harness: None) -> None:
    """With two slots, a long first task does not hold back the short ones behind it: the first
    waits for the last to start (it would wait in vain if the oldest had to end first)."""
    import threading

    from prefect import flow, task
    from prefect.task_runners import ThreadPoolTaskRunner

    from flows.build import _bounded

    last_started = threading.Event()

    @task
    def work(i: int) -> tuple[int, bool]:
        if i == 0:
            return i, last_started.wait(timeout=30)
        if i == 3:
            last_started.set()
        return i, True

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=2))
    def run() -> list[tuple[int, bool]]:
        return _bounded(work, [(i,) for i in range(4)], in_flight=2)

    assert run() == [(0, True), (1, True), (2, True), (3, True)]


def test_bounded_raises_a_failed_task(prefect_harness: None) -> None:
    from prefect import flow, task
    from prefect.task_runners import ThreadPoolTaskRunner

    from flows.build import _bounded

    @task
    def work(i: int) -> int:
        if i == 1:
            raise ValueError("task 1 broke")
        return i

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=2))
    def run() -> list[int]:
        return _bounded(work, [(i,) for i in range(5)], in_flight=2)

    with pytest.raises(ValueError, match="task 1 broke"):
        run()


def test_chunks_keep_order_and_give_each_task_slot_work() -> None:
    from flows.build import _chunks

    items = list(range(10))
    # ten shards, two tasks at once: two tasks of five, not one of ten
    assert _chunks(items, 64, 2) == [items[:5], items[5:]]
    assert _chunks(items, 3, 2) == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    assert _chunks(items, 64, None) == [items]  # a cluster: the batch size alone
    assert _chunks([0], 64, 2) == [[0]]
    assert _chunks([], 64, 2) == []
