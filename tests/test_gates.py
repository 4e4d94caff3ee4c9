"""Quality gates between versions, as a pure function: which builds may replace which.
Builds that trip them for real (a truncated input): tests/test_history.py."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from papers.config import GatesParams
from papers.errors import PapersError
from papers.gates import Snapshot, check, enforce, lost_papers

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
