"""links: extraction with exact spans, cleaning, canonical forms, classification, code_url."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from papers.config import LinksParams, Params
from papers.stages.latex import to_unicode
from papers.stages.links import (
    _candidates,
    boundary_hazard,
    code_url,
    extract_links,
    links_per_paper,
    url_markers,
    url_pattern,
)
from schemas import Links


def papers(*abstracts: str, titles: list[str] | None = None) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "paper_id": [f"p{i}" for i in range(len(abstracts))],
            "title": titles or ["Title"] * len(abstracts),
            "abstract": list(abstracts),
        }
    )


def one(text: str, params: Params) -> dict[str, object]:
    links = extract_links(papers(text), params.links)
    assert links.height == 1, links
    return links.row(0, named=True)


@pytest.mark.parametrize(
    ("text", "url", "url_raw", "kind", "rule"),
    [
        ("at https://github.com/soobin-um/minority-guidance.", "https://github.com/soobin-um/minority-guidance", "https://github.com/soobin-um/minority-guidance", "code", "github-repo"),
        ("at https://github.com/DeepMed-Lab-ECNU/BCP}.", "https://github.com/DeepMed-Lab-ECNU/BCP", "https://github.com/DeepMed-Lab-ECNU/BCP", "code", "github-repo"),
        ("(code: https://github.com/a/b.git/tree/main/src).", "https://github.com/a/b", "https://github.com/a/b.git/tree/main/src", "code", "github-repo"),
        ("see http://WWW.GitHub.com/a/b/?tab=readme-ov-file#top;", "https://github.com/a/b", "http://WWW.GitHub.com/a/b/?tab=readme-ov-file#top", "code", "github-repo"),
        ("see github.com/AIDC-AI/TeEFusion, too", "https://github.com/AIDC-AI/TeEFusion", "github.com/AIDC-AI/TeEFusion", "code", "github-repo"),
        ("page https://anypattern.github.io", "https://anypattern.github.io", "https://anypattern.github.io", "project", "github-pages"),
        ("page https://x.github.io/proj/.", "https://x.github.io/proj", "https://x.github.io/proj/", "project", "github-pages"),
        ("at https://hf.xwall.us.kg./datasets/SoundnessBench/SoundnessBench.", "https://huggingface.co/datasets/SoundnessBench/SoundnessBench", "https://hf.xwall.us.kg./datasets/SoundnessBench/SoundnessBench", "dataset", "hf-dataset"),
        ("demo huggingface.co/spaces/x/y/", "https://huggingface.co/spaces/x/y", "huggingface.co/spaces/x/y/", "demo", "hf-space"),
        ("model https://huggingface.co/org/model/tree/main", "https://huggingface.co/org/model", "https://huggingface.co/org/model/tree/main", "model", "hf-model"),
        ("cf. https://arxiv.org/pdf/2401.01234v3.pdf;", "https://arxiv.org/abs/2401.01234", "https://arxiv.org/pdf/2401.01234v3.pdf", "paper", "arxiv"),
        ("doi https://doi.org/10.1000/xyz123,", "https://doi.org/10.1000/xyz123", "https://doi.org/10.1000/xyz123", "paper", "doi"),
        ("wiki https://en.wikipedia.org/wiki/Foo_(bar)).", "https://en.wikipedia.org/wiki/Foo_(bar)", "https://en.wikipedia.org/wiki/Foo_(bar)", "other", "default"),
        ('quoted "https://example.org/x?a=1".', "https://example.org/x?a=1", "https://example.org/x?a=1", "other", "default"),
        ("site www.Example.COM./a/ ok", "https://example.com/a", "www.Example.COM./a/", "other", "default"),
    ],
)  # fmt: skip
def test_single_link(
    text: str, url: str, url_raw: str, kind: str, rule: str, params: Params
) -> None:
    link = one(text, params)
    assert (link["url"], link["url_raw"], link["kind"], link["rule"]) == (url, url_raw, kind, rule)
    assert text[link["start"] : link["end"]] == url_raw  # type: ignore[index]


def test_glued_copies_and_brace_remnants(params: Params) -> None:
    text = (
        "at https://github.com/AngusDujw/Diversity-Driven-Synthesis.https://github.com/AngusDujw/"
        "Diversity-Driven-Synthesis. Demo https://aka.ms/denseav{https://aka.ms/denseav}."
    )
    links = extract_links(papers(text), params.links)
    assert links["url"].to_list() == [
        "https://github.com/AngusDujw/Diversity-Driven-Synthesis",
        "https://aka.ms/denseav",
    ]
    for row in links.iter_rows(named=True):
        assert text[row["start"] : row["end"]] == row["url_raw"]


def test_no_false_links(params: Params) -> None:
    text = "We use e.g. GPT-4, i.e. a model; accuracy 92.50% vs. 94.76%. See Sec. 3.1 and Fig.2."
    assert extract_links(papers(text), params.links).height == 0


def test_links_in_titles_and_dedup(params: Params) -> None:
    frame = papers(
        "code github.com/x/y and again https://github.com/x/y/", titles=["T github.com/x/y"]
    )
    links = extract_links(frame, params.links)
    Links.validate(links)
    assert links.height == 1
    assert links.row(0, named=True)["origin"] == "abstract"
    assert links.row(0, named=True)["start"] == 5


def test_code_url_prefers_own_code(params: Params) -> None:
    text = (
        "We build on https://github.com/base/line and compare with https://github.com/other/x. "
        "Our code is available at https://github.com/our/repo."
    )
    frame = papers(text)
    links = extract_links(frame, params.links)
    chosen = code_url(frame, links, params.links)
    assert chosen["code_url"].to_list() == ["https://github.com/our/repo"]
    per_paper = links_per_paper(links)
    assert [x["url"] for x in per_paper["links"].item()] == links["url"].to_list()


def test_alias_table_comes_from_params(params: Params) -> None:
    custom = LinksParams(**{**params.links.model_dump(), "host_aliases": {}})
    link = extract_links(papers("https://hf.xwall.us.kg./datasets/a/b"), custom).row(0, named=True)
    assert link["host"] == "hf.xwall.us.kg"
    assert link["kind"] == "other"


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            ["https://github.com/a/b", "github.com/c/d", " ", "x", ".", ",", ")", "(", "}", "{",
             "https://x.github.io/p/", "\n", "www.e.org", "hf.co/datasets/q/r", "https://"]
        ),
        max_size=20,
    ).map("".join)
)  # fmt: skip
def test_every_link_comes_from_its_text(text: str) -> None:
    from papers.config import load_params
    from tests.conftest import REPO

    params = load_params(REPO / "params.yaml")
    links = extract_links(papers(text), params.links)
    Links.validate(links)
    for row in links.iter_rows(named=True):
        assert text[row["start"] : row["end"]] == row["url_raw"]


# Pieces that sit on the edges of the pattern: schemes, hosts and TLDs in odd cases, the
# non-ASCII characters `(?i:k)` and `(?i:s)` also match (Kelvin sign, long s), non-ASCII word
# characters next to where the pattern tests a `\b`, line-wrap breaks, characters a URL stops at.
_TRICKY = [
    "https://", "HTTP://", "htt", "://", "www.", "WwW.", "github.com/", "GitHub.COM/",
    "gitlab.com/", "huggingface.co/", "hf.co", "github.io", "bitbucket.org", "bitbuc\u212aet.org",
    "doi.org", ".org/", ".uk/", ".u\u212a/", ".\u017fite/", ".MS/", "x.ks", "bücher.de", "a", "Z",
    "0", "-", "_", ".", "/", ":", " ", "\n", "é", "α", "ſ", "\u212a", "²", "…", "“", "|", "{",
    "owner/ repo-1", "atomo- ", "video.io", "x.y", "\u212a.io", "x.k\u017f", "\x00",
]  # fmt: skip
_HOSTS = [None, (), ("k.io", "x.ks", "hf.co"), ("bücher.de", "hf.co")]


def _candidates_reference(frame: pl.DataFrame, hosts: tuple[str, ...]) -> pl.DataFrame:
    """The plain computation `_candidates` speeds up: the full pattern over every text."""
    pattern = url_pattern(hosts)
    text = pl.col("abstract").fill_null("")
    return (
        frame.select(
            "paper_id",
            text.alias("text"),
            text.str.extract_all(pattern).alias("url_raw"),
            text.str.extract_all(rf"(?s).*?{pattern}").alias("chunk"),
        )
        .explode(["url_raw", "chunk"])
        .drop_nulls("url_raw")
        .with_columns(
            pl.col("chunk").str.len_chars().cum_sum().over("paper_id").cast(pl.Int64).alias("end"),
            pl.lit("abstract").alias("origin"),
        )
        .with_columns((pl.col("end") - pl.col("url_raw").str.len_chars()).alias("start"))
        .drop("chunk", "end")
    )


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from(_TRICKY), max_size=12).map("".join), max_size=30),
    st.sampled_from(_HOSTS),
)
def test_prefilters_never_change_the_candidates(
    texts: list[str], hosts: tuple[str, ...] | None
) -> None:
    from papers.config import load_params
    from tests.conftest import REPO

    if hosts is None:
        hosts = load_params(REPO / "params.yaml").links.schemeless_hosts
    full = url_pattern(hosts)
    matches = pl.DataFrame({"t": texts}, schema={"t": pl.String}).select(
        pl.col("t").str.extract_all(full).alias("full"),
        pl.col("t").str.extract_all(url_pattern(hosts, ascii_boundaries=True)).alias("fast"),
        pl.col("t").str.extract_all(rf"(?s).*?{full}").alias("full_chunks"),
        pl.col("t")
        .str.extract_all(rf"(?s).*?{url_pattern(hosts, ascii_boundaries=True)}")
        .alias("fast_chunks"),
        pl.col("t").str.contains(boundary_hazard(hosts) or ".").alias("hazard"),
    )
    # every match of the full pattern contains a marker, so a text without one has no match
    found = matches["full"].explode().drop_nulls()
    assert found.str.contains(url_markers(hosts)).all()
    # without a boundary hazard, the ASCII-\b pattern finds exactly the same matches
    same = matches.filter(~pl.col("hazard"))
    assert same["fast"].to_list() == same["full"].to_list()
    assert same["fast_chunks"].to_list() == same["full_chunks"].to_list()
    # and the whole candidate step agrees with the plain computation, order included
    frame = pl.DataFrame(
        {"paper_id": [f"p{i}" for i in range(len(texts))], "abstract": texts},
        schema={"paper_id": pl.String, "abstract": pl.String},
    )
    got = _candidates(frame, "abstract", "abstract", hosts)
    assert got.equals(_candidates_reference(frame, hosts).select(got.columns))


@pytest.mark.parametrize(
    ("text", "hosts"),
    [
        # each needs its own marker: no other one is in the text
        ("see a.github.com now", None),
        ("see WwW.x.y now", None),
        ("see hTtp://x now", None),
        ("see a.u\u212a/b now", None),  # the TLD "uk" by case folding
        ("see bitbuc\u212aet.org/a now", None),
    ],
)
def test_each_marker_is_needed(text: str, hosts: tuple[str, ...] | None, params: Params) -> None:
    hosts = params.links.schemeless_hosts if hosts is None else hosts
    assert pl.Series([text]).str.extract_all(url_pattern(hosts)).explode().drop_nulls().len()
    assert pl.Series([text]).str.contains(url_markers(hosts)).item()


@pytest.mark.parametrize(
    ("text", "hosts"),
    [
        ("éwww.example.com", None),  # no \b before "www" after a non-ASCII letter
        ("see x.github.ioé and y.github.io", None),  # nor after a host glued to one
        ("see αgithub.com/a/b", None),  # before a host glued to a Greek letter
        ("see a.x.\u017f now", ("x.s",)),  # a host ending in a long s
        ("see \u212a.io/x now", ("k.io",)),  # a host starting with a Kelvin sign
        ("see é.x.io/a now", (".x.io",)),  # a host starting with "." after a letter
        ("see a.y.ks.é now", ("y.ks.",)),  # a host ending with "." before one
        ("see a.x.é now", ("x.é",)),  # a non-ASCII host
    ],
)
def test_prefilters_on_unicode_boundaries(
    text: str, hosts: tuple[str, ...] | None, params: Params
) -> None:
    """Texts where the ASCII-\\b pattern would go wrong: the hazard sends them to the full one."""
    hosts = params.links.schemeless_hosts if hosts is None else hosts
    one_text = pl.Series([text])
    fast = one_text.str.extract_all(url_pattern(hosts, ascii_boundaries=True))
    assert fast.to_list() != one_text.str.extract_all(url_pattern(hosts)).to_list()
    hazard = boundary_hazard(hosts)
    assert hazard is None or one_text.str.contains(hazard).item()
    frame = papers(text, "no link here", "https://a.org/x")
    got = _candidates(frame, "abstract", "abstract", hosts)
    assert got.equals(_candidates_reference(frame, hosts).select(got.columns))


def test_text_with_the_cut_character(params: Params) -> None:
    hosts = params.links.schemeless_hosts
    frame = papers("see http://a\x00b/c and\x00www.x.org/\x00", "at github.com/a/b")
    got = _candidates(frame, "abstract", "abstract", hosts)
    assert got["url_raw"].to_list() == ["http://a\x00b/c", "www.x.org/\x00", "github.com/a/b"]
    assert got.equals(_candidates_reference(frame, hosts).select(got.columns))


def test_curated_links_merge_with_mined_and_win_code_url(params: Params) -> None:
    frame = papers(
        "We compare with https://github.com/base/line. Code: https://github.com/our/repo."
    ).with_columns(
        pl.lit(
            [
                {"url": "https://github.com/curated/repo/tree/main/", "field": "githubRepo"},
                {"url": "https://github.com/our/repo", "field": "projectPage"},
            ],
            dtype=pl.List(pl.Struct({"url": pl.String, "field": pl.String})),
        ).alias("curated_links")
    )
    links = extract_links(frame, params.links)
    Links.validate(links)
    rows = {r["url"]: r for r in links.iter_rows(named=True)}
    assert set(rows) == {
        "https://github.com/base/line", "https://github.com/our/repo", "https://github.com/curated/repo"
    }  # fmt: skip
    assert rows["https://github.com/our/repo"]["origin"] == "abstract"  # mined, with its span
    assert rows["https://github.com/our/repo"]["curated"] is True
    assert rows["https://github.com/curated/repo"]["origin"] == "curated"
    assert rows["https://github.com/curated/repo"]["start"] is None
    assert rows["https://github.com/base/line"]["curated"] is False
    chosen = code_url(frame, links, params.links)["code_url"].to_list()
    assert chosen == ["https://github.com/our/repo"]  # curated and presented as own


# Real quirks, as they look once `to_unicode` has normalised the abstract (braces and backslashes
# gone, line breaks collapsed to spaces).
@pytest.mark.parametrize(
    ("text", "urls"),
    [
        # \href{url}{text} and \textcolor remnants glued to the URL
        ("demo in https://youtu.be/4ZdcuiwFU7IYoutube.", ["https://youtu.be/4ZdcuiwFU7I"]),
        ("page https://jhaoshao.github.io/ChronoDepth/this http URL.", ["https://jhaoshao.github.io/ChronoDepth"]),
        ("at https://Gaussian-Property.github.iothis https URL.", ["https://gaussian-property.github.io"]),
        ("in https://github.com/Shopee-MUG/MUG-Vour webpage.", ["https://github.com/Shopee-MUG/MUG-V"]),
        ("found in https://huggingface.co/JoshuaW1997/FUTGAbluehttps://huggingface.co/JoshuaW1997/FUTGA.", ["https://huggingface.co/JoshuaW1997/FUTGA"]),
        ("on https://huggingface.co/datasets/MBZUAI/cassblueHuggingFace, code at https://github.com/GustavoStahl/CASSblueGitHub.", ["https://huggingface.co/datasets/MBZUAI/cass", "https://github.com/GustavoStahl/CASS"]),
        ("on https://huggingface.co/a-m-team/AM-Thinking-v1Hugging Face.", ["https://huggingface.co/a-m-team/AM-Thinking-v1"]),
        ("cars. https://xiaobiaodu.github.io/dreamcar-project/Our code is available.", ["https://xiaobiaodu.github.io/dreamcar-project"]),
        ("x. http://shahrukhathar.github.io/2024/07/22/Bridging.htmlThe project page", ["https://shahrukhathar.github.io/2024/07/22/Bridging.html"]),
        ("at https://junzhan2000.github.io/VStyle.github.io/project's homepage.", ["https://junzhan2000.github.io/VStyle.github.io"]),
        ("at https://mqleet.github.io/AutoPage_ProjectPage/Webpage$.", ["https://mqleet.github.io/AutoPage_ProjectPage"]),
        # a URL glued to a copy of itself, or its last segment to its own link text
        ("at https://github.com/AIDC-AI/TeEFusiongithub.com/AIDC-AI/TeEFusion.", ["https://github.com/AIDC-AI/TeEFusion"]),
        ("codebase at github.com/budzianowski/opengvlOpenGVL.", ["https://github.com/budzianowski/opengvl"]),
        ("at https://github.com/Qwen/Qwen-Image-Layeredhttps://github.com/Qwen/Qwen-Image-Layered", ["https://github.com/Qwen/Qwen-Image-Layered"]),
        ("package https://github.com/IBM/BenchBench and more", ["https://github.com/IBM/BenchBench"]),
        # Markdown links and previous words glued on
        ("at [https://autumnyq.github.io/WildSmoke](https://autumnyq.github.io/WildSmoke).", ["https://autumnyq.github.io/WildSmoke"]),
        ("at [kwanyun.github.io/stylemm_page](kwanyun.github.io/stylemm_page).", ["https://kwanyun.github.io/stylemm_page"]),
        ("community athttps://github.com/open-compass/CompassJudger. We", ["https://github.com/open-compass/CompassJudger"]),
        # line breaks inside a URL (a space once the abstract is normalised)
        ("website: https://atomo- video.github.io/.", ["https://atomo-video.github.io"]),
        ("at https://itaychachy. github.io/reward-sds/.", ["https://itaychachy.github.io/reward-sds"]),
        ("at https://github.com/lingo-iitgn/ eka-eval and more", ["https://github.com/lingo-iitgn/eka-eval"]),
        ("at https://github.com/bbvisual/ MoBind.", ["https://github.com/bbvisual/MoBind"]),
        ("through https://github.com/THUDM and https://huggingface.co/THUDM/ Training code", ["https://github.com/THUDM", "https://huggingface.co/THUDM"]),
        # schemeless links on any host, with a path
        ("accessed at aka.ms/wavllm.", ["https://aka.ms/wavllm"]),
        ("(see en.wikipedia.org/wiki/Bloom_filter).", ["https://en.wikipedia.org/wiki/Bloom_filter"]),
        ("at zenodo.org/records/15420527, and", ["https://zenodo.org/records/15420527"]),
        ("Models at hf.co/PowerInfer/SmallThinker-4BA0.6B-Instruct and", ["https://huggingface.co/PowerInfer/SmallThinker-4BA0.6B-Instruct"]),
        ("released at https: //github.com/MTU-Bench-Team/MTU-Bench.git.", ["https://github.com/MTU-Bench-Team/MTU-Bench"]),
        ("our codebase at https://bitbucket.org/paladin/workspace/projects/OP.", ["https://bitbucket.org/paladin/workspace/projects/OP"]),
        ("at https://gitlab.kit.edu/kit/lt/ltpipeline/-/tree/main}", ["https://gitlab.kit.edu/kit/lt/ltpipeline"]),
        # names, not links
        ("This is done for arXiv.org, and Amazon.com. Yi by 01.AI uses llama.cpp and three.js.", []),
        ("We use e.g. GPT-4.5 and Qwen2.5-7B (v0.1), robots.txt, overview.md, mAP@0.5 and a@b.com.", []),
    ],
)  # fmt: skip
def test_real_quirks(text: str, urls: list[str], params: Params) -> None:
    links = extract_links(papers(text), params.links)
    assert links["url"].to_list() == urls
    for row in links.iter_rows(named=True):
        assert text[row["start"] : row["end"]] == row["url_raw"]


GOLD = Path(__file__).resolve().parent.parent / "fixtures" / "links" / "gold.jsonl"


def gold_scores(params: LinksParams) -> dict[str, float]:
    """Precision and recall of (id, url) on the hand-checked gold set, kind accuracy on matches,
    and own-code accuracy of `code_url` (no curated links), the gold normalised as the pipeline
    normalises abstracts."""
    gold = [json.loads(line) for line in GOLD.read_text("utf-8").splitlines() if line.strip()]
    frame = pl.DataFrame(
        {
            "paper_id": [g["id"] for g in gold],
            "title": [g["title"] for g in gold],
            "abstract": [g["abstract"] for g in gold],
        }
    ).with_columns(to_unicode(pl.col("title")), to_unicode(pl.col("abstract")))
    links = extract_links(frame, params)
    predicted = {(r["paper_id"], r["url"]): r["kind"] for r in links.iter_rows(named=True)}
    truth = {(g["id"], link["url"]): link["kind"] for g in gold for link in g["links"]}
    matched = predicted.keys() & truth.keys()
    chosen = dict(code_url(frame, links, params).iter_rows())
    return {
        "abstracts": len(gold),
        "links": len(truth),
        "precision": len(matched) / len(predicted),
        "recall": len(matched) / len(truth),
        "kind_accuracy": sum(predicted[k] == truth[k] for k in matched) / len(matched),
        "own_code_accuracy": sum(chosen.get(g["id"]) == g["own_code"] for g in gold) / len(gold),
    }


def test_gold_set(params: Params) -> None:
    scores = gold_scores(params.links)
    print("links gold set:", ", ".join(f"{k}={round(v, 4)}" for k, v in scores.items()))
    assert scores["abstracts"] >= 120
    assert scores["links"] >= 170
    assert scores["precision"] >= 0.98, scores
    assert scores["recall"] >= 0.98, scores


def test_code_url_cue_ignores_earlier_link_text(params: Params) -> None:
    # "code" inside an earlier (schemeless) link is not a cue for the link after it
    text = (
        "We compare with github.com/base/code-line and github.com/other/x. "
        "Our implementation: https://github.com/our/repo."
    )
    frame = papers(text)
    links = extract_links(frame, params.links)
    assert code_url(frame, links, params.links)["code_url"].to_list() == [
        "https://github.com/our/repo"
    ]
