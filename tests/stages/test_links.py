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
from papers.stages.links import code_url, extract_links, links_per_paper
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
    assert text[link["start"] : link["end"]] == url_raw  # type: ignore[misc]


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
