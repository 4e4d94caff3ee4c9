"""links: URLs mined from titles and abstracts, cleaned, canonicalised, classified and deduplicated.

All steps are polars expressions over one row per candidate URL. Character spans are computed
without a per-record loop: extracting `(?s).*?URL` returns, in order, each URL together with the
text before it, so cumulative lengths of those chunks give every match's end offset.
"""

from __future__ import annotations

import re
from typing import Any

import polars as pl

from papers.config import LinksParams
from schemas import Links, polars_schema

# Characters that never belong to a URL in running text.
_URL_BODY = r"[^\s<>\"“”‘’|]"
# Sentence punctuation that ends a URL in prose rather than belonging to it.
_TRAILING = ".,;:!?'\"*”’`"
_CLEANING_PASSES = 4


def url_pattern(schemeless_hosts: tuple[str, ...]) -> str:
    """Regex for URL candidates: anything with an http(s) scheme, or a known host without one."""
    hosts = "|".join(re.escape(h) for h in sorted(schemeless_hosts, key=len, reverse=True))
    schemed = rf"https?://{_URL_BODY}+"
    www = rf"\bwww\.[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+\.?(?:/{_URL_BODY}*)?"
    if not hosts:
        return rf"(?:{schemed}|{www})"
    # A known host, optionally under subdomains (user.github.io), with or without a path.
    bare = rf"\b(?:www\.)?(?:[A-Za-z0-9-]+\.)*(?:{hosts})\b(?:/{_URL_BODY}*)?"
    return rf"(?:{schemed}|{bare}|{www})"


def _candidates(papers: pl.DataFrame, field: str, origin: str, pattern: str) -> pl.DataFrame:
    """One row per regex match in `field`: paper_id, origin, url_raw, start, end (char offsets)."""
    text = pl.col(field).fill_null("")
    return (
        papers.select(
            "paper_id",
            text.str.extract_all(pattern).alias("url_raw"),
            text.str.extract_all(rf"(?s).*?{pattern}").alias("chunk"),
        )
        .explode(["url_raw", "chunk"])
        .drop_nulls("url_raw")
        .with_columns(
            pl.col("chunk").str.len_chars().cum_sum().over("paper_id").cast(pl.Int64).alias("end"),
            pl.lit(origin).alias("origin"),
        )
        .with_columns((pl.col("end") - pl.col("url_raw").str.len_chars()).alias("start"))
        .drop("chunk", "end")
    )


def _split_glued(candidates: pl.DataFrame) -> pl.DataFrame:
    """Split a match where a second URL or a `{...}` remnant is glued on, keeping exact offsets.

    `https://a.b/xhttps://a.b/x` and `https://aka.ms/x{https://aka.ms/x}` become separate pieces;
    inserted newlines mark the cuts (a match never contains whitespace), and each piece's start is
    the match start plus the lengths of the pieces before it.
    """
    pieces = (
        candidates.with_row_index("match")
        .with_columns(
            pl.col("url_raw")
            .str.replace_all(r"(.)(https?://)", "${1}\n${2}")
            .str.replace_all(r"\{", "\n{")
            .str.split("\n")
            .alias("piece")
        )
        .explode("piece")
        .with_columns(pl.col("piece").str.len_chars().cast(pl.Int64).alias("piece_len"))
        .with_columns(
            (
                pl.col("start") + pl.col("piece_len").cum_sum().over("match") - pl.col("piece_len")
            ).alias("start")
        )
    )
    # A piece cut at "{" starts with it; the brace is LaTeX, not part of the URL.
    opens = pl.col("piece").str.starts_with("{")
    return pieces.with_columns(
        pl.when(opens).then(pl.col("start") + 1).otherwise(pl.col("start")).alias("start"),
        pl.when(opens)
        .then(pl.col("piece").str.slice(1))
        .otherwise(pl.col("piece"))
        .alias("url_raw"),
    ).select("paper_id", "origin", "url_raw", "start")


def _strip_unbalanced(url: pl.Expr, close: str, open_: str) -> pl.Expr:
    """Drop one trailing `close` bracket when the URL has more closing than opening ones."""
    unbalanced = url.str.ends_with(close) & (
        url.str.count_matches(re.escape(close)) > url.str.count_matches(re.escape(open_))
    )
    return pl.when(unbalanced).then(url.str.slice(0, url.str.len_chars() - 1)).otherwise(url)


def clean_urls(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """Trailing sentence punctuation and unbalanced closing brackets removed (`x).` -> `x`).

    Each pass is materialised before the next: nesting the passes in one expression would make
    its tree grow exponentially with the number of passes.
    """
    url = pl.col(column)
    for _ in range(_CLEANING_PASSES):
        frame = frame.with_columns(url.str.strip_chars_end(_TRAILING))
        for close, open_ in ((")", "("), ("]", "["), ("}", "{")):
            frame = frame.with_columns(_strip_unbalanced(url, close, open_))
    return frame


_URL_PARTS = r"^(?:([A-Za-z][A-Za-z0-9+.-]*)://)?([^/?#]*)([^?#]*)(\?[^#]*)?(#.*)?$"


def canonicalize(url: pl.Expr, host_aliases: dict[str, str]) -> pl.Expr:
    """Canonical form of a cleaned URL, as a struct {url, host}.

    Lower-case host without a trailing dot, `www.` or default port, mirrors mapped through
    `host_aliases`; https; no fragment or trailing slash; code hosts cut to owner/repo; arXiv
    links as https://arxiv.org/abs/<id without version>.
    """
    host = (
        url.str.extract(_URL_PARTS, 2)
        .str.to_lowercase()
        .str.replace(r"\.$", "")
        .str.replace(r":(80|443)$", "")
        .str.replace(r"^www\.", "")
    )
    if host_aliases:
        host = host.replace(host_aliases)
    path = url.str.extract(_URL_PARTS, 3).fill_null("")
    query = url.str.extract(_URL_PARTS, 4).fill_null("")

    segments2 = path.str.extract(r"^(/[^/]+/[^/]+)", 1)
    github_path = segments2.str.replace(r"\.git$", "").fill_null(path)
    gitlab_path = path.str.replace(r"/-/.*$", "").str.replace(r"\.git$", "")
    bitbucket_path = segments2.fill_null(path)
    hf_path = path.str.replace(r"/(tree|blob|resolve|viewer|discussions|commits?)/.*$", "")
    arxiv_path = path.str.extract(r"^/(?:abs|pdf)/(.+?)(?:v\d+)?(?:\.pdf)?$", 1)

    canonical_path = (
        pl.when(host == "github.com")
        .then(github_path)
        .when(host == "gitlab.com")
        .then(gitlab_path)
        .when(host == "bitbucket.org")
        .then(bitbucket_path)
        .when(host == "huggingface.co")
        .then(hf_path)
        .when((host == "arxiv.org") & arxiv_path.is_not_null())
        .then(pl.lit("/abs/") + arxiv_path)
        .otherwise(path)
        .str.replace(r"/+$", "")
    )
    # Query strings on code hosts are UI state (?tab=readme); elsewhere they can address content.
    keeps_query = ~host.is_in(["github.com", "gitlab.com", "bitbucket.org", "arxiv.org"])
    canonical_query = pl.when(keeps_query).then(query).otherwise(pl.lit(""))
    return pl.struct(
        (pl.lit("https://") + host + canonical_path + canonical_query).alias("url"),
        host.alias("host"),
    )


def classify(host: pl.Expr, url: pl.Expr, params: LinksParams) -> pl.Expr:
    """Struct {kind, rule}: the first rule in params.links.rules whose host and path match."""
    path = url.str.extract(r"^https://[^/]+(/[^?#]*)?", 1).fill_null("")
    chain: Any = None
    for rule in params.rules:
        cond = host.str.contains(rf"^(?:{rule.host})$") & path.str.contains(rf"^(?:{rule.path})")
        value = pl.struct(pl.lit(rule.kind).alias("kind"), pl.lit(rule.name).alias("rule"))
        chain = pl.when(cond).then(value) if chain is None else chain.when(cond).then(value)
    default = pl.struct(pl.lit("other").alias("kind"), pl.lit("default").alias("rule"))
    return default if chain is None else chain.otherwise(default)


_ORIGIN_ORDER = {"abstract": 0, "title": 1, "curated": 2}


def _curated(papers: pl.DataFrame) -> pl.DataFrame:
    """Curated links (HF githubRepo, projectPage) as candidates with origin "curated", no span."""
    if "curated_links" not in papers.columns:
        return pl.DataFrame(
            schema={"paper_id": pl.String, "origin": pl.String, "url_raw": pl.String,
                    "start": pl.Int64, "end": pl.Int64}
        )  # fmt: skip
    return (
        papers.select("paper_id", "curated_links")
        .explode("curated_links")
        .drop_nulls("curated_links")
        .select(
            "paper_id",
            pl.lit("curated").alias("origin"),
            pl.col("curated_links").struct.field("url").str.strip_chars().alias("url_raw"),
            pl.lit(None, pl.Int64).alias("start"),
            pl.lit(None, pl.Int64).alias("end"),
        )
    )


def extract_links(papers: pl.DataFrame, params: LinksParams) -> pl.DataFrame:
    """Papers (paper_id, title, abstract[, curated_links]) -> Links, one row per (paper, url).

    Reads params.links: schemeless_hosts, host_aliases, rules. Spans are character offsets into
    the normalised `title` (origin "title") or `abstract` (origin "abstract"); curated links have
    none.
    """
    pattern = url_pattern(params.schemeless_hosts)
    candidates = pl.concat(
        [
            _candidates(papers, "abstract", "abstract", pattern),
            _candidates(papers, "title", "title", pattern),
        ]
    )
    mined = _split_glued(candidates).with_columns(pl.lit(None, pl.Int64).alias("end"))
    cleaned = (
        pl.concat([mined, _curated(papers)], how="vertical_relaxed")
        .pipe(clean_urls, "url_raw")
        # a piece that is no longer a URL (an empty remnant, "{" alone, a lone word)
        .filter(pl.col("url_raw").str.contains(rf"^{pattern}$"))
        .with_columns(
            (pl.col("start") + pl.col("url_raw").str.len_chars()).cast(pl.Int64).alias("end")
        )
        .with_columns(
            canonicalize(pl.col("url_raw"), params.host_aliases).alias("canon"),
        )
        .unnest("canon")
        .filter(pl.col("host").str.contains(r"^[a-z0-9-]+(\.[a-z0-9-]+)+$"))
        .with_columns(classify(pl.col("host"), pl.col("url"), params).alias("cls"))
        .unnest("cls")
    )
    # One row per (paper, url): the mined occurrence (it has a span) wins over the curated one,
    # and `curated` records that a source's curated field named it too.
    origin_rank = pl.col("origin").replace_strict(_ORIGIN_ORDER, return_dtype=pl.Int64)
    links = (
        cleaned.with_columns(
            (pl.col("origin") == "curated").any().over("paper_id", "url").alias("curated")
        )
        .sort(pl.col("paper_id"), origin_rank, pl.col("start"), nulls_last=True)
        .unique(subset=["paper_id", "url"], keep="first", maintain_order=True)
        .select(polars_schema(Links).names())
        .cast(polars_schema(Links))
    )
    return links.sort("paper_id", "start", "url", nulls_last=True)


def code_url(papers: pl.DataFrame, links: pl.DataFrame, params: LinksParams) -> pl.DataFrame:
    """(paper_id, code_url): the paper's own code repository.

    A code link a source curates (HF githubRepo) comes first. Otherwise a mined code link
    preceded (within params.own_code_cue_window characters, in the same sentence) by a cue such
    as "code is available at" wins over one that is not (a baseline the abstract cites); then
    the earliest.
    """
    window = params.own_code_cue_window
    code = links.filter(pl.col("kind") == "code").join(
        papers.select("paper_id", "abstract", "title"), on="paper_id", how="left"
    )
    text = pl.when(pl.col("origin") == "title").then(pl.col("title")).otherwise(pl.col("abstract"))
    lead = text.str.slice(
        (pl.col("start") - window).clip(lower_bound=0),
        pl.min_horizontal(pl.col("start"), pl.lit(window)),
    ).str.to_lowercase()
    # only the current sentence counts, and not the text of an earlier link
    lead = lead.str.replace(r"(?s)^.*(?:[.;!?]\s|https?://\S+)", "")
    cue = (
        lead.str.contains_any(list(params.own_code_cues)) if params.own_code_cues else pl.lit(False)
    )
    return (
        code.with_columns(cue.fill_null(False).alias("cue"))
        .sort(
            ["paper_id", "curated", "cue", "origin", "start"],
            descending=[False, True, True, False, False],
            nulls_last=True,
        )
        .group_by("paper_id", maintain_order=True)
        .agg(pl.col("url").first().alias("code_url"))
    )


def links_per_paper(links: pl.DataFrame) -> pl.DataFrame:
    """(paper_id, links): each paper's links as a list of {url, kind, origin} in text order."""
    return (
        links.sort("paper_id", "origin", "start", nulls_last=True)
        .group_by("paper_id", maintain_order=True)
        .agg(pl.struct("url", "kind", "origin").alias("links"))
    )
