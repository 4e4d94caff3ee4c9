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


def _in_new_interpreter(code: str, *args: str) -> list[str]:
    """The lines `code` prints, run in a new interpreter (in this one the other tests have
    imported and loaded everything already)."""
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        check=False, capture_output=True, text=True, timeout=300, cwd=REPO,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.split("\n")


def test_the_flow_warms_prefects_parameter_encoder_and_the_build() -> None:
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
    lines = _in_new_interpreter(code, str(REPO / "params.yaml"))
    assert lines[0] == "[] ['fastapi.encoders', 'papers.report', 'onnxruntime'] 1"


_KERNELS = """
import sys
from pathlib import Path
from flows.build import warm_up
from papers.pipeline import warm
warm.KERNELS_FROM_BYTES = int(sys.argv[3])
warm_up(Path(sys.argv[1]), Path(sys.argv[2]))
if "numba" not in sys.modules:
    print("no kernels")
    raise SystemExit
import polars as pl
from papers.stages.compiled import kernels
from papers.config import load_build_config
from papers.pipeline.terms import compiled_terms
from papers.stages.keyphrases import keyphrase_candidates
from papers.stages.neardup import paper_signatures
from papers.stages.tags import tag_papers
loaded = {name: len(k.signatures) for name, k in kernels().items()}
print(sorted(name for name, n in loaded.items() if n))
# a build's calls (5,000 papers: the compiled passes, as numba is loaded; signed in two
# batches) find every kernel loaded, of the types they give it: nothing more is compiled
config = load_build_config(Path(sys.argv[1]))
many = pl.concat([warm._SAMPLE] * 2500).with_columns(
    pl.format("{}-{}", "paper_id", pl.int_range(pl.len())).alias("paper_id")
)
terms = compiled_terms(config.vocabulary)
tag_papers(many, terms, config.params.tags)
keyphrase_candidates(many, terms, config.params.tags)
paper_signatures(many, config.params.neardup)
print(loaded == {name: len(k.signatures) for name, k in kernels().items()})
"""


@pytest.mark.parametrize(("threshold", "loaded"), [(1 << 40, False), (1, True)])
def test_the_kernels_are_loaded_ahead_for_a_large_input_only(threshold: int, loaded: bool) -> None:
    # from the repo's seed input (its size against the threshold)
    lines = _in_new_interpreter(
        _KERNELS, str(REPO / "params.yaml"), str(REPO / "data" / "raw"), str(threshold)
    )
    if not loaded:
        assert lines[0] == "no kernels"
        return
    assert lines[0] == str(
        [
            "candidate_runs_kernel.runs",
            "clean_kernel.cleaned",
            "shingle_kernel.shingle_hashes",
            "shingle_kernel.sketches",
            "tag_hits_kernel.hits",
        ]
    )
    assert lines[1] == "True"
