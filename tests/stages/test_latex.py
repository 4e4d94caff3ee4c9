"""LaTeX and stripped-LaTeX remnants to readable Unicode."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from papers.stages.latex import to_unicode


def norm(text: str) -> str:
    return str(pl.select(to_unicode(pl.lit(text))).item())


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
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
        ("roughly mathfrak S^{2/p} samples", "roughly 𝔖^{2/p} samples"),
        ("d^{2/p}mathfrak S^{2-4/p}", "d^{2/p}𝔖^{2-4/p}"),
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
            "√(n)/(2log n) d⟶ N",
        ),
        (r"\alpha\beta", "αβ"),
    ],
)
def test_to_unicode(raw: str, expected: str) -> None:
    assert norm(raw) == expected


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(list("ab \\{}$~`'\"\n%_^-1pleqtimesmathfrakS")), max_size=60)
)
def test_normalising_twice_changes_nothing(text: str) -> None:
    once = norm(text)
    assert norm(once) == once
