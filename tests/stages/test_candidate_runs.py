"""candidate_runs: the compiled pass gives an ASCII text the same counted phrases as the regex
passes and the joins (keyphrases._phrases, _counted), and leaves every other text to them."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from papers.stages.candidate_runs import candidate_runs
from papers.stages.compiled import char_tables
from papers.stages.keyphrases import STOPWORDS, _counted, _phrases

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

# every byte class of the pass: whitespace of each kind, letters in both cases, digits,
# apostrophes and hyphens inside and at the edges of words, other punctuation and controls,
# stop words (with inner hyphens and apostrophes), "-ly" words, one-character and digit words
_ASCII = [
    " ", " ", " ", "  ", "\t", "\n", "\x0b", "\x0c", "\r", "\x1c", "\x00", "\x02", "\x7f", "-",
    "'", "--", "'-", "-'", ".", ". ", ",", ";", "(", ")", '"', "/", "_", "&", "1", "42", "3.5",
    "1-2", "x", "a", "I", "the", "The", "THE", "of", "and", "we", "propose", "novel", "well-known",
    "Well-Known", "can't", "state-of-the-art", "graph", "Graph", "sparsification", "spectral",
    "clustering", "roughly", "ROUGHLY", "only", "ly", "fly", "holy", "jolly", "diffusion",
    "model", "Models", "self-supervised", "pre-training", "DDPM", "ab", "abc", "a1", "x'y",
]  # fmt: skip
# characters beyond ASCII: letters whose lower case is longer in UTF-8 (Ⱥ), lower-cases to ASCII
# (the Kelvin sign) or is not one character (İ), a final-or-not sigma, numbers that are not
# digits, combining marks, spaces, dashes and quotes, CJK, a character beyond the BMP
_WIDE = ["é", "É", "–", "—", "σ", "Σ", "ΑΣ", "ς", "\u00a0", "\u2009", "\u3000", "İ", "Ⱥ", "\u212a",
         "ǅ", "ẞ", "²", "٣", "Ⅻ", "e\u0301", "“", "”", "’", "漢字", "😀", "\u0085", "‐", "ﬁ",
         "Straße", "naïve", "Schrödinger", "ΔE", "α-helix", "x²-ly", "ångström-ly"]  # fmt: skip

ascii_texts = st.lists(st.sampled_from(_ASCII), max_size=60).map("".join)
some_wide = st.lists(st.sampled_from(_ASCII + _WIDE), max_size=40).map("".join)


# vocabulary keys as keyphrase_candidates gets them (lower-cased): as written, with hyphens or
# apostrophes spelled as spaces, one of a run's last words, non-ASCII
KEYS = ["self supervised", "diffusion model", "ddpm", "spectral clustering", "can t", "graph",
        "state of the art", "model", "ασ", "x'y", "pre training"]  # fmt: skip


def _same(texts: list[str], max_words: int, keys: list[str] = KEYS) -> None:
    text = pl.Series("text", texts, dtype=pl.String)
    found, wide = candidate_runs(text, STOPWORDS, keys, max_words)
    want = _counted(
        _phrases(text, max_words), pl.DataFrame({"phrase": keys}, schema={"phrase": pl.String})
    )
    classes, _ = char_tables()
    unhandled = [
        i for i, t in enumerate(texts) if any(ord(c) > 0xFFFF or classes[ord(c)] == 5 for c in t)
    ]
    assert wide.to_list() == unhandled
    ascii_rows = want.filter(~pl.col("row").is_in(wide.implode()))
    assert_frame_equal(found.sort("row", "phrase"), ascii_rows.sort("row", "phrase"))


@settings(max_examples=500, deadline=None)
@given(st.lists(ascii_texts, max_size=6), st.integers(1, 5))
def test_ascii_texts_give_the_phrases_of_the_regex_passes(texts: list[str], max_words: int) -> None:
    _same(texts, max_words)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.one_of(ascii_texts, some_wide), max_size=6), st.integers(1, 4))
def test_texts_beyond_ascii_give_the_same_phrases(texts: list[str], max_words: int) -> None:
    _same(texts, max_words)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=40), max_size=6))
def test_any_text_gives_the_same_phrases(texts: list[str]) -> None:
    _same(texts, 3)


def test_every_character_of_the_bmp_is_classed_as_the_regex_passes_class_it() -> None:
    """Each code point between letters, after a letter, alone and doubled: the same phrases."""
    texts = [
        f"ab{c}cd x{c}{c}yz {c}qq"
        for c in map(chr, range(0x80, 0x10000))
        if not 0xD800 <= ord(c) <= 0xDFFF
    ]
    _same(texts, 3)


def test_real_abstracts_give_the_same_phrases() -> None:
    """Every title and abstract of the real-record fixtures, as keyphrase_candidates joins them."""
    texts = []
    for name in ("arxiv/snapshot.jsonl", "arxiv/snapshot_neardup.jsonl",
                 "latex/math_abstracts.jsonl", "bench/arxiv-snapshot-excerpt.jsonl"):  # fmt: skip
        frame = pl.read_ndjson(FIXTURES / name, infer_schema_length=None)
        if {"title", "abstract"} <= set(frame.columns):
            fields = [pl.col(c).cast(pl.String).fill_null("") for c in ("title", "abstract")]
            texts += frame.select(pl.concat_str(fields, separator=" . ")).to_series().to_list()
    assert len(texts) > 30
    for max_words in (1, 3):
        _same(texts, max_words)
        _same(texts, max_words, [])


def test_empty_and_edge_inputs() -> None:
    _same([], 3)
    _same(["", " ", "a", "abc", "- -", "ab cd", "the cat", "x" * 5000], 3)
    # counted per text, terms dropped in either spelling
    texts = ["Sparse graphs, sparse graphs; SPARSE GRAPHS. Self-supervised and can't x'y", "x-y"]
    _same(texts, 3)
    found, _ = candidate_runs(pl.Series(texts), STOPWORDS, KEYS, 3)
    assert found.to_dicts() == [{"row": 0, "phrase": "sparse graphs", "tf": 3},
                                {"row": 1, "phrase": "x-y", "tf": 1}]  # fmt: skip
    # a null-free slice of a longer series (Arrow offsets that do not start at 0)
    texts = ["skip me", "graph neural networks", "Σ graph", "Ⱥé graph"]
    _same(texts[1:], 2)
    found, wide = candidate_runs(pl.Series(texts).slice(1), STOPWORDS, [], 3)
    assert found.to_dicts() == [
        {"row": 0, "phrase": "graph neural networks", "tf": 1},
        {"row": 2, "phrase": "ⱥé graph", "tf": 1},
    ]
    assert wide.to_list() == [1]  # a sigma's lower case depends on what follows it
