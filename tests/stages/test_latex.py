"""LaTeX and stripped-LaTeX remnants to readable Unicode."""

from __future__ import annotations

import unicodedata

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from papers.stages.latex import (
    COMPARISON_TRIGGER,
    LATEX_TRIGGERS,
    WHITESPACE_TRIGGER,
    _comparison_rewrites,
    _latex,
    _rewritten,
    _whitespace,
    literal_table,
    to_unicode,
    to_unicode_series,
)


def norm(text: str) -> str:
    return str(pl.select(to_unicode(pl.lit(text))).item())


EXAMPLES = [
    (r"a 52\% gain", "a 52% gain"),
    (r"Fr\'echet Inception Distance", "Fréchet Inception Distance"),
    (r"Fr\'{e}chet and {\'e}t\'e and Erd\H{o}s and \c{c}a", "Fréchet and été and Erdős and ça"),
    (r"temperature {\tau} controls", "temperature τ controls"),
    (r"temperature {\tau} .", "temperature τ ."),
    (r"a {\em finite sample} setting", "a finite sample setting"),
    ('as ``naive samples". Then', "as “naive samples”. Then"),
    ("as ``quoted'' text", "as “quoted” text"),
    ("data (e.g.~10% of it)", "data (e.g. 10% of it)"),
    (r"methods, \eg biased", "methods, e.g. biased"),
    (r"(\eg, Indoors)", "(e.g., Indoors)"),
    (r"\ie the same", "i.e. the same"),
    ("ell_p subspace embeddings, ell_2 norm", "ℓ_p subspace embeddings, ℓ_2 norm"),
    ("ImageNet 64times 64 images", "ImageNet 64×64 images"),
    ("a 3.5times and 20times speedup", "a 3.5× and 20× speedup"),
    ("for 1leq p<2 and pneq 2", "for 1≤p<2 and p≠2"),
    ("detectable with p leq 0.01", "detectable with p ≤ 0.01"),
    ("2<p<infty", "2<p<∞"),
    ("roughly mathfrak S^{2/p} samples", "roughly 𝔖^(2/p) samples"),
    ("d^{2/p}mathfrak S^{2-4/p}", "d^(2/p)𝔖^(2-4/p)"),
    (r"$\mathbb{R}^d$ and $\alpha$-stable", "ℝ^d and α-stable"),
    ("Inference Scaling scriptsizeFLaws: The Limits", "Inference Scaling FLaws: The Limits"),
    (r"making \ssl highly", "making ssl highly"),
    (r"\textbf{Bold} and \emph{it} \cite{x}.", "Bold and it."),
    (r"see \url{https://a.b/c}", "see https://a.b/c"),
    ("tokens -- are detectable", "tokens – are detectable"),
    ("robustness to ~95% of measurements", "robustness to ~95% of measurements"),
    ("https://x.org/~user/a_b stays", "https://x.org/~user/a_b stays"),
    (r"http://cs.x.edu/\~dimitris/ page", "http://cs.x.edu/~dimitris/ page"),
    ("hard\nwrapped   line\n\n\nnew paragraph", "hard wrapped line\n\nnew paragraph"),
    ("cafe\u0301 zero\u200bwidth soft\u00adhyphen", "café zerowidth softhyphen"),
    (r"\index stays a word, \in is a symbol", "index stays a word, ∈ is a symbol"),
    ("organic, gain, plain English", "organic, gain, plain English"),
    # display math and macros directly followed by macros (real arXiv abstracts)
    (
        r"like $$\Theta\left( n! \right),$$ where $a_1\approx-2.3$",
        "like Θ( n! ), where a_1≈-2.3",
    ),
    (
        r"$\sqrt{\frac{n}{2\log n}} \stackrel{d}{\longrightarrow} {\cal N}$",
        "√(n/(2 log n)) ⟶ᵈ 𝒩",
    ),
    (r"\alpha\beta", "αβ"),
]


@pytest.mark.parametrize(("raw", "expected"), EXAMPLES)
def test_to_unicode(raw: str, expected: str) -> None:
    assert norm(raw) == expected


@settings(max_examples=200, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(list("ab \\{}$~`'\"\n%_^-1pleqtimesmathfrakS,:(")),
        max_size=60,
    )
)
def test_normalising_twice_changes_nothing(text: str) -> None:
    once = norm(text)
    assert norm(once) == once


# ---- to_unicode_series: the same values as to_unicode, each part only on the rows it can change

# Pieces of text that trip the rewrites (_SPECIAL), and text that almost does (_PLAIN). A
# generated text holds at most two special pieces among plain text, so that rows where only one
# rule applies (and rows where none does) are common.
_SPECIAL = [
    *"\\{}$~`'\"-_^/“”\x01\u200b\u00ad\u2029\u00a0\t\n",
    *[r"\alpha", r"\'e", r"\c c", r"\em ", r"\textbf{", r"\cite{x}", r"\frac{a}{b}", r"\%"],
    *[r"\href{u}{t}", r"\url{u}", r"\mathbb{R}", r"\\", r"/\~", r"\Theta\left(", "{a}", "{"],
    *["leq", "geq", "neq", "1leq ", "pneq", "3times", "64times 64", " 2 times3", "infty"],
    *["ell_", "ell_{2}", "mathfrak S", "mathbbR", "mathcal{L}", "mathfrakZ", "scriptsizeF"],
    *["normalsizeF", "footnotesizeX", "``", "''", "--", "---", "  ", "\n\n", " \n ", "$a$"],
    '“q"',
]
_PLAIN = [
    *"ab eS1 2.,()é\u0301\u0327ı\u212b\u037e\u3000",
    *["equal", "sequel", "times", "timestamp", "bell_", "Xinfty", "math", "size", "le"],
]
_plain = st.lists(st.sampled_from(_PLAIN), max_size=6).map("".join)
_special = st.sampled_from(["", *_SPECIAL])
_TEXTS = st.tuples(_plain, _special, _plain, _special, _plain).map("".join)


def series_norm(texts: list[str | None]) -> list[str | None]:
    return to_unicode_series(pl.Series(texts, dtype=pl.String)).to_list()


def frame_norm(texts: list[str | None]) -> list[str | None]:
    frame = pl.DataFrame({"t": texts}, schema={"t": pl.String})
    return frame.select(to_unicode(pl.col("t")))["t"].to_list()


def test_series_matches_expression_on_the_examples() -> None:
    raws = [raw for raw, _ in EXAMPLES]
    assert series_norm([*raws, None, ""]) == frame_norm([*raws, None, ""])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            _TEXTS,
            st.text(max_size=20),
            st.none(),
        ),
        max_size=12,
    )
)
def test_series_matches_expression(texts: list[str | None]) -> None:
    # rows that need no rewrite sit between rows that do: row order is kept as well
    assert series_norm(texts) == frame_norm(texts)


def test_every_literal_pattern_is_a_trigger() -> None:
    # text holding a literal-table pattern holds a LATEX_TRIGGERS match (they have no context)
    patterns = pl.Series(literal_table()[0])
    hit = patterns.to_frame("p").select(
        pl.any_horizontal(pl.col("p").str.contains(t) for t in LATEX_TRIGGERS)
    )["p"]
    assert hit.all(), patterns.filter(~hit).to_list()[:10]


@settings(max_examples=400, deadline=None)
@given(_TEXTS)
def test_text_without_a_trigger_is_left_alone(text: str) -> None:
    # the premise of to_unicode_series: each part changes nothing where its triggers find nothing
    frame = pl.DataFrame({"t": [unicodedata.normalize("NFC", text)]})
    t = pl.col("t")
    if not frame.select(pl.any_horizontal(t.str.contains(p) for p in LATEX_TRIGGERS)).item():
        assert frame.select(_latex(t)).equals(frame)
    if not frame.select(t.str.contains(WHITESPACE_TRIGGER)).item():
        assert frame.select(_whitespace(t)).equals(frame)
    if not frame.select(t.str.contains(COMPARISON_TRIGGER)).item():
        assert frame.select(_rewritten(t, _comparison_rewrites())).equals(frame)


def _whitespace_as_written_first(expr: pl.Expr) -> pl.Expr:
    # `_whitespace` before its patterns were made faster: the reference they must agree with
    return (
        expr.str.replace_all(r"[\u200b\u200c\u200d\u2060\ufeff\u00ad]", "")
        .str.replace_all(r"[^\S\n]+", " ")
        .str.replace_all(r" ?\n ?\n[\s]*", "\u2029")
        .str.replace_all(r"\s*\n\s*", " ")
        .str.replace_all(r" *\u2029 *", "\n\n")
        .str.strip_chars()
    )


@settings(max_examples=400, deadline=None)
@given(st.lists(st.text(alphabet="ab \n\t\r\u00a0\u2029\u2028\u3000\u200b\u00ad", max_size=30)))
def test_whitespace_patterns_keep_their_meaning(texts: list[str]) -> None:
    frame = pl.DataFrame({"t": texts}, schema={"t": pl.String})
    assert frame.select(_whitespace(pl.col("t"))).equals(
        frame.select(_whitespace_as_written_first(pl.col("t")))
    )
