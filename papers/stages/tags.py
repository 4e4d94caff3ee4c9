"""tags: topic tags from the controlled vocabulary (free keyphrases: papers/stages/keyphrases.py).

Topic matching is one Aho-Corasick pass per field over a padded token string: the text is reduced
to words separated by single spaces with a space at each end, and every vocabulary term is
likewise padded, so a literal match is a whole-word match. Terms match lower-cased text;
acronyms match the original case, so `GAN` does not fire on "organ" or on "gan" in prose.

Tags come from the title and abstract alone (optionally plus the record's arXiv categories, see
category_matches). The HF `hf_keywords` are never tags: keyword_tags maps them onto the same
vocabulary as a reference, and agreement measures our tags against it.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import polars as pl

from papers.config import TagsParams
from papers.stages.compiled import worth_compiling
from papers.stages.text import runs_outside
from schemas import Tags, polars_schema

# Clause punctuation (and a full stop that ends a sentence) becomes a token of its own in the
# padded string, so no term matches across it: "code, models and data" is not "code models".
# Brackets and braces are not boundaries: they occur inside names ("W[1]-hard") and LaTeX.
_BOUNDARY = r"[,;:!?()\"“”]|\.(?:\s|$)"
_MARK = "¶"
# The mark in a padded string that is lower-cased after padding (see _padded_fields): the text
# never leaves a control character in a padded string, so it stands where a mark stood.
_ASCII_MARK = "\x01"
_NON_WORD_OR_MARK = r"[^\p{L}\p{N}¶]+"
# The same replacement as _NON_WORD_OR_MARK -> " ", without a match at every single space between
# words (a run of one space already reads " "): 2.5x faster on abstracts.
_NON_WORD_OR_MARK_BUT_SPACE = runs_outside(r"\p{L}\p{N}¶")


def pluralize(word: str) -> str:
    """English plural of a term's last word (model -> models, study -> studies, loss -> losses)."""
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return word + "es"
    if len(word) > 1 and word.endswith("y") and word[-2] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"


def _variants(term: str) -> set[str]:
    """Written variants of a term: hyphen/space spellings, joined hyphen words, plural."""
    spaced = " ".join(_token_split(term))
    forms = {spaced}
    if "-" in term:
        forms.add(" ".join(_token_split(term.replace("-", ""))))
    out = set(forms)
    for form in forms:
        head, _, last = form.rpartition(" ")
        out.add(f"{head} {pluralize(last)}".strip())
    return {f for f in out if f}


def _token_split(text: str) -> list[str]:
    # Python-side word split for compiling the (small) vocabulary, not for per-record work.
    return [t for t in re.split(r"[\W_]+", text) if t]


def compile_vocabulary(vocabulary: dict[str, Any]) -> pl.DataFrame:
    """Vocabulary mapping -> one row per matchable form: key (padded), tag, term, cased, generic.

    Terms are lower-cased and matched case-insensitively; acronyms keep their case and are
    matched exactly (plural `GANs` included). `generic` copies the topic's `generic: true` flag
    (see tag_papers). The result is sorted, so matching is deterministic.
    """
    rows: dict[tuple[str, bool], tuple[str, str, bool]] = {}
    for topic in vocabulary.get("topics", []):
        tag = str(topic["id"])
        generic = bool(topic.get("generic", False))
        for term in topic.get("terms", []) or []:
            for form in _variants(str(term).lower()):
                rows.setdefault((f" {form} ", False), (tag, str(term), generic))
        for acronym in topic.get("acronyms", []) or []:
            acr = " ".join(_token_split(str(acronym)))
            for form in (acr, acr + "s"):
                rows.setdefault((f" {form} ", True), (tag, str(acronym), generic))
    return pl.DataFrame(
        {
            "key": [k for k, _ in rows],
            "cased": [c for _, c in rows],
            "tag": [v[0] for v in rows.values()],
            "term": [v[1] for v in rows.values()],
            "generic": [v[2] for v in rows.values()],
        },
        schema={
            "key": pl.String,
            "cased": pl.Boolean,
            "tag": pl.String,
            "term": pl.String,
            "generic": pl.Boolean,
        },
    ).sort("cased", "key")


def _padded(text: pl.Expr, *, lower: bool) -> pl.Expr:
    base = text.fill_null("")
    if lower:
        base = base.str.to_lowercase()
    words = base.str.replace_all(_BOUNDARY, f" {_MARK} ").str.replace_all(
        _NON_WORD_OR_MARK_BUT_SPACE, " "
    )
    return pl.lit(" ") + words.str.strip_chars() + pl.lit(" ")


def _padded_fields(papers: pl.DataFrame) -> pl.DataFrame:
    """Each field's padded string as written (`{field}/True`) and lower-cased (`{field}/False`).

    The lower-cased one is the one as written, lower-cased: the same tokens as padding the
    lower-cased text wherever the text is ASCII (its clause marks are swapped for _ASCII_MARK
    first, so lower-casing takes the ASCII path; no key holds either mark). Elsewhere
    lower-casing can change what the padding sees ("İ" becomes "i" and a combining dot, a final
    "Σ" depends on what follows it, a few letters are letters to one Unicode table and not to
    the other), so the rows with any other character are padded from their lower-cased text.
    """
    fields = ("title", "abstract")
    cased = papers.select(_padded(pl.col(f), lower=False).alias(f"{f}/True") for f in fields)
    lowered = cased.select(
        pl.col(f"{f}/True")
        .str.replace_all(_MARK, _ASCII_MARK, literal=True)
        .str.to_lowercase()
        .alias(f"{f}/False")
        for f in fields
    )
    for field in fields:
        text = pl.col(field)
        other = papers.select(pl.arg_where(text.str.len_bytes() != text.str.len_chars()))
        rows = other.to_series()
        if rows.len():
            exact = papers.select(_padded(text.gather(rows), lower=True)).to_series()
            lowered = lowered.with_columns(lowered[f"{field}/False"].scatter(rows, exact))
    return pl.concat([cased, lowered], how="horizontal")


def _passes(terms: pl.DataFrame) -> list[tuple[str, bool, list[str]]]:
    """(field, cased, keys) of the four matches: each field, lower-cased for the terms and as
    written for the acronyms, in the order their hits are listed."""
    passes = [
        (field, cased, terms.filter(pl.col("cased") == cased)["key"].to_list())
        for field in ("title", "abstract")
        for cased in (False, True)
    ]
    return [(field, cased, keys) for field, cased, keys in passes if keys]


_NO_HIT_ROWS = {"row": pl.UInt32, "key": pl.UInt32, "title": pl.Boolean}


def _key_list(terms: pl.DataFrame) -> pl.Series:
    """The terms' distinct keys, sorted: what a hit's `key` indexes (_hit_rows)."""
    return terms["key"].unique().sort()


def _hit_rows(
    papers: pl.DataFrame, terms: pl.DataFrame, compiled: bool | None = None
) -> pl.DataFrame:
    """(row, key, title) per match of the vocabulary in the title and abstract: the paper's row,
    the key's index in _key_list(terms), whether the match is in the title. Rows come pass by
    pass (_passes), paper by paper.

    Where a compiled pass is worth it (compiled.worth_compiling, or when `compiled` says so) one
    compiled pass over each field looks up its terms and acronyms (papers/stages/tag_hits.py),
    the regex passes (_regex_pass_hits) taking the few texts it leaves; else the regex passes
    do all."""
    passes = _passes(terms)
    if not passes:
        return pl.DataFrame(schema=_NO_HIT_ROWS)
    key_list = _key_list(terms)
    if not worth_compiling(papers.height, compiled):
        return pl.concat(_regex_pass_hits(papers, passes, key_list))
    from papers.stages.tag_hits import tag_hits

    keys: dict[bool, list[str]] = {False: [], True: []}
    keys |= {cased: ks for _, cased, ks in passes}  # the same keys for both fields
    # each pass's key index -> the key's index in key_list
    index = {
        cased: key_list.search_sorted(pl.Series(ks, dtype=pl.String)).cast(pl.UInt32)
        for cased, ks in keys.items()
    }
    # each field's terms and acronyms in one pass; the hits listed pass by pass as above
    by_pass: dict[tuple[str, bool], list[pl.DataFrame]] = {}
    for field in ("title", "abstract"):
        got = tag_hits(papers[field], tuple(keys[False]), tuple(keys[True]))
        rest = pl.Series("row", range(papers.height), pl.UInt32)  # the rows left to the regexes
        if got is not None:  # else: keys the compiled pass cannot hold
            *pairs, rest = got
            for cased, found in zip((False, True), pairs, strict=True):
                by_pass[(field, cased)] = [
                    found.select(
                        "row",
                        index[cased].gather(found["key"]).alias("key"),
                        pl.lit(field == "title").alias("title"),
                    )
                ]
        if rest.len():
            left = [(f, c, ks) for f, c, ks in passes if f == field]
            frames = _regex_pass_hits(papers[rest], left, key_list)
            for (f, c, _), frame in zip(left, frames, strict=True):
                by_pass.setdefault((f, c), []).append(
                    frame.with_columns(rest.gather(frame["row"]).alias("row"))
                )
    return pl.concat([frame for f, c, _ in passes for frame in by_pass.get((f, c), [])])


def _regex_pass_hits(
    papers: pl.DataFrame, passes: list[tuple[str, bool, list[str]]], key_list: pl.Series
) -> list[pl.DataFrame]:
    """_hit_rows by regex passes, a frame per pass: each field padded (_padded_fields), then one
    Aho-Corasick pass per field and case, the four in one select, so polars runs them in
    parallel."""
    rows = papers.select(pl.int_range(pl.len(), dtype=pl.UInt32).alias("row"))
    found = pl.concat([rows, _padded_fields(papers)], how="horizontal").select(
        "row",
        *(
            pl.col(f"{field}/{cased}").str.extract_many(keys, overlapping=True)
            for field, cased, keys in passes
        ),
    )
    frames = []
    for field, cased, _ in passes:
        hits = found.select("row", pl.col(f"{field}/{cased}").alias("key")).explode("key")
        hits = hits.drop_nulls("key")
        frames.append(
            hits.select(
                "row",
                key_list.search_sorted(hits["key"]).cast(pl.UInt32).alias("key"),
                pl.lit(field == "title").alias("title"),
            )
        )
    return frames


CATEGORY_WEIGHT = 1.0
"""Default score an arXiv category adds to the topic it maps to (one abstract mention's worth)."""


def tag_papers(
    papers: pl.DataFrame,
    terms: pl.DataFrame,
    params: TagsParams,
    *,
    categories: pl.DataFrame | None = None,
    category_weight: float = CATEGORY_WEIGHT,
    compiled: bool | None = None,
) -> pl.DataFrame:
    """Papers (paper_id, title, abstract) + compiled vocabulary -> Tags table.

    score = params.title_weight x title hits + params.abstract_weight x abstract hits, kept when
    >= params.min_score. A topic flagged `generic: true` in the vocabulary (an umbrella topic
    that abstracts mention in passing: "LLMs", "foundation models", "a new benchmark") needs
    the evidence of a title mention: score >= max(params.min_score, params.title_weight), i.e.
    a title hit or repeated abstract hits. Evidence is the vocabulary term matched most often
    (ties: alphabetical).

    categories (optional; paper_id, category, tag as from `category_matches`): each arXiv
    category that maps to a topic adds `category_weight` to that topic's score, with evidence
    "arXiv <category>" when no term matched. Default None: tags from the text alone.

    compiled: match by the compiled pass or the regex passes (default: by size, see
    _hit_rows).
    """
    # Papers, tags and terms as indices into sorted dictionaries of their strings, so the
    # joins, group-bys and sorts below run on integers in the strings' own order (half the
    # CPU they took on the strings); spelled out at the end.
    cats = (
        categories
        if categories is not None
        else pl.DataFrame(schema={"paper_id": pl.String, "category": pl.String, "tag": pl.String})
    )
    cat_terms = cats.select(pl.format("arXiv {}", "category")).to_series()
    ids = pl.concat([papers["paper_id"], cats["paper_id"]]).unique().sort()
    tag_type = pl.Enum(pl.concat([terms["tag"], cats["tag"]]).unique().sort())
    term_type = pl.Enum(pl.concat([terms["term"], cat_terms]).unique().sort())
    term_rows = terms.select(
        _key_list(terms).search_sorted(terms["key"]).cast(pl.UInt32).alias("key"),
        pl.col("tag").cast(tag_type),
        pl.col("term").cast(term_type),
    )
    hits = _hit_rows(papers, terms, compiled).join(term_rows, on="key", how="inner")
    paper = ids.search_sorted(papers["paper_id"]).cast(pl.UInt32)
    weights = pl.when("title").then(params.title_weight).otherwise(params.abstract_weight)
    weighted = pl.concat(
        [
            hits.select(
                paper.gather(hits["row"]).alias("paper"),
                "tag",
                "term",
                weights.cast(pl.Float64).alias("w"),
                pl.lit(False).alias("from_category"),
            ),
            cats.select(
                ids.search_sorted(cats["paper_id"]).cast(pl.UInt32).alias("paper"),
                pl.col("tag").cast(tag_type),
                cat_terms.cast(term_type).alias("term"),
                pl.lit(category_weight, pl.Float64).alias("w"),
                pl.lit(True).alias("from_category"),
            ),
        ]
    )
    # ranked within each (paper, tag) group, most of which hold one term: a quarter of the time
    # of sorting all rows by paper and tag first
    evidence = (
        weighted.group_by("paper", "tag", "term")
        .agg(pl.len().alias("n"), pl.col("from_category").first())
        .group_by("paper", "tag")
        .agg(
            pl.col("term")
            .sort_by(["from_category", "n", "term"], descending=[False, True, False])
            .first()
            .alias("evidence")
        )
    )
    generic = (
        terms.filter(pl.col("generic"))["tag"]
        if "generic" in terms.columns
        else pl.Series("tag", [], pl.String)
    )
    strict = max(params.min_score, params.title_weight)
    scored = (
        weighted.group_by("paper", "tag")
        .agg(pl.col("w").sum().alias("score"))
        .filter(
            pl.col("score")
            >= pl.when(pl.col("tag").is_in(pl.Series(generic, dtype=tag_type).implode()))
            .then(strict)
            .otherwise(params.min_score)
        )
        .join(evidence, on=["paper", "tag"], how="left")
        .sort("paper", "tag")
    )
    return scored.with_columns(
        ids.gather(scored["paper"]).alias("paper_id"),
        pl.col("tag", "evidence").cast(pl.String),
    ).select(polars_schema(Tags).names())


def _keyword_hits(
    keywords: pl.DataFrame, terms: pl.DataFrame, *, cased: bool, exact: bool
) -> pl.DataFrame:
    """(paper_id, keyword, tag) for the cased or uncased vocabulary forms found in each keyword."""
    compiled = terms.filter(pl.col("cased") == cased).select("key", "tag")
    if compiled.height == 0:
        return keywords.select("paper_id", "keyword", pl.lit(None, pl.String).alias("tag")).head(0)
    padded = _padded(pl.col("keyword"), lower=not cased)
    if exact:
        found = keywords.with_columns(padded.alias("key"))
    else:
        found = (
            keywords.with_columns(
                padded.str.extract_many(compiled["key"].to_list(), overlapping=True).alias("key")
            )
            .explode("key")
            .drop_nulls("key")
        )
    return found.join(compiled, on="key", how="inner").select("paper_id", "keyword", "tag")


KeywordMatch = Literal["contains", "exact"]


def keyword_matches(
    papers: pl.DataFrame, terms: pl.DataFrame, *, match: KeywordMatch = "contains"
) -> pl.DataFrame:
    """(paper_id, keyword, tag): each hf_keyword of a paper with a topic it maps to (or null).

    A keyword is normalised exactly like the text the tagger reads (the padded token string:
    lower-cased for terms, as written for acronyms) and maps to every topic one of whose
    compiled forms (term variants, acronyms) it holds. `match="contains"` finds a form as whole
    words anywhere in the keyword ("latent diffusion models" -> diffusion-models), as the tagger
    finds it in a title; `match="exact"` needs the whole keyword to be that form. A keyword that
    maps to no topic keeps one row with a null tag, so mappable keywords can be counted.
    """
    keywords = (
        papers.select("paper_id", pl.col("hf_keywords").alias("keyword"))
        .explode("keyword")
        .filter(pl.col("keyword").str.contains(r"[\p{L}\p{N}]"))
        .unique()
    )
    if keywords.height == 0 or terms.height == 0:
        return keywords.with_columns(pl.lit(None, pl.String).alias("tag"))
    exact = match == "exact"
    mapped = pl.concat(
        [_keyword_hits(keywords, terms, cased=c, exact=exact) for c in (False, True)]
    ).unique()
    return keywords.join(mapped, on=["paper_id", "keyword"], how="left").sort(
        "paper_id", "keyword", "tag", nulls_last=True
    )


def keyword_tags(
    papers: pl.DataFrame, terms: pl.DataFrame, *, match: KeywordMatch = "contains"
) -> pl.DataFrame:
    """(paper_id, tag), unique: the topics a paper's `hf_keywords` map to (see keyword_matches).

    These are an external reference to measure the text tags against (see `agreement`), never
    tags: tags come from the title and abstract alone. The default, `contains`, is the faithful
    reading of "where a synonym matches": HF keywords are noun phrases ("multimodal large
    language models", "text-to-image diffusion"), and a vocabulary term inside one means what it
    means inside a title. `exact` maps about half as many keywords (0.19 vs 0.38 of them on the
    real data, vocabulary 3.0.0), mostly losing such phrases, so it is kept for comparison.
    """
    return (
        keyword_matches(papers, terms, match=match)
        .drop_nulls("tag")
        .select("paper_id", "tag")
        .unique()
        .sort("paper_id", "tag")
    )


def category_matches(papers: pl.DataFrame, vocabulary: dict[str, Any]) -> pl.DataFrame:
    """(paper_id, category, tag): each arXiv category of a paper that maps to a topic id.

    Mapped through the vocabulary's `arxiv_categories`. A category that maps to an area id (or
    is not listed, as `cs.AI` is not) gives nothing: an area is too broad to be a tag.
    """
    topic_ids = {str(t["id"]) for t in vocabulary.get("topics", []) or []}
    mapping = {
        str(cat): str(tag)
        for cat, tag in (vocabulary.get("arxiv_categories") or {}).items()
        if str(tag) in topic_ids
    }
    table = pl.DataFrame(
        {"category": list(mapping), "tag": list(mapping.values())},
        schema={"category": pl.String, "tag": pl.String},
    )
    return (
        papers.select("paper_id", pl.col("categories").alias("category"))
        .explode("category")
        .drop_nulls("category")
        .join(table, on="category", how="inner")
        .unique()
        .sort("paper_id", "tag", "category")
    )


def category_tags(papers: pl.DataFrame, vocabulary: dict[str, Any]) -> pl.DataFrame:
    """(paper_id, tag), unique: the topics a paper's arXiv `categories` imply.

    See category_matches. To publish them as tags, pass category_matches(...) to tag_papers as
    `categories`: each adds `category_weight` to the topic's score (default CATEGORY_WEIGHT,
    one abstract mention's worth), so a category alone makes an ordinary tag but not a generic
    one, and its evidence reads "arXiv <category>".
    """
    return (
        category_matches(papers, vocabulary)
        .select("paper_id", "tag")
        .unique()
        .sort("paper_id", "tag")
    )


def agreement_figures(
    n_papers: int, covered: int, ours: int, supported: int, n_ref: int, found: int,
    rows: int, tagged: int,
) -> dict[str, float | int]:  # fmt: skip
    """agreement's figures from its counts (the publish sums them over partitions)."""
    return {
        "papers_with_mapped_keywords": n_papers,
        "papers_with_mapped_keywords_and_our_tags": covered,
        "covered_share": covered / n_papers if n_papers else 0.0,
        "our_tags_on_those": ours,
        "our_tags_supported": supported,
        "supported_share": supported / ours if ours else 0.0,
        "keyword_tags": n_ref,
        "keyword_tags_found": found,
        "keyword_tags_found_share": found / n_ref if n_ref else 0.0,
        "our_tags_all": rows,
        "papers_with_our_tags": tagged,
    }


def agreement(
    our_tags: pl.DataFrame,
    kw_tags: pl.DataFrame,
    related: pl.DataFrame | None = None,
) -> dict[str, float | int]:
    """How our tags agree with the keyword tags, counted on the papers that have keyword tags.

    our_tags: (paper_id, tag, ...) as from tag_papers; kw_tags: (paper_id, tag) as from
    keyword_tags. Only papers with at least one keyword tag are counted: a paper whose keywords
    map to nothing says nothing about its tags. Strict figures:

    - supported_share: of our tags on those papers, the share that are among that paper's
      keyword tags (precision against the reference);
    - keyword_tags_found_share: of the keyword tags, the share we tagged (recall);
    - covered_share: of those papers, the share with at least one of our tags.

    related (optional; columns tag, related_tag): our tag also counts as supported when the
    paper has a keyword tag related to it (a hierarchy-aware reading, e.g. the same area); this
    adds supported_share_related beside, never instead of, the strict supported_share.
    """
    ours = our_tags.select("paper_id", "tag").unique()
    ref = kw_tags.select("paper_id", "tag").unique()
    papers = ref.select("paper_id").unique()
    ours_there = ours.join(papers, on="paper_id", how="semi")
    supported = ours_there.join(ref, on=["paper_id", "tag"], how="semi").height
    found = ref.join(ours, on=["paper_id", "tag"], how="semi").height
    covered = ours_there.select("paper_id").unique().height
    out = agreement_figures(
        papers.height, covered, ours_there.height, supported, ref.height, found,
        ours.height, ours.select("paper_id").unique().height,
    )  # fmt: skip
    if related is not None:
        widened = pl.concat(
            [
                ref,
                ref.join(
                    related.select("tag", "related_tag"), left_on="tag", right_on="related_tag"
                ).select("paper_id", pl.col("tag_right").alias("tag")),
            ]
        ).unique()
        loose = ours_there.join(widened, on=["paper_id", "tag"], how="semi").height
        out["our_tags_supported_related"] = loose
        n_ours = ours_there.height
        out["supported_share_related"] = loose / n_ours if n_ours else 0.0
    return out


def tags_per_paper(tags: pl.DataFrame) -> pl.DataFrame:
    """(paper_id, tags): each paper's tags, strongest first (ties alphabetical)."""
    return (
        tags.sort(["paper_id", "score", "tag"], descending=[False, True, False])
        .group_by("paper_id", maintain_order=True)
        .agg(pl.col("tag").alias("tags"))
    )
