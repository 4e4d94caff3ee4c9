"""papers/pipeline/shuffle.py: provenance's matched_by and match_score on a shard's records."""

from __future__ import annotations

import polars as pl

from papers.pipeline.shuffle import with_matched_by


def test_records_with_an_arxiv_id_are_matched_by_it_the_others_as_identity_resolved() -> None:
    own = pl.DataFrame({"arxiv_id": ["2401.00001", None]})
    assert with_matched_by(own).rows() == [("2401.00001", "arxiv_id", None), (None, "none", None)]
    mapped = pl.DataFrame(
        {"arxiv_id": ["2401.00001", None], "matched_by": [None, "content"],
         "match_score": [None, 0.93]}
    )  # fmt: skip
    assert with_matched_by(mapped).rows() == [
        ("2401.00001", "arxiv_id", None),
        (None, "content", 0.93),
    ]
