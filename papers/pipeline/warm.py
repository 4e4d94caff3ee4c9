"""warm: what a build loads on its first use, loaded ahead.

`papers run` waits about two seconds for Prefect's temporary server, which boots on the other
core, with nothing to do on its own (papers.cli.lifeline.serving): it loads here meanwhile
what the build's tasks would load on their first use. A build does the same with or without it.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from papers.config import Params
from papers.pipeline.similarity import load_model
from papers.pipeline.terms import compiled_terms
from papers.stages.keyphrases import keyphrase_candidates
from papers.stages.neardup import paper_signatures
from papers.stages.tags import tag_papers
from schemas import Tags, empty_frame

# Raw input from which a run loads the compiled passes' kernels ahead (warm_kernels): about
# 33,000 snapshot records, whose partitions (params parse.partition_rows) all take the compiled
# passes (compiled.ALWAYS_FROM). A smaller input may take none, and a kernel that numba has not
# cached yet would be compiled here for nothing (tens of seconds on a new machine).
KERNELS_FROM_BYTES = 64 << 20

# Two papers with something for every pass: a term and an acronym, a URL, a keyphrase.
_SAMPLE = pl.DataFrame(
    {
        "paper_id": ["2401.00001", "2401.00002"],
        "title": ["Graph neural networks for protein folding", "A GAN for “sparse” images"],
        "abstract": [
            "We study message passing on molecular graphs. Code: https://github.com/a/b.",
            "Diffusion models and GANs (generative adversarial networks) compared, twice.",
        ],
        "authors": [["Ada Lovelace"], ["Alan Turing", "Grace Hopper"]],
    }
)


def warm_up(params: Params, vocabulary: dict[str, Any] | None = None, input_bytes: int = 0) -> None:
    """Load what a build with these params loads on first use: Pandera's polars backend and
    its checks (registered by a schema's first validation, ~0.1 s), the report's page module
    (jinja2), the related papers' model when the params embed (~0.3 s), and with a vocabulary
    and at least KERNELS_FROM_BYTES of raw input the compiled passes' kernels
    (warm_kernels)."""
    Tags.validate(empty_frame(Tags))
    import papers.report  # noqa: F401

    load_model(params.related)
    if vocabulary is not None and input_bytes >= KERNELS_FROM_BYTES:
        warm_kernels(params, vocabulary)


def warm_kernels(params: Params, vocabulary: dict[str, Any]) -> None:
    """The partitions' compiled passes (tags, keyphrase candidates, signatures) run once on two
    papers: numba's import, the per-character tables and each kernel loaded from numba's cache,
    ~0.7 s a process that the first partition's enrichment would otherwise pay (with both
    partition threads waiting on numba's lock). The kernels get the types a build gives them
    (tests/pipeline/test_warm.py checks that a build compiles nothing more)."""
    terms = compiled_terms(vocabulary)
    tag_papers(_SAMPLE, terms, params.tags, compiled=True)
    keyphrase_candidates(_SAMPLE, terms, params.tags, compiled=True)
    paper_signatures(_SAMPLE, params.neardup, compiled=True)
