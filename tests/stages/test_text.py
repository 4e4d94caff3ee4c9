from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from papers.stages.text import runs_outside

UGLY = st.one_of(
    st.none(), st.text(alphabet="aZ 1_-.,¶\t\n\u00a0é\u0301ß\u0130Σ\u2029\U0001f600", max_size=16)
)


@pytest.mark.parametrize("kept", [r"\w", r"\p{L}\p{N}", r"\p{L}\p{N}¶", r"\S"])
@settings(max_examples=200, deadline=None)
@given(texts=st.lists(UGLY, max_size=8))
def test_runs_outside_replaces_as_the_one_pass_regex(kept: str, texts: list[str | None]) -> None:
    frame = pl.DataFrame({"t": texts}, schema={"t": pl.String})
    got = frame.select(pl.col("t").str.replace_all(runs_outside(kept), " "))["t"]
    expected = frame.select(pl.col("t").str.replace_all(rf"[^{kept}]+", " "))["t"]
    assert got.to_list() == expected.to_list()
