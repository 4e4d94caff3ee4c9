"""papers/pipeline/warm.py and flows.build.warm_up: what a run loads ahead while its server boots."""

from __future__ import annotations

import subprocess
import sys

import pytest

from papers.config import Params, RelatedParams
from papers.pipeline import similarity
from papers.pipeline.warm import warm_up
from tests.conftest import REPO


@pytest.mark.parametrize(
    ("method", "loaded"), [("off", 0), ("tfidf", 0), ("embeddings", 1), ("both", 1)]
)
def test_the_model_is_loaded_ahead_only_when_the_params_embed(method: str, loaded: int) -> None:
    similarity._embedder.cache_clear()
    warm_up(Params(related=RelatedParams(method=method, max_length=64)))
    assert similarity._embedder.cache_info().currsize == loaded
    if loaded:  # the build's own call finds it loaded
        similarity._embedder(64)
        assert similarity._embedder.cache_info().hits == 1
    similarity._embedder.cache_clear()


def test_the_flow_warms_prefects_parameter_encoder_and_the_build() -> None:
    # in a new interpreter: in this one the other tests have imported everything already
    code = """
import sys
from pathlib import Path
from flows.build import warm_up
from papers.pipeline import similarity
lazy = ("fastapi.encoders", "papers.report", "onnxruntime")
before = [m for m in lazy if m in sys.modules]
warm_up(Path(sys.argv[1]))  # the repo's params embed (related.method: both)
after = [m for m in lazy if m in sys.modules]
print(before, after, similarity._embedder.cache_info().currsize)
"""
    done = subprocess.run(
        [sys.executable, "-c", code, str(REPO / "params.yaml")],
        check=False, capture_output=True, text=True, timeout=120, cwd=REPO,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[0] == (
        "[] ['fastapi.encoders', 'papers.report', 'onnxruntime'] 1"
    )
