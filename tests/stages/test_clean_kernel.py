"""clean_kernel: the compiled cleaning gives each paper the same strings as the expressions (the
lower-casing, regex pass, join and space removal it replaces: neardup._expression_cleaned_texts),
on every character of the BMP and on any text."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from papers.stages import neardup as nd


def _same(texts: list[str | None]) -> None:
    """Each text as a title and as an abstract beside another text (so both fields, the join,
    nulls and empty fields are checked)."""
    frame = pl.DataFrame(
        {"title": texts, "abstract": texts[1:] + texts[:1]},
        schema={"title": pl.String, "abstract": pl.String},
    )
    want = nd._expression_cleaned_texts(frame)
    assert_frame_equal(nd._compiled_cleaned_texts(frame), want)


def test_every_character_of_the_bmp() -> None:
    """Each code point between words, at the edges, doubled and alone (Σ, İ and the other
    characters the pass leaves are cleaned by the expressions, in place)."""
    _same(
        [
            f"Ab{c}CD x{c}{c}y {c}"
            for c in map(chr, range(0x80, 0x10000))
            if not 0xD800 <= ord(c) <= 0xDFFF
        ]
    )


_PIECES = [" ", "  ", "\t", "\n", "-", "_", ".", ",", "'", "A", "b", "Z9", "é", "É", "Σ", "ς",
           "İ", "Ⱥ", "ẞ", "\u0301", "\u00a0", "\u3000", "漢字", "😀", "²", "Ⅻ", "\x00", "\x7f",
           "Straße", "ΑΣ b"]  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(st.none(), st.lists(st.sampled_from(_PIECES)).map("".join)), max_size=8))
def test_generated_texts(texts: list[str | None]) -> None:
    _same(texts)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=40)), max_size=8))
def test_any_text(texts: list[str | None]) -> None:
    _same(texts)


def test_real_titles_and_abstracts(real_fields: list[str | None]) -> None:
    _same(real_fields)


def test_edges() -> None:
    _same([])
    _same([None, "", " ", "-", "a", " a ", "A-B_c"])
    frame = pl.DataFrame({"title": ["skip", "Graph-Based  Σ", "Ⱥé, X"], "abstract": ["a"] * 3})
    got = nd._compiled_cleaned_texts(frame.slice(1))  # offsets not from 0
    assert got.rows() == [("graph based σ a", "graphbasedσ", "a"), ("ⱥé x a", "ⱥéx", "a")]


def test_cleaned_texts_are_the_same_either_way() -> None:
    papers = pl.DataFrame(
        {"title": ["A Title", None, "", "Σ-Model"], "abstract": [None, "Some text.", "", "ΑΣ"]}
    )
    expressions = nd._cleaned_texts(papers, compiled=False)
    assert_frame_equal(nd._cleaned_texts(papers, compiled=True), expressions)
