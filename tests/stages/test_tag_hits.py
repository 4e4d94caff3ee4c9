"""tag_hits: the compiled pass finds the same (row, key) pairs as padding a text and running
Aho-Corasick over it (tags._padded + extract_many), and leaves the texts it does not handle to
those regex passes."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from papers.stages.compiled import char_tables
from papers.stages.tag_hits import prefix_table, tag_classes, tag_hits
from papers.stages.tags import _hit_rows, _padded, compile_vocabulary

# every class of the pass: whitespace of each kind, clause marks (a full stop only before
# whitespace or at the end), other punctuation, controls, the mark's own character, letters in
# both cases, digits, words that start keys, keys inside longer runs, hyphenated spellings
_ASCII = [
    " ", "  ", "\t", "\n", "\x0b", "\x0c", "\r", "\x1c", "\x00", "\x7f", "-", "'", ".", ". ",
    "..", ".x", ",", ";", ":", "!", "?", "(", ")", '"', "/", "_", "&", "[", "]", "{", "}", "1",
    "3.5", "3D", "3d", "x", "a", "the", "graph", "Graph", "GRAPH", "graphs", "neural", "network",
    "networks", "graph neural network", "Graph-Neural-Network", "self-supervised", "selfsupervised",
    "learning", "diffusion", "model", "models", "GAN", "GANs", "gan", "DDPM", "SSL", "ssl", "b",
]  # fmt: skip
# characters beyond ASCII: letters whose lower case is longer in UTF-8 (Ⱥ), lower-cases to ASCII
# (the Kelvin sign) or is not one character (İ), a final-or-not sigma, numbers that are not
# digits, combining marks, spaces, dashes and quotes (“ ” are clause marks), CJK, the mark ¶, a
# character beyond the BMP
_WIDE = ["é", "É", "–", "—", "σ", "Σ", "ΑΣ", "ας", "ασ", "\u00a0", "\u2009", "\u3000", "İ", "i̇",
         "Ⱥ", "\u212a", "ǅ", "ẞ", "straße", "STRASSE", "²", "٣", "Ⅻ", "e\u0301", "“", "”", "’",
         "漢字", "😀", "\u0085", "‐", "ﬁ", "¶", "x¶y", "naïve", "ΔE", "𝑥"]  # fmt: skip

ascii_texts = st.lists(st.sampled_from(_ASCII), max_size=60).map("".join)
some_wide = st.lists(st.sampled_from(_ASCII + _WIDE), max_size=40).map("".join)

VOCAB = {
    "topics": [
        {"id": "gnn", "terms": ["graph neural network", "graph"], "acronyms": ["GNN"]},
        {"id": "ssl", "terms": ["self-supervised learning"], "acronyms": ["SSL"]},
        {"id": "gans", "terms": ["gan", "generative adversarial network"], "acronyms": ["GAN"]},
        {"id": "dm", "terms": ["diffusion model", "diffusion"], "acronyms": ["DDPM", "3D"]},
        {"id": "greek", "terms": ["ας", "ασ b", "straße", "ⱥ", "é", "3d"], "acronyms": ["ΑΣ"]},
        {"id": "pre", "terms": ["i̇pt", "x y", "naïve", "k"], "acronyms": ["İPT", "Ⱥ"]},
    ]
}
TERMS = compile_vocabulary(VOCAB)
PASSES = [
    (cased, TERMS.filter(pl.col("cased") == cased)["key"].to_list()) for cased in (False, True)
]


def _unhandled(text: str | None) -> bool:
    """A character beyond the BMP, or one whose lower case is not one character or depends on
    its neighbours, or whose class changes with lower-casing (two code points)."""
    classes, _ = char_tables()
    written, lowered = tag_classes()
    return any(
        ord(c) > 0xFFFF or classes[ord(c)] == 5 or written[ord(c)] != lowered[ord(c)]
        for c in text or ""
    )


def _same(texts: list[str | None], passes: list[tuple[bool, list[str]]] = PASSES) -> None:
    series = pl.Series("t", texts, dtype=pl.String)
    (_, terms), (_, acronyms) = passes
    got = tag_hits(series, tuple(terms), tuple(acronyms))
    assert got is not None
    *pairs, rest = got
    assert rest.to_list() == [i for i, t in enumerate(texts) if _unhandled(t)]
    for (cased, keys), found in zip(passes, pairs, strict=True):
        want = (
            pl.DataFrame({"t": series})
            .with_row_index("row")
            .select(
                "row",
                _padded(pl.col("t"), lower=not cased)
                .str.extract_many(keys, overlapping=True)
                .alias("t"),
            )
            .explode("t")
            .drop_nulls("t")
            .filter(~pl.col("row").is_in(rest.implode()))
            .select(pl.col("row").cast(pl.UInt32), pl.col("t").alias("key"))
        )
        named = found.select("row", pl.Series(keys, dtype=pl.String).gather(found["key"]))
        assert sorted(named.rows()) == sorted(want.rows()), (cased, texts)
        # rows in order (the order _hit_rows lists them in)
        assert found["row"].is_sorted()


@settings(max_examples=500, deadline=None)
@given(st.lists(ascii_texts, max_size=6))
def test_ascii_texts_give_the_pairs_of_the_regex_passes(texts: list[str]) -> None:
    _same(texts)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.one_of(st.none(), ascii_texts, some_wide), max_size=6))
def test_texts_beyond_ascii_give_the_same_pairs(texts: list[str | None]) -> None:
    _same(texts)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=40), max_size=6))
def test_any_text_gives_the_same_pairs(texts: list[str]) -> None:
    _same(texts)


def test_every_character_of_the_bmp_is_classed_as_the_regex_passes_class_it() -> None:
    """Each code point inside a key, between keys' words, after a full stop, alone and doubled:
    the same pairs, as written and lower-cased."""
    texts = [
        f"graph{c}GAN x{c}{c}graph neural{c}network gan.{c}Diffusion {c} ssl{c}"
        for c in map(chr, range(0x80, 0x10000))
        if not 0xD800 <= ord(c) <= 0xDFFF
    ]
    _same(texts)


def test_real_titles_and_abstracts_give_the_same_pairs(real_fields: list[str | None]) -> None:
    """Every title and abstract of the real-record fixtures, against the real vocabulary."""
    import yaml

    vocabulary = yaml.safe_load(
        (Path(__file__).resolve().parents[2] / "vocab/topics.yaml").read_text()
    )
    terms = compile_vocabulary(vocabulary)
    passes = [(c, terms.filter(pl.col("cased") == c)["key"].to_list()) for c in (False, True)]
    _same(real_fields, passes)
    _same(real_fields, PASSES)


def test_edge_inputs() -> None:
    _same([])
    _same([None, "", " ", ".", "graph", "graph.", "graph.neural", "(graph)", "graph, neural"])
    # a key that is another key's first word, overlapping matches, a key twice in a row
    _same(["graph neural network graph graph neural network x graph neural"])
    # a slice of a longer series (Arrow offsets that do not start at 0)
    texts = ["skip graph", "graph neural network", "Σ GAN graph", "ⱥé graph Ⱥ-é"]
    series = pl.Series(texts).slice(1)
    got = tag_hits(series, tuple(PASSES[0][1]), tuple(PASSES[1][1]))
    assert got is not None
    terms, acronyms, rest = got
    assert rest.to_list() == [1]  # a sigma's lower case depends on what follows it
    keys = PASSES[0][1]
    named = [(r, keys[k]) for r, k in terms.rows()]
    assert sorted(named) == [(0, " graph "), (0, " graph neural network "), (2, " graph "),
                             (2, " é "), (2, " ⱥ ")]  # fmt: skip
    assert [PASSES[1][1][k] for _, k in acronyms.rows()] == [" Ⱥ "]


def test_more_pairs_than_the_first_buffer_holds() -> None:
    """The pass goes on from the row where its output filled up: every pair, once."""
    texts = ["graph neural network " * 40] * 3000
    _same(texts)


def test_keys_it_cannot_hold_go_to_the_regex_passes() -> None:
    assert prefix_table((" a  b ",)) is None  # two spaces
    assert prefix_table((" a¶b ",)) is None  # the mark's own character
    assert prefix_table((" x ", " x ")) is None  # a key twice
    assert prefix_table(("  ",)) is None  # no word: would match an empty text's padding
    assert tag_hits(pl.Series(["a b"]), (" a b ", "ab"), (" A ",)) is None
    assert tag_hits(pl.Series(["a b"]), (" a b ",), (" A ", " A ")) is None
    # _hit_rows then matches that pass by the regex passes, with the same rows
    terms = pl.DataFrame(
        {
            "key": ["  ", " a ", " B "],
            "cased": [False, False, True],
            "tag": ["t", "u", "v"],
            "term": ["-", "a", "B"],
            "generic": [False] * 3,
        }
    )
    papers = pl.DataFrame(
        {"paper_id": ["p0", "p1"], "title": ["", "a B a"], "abstract": [None, "b"]}
    )
    compiled = _hit_rows(papers, terms, True)
    regex = _hit_rows(papers, terms, False)
    assert compiled.rows() == regex.rows()
    # keys index the sorted distinct keys ("  ", " B ", " a "): "  " in p0's title
    assert (0, 0, True) in compiled.rows()


@pytest.mark.parametrize("size", [0, 1, 7])
def test_hits_compiled_and_by_regex_are_the_same_rows(size: int) -> None:
    texts = ["Graph neural networks, GANs and ΑΣ.", "Σ graph", "a 😀 GAN", None, "ssl SSL ας"]
    papers = pl.DataFrame(
        {
            "paper_id": [f"p{i}" for i in range(size)],
            "title": [texts[i % 5] for i in range(size)],
            "abstract": [texts[(i + 2) % 5] for i in range(size)],
        },
        schema={"paper_id": pl.String, "title": pl.String, "abstract": pl.String},
    )
    compiled = _hit_rows(papers, TERMS, True)
    regex = _hit_rows(papers, TERMS, False)
    assert compiled.schema == regex.schema
    # the same rows pass by pass (field, then case), paper by paper
    assert sorted(compiled.rows()) == sorted(regex.rows())


@given(st.binary(max_size=40), st.integers(0, 40), st.integers(0, 40), st.integers(0, 9))
@settings(max_examples=300, deadline=None)
def test_the_compiled_span_hash_is_the_spec_with_or_without_room_after_the_span(
    data: bytes, a: int, b: int, room: int
) -> None:
    """tag_hits_kernel.span_hash loads eight bytes at a time where the buffer has them after the
    span (masking those past its end) and reads byte by byte at the buffer's end: both agree
    with tag_hits.span_hash."""
    import numpy as np

    from papers.stages.tag_hits import span_hash
    from papers.stages.tag_hits_kernel import span_hash as compiled

    start, end = sorted((min(a, len(data)), min(b, len(data))))
    buf = np.frombuffer(data[:end] + b"\xff" * room, dtype=np.uint8)
    assert int(compiled(buf, start, end)) == span_hash(data[start:end])
