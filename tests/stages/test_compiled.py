"""The compiled passes' shared rules (papers/stages/compiled.py, compiled_kernel.py)."""

from __future__ import annotations

import importlib

import numba
import numpy as np
import pytest

from papers.stages.compiled_kernel import kernel

KERNELS = [
    ("papers.stages.candidate_runs_kernel", "runs"),
    ("papers.stages.tag_hits_kernel", "hits"),
    ("papers.stages.shingle_kernel", "shingle_hashes"),
    ("papers.stages.clean_kernel", "cleaned"),
]


@pytest.mark.parametrize(("module", "name"), KERNELS)
def test_each_pass_is_compiled_without_the_reference_counted_runtime(module: str, name: str):
    # with numba's runtime every array an inlined helper takes is reference-counted in the
    # inner loops (more than half the keyphrase pass's time): each entry point is a `kernel`
    dispatcher = getattr(importlib.import_module(module), name)
    assert dispatcher.targetoptions.get("_nrt") is False
    assert dispatcher.targetoptions.get("nogil") is True


def test_a_kernel_that_allocates_is_refused():
    # so a pass cannot take its scratch itself and bring the runtime back unnoticed
    @kernel
    def allocates(n):  # pragma: no cover - never compiled
        return np.empty(n).shape[0]

    with pytest.raises(numba.core.errors.TypingError):
        allocates(3)
