"""The dataset version's params hash: what shapes the data changes it, memory budgets do not."""

from __future__ import annotations

from pathlib import Path

from papers.config import load_params

REPO = Path(__file__).resolve().parents[1]


def test_budgets_keep_the_params_hash_and_shaping_params_change_it() -> None:
    params = load_params(REPO / "params.yaml")
    base = params.sha256()

    def with_neardup(**update: object) -> str:
        neardup = params.neardup.model_copy(update=update)
        return params.model_copy(update={"neardup": neardup}).sha256()

    # memory budgets: the same pairs, or a readable stop
    assert with_neardup(block_mib=1) == base
    assert with_neardup(max_candidate_pairs=1) == base
    assert "max_candidate_pairs" not in params.neardup.shaping()
    # what the pairs are made of
    assert with_neardup(min_jaccard=0.9) != base
    assert with_neardup(bands=16) != base
