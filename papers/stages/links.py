"""links: URLs mined from titles and abstracts, cleaned, canonicalised, classified and deduplicated.

All steps are polars expressions over one row per candidate URL. Character spans are computed
without a per-record loop, from cumulative lengths of the pieces a text is cut into at its
matches (`_spans_by_cutting`, `_spans_by_chunks`).

The text is the normalised one (`papers.stages.latex.to_unicode`): LaTeX braces and backslashes
are gone, so `\\url{u}{u}` and `\\href{u}{text}` leave the URL glued to a copy of itself or to its
link text, and hard line wraps are single spaces. Candidates are matched (`url_pattern`, only in
texts that contain one of its `url_markers`), split where URLs are glued together
(`_split_glued`), cleaned of sentence punctuation (`clean_urls`) and of glued prose
(`trim_glued`), then canonicalised and classified. Every step only cuts a piece off either end
of a match, so a mined link's `url_raw` is always `text[start:end]`.
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
_TRAILING = ".,;:!?'\"*”’`$"
_CLEANING_PASSES = 4

# Top-level domains under which a schemeless `host.tld/path` in prose is read as a link
# (`aka.ms/x`, `zenodo.org/records/1`, `en.wikipedia.org/wiki/X`). A path is required: a bare
# `Amazon.com` or `arXiv.org` names a site, it does not link to anything.
_TLDS = (
    "com", "org", "net", "edu", "gov", "io", "ai", "co", "me", "ms", "ly", "gl", "be", "cn", "uk",
    "de", "fr", "jp", "kr", "in", "ch", "nl", "eu", "us", "ca", "au", "dev", "app", "page", "site",
    "info", "xyz", "top", "tech", "science", "link", "cc", "tv", "gg", "space",
)  # fmt: skip
# Hosts whose repositories live at /<owner>/<repo>: an owner URL that ends in "/ " followed by a
# repository-like word was broken by a hard line wrap ("github.com/lingo-iitgn/ eka-eval").
_REPO_HOSTS = (r"github\.com", r"gitlab\.com", r"huggingface\.co")

# What `\href{url}{text}` and `\textcolor{blue}{...}` leave glued to a URL once the braces are
# gone: a LaTeX colour name and/or a link text ("...FUTGAblue", "...Frugal-AIGitHub").
_COLOURS = (
    "black", "blue", "brown", "cyan", "darkgray", "gray", "green", "lightgray", "lime", "magenta",
    "olive", "orange", "pink", "purple", "red", "teal", "violet", "white", "yellow",
)  # fmt: skip
# Link texts glued after a camel-case boundary ("4ZdcuiwFU7IYoutube", "...bcHugging Face").
_GLUED_LINK_TEXTS = (
    "GitHub", "Github", "HuggingFace", "Huggingface", "Hugging", "YouTube", "Youtube", "Website",
    "Webpage", "Homepage", "Here", "Our", "The", "This",
)  # fmt: skip
# Link texts glued after the URL's last slash ("https://x.github.io/proj/Our code is ...").
_GLUED_AFTER_SLASH = ("Website", "Webpage", "Homepage", "Here", "Our", "The", "This")
# A short link text glued to the URL, recognised by the words that follow it: arXiv's
# "this http URL", or "{our webpage}" leaving "...MUG-Vour webpage".
_GLUED_DETERMINERS = r"(?:this|our|the|here)"
_LINK_NOUNS = (
    r"^ (?i:https? URL|URL|link|page|web ?page|web ?site|home ?page|project page|repository|repo"
    r"|github)\b"
)
# A doubled URL tail at least this long is a copy glued on, not a name like "BenchBench".
_DOUBLED_MIN_HALF = 10
# A file name glued to the next sentence's first word ("Bridging.htmlThe project page ...").
_GLUED_AFTER_FILE = r"\.(?:html?|php|pdf|zip)([A-Z][a-z]+)$"


def url_pattern(schemeless_hosts: tuple[str, ...], *, ascii_boundaries: bool = False) -> str:
    """Regex for URL candidates, tried in this order at each position (leftmost-first).

    - an owner URL on a code host broken by a line wrap before the repository name;
    - a URL whose host was broken by a line wrap after a "." or "-" ("https://atomo- video.io");
    - anything with an http(s) scheme; `www.` hosts;
    - a schemeless `host.tld/path` (see `_TLDS`);
    - a known host (params.links.schemeless_hosts) with a path or under a subdomain
      (`user.github.io`, `github.com/owner/repo`, but not a bare `arXiv.org`).

    Word boundaries are Unicode ones. `ascii_boundaries=True` gives the same regex with ASCII
    `\\b`, which the regex engine's DFA can run over non-ASCII text (the Unicode one makes it fall
    back to a far slower engine); it finds the same matches in every text `boundary_hazard` does
    not match.
    """
    b = r"(?-u:\b)" if ascii_boundaries else r"\b"
    label = r"[A-Za-z0-9-]+"
    tlds = "|".join(_TLDS)
    scheme = r"(?i:https?)://"
    repo_hosts = "|".join(_REPO_HOSTS)
    repo_word = r"[A-Za-z][A-Za-z0-9_.]*(?:[-_0-9]|[a-z][A-Z])[A-Za-z0-9_.-]*"
    repo_break = rf"(?:{scheme})?(?i:www\.)?(?i:{repo_hosts})/[A-Za-z0-9_.-]+/ {repo_word}"
    host_break = (
        rf"{scheme}(?:{label}\.)*[A-Za-z0-9-]*[A-Za-z0-9][.-] (?:[a-z0-9-]+\.)+[a-z]{{2,}}{b}"
        rf"(?:/{_URL_BODY}*)?"
    )
    schemed = rf"{scheme}{_URL_BODY}+"
    www = rf"{b}(?i:www)\.{label}(?:\.{label})+\.?(?:/{_URL_BODY}*)?"
    domain_path = rf"{b}(?:{label}\.)+(?i:{tlds})/{_URL_BODY}+"
    forms = [repo_break, host_break, schemed, www, domain_path]
    if schemeless_hosts:
        hosts = "|".join(re.escape(h) for h in sorted(schemeless_hosts, key=len, reverse=True))
        forms.append(
            rf"{b}(?:(?:{label}\.)+(?i:{hosts}){b}(?:/{_URL_BODY}*)?|(?i:{hosts})/{_URL_BODY}+)"
        )
    return "(?:" + "|".join(forms) + ")"


def url_markers(schemeless_hosts: tuple[str, ...]) -> str:
    """Regex for what every `url_pattern` match contains, so a text without it has no candidate.

    One alternative per form: "://" (both schemed forms), `www.`, a code host followed by "/"
    (the repository break; its scheme and `www.` are optional), `.tld/` (`domain_path`) and a
    schemeless host (both its alternatives contain the host). Written with the pattern's own
    case-insensitive groups, so it folds case exactly as the pattern does (`(?i:k)` also matches
    the Kelvin sign, `(?i:s)` the long s): a literal ASCII-case-insensitive search would not.
    """
    forms = [
        "://",
        r"(?i:www)\.",
        rf"(?i:{'|'.join(_REPO_HOSTS)})/",
        rf"\.(?i:{'|'.join(_TLDS)})/",
    ]
    if schemeless_hosts:
        forms.append(rf"(?i:{'|'.join(re.escape(h) for h in schemeless_hosts)})")
    return "|".join(forms)


# A non-ASCII word character (Unicode `\w`, as the regex engine's `\b` uses it).
_NON_ASCII_WORD = r"[\w&&[^\x00-\x7F]]"


def boundary_hazard(schemeless_hosts: tuple[str, ...]) -> str | None:
    """Regex for a text where `url_pattern`'s Unicode and ASCII `\\b` might disagree; None: any.

    At each `\\b` the pattern tests, the character on the match's side is a label character
    (`[A-Za-z0-9-]`, which covers `www` and the TLDs) or a schemeless host's first or last
    character (together: `inner`), or a non-ASCII character a case-insensitive group matches for
    an ASCII letter (long s for s, Kelvin sign for k). With an ASCII character there, the two
    kinds of `\\b` differ only if the other side is a non-ASCII word character, i.e. where one is
    adjacent to an `inner` character. In a text with no such adjacency and no long s or Kelvin
    sign, both patterns accept the same matches at the same places in the same order of
    preference. A non-ASCII host gives no such guarantee (None: use the full pattern for all).
    """
    if not all(h.isascii() for h in schemeless_hosts):
        return None
    ends = "".join(sorted({c for h in schemeless_hosts if h for c in (h[0], h[-1])}))
    inner = "[A-Za-z0-9_" + re.escape(ends) + "-]"
    return rf"[\u017F\u212A]|{_NON_ASCII_WORD}{inner}|{inner}{_NON_ASCII_WORD}"


# Wrapped around every match to cut a text into the pieces between and of matches.
_CUT = "\x00"


def _spans_by_cutting(rows: pl.DataFrame, pattern: str) -> pl.DataFrame:
    """(row, paper_id, text, url_raw, start) per match of `pattern` in texts without `_CUT`.

    One regex pass: each match wrapped in `_CUT`s, the text split at them alternates the text
    between matches (even pieces) and the matches (odd ones); cumulative piece lengths give
    every match's start.
    """
    length = pl.col("url_raw").str.len_chars().cast(pl.Int64)
    return (
        rows.with_columns(
            pl.col("text")
            .str.replace_all(pattern, f"{_CUT}${{0}}{_CUT}")
            .str.split(_CUT)
            .alias("url_raw")
        )
        .explode("url_raw")
        .with_columns(
            (length.cum_sum() - length).over("row").alias("start"),
            (pl.int_range(pl.len()).over("row") % 2 == 1).alias("is_match"),
        )
        .filter("is_match")
        .select("row", "paper_id", "text", "url_raw", "start")
    )


def _spans_by_chunks(rows: pl.DataFrame, pattern: str) -> pl.DataFrame:
    """(row, paper_id, text, url_raw, start) per match of `pattern`, in any text.

    Extracting `(?s).*?URL` returns, in order, each match together with the text before it, so
    cumulative lengths of those chunks give every match's end.
    """
    return (
        rows.with_columns(
            pl.col("text").str.extract_all(pattern).alias("url_raw"),
            pl.col("text").str.extract_all(rf"(?s).*?{pattern}").alias("chunk"),
        )
        .explode(["url_raw", "chunk"])
        .drop_nulls("url_raw")
        .with_columns(pl.col("chunk").str.len_chars().cum_sum().over("row").cast(pl.Int64))
        .select(
            "row",
            "paper_id",
            "text",
            "url_raw",
            (pl.col("chunk") - pl.col("url_raw").str.len_chars()).alias("start"),
        )
    )


def _candidates(
    papers: pl.DataFrame, field: str, origin: str, schemeless_hosts: tuple[str, ...]
) -> pl.DataFrame:
    """One row per regex match in `field`: paper_id, text, url_raw, start (char offset), origin.

    Only texts with one of the `url_markers` are searched (about a quarter of abstracts). Those
    without a `boundary_hazard` or a `_CUT` (nearly all) are searched with the ASCII-`\\b`
    pattern in a single pass (`_spans_by_cutting`), the others with the full pattern
    (`_spans_by_chunks`): each gives the matches the full pattern gives, at a fraction of its
    cost.
    """
    text = pl.col(field).fill_null("")
    rows = (
        papers.select("paper_id", text.alias("text"))
        .with_row_index("row")
        .filter(pl.col("text").str.contains(url_markers(schemeless_hosts)))
    )
    hazard = boundary_hazard(schemeless_hosts)
    exact = (
        pl.lit(True)
        if hazard is None
        else pl.col("text").str.contains(_CUT, literal=True) | pl.col("text").str.contains(hazard)
    )
    rows = rows.with_columns(exact.alias("exact"))
    spans = pl.concat(
        [
            _spans_by_cutting(
                rows.filter(~pl.col("exact")),
                url_pattern(schemeless_hosts, ascii_boundaries=True),
            ),
            _spans_by_chunks(rows.filter("exact"), url_pattern(schemeless_hosts)),
        ]
    )
    return (
        spans.sort("row", "start")
        .drop("row")
        .with_columns(pl.lit(origin).alias("origin"))
        .select("paper_id", "text", "url_raw", "origin", "start")
    )


def _split_glued(candidates: pl.DataFrame) -> pl.DataFrame:
    """Split a match where a second URL or a `{...}` remnant is glued on, keeping exact offsets.

    `https://a.b/xhttps://a.b/x`, `https://aka.ms/x{https://aka.ms/x}` and the Markdown
    `[url](url)` become separate pieces; inserted newlines mark the cuts (a match never contains
    a newline), and each piece's start is the match start plus the lengths of the pieces before
    it. `after` is the text that follows each piece (the next piece, for all but the last one).
    """
    pieces = (
        candidates.with_row_index("match")
        .with_columns(
            pl.col("url_raw")
            .str.replace_all(r"(.)((?i:https?)://)", "${1}\n${2}")
            .str.replace_all(r"\{", "\n{")
            .str.replace_all(r"\]\(", "]\n(")
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
        .with_columns(
            pl.col("text")
            .str.slice(pl.col("start") + pl.col("piece_len"), pl.col("piece_len") + 16)
            .alias("after")
        )
    )
    # A piece cut at "{" (LaTeX) or at "](" (Markdown) starts with a bracket that is not the URL's.
    opens = pl.col("piece").str.contains(r"^[{(]")
    return pieces.with_columns(
        pl.when(opens).then(pl.col("start") + 1).otherwise(pl.col("start")).alias("start"),
        pl.when(opens)
        .then(pl.col("piece").str.slice(1))
        .otherwise(pl.col("piece"))
        .alias("url_raw"),
    ).select("paper_id", "origin", "url_raw", "start", "after")


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


def _drop_end(url: pl.Expr, chars: pl.Expr) -> pl.Expr:
    return url.str.slice(0, url.str.len_chars() - chars.fill_null(0))


def trim_glued(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """Prose glued to the end of a cleaned URL removed; `after` is the text that followed it.

    What LaTeX markup leaves once its braces are gone: a link text or colour name
    (`...FUTGAblue` before a copy of the URL, `...Frugal-AIGitHub`, `.../proj/Our code`,
    `.../x.htmlThe`, `...this http URL`), a possessive (`.../project's homepage`), and a URL glued
    to a copy of itself (`github.com/a/bgithub.com/a/b`) or its last segment glued to its own
    link text (`.../opengvlOpenGVL`).
    """
    url = pl.col(column)
    after = pl.col("after").fill_null("")
    colours = "|".join(_COLOURS)
    texts = "|".join(_GLUED_LINK_TEXTS)
    # "...FUTGAblue" followed by its copy "https://.../FUTGA": the copy has the URL without the
    # colour, not with it ("...Qwen-Image-Layered" glued to its copy keeps its "red").
    colour = url.str.extract(rf"[A-Za-z0-9]((?:{colours}))$", 1)
    uncoloured = _drop_end(url, colour.str.len_chars())
    colour_before_copy = pl.when(
        colour.is_not_null() & after.str.starts_with(uncoloured) & ~after.str.starts_with(url)
    ).then(colour)
    glued = pl.coalesce(
        url.str.extract(rf"[A-Za-z0-9]((?:{colours})?(?:{texts}))$", 1),
        url.str.extract(rf"/((?:{'|'.join(_GLUED_AFTER_SLASH)}))$", 1),
        url.str.extract(r"/?([A-Za-z]*['’]s)$", 1),
        url.str.extract(_GLUED_AFTER_FILE, 1),
        pl.when(after.str.contains(_LINK_NOUNS)).then(
            url.str.extract(rf"[A-Za-z0-9/]({_GLUED_DETERMINERS})$", 1)
        ),
        colour_before_copy,
    )
    frame = frame.with_columns(_drop_end(url, glued.str.len_chars()))
    # A copy glued on: the scheme-less remainder (or the last path segment) is a string twice.
    rest = url.str.replace(r"^(?i:https?)://", "").str.replace(r"^(?i:www\.)", "")
    segment = url.str.extract(r"/([^/]+)$", 1)

    def doubled(part: pl.Expr) -> pl.Expr:
        # A short word said twice can be a name ("BenchBench"); a long one, or one whose second
        # half differs in case only ("opengvlOpenGVL"), is a link text glued to its URL.
        n = part.str.len_chars()
        half = n // 2
        first, second = part.str.slice(0, half), part.str.slice(half)
        same = first.str.to_lowercase() == second.str.to_lowercase()
        glued = (half >= _DOUBLED_MIN_HALF) | (first != second)
        return pl.when((n % 2 == 0) & (half >= 4) & same & glued).then(half)

    return frame.with_columns(_drop_end(url, pl.coalesce(doubled(rest), doubled(segment))))


_URL_PARTS = r"^(?:([A-Za-z][A-Za-z0-9+.-]*)://)?([^/?#]*)([^?#]*)(\?[^#]*)?(#.*)?$"


def canonicalize(url: pl.Expr, host_aliases: dict[str, str]) -> pl.Expr:
    """Canonical form of a cleaned URL, as a struct {url, host}.

    Lower-case host without a trailing dot, `www.` or default port, mirrors mapped through
    `host_aliases`; https; no fragment or trailing slash; code hosts cut to owner/repo (GitLab,
    self-hosted ones too, to the path before `/-/`; a Bitbucket `/<ws>/workspace/...` page kept
    whole); arXiv links as https://arxiv.org/abs/<id without version>. Whitespace (a URL rejoined
    across a line wrap) is dropped.
    """
    url = url.str.replace_all(r"\s+", "")
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
    # "workspace" is reserved on Bitbucket: /<ws>/workspace/projects/<key> is not a repository
    bitbucket_path = (
        pl.when(path.str.contains(r"^/[^/]+/workspace(/|$)")).then(path).otherwise(segments2)
    ).fill_null(path)
    hf_path = path.str.replace(r"/(tree|blob|resolve|viewer|discussions|commits?)/.*$", "")
    arxiv_path = path.str.extract(r"^/(?:abs|pdf)/(.+?)(?:v\d+)?(?:\.pdf)?$", 1)

    canonical_path = (
        pl.when(host == "github.com")
        .then(github_path)
        .when((host == "gitlab.com") | host.str.contains(r"^(?:[a-z0-9-]+\.)*gitlab\.[a-z]"))
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
            _candidates(papers, "abstract", "abstract", params.schemeless_hosts),
            _candidates(papers, "title", "title", params.schemeless_hosts),
        ]
    )
    mined = (
        _split_glued(candidates)
        .pipe(clean_urls, "url_raw")
        .pipe(trim_glued, "url_raw")
        .drop("after")
        .with_columns(pl.lit(None, pl.Int64).alias("end"))
    )
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
    preceded (within params.own_code_cue_window characters, in the same sentence, after the end
    of the link before it) by a cue such as "code is available at" wins over one that is not (a
    baseline the abstract cites); then the earliest.
    """
    window = params.own_code_cue_window
    # where the link before each mined link ends, in the same text
    previous = (
        links.filter(pl.col("start").is_not_null())
        .sort("paper_id", "origin", "start")
        .select(
            "paper_id",
            "url",
            pl.col("end").shift(1).over("paper_id", "origin").alias("previous_end"),
        )
    )
    code = (
        links.filter(pl.col("kind") == "code")
        .join(previous, on=["paper_id", "url"], how="left")
        .join(papers.select("paper_id", "abstract", "title"), on="paper_id", how="left")
    )
    text = pl.when(pl.col("origin") == "title").then(pl.col("title")).otherwise(pl.col("abstract"))
    lead_start = pl.max_horizontal(
        pl.col("start") - window, pl.col("previous_end").fill_null(0), pl.lit(0)
    )
    lead = text.str.slice(lead_start, pl.col("start") - lead_start).str.to_lowercase()
    # only the current sentence counts
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
