"""Quality gates between versions, as a pure function: which builds may replace which.
Builds that trip them for real (a truncated input): tests/test_history.py."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from papers.config import GatesParams
from papers.errors import PapersError
from papers.gates import Snapshot, check, enforce, load_snapshot, lost_papers, scan_folder_table

GATES = GatesParams(max_paper_loss_share=0.05, max_reject_rate_increase=0.02,
                    max_tag_coverage_drop=0.05)  # fmt: skip


def papers(n: int, start: int = 0) -> pl.DataFrame:
    ids = [f"2501.{i:05d}" for i in range(start, start + n)]
    return pl.DataFrame({"paper_id": ids, "title_key": [f"key {i}" for i in ids],
                         "title": [f"Title {i}" for i in ids]})  # fmt: skip


def snap(frame: pl.DataFrame, raw: int = 100, rejected: int = 0, coverage: float = 0.9) -> Snapshot:
    return Snapshot(papers=frame, raw_records=raw, rejected=rejected, tag_coverage=coverage)


BASE = snap(papers(100))


@pytest.mark.parametrize(
    ("current", "failing"),
    [
        (snap(papers(100)), []),  # the same build again
        (snap(papers(120)), []),  # grows
        (snap(papers(95, start=5)), []),  # loses 5 of 100: exactly the allowed share
        (snap(papers(94, start=6)), ["missing from the new build"]),  # loses 6
        (snap(papers(100), rejected=2), []),  # reject rate +2 points: allowed
        (snap(papers(100), rejected=3), ["reject rate rose from 0.0% to 3.0%"]),
        (snap(papers(100), coverage=0.85), []),
        (snap(papers(100), coverage=0.84), ["tag coverage fell from 90.0% to 84.0%"]),
        (snap(papers(50), rejected=50, coverage=0.5), ["missing", "reject rate", "tag coverage"]),
    ],
)
def test_check(current: Snapshot, failing: list[str]) -> None:
    reasons = check(BASE, current, GATES)
    assert len(reasons) == len(failing), reasons
    for reason, expected in zip(reasons, failing, strict=True):
        assert expected in reason


def test_a_loss_names_count_share_threshold_and_examples() -> None:
    [reason] = check(BASE, snap(papers(50, start=50)), GATES)
    assert reason.startswith("50 of 100 published papers (50.0%) are missing from the new build")
    assert "max_paper_loss_share 5.0%" in reason
    assert "2501.00000 (Title 2501.00000)" in reason


def test_a_re_identified_paper_is_not_lost() -> None:
    """A page listing's title: id becomes an arXiv id once an API record of it arrives."""
    before = pl.DataFrame({"paper_id": ["title:ab12"], "title_key": ["a paper"], "title": ["A"]})
    after = pl.DataFrame({"paper_id": ["2501.00001"], "title_key": ["a paper"], "title": ["A"]})
    assert lost_papers(before, after).height == 0
    assert check(snap(before), snap(after), GATES) == []


def test_enforce_passes_a_first_build_and_discards_a_failing_one(tmp_path: Path) -> None:
    out, staging = tmp_path / "out", tmp_path / "out" / ".staging-x"
    staging.mkdir(parents=True)
    enforce(out, staging, GATES)  # nothing published yet: nothing to compare with
    for folder, frame in ((out, papers(10)), (staging, papers(5))):
        frame.write_parquet(folder / "papers.parquet")
        (folder / "metrics.json").write_text(
            '{"raw_records": 10, "rejected": 0, "tag_coverage": 1.0}'
        )
    with pytest.raises(PapersError, match=r"^quality gates failed, nothing published .*5 of 10"):
        enforce(out, staging, GATES)
    assert not staging.exists()
    assert pl.read_parquet(out / "papers.parquet").height == 10


def _manifest(folder: Path, files: list[str]) -> None:
    tables = {"papers": {"files": [{"path": f, "rows": 1, "sha256": "0" * 64} for f in files]}}
    (folder / "manifest.json").write_text(json.dumps({"format": 2, "tables": tables}))


def test_a_staged_version_reads_its_unchanged_node_files_from_the_published_folder(
    tmp_path: Path,
) -> None:
    """A staging folder holds only a version's new node files; the manifest lists them all."""
    out, staging = tmp_path / "out", tmp_path / "out" / ".staging-x"
    (staging / "papers").mkdir(parents=True)
    (out / "papers").mkdir()
    papers(3).write_parquet(out / "papers" / "a-000000000001.parquet")  # unchanged: published
    papers(2, start=3).write_parquet(staging / "papers" / "b-000000000002.parquet")  # new
    papers(9, start=50).write_parquet(out / "papers" / "z-000000000009.parquet")  # not listed
    _manifest(staging, ["papers/a-000000000001.parquet", "papers/b-000000000002.parquet"])
    (staging / "metrics.json").write_text('{"raw_records": 5, "rejected": 0, "tag_coverage": 1.0}')
    snapshot = load_snapshot(staging, base=out)
    assert snapshot is not None
    assert snapshot.papers["paper_id"].to_list() == papers(5)["paper_id"].to_list()
    # without the published folder a listed file is missing, and the error names it
    with pytest.raises(
        PapersError, match=r"^papers/a-000000000001\.parquet: listed in .*manifest.json but not in"
    ):
        load_snapshot(staging)
    # a folder without a manifest: its directory glob
    (out / "metrics.json").write_text('{"raw_records": 5, "rejected": 0, "tag_coverage": 1.0}')
    scan = scan_folder_table(out, "papers")
    assert scan is not None
    assert scan.collect().height == 12


def test_a_folder_with_no_papers_table_has_no_snapshot(tmp_path: Path) -> None:
    (tmp_path / "metrics.json").write_text("{}")
    assert load_snapshot(tmp_path) is None
    assert scan_folder_table(tmp_path, "papers") is None


def test_changed_snapshots_decide_as_the_whole_tables(tmp_path: Path) -> None:
    """enforce reads only the papers files one manifest lists and the other does not: the
    reasons are the whole tables' (a re-identified paper, a title found in a kept file)."""
    from papers import io
    from papers.gates import changed_snapshots

    out, staging = tmp_path / "out", tmp_path / "out" / ".staging-x"
    (out / "papers").mkdir(parents=True)
    (staging / "papers").mkdir(parents=True)
    kept = papers(4)
    gone = papers(6, start=10)
    # the new file: two of the gone papers again, one re-identified (its title key kept), and
    # one gone paper's title key is held by a paper of the kept file
    kept = kept.with_columns(
        pl.when(pl.col("paper_id") == "2501.00001")
        .then(pl.lit("key 2501.00013"))
        .otherwise(pl.col("title_key"))
        .alias("title_key")
    )
    new = pl.concat([
        gone.head(2),
        pl.DataFrame({"paper_id": ["title:ff"], "title_key": ["key 2501.00012"], "title": ["T"]}),
    ])  # fmt: skip

    def write(folder: Path, files: dict[str, pl.DataFrame]) -> None:
        entries = []
        for path, frame in files.items():
            frame.write_parquet(folder / path)
            entries.append({"path": path, "rows": frame.height,
                            "sha256": io.sha256_file(folder / path)})  # fmt: skip
        (folder / "manifest.json").write_text(
            json.dumps({"format": 2, "tables": {"papers": {"files": entries}}})
        )
        (folder / "metrics.json").write_text(
            '{"raw_records": 10, "rejected": 0, "tag_coverage": 1.0}'
        )

    write(out, {"papers/a-000000000001.parquet": kept, "papers/b-000000000002.parquet": gone})
    kept.write_parquet(staging / "papers" / "a-000000000001.parquet")
    write(staging, {"papers/a-000000000001.parquet": kept, "papers/c-000000000003.parquet": new})
    (staging / "papers" / "a-000000000001.parquet").unlink()  # kept: only in the published folder
    pair = changed_snapshots(out, staging)
    assert pair is not None
    previous, current = pair
    assert previous.papers.height == 6  # the kept file is not read
    assert previous.paper_count == 10
    whole_previous, whole_current = load_snapshot(out), load_snapshot(staging, base=out)
    assert whole_previous is not None
    assert whole_current is not None
    loose = GatesParams(max_paper_loss_share=0.0, max_reject_rate_increase=0.02,
                        max_tag_coverage_drop=0.05)  # fmt: skip
    reasons = check(previous, current, loose)
    assert reasons == check(whole_previous, whole_current, loose)
    assert reasons[0].startswith("2 of 10 published papers")
