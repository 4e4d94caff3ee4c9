"""normalize: readable text, identities, and the merge of duplicate records."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from papers.config import NormalizeParams, Params
from papers.stages.normalize import (
    _key_words,
    arxiv_id,
    doi,
    merge_duplicates,
    normalize_records,
    resolve_identity,
    title_key,
    title_key_series,
)
from schemas import NormalizedRecords, RawRecords, conform, empty_frame


def raw(**cols: list[object]) -> pl.DataFrame:
    n = len(next(iter(cols.values())))
    base: dict[str, list[object]] = {
        "source_file": ["a.txt"] * n,
        "source": ["hf_papers_page"] * n,
        "record_index": list(range(n)),
        "line": [1] * n,
        "title_raw": ["T"] * n,
        "abstract_raw": ["A"] * n,
        "arxiv_id_raw": [None] * n,
        "listing_date": [None] * n,
        "raw": ["r"] * n,
    }
    base.update(cols)
    schema = empty_frame(RawRecords).schema
    return conform(pl.DataFrame(base, schema={k: schema[k] for k in base}), RawRecords)


@pytest.mark.parametrize(
    ("title", "key"),
    [
        ("Café Models: Fréchet Distances!", "cafe models frechet distances"),
        ("  BT-GAN:  Generating Fair Data ", "bt gan generating fair data"),
        ("Ünïcödé — ümlauts", "unicode umlauts"),
        ("ℓ_p Embeddings", "l p embeddings"),  # NFKD folds compatibility letters
    ],
)
def test_title_key(title: str, key: str) -> None:
    assert pl.select(title_key(pl.lit(title))).item() == key


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("2401.01234", "2401.01234"),
        ("arXiv:2401.01234v3", "2401.01234"),
        ("https://arxiv.org/abs/2401.01234v2", "2401.01234"),
        ("http://arxiv.org/pdf/2312.00001v1.pdf", "2312.00001"),
        ("hep-th/9901001v2", "hep-th/9901001"),
        ("https://huggingface.co/papers/2401.01234", "2401.01234"),
        ("math.ag/0301001", "math.AG/0301001"),
        ("not an id", None),
        ("", None),
    ],
)
def test_arxiv_id(written: str, expected: str | None) -> None:
    assert pl.select(arxiv_id(pl.lit(written))).item() == expected


def test_normalize_records(params: Params) -> None:
    records = raw(
        title_raw=[r"Fr\'echet  {\em Models}", "  ", None],
        abstract_raw=[r"52\% of ell_p", "x", "y"],
        arxiv_id_raw=[None, None, "arXiv:2401.00001v2"],
    )
    normalized, rejects = normalize_records(records, params.normalize)
    NormalizedRecords.validate(normalized)
    # an empty title cannot identify a paper: both the blank and the null title are rejected
    assert normalized.height == 1
    assert rejects["record_index"].to_list() == [1, 2]
    assert (rejects["stage"] == "normalize").all()
    row = normalized.row(0, named=True)
    assert row["title"] == "Fréchet Models"
    assert row["abstract"] == "52% of ℓ_p"
    assert row["title_raw"] == r"Fr\'echet  {\em Models}"
    assert row["paper_id"].startswith("title:")
    assert len(row["paper_id"]) == len("title:") + 16


def test_paper_id_prefers_arxiv_and_is_stable() -> None:
    records = raw(title_raw=["Same", "Same"], arxiv_id_raw=["2401.00001v1", None])
    normalized, _ = normalize_records(records, NormalizeParams())
    ids = normalized["paper_id"].to_list()
    assert ids[0] == "2401.00001"
    # sha256("same")[:16], independent of polars' internal hashing
    assert ids[1] == "title:0967115f2813a3541eaef77de9d9d577"[:22]


def test_merge_duplicates_is_order_independent() -> None:
    records = raw(
        title_raw=["Café Models", "cafe models!", "Other"],
        abstract_raw=["short", "the longer abstract", "o"],
        listing_date=[dt.date(2024, 5, 28), dt.date(2024, 5, 27), None],
        source_file=["b.txt", "a.txt", "a.txt"],
    )
    normalized, _ = normalize_records(records, NormalizeParams())
    papers, provenance = merge_duplicates(normalized, NormalizeParams())
    again, _ = merge_duplicates(normalized.reverse(), NormalizeParams())
    assert_frame_equal(papers, again)
    assert papers.height == 2
    merged = papers.filter(pl.col("title_key") == "cafe models").row(0, named=True)
    assert merged["abstract"] == "the longer abstract"
    assert merged["listing_dates"] == [dt.date(2024, 5, 27), dt.date(2024, 5, 28)]
    assert merged["sources"] == ["hf_papers_page"]
    assert provenance.height == 3
    assert provenance.filter(pl.col("paper_id") == merged["paper_id"]).height == 2


ABSTRACT = "We propose a sparse attention method for long documents and evaluate it on benchmarks."


def test_doi_forms() -> None:
    frame = pl.DataFrame(
        {
            "d": [
                "10.1000/ABC.1",
                "https://doi.org/10.1000/abc.1",
                "doi: 10.1000/abc.1",
                "nope",
                None,
            ]
        }
    )
    assert frame.select(doi(pl.col("d")))["d"].to_list() == ["10.1000/abc.1"] * 3 + [None, None]


def resolved(records: pl.DataFrame) -> list[str]:
    normalized, _ = normalize_records(records, NormalizeParams())
    return (
        resolve_identity(normalized, NormalizeParams()).sort("record_index")["paper_id"].to_list()
    )


def test_identity_links_by_doi_and_by_title_when_abstracts_agree() -> None:
    records = raw(
        source=["arxiv_snapshot", "feed", "hf_papers_page", "hf_papers_page", "hf_papers_page"],
        title_raw=["Sparse Attention", "Another Name", "Sparse  attention!", "Sparse Attention", "Sparse Attention"],
        abstract_raw=[ABSTRACT, "x", ABSTRACT.upper(), "", "A different paper about protein folding with the same title."],
        arxiv_id_raw=["2401.00001v2", None, None, None, None],
        doi=["10.1000/x", "https://doi.org/10.1000/X", None, None, None],
    )  # fmt: skip
    ids = resolved(records)
    assert (
        ids[:4] == ["2401.00001"] * 4
    )  # by id, by DOI, by title + agreeing abstract, empty abstract
    assert ids[4].startswith("title:")  # same title, different abstract: a different paper


def test_identity_never_links_on_disagreeing_ids_or_generic_titles() -> None:
    records = raw(
        source=["arxiv_snapshot", "feed", "arxiv_snapshot", "feed", "feed"],
        title_raw=["Sparse Attention", "Sparse Attention", "Preface", "Preface", "Preface"],
        abstract_raw=[ABSTRACT, ABSTRACT, "Volume one.", "Volume one.", "Volume two of the series."],
        arxiv_id_raw=["2401.00001", None, "2401.00002", None, None],
        doi=["10.1000/x", "10.1000/other", None, None, None],
    )  # fmt: skip
    ids = resolved(records)
    assert ids[1] == "doi:10.1000/other"  # its DOI disagrees with the arXiv paper's
    assert ids[3].startswith("title:")  # a generic title never links by title alone
    assert ids[3] != ids[4]  # and two prefaces with different abstracts stay apart


def test_numbered_parts_do_not_collapse() -> None:
    records = raw(
        title_raw=["Deep Learning Theory I", "Deep Learning Theory II", "Deep learning theory I."]
    )
    ids = resolved(records)
    assert ids[0] == ids[2]
    assert ids[0] != ids[1]


def test_merge_follows_source_precedence(params: Params) -> None:
    records = raw(
        source=["hf_daily_papers", "arxiv_snapshot", "hf_daily_papers"],
        title_raw=["HF Title", "arXiv Title", "HF Title"],
        abstract_raw=["hf abstract that is the longest of all of them", "arxiv abstract", "hf"],
        arxiv_id_raw=["2401.00001", "2401.00001v3", "2401.00001"],
        listing_date=[dt.date(2024, 1, 2), None, dt.date(2024, 1, 5)],
        upvotes=[2, None, 42],
        categories=[[], ["cs.CL", "cs.LG"], []],
        hf_keywords=[["old"], [], ["new", "kw"]],
        curated_links=[[{"url": "https://github.com/a/b/", "field": "githubRepo"}], [], []],
    )  # fmt: skip
    normalized, _ = normalize_records(records, params.normalize)
    papers, provenance = merge_duplicates(
        resolve_identity(normalized, params.normalize), params.normalize
    )
    row = papers.row(0, named=True)
    assert papers.height == 1
    assert provenance.height == 3
    assert (row["title"], row["abstract"]) == ("arXiv Title", "arxiv abstract")
    assert row["categories"] == ["cs.CL", "cs.LG"]
    assert row["upvotes"] == 42  # the latest listing
    assert row["hf_keywords"] == ["new", "kw"]
    assert row["sources"] == ["arxiv_snapshot", "hf_daily_papers"]
    assert row["listing_dates"] == [dt.date(2024, 1, 2), dt.date(2024, 1, 5)]
    assert row["curated_links"] == [{"url": "https://github.com/a/b/", "field": "githubRepo"}]


# ---- resolve_identity: abstracts compared only for the records a title match alone links


def _resolve_identity_every_row(normalized: pl.DataFrame, params: NormalizeParams) -> pl.DataFrame:
    """resolve_identity as first written: the agreement expression evaluated on every row."""
    from papers.stages.normalize import GENERIC_TITLES, _abstract_words

    known = normalized.filter(pl.col("arxiv_id").is_not_null())
    by_doi = (
        known.filter(pl.col("doi").is_not_null())
        .group_by("doi")
        .agg(pl.col("arxiv_id").unique().alias("ids"))
        .filter(pl.col("ids").list.len() == 1)
        .select("doi", pl.col("ids").list.first().alias("_via_doi"))
    )
    by_title = (
        known.filter(~pl.col("title_key").is_in(list(GENERIC_TITLES)))
        .sort("arxiv_id", "source_file", "record_index")
        .group_by("title_key", maintain_order=True)
        .agg(
            pl.col("arxiv_id").unique().alias("ids"),
            pl.col("doi").drop_nulls().first().alias("_ref_doi"),
            pl.col("abstract").filter(pl.col("abstract") != "").first().alias("_ref_abstract"),
        )
        .filter(pl.col("ids").list.len() == 1)
        .select(
            "title_key", pl.col("ids").list.first().alias("_via_title"), "_ref_doi", "_ref_abstract"
        )
    )
    words = _abstract_words(pl.col("abstract"))
    ref_words = _abstract_words(pl.col("_ref_abstract").fill_null(""))
    overlap = words.list.set_intersection(ref_words).list.len() / words.list.set_union(
        ref_words
    ).list.len().clip(lower_bound=1)
    agree = (
        (words.list.len() == 0)
        | (ref_words.list.len() == 0)
        | (overlap >= params.abstract_agreement)
    ) & (
        pl.col("doi").is_null()
        | pl.col("_ref_doi").is_null()
        | (pl.col("doi") == pl.col("_ref_doi"))
    )
    return (
        normalized.join(by_doi, on="doi", how="left")
        .join(by_title, on="title_key", how="left")
        .with_columns(
            pl.when(pl.col("arxiv_id").is_not_null())
            .then(pl.col("paper_id"))
            .when(pl.col("_via_doi").is_not_null())
            .then(pl.col("_via_doi"))
            .when(pl.col("_via_title").is_not_null() & agree)
            .then(pl.col("_via_title"))
            .otherwise(pl.col("paper_id"))
            .alias("paper_id")
        )
        .select(normalized.columns)
    )


_IDENTITY_ROW = st.tuples(
    st.sampled_from([None, "2401.00001", "2401.00002", "2401.00003"]),  # arXiv id
    st.sampled_from([None, "10.1000/a", "10.1000/b", "10.1000/c"]),  # DOI
    st.sampled_from(["Sparse Attention", "Protein Folding", "Introduction", "Sparse attention!"]),
    st.sampled_from(
        [
            "",
            ABSTRACT,
            ABSTRACT.upper(),
            "protein folding with sparse attention",
            "an unrelated abstract about graphs",
        ]
    ),
)


def _identity_records(rows: list[tuple[str | None, str | None, str, str]]) -> pl.DataFrame:
    """(arxiv id, doi, title, abstract) rows -> raw records (arXiv snapshot when an id is set)."""
    return raw(
        source=["arxiv_snapshot" if a else "hf_papers_page" for a, _, _, _ in rows],
        arxiv_id_raw=[a for a, _, _, _ in rows],
        doi=[d for _, d, _, _ in rows],
        title_raw=[t for _, _, t, _ in rows],
        abstract_raw=[b for _, _, _, b in rows],
    )


@settings(max_examples=150, deadline=None)
@given(st.lists(_IDENTITY_ROW, min_size=1, max_size=12))
def test_resolve_identity_equals_the_every_row_formulation(
    rows: list[tuple[str | None, str | None, str, str]],
) -> None:
    records = _identity_records(rows)
    normalized, _ = normalize_records(records, NormalizeParams())
    for agreement in (0.0, 0.5, 1.0):
        # the title rule alone (content links are tested below)
        params = NormalizeParams(abstract_agreement=agreement, content_match=None)
        assert_frame_equal(
            resolve_identity(normalized, params).select(normalized.columns),
            _resolve_identity_every_row(normalized, params),
        )


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(alphabet="aZ 1-é\u0301\u212bℓ_Ü:", max_size=12))))
def test_title_key_series_matches_expression(titles: list[str | None]) -> None:
    series = pl.Series(titles, dtype=pl.String)
    expected = series.to_frame("t").select(title_key(pl.col("t")))["t"]
    assert title_key_series(series).to_list() == expected.to_list()


# ---- the content match: records whose title differs from their paper's, joined by abstract

LONG = (
    "We introduce a retrieval augmented decoder that reads scanned invoices, receipts and forms, "
    "then answers questions about totals, vendors, dates and currencies across twelve languages."
)
OTHER = (
    "Protein structure prediction with sparse attention: we fold sequences of many thousand "
    "residues on one accelerator and compare contact maps against crystal structures."
)


def content_case(
    rows: list[tuple[str | None, str | None, str, str]], **params: object
) -> pl.DataFrame:
    """(arxiv id, doi, title, abstract) rows -> resolve_identity's paper_id, matched_by, score."""
    records = _identity_records(rows)
    p = NormalizeParams(**params)  # type: ignore[arg-type]
    normalized, _ = normalize_records(records, p)
    return (
        resolve_identity(normalized, p)
        .sort("record_index")
        .select("paper_id", "matched_by", "match_score")
    )


def test_a_retitled_record_joins_its_paper_by_content() -> None:
    rows = [
        ("2403.00003", None, "DocReader: Reading Documents in Twelve Languages", LONG),
        (None, None, "DocReader", LONG.replace("\u002c", "")),  # the HF short title
        (None, None, "Folding at Scale", OTHER),  # no twin: its own id
    ]
    out = content_case(rows)
    assert out.rows()[:2] == [("2403.00003", "arxiv_id", None), ("2403.00003", "content", 1.0)]
    assert out.row(2)[1:] == ("none", None)
    assert out.row(2)[0].startswith("title:")
    # content_match None: the exact-title rule alone, the record keeps its own id
    assert content_case(rows, content_match=None)["matched_by"].to_list()[1] == "none"


def test_a_title_link_records_its_score() -> None:
    out = content_case([("2403.00003", None, "DocReader", LONG), (None, None, "DocReader!", LONG)])
    assert out.row(1) == ("2403.00003", "title", 1.0)


@pytest.mark.parametrize(
    ("rows", "why"),
    [
        # a sequel reusing its abstract: the titles share no part of the shorter one's words
        (
            [("2509.13305", None, "Bridging the Chasm via Synthetic Data", LONG),
             (None, None, "WebSailor: Navigating Super-human Reasoning", LONG)],
            "titles",
        ),
        # the same abstract under two arXiv papers that both fit: ambiguous, no link
        (
            [("2403.00003", None, "DocReader: Reading Documents", LONG),
             ("2403.00004", None, "DocReader: Reading Documents, Again", LONG),
             (None, None, "DocReader", LONG)],
            "ambiguous",
        ),
        # a DOI that disagrees
        (
            [("2403.00003", "10.1000/a", "DocReader: Reading Documents", LONG),
             (None, "10.1000/b", "DocReader", LONG)],
            "doi",
        ),
        # too few words to tell a paper by
        (
            [("2403.00003", None, "DocReader: Reading Documents", "reads scanned invoices " * 9),
             (None, None, "DocReader", "reads scanned invoices " * 9)],
            "short",
        ),
        # below the threshold: half the words differ
        (
            [("2403.00003", None, "DocReader: Reading Documents", LONG),
             (None, None, "DocReader", LONG + " " + OTHER)],
            "overlap",
        ),
    ],
)  # fmt: skip
def test_content_links_that_are_refused(
    rows: list[tuple[str | None, str | None, str, str]], why: str
) -> None:
    assert content_case(rows)["matched_by"].to_list()[-1] == "none", why


def test_a_block_many_arxiv_papers_share_is_dropped() -> None:
    # the record shares only its title's last four words with its twin; ten other papers share
    # them too, so with a cap below eleven the key names a phrase and finds nothing
    opening = "large language models for"
    rows: list[tuple[str | None, str | None, str, str]] = [
        (f"2403.{i:05d}", None, f"Topic {i} {opening}", f"{OTHER} {i}") for i in range(10)
    ]
    rows += [
        ("2404.00001", None, f"DocReader {opening}", "Abstract: " + LONG),
        (None, None, f"Reading {opening}", LONG),
    ]
    assert content_case(rows, content_block_cap=20).row(-1)[:2] == ("2404.00001", "content")
    assert content_case(rows, content_block_cap=10).row(-1)[1] == "none"


def test_content_blocks() -> None:
    from papers.stages.normalize import content_blocks

    frame = pl.DataFrame(
        {"title_key": ["a b c d e", "a b c", "a b c d"], "abstract": [LONG, "too short", ""]}
    )
    blocks = frame.select(content_blocks(pl.col("title_key"), pl.col("abstract")))
    assert blocks.row(0) == (
        "t<a b c d",
        "t>b c d e",
        "a<we introduce a retrieval augmented decoder that reads",
    )
    assert blocks.row(1) == (None, None, None)
    assert blocks.row(2) == ("t<a b c d", "t>a b c d", None)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(st.none(), st.text(alphabet="aZ 1_-.,\t\n\u00a0é\u0301ß\u0130Σ", max_size=16))
    )
)
def test_title_key_words_equal_the_one_pass_regex(titles: list[str | None]) -> None:
    # _key_words skips the matches at single spaces; `[^\p{L}\p{N}]+` -> " " is the spec
    frame = pl.DataFrame({"t": titles}, schema={"t": pl.String})
    expected = (
        pl.col("t").str.to_lowercase().str.replace_all(r"[^\p{L}\p{N}]+", " ").str.strip_chars()
    )
    assert (
        frame.select(_key_words(pl.col("t")))["t"].to_list()
        == frame.select(expected)["t"].to_list()
    )
