"""tags: topic tags from the controlled vocabulary, and free keyphrases by TF-IDF.

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
from schemas import Tags, polars_schema

_NON_WORD = r"[^\p{L}\p{N}]+"
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
_NON_WORD_OR_MARK_BUT_SPACE = r"[^\p{L}\p{N}¶]{2,}|[^\p{L}\p{N}¶ ]"
# Ends a keyphrase run in keyphrase_candidates (never a token: tokens are split at it first).
_RUN_END = "\u0002"

# Words that end a keyphrase candidate: English function words and the generic vocabulary of
# abstracts ("we propose a novel method"), which carries no topic.
STOPWORDS = frozenset(
    """
    a about above across after again against all almost along also although always am among an
    and another any are around as at be became because been before being below between both but
    by can cannot could did do does doing done down due during each either else enough especially
    etc even ever every few for from further given had has have having he her here hers herself
    him himself his how however i if in into is it its itself just least less like made make
    makes many may me might more most much must my neither no nor not now of off often on once
    one only onto or other others otherwise our ours ourselves out over own per perhaps quite
    rather really same several shall she should since so some such than that the their theirs
    them themselves then there thereby therefore these they this those though through thus to
    together too toward towards under until up upon us use used uses using very via was way we
    well were what whatever when where whereas whether which while who whom whose why will with
    within without would yet you your yours
    paper papers propose proposes proposed present presents presented introduce introduces
    introduced show shows shown demonstrate demonstrates demonstrated achieve achieves achieved
    method methods approach approaches result results work works novel new based existing
    experiment experiments experimental extensive significantly significant state art
    performance performances task tasks problem problems study studies model models framework
    frameworks first two three various different well-known effective efficient key main
    able across large small high low better best good furthermore moreover specifically
    particular general code available github https http com www org io
    achieving allow allows apply applied applies become becomes bring brings called can't
    carry compared comparing consider considered considers contain contains containing
    describe described describes design designed develop developed develops enable enables
    enabling evaluate evaluated evaluates explore explored explores find finds found focus
    focuses gain gains get gets give gives giving help helps hold holds hurt hurts improve
    improved improves improving include includes including lead leads leverage leverages
    make needs obtain obtained offer offers outperform outperforms perform performs provide
    provided provides providing reach reaches reduce reduces remain remains require requires
    reveal reveals see seek seen suggest suggests take takes tend tends yield yields
    """.split()
)


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
    # Python-side twin of _NON_WORD for compiling the (small) vocabulary, not for per-record work.
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


def _hits(papers: pl.DataFrame, terms: pl.DataFrame) -> pl.DataFrame:
    """(paper_id, key, field) per match of the vocabulary in the title and abstract.

    Four matches (each field, lower-cased for the terms and as written for the acronyms) in one
    select, so polars runs them in parallel; rows come field by field, uncased before cased.
    """
    passes = [
        (field, cased, terms.filter(pl.col("cased") == cased)["key"].to_list())
        for field in ("title", "abstract")
        for cased in (False, True)
    ]
    passes = [(field, cased, keys) for field, cased, keys in passes if keys]
    if not passes:
        return pl.DataFrame(schema={"paper_id": pl.String, "key": pl.String, "field": pl.String})
    found = pl.concat([papers.select("paper_id"), _padded_fields(papers)], how="horizontal").select(
        "paper_id",
        *(
            pl.col(f"{field}/{cased}").str.extract_many(keys, overlapping=True)
            for field, cased, keys in passes
        ),
    )
    return pl.concat(
        [
            found.select("paper_id", pl.col(f"{field}/{cased}").alias("key"))
            .explode("key")
            .drop_nulls("key")
            .with_columns(pl.lit(field).alias("field"))
            for field, cased, _ in passes
        ]
    )


CATEGORY_WEIGHT = 1.0
"""Default score an arXiv category adds to the topic it maps to (one abstract mention's worth)."""


def tag_papers(
    papers: pl.DataFrame,
    terms: pl.DataFrame,
    params: TagsParams,
    *,
    categories: pl.DataFrame | None = None,
    category_weight: float = CATEGORY_WEIGHT,
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
    """
    hits = _hits(papers, terms)
    weights = pl.when(pl.col("field") == "title").then(params.title_weight)
    weighted = hits.join(terms.select("key", "tag", "term"), on="key", how="inner").select(
        "paper_id",
        "tag",
        "term",
        weights.otherwise(params.abstract_weight).cast(pl.Float64).alias("w"),
        pl.lit(False).alias("from_category"),
    )
    if categories is not None and categories.height:
        weighted = pl.concat(
            [
                weighted,
                categories.select(
                    "paper_id",
                    "tag",
                    pl.format("arXiv {}", "category").alias("term"),
                    pl.lit(category_weight, pl.Float64).alias("w"),
                    pl.lit(True).alias("from_category"),
                ),
            ]
        )
    # ranked within each (paper, tag) group, most of which hold one term: a quarter of the time
    # of sorting all rows by paper and tag first
    evidence = (
        weighted.group_by("paper_id", "tag", "term")
        .agg(pl.len().alias("n"), pl.col("from_category").first())
        .group_by("paper_id", "tag")
        .agg(
            pl.col("term")
            .sort_by(["from_category", "n", "term"], descending=[False, True, False])
            .first()
            .alias("evidence")
        )
    )
    generic = (
        terms.filter(pl.col("generic")).select("tag").unique()
        if "generic" in terms.columns
        else pl.DataFrame(schema={"tag": pl.String})
    )
    strict = max(params.min_score, params.title_weight)
    scored = (
        weighted.group_by("paper_id", "tag")
        .agg(pl.col("w").sum().alias("score"))
        .with_columns(pl.col("tag").is_in(generic["tag"].implode()).alias("generic"))
        .filter(
            pl.col("score") >= pl.when(pl.col("generic")).then(strict).otherwise(params.min_score)
        )
        .join(evidence, on=["paper_id", "tag"], how="left")
    )
    return scored.select(polars_schema(Tags).names()).sort("paper_id", "tag")


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
    n_ours, n_ref, n_papers = ours_there.height, ref.height, papers.height
    out: dict[str, float | int] = {
        "papers_with_mapped_keywords": n_papers,
        "papers_with_mapped_keywords_and_our_tags": covered,
        "covered_share": covered / n_papers if n_papers else 0.0,
        "our_tags_on_those": n_ours,
        "our_tags_supported": supported,
        "supported_share": supported / n_ours if n_ours else 0.0,
        "keyword_tags": n_ref,
        "keyword_tags_found": found,
        "keyword_tags_found_share": found / n_ref if n_ref else 0.0,
        "our_tags_all": ours.height,
        "papers_with_our_tags": ours.select("paper_id").unique().height,
    }
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
        out["supported_share_related"] = loose / n_ours if n_ours else 0.0
    return out


def tags_per_paper(tags: pl.DataFrame) -> pl.DataFrame:
    """(paper_id, tags): each paper's tags, strongest first (ties alphabetical)."""
    return (
        tags.sort(["paper_id", "score", "tag"], descending=[False, True, False])
        .group_by("paper_id", maintain_order=True)
        .agg(pl.col("tag").alias("tags"))
    )


_URL = r"(?:https?://|www\.)\S+|\S+\.(?:com|org|io|net)/\S*"
_URL_LITERALS = r"https?://|www\.|\.(?:com|org|io|net)/"
# keyphrase_candidates' token rules. A token is a word (letters and digits, with inner
# apostrophes and hyphens: "state-of-the-art", "can't") or else one non-space character; a stop
# token ends a candidate run. Every one-character token is a stop, so the text is not split into
# tokens: (1) any other character run between words, and an apostrophe or hyphen run that ends
# or starts a word, becomes a run end; (2) each sequence of stop words (space-separated) becomes
# one run end. Between run ends words are then single-spaced.
# (1) in one pass: a run that ends a word takes the space after it, so a run starting the next
# word ("a- -b") is taken with it.
_PUNCT_OR_WORD_EDGE = (
    r"[^\p{L}\p{N}\s]*[^\p{L}\p{N}\s'-][^\p{L}\p{N}\s]*|['-]+(?: ['-]*|$)|(?:^| )['-]+"
)
# A stop word: a stopword; a word without a letter; a one-character word (or run end); an
# adverb (-ly) ending a noun phrase. Each alternative is bounded by spaces, so it is a whole word.
# The text holds no whitespace but single spaces by then, so a space stands for `\s`.
_STOP_WORD = (
    "(?:"
    + "|".join(re.escape(word) for word in sorted(STOPWORDS))
    + r"|[^ \p{L}]+|[^ ]|[^ ]{3,}ly)"
)
# A sequence of stop words with all the spaces around it, so the runs between come out stripped.
_STOP_WORDS = rf"(?:^| +){_STOP_WORD}(?: +{_STOP_WORD})*(?: +|$)"


def keyphrase_candidates(
    papers: pl.DataFrame, terms: pl.DataFrame, params: TagsParams
) -> pl.DataFrame:
    """(paper_id, phrase, tf): each paper's candidate keyphrases and how often it has each.

    Candidates are runs of up to params.keyphrase_max_words words between stopwords, numbers and
    punctuation (longer runs keep their last words, where English puts the head noun). Phrases
    that are vocabulary terms are left to the tags. Per paper only: document frequencies, the
    one global statistic of TF-IDF, are counted from these rows (see keyphrase_document_counts).
    Row order is unspecified (keyphrase_top orders by score).

    Vectorised without a row per token: after the URLs are cut and the whitespace is made single
    spaces, two regex passes over one string per paper replace every stop token by a run
    boundary (see _PUNCT_OR_WORD_EDGE), the second with the spaces around it, so splitting at
    the boundaries gives the runs single-spaced and stripped. Only the few runs longer than the
    phrase limit are split into words. Phrases are counted per row number, not per paper_id
    string.
    """
    schema = {"paper_id": pl.String, "phrase": pl.String, "tf": pl.UInt32}
    if papers.height == 0:
        return pl.DataFrame(schema=schema)
    text = papers.select(
        pl.concat_str(
            [pl.col("title").fill_null(""), pl.col("abstract").fill_null("")], separator=" . "
        )
    ).to_series()
    # a URL is a link, not a phrase: cut it out, leaving a phrase boundary; only in the rows that
    # hold one of the literals every URL match holds (a quarter of them), found 20x faster
    linked = text.str.contains(_URL_LITERALS).arg_true()
    if linked.len():
        text = text.scatter(linked, text.gather(linked).str.replace_all(_URL, " . "))
    wrapped = (
        pl.lit(text)
        .str.to_lowercase()
        .str.replace_all(r"\s{2,}|[^\S ]", " ")  # whitespace is single spaces
        .str.strip_chars(" ")
        .str.replace_all(_PUNCT_OR_WORD_EDGE, f" {_RUN_END} ")
        .str.replace_all(_STOP_WORDS, _RUN_END)
    )
    max_words = params.keyphrase_max_words
    runs = (
        papers.select(wrapped.str.split(_RUN_END).alias("run"))
        .with_row_index("row")
        .explode("run")
        # most runs are empty (stop tokens side by side); dropped before the work
        .filter(pl.col("run").str.len_bytes() >= 3)
        .with_columns(
            (pl.col("run").str.count_matches(" ", literal=True) >= max_words).alias("long")
        )
    )
    phrases = pl.concat(
        [
            runs.filter(~pl.col("long")).select("row", pl.col("run").alias("phrase")),
            runs.filter(pl.col("long")).select(
                "row",
                pl.col("run").str.split(" ").list.tail(max_words).list.join(" ").alias("phrase"),
            ),
        ]
    ).rechunk()  # grouping a two-chunk frame takes twice as long
    # a phrase under 3 characters is one token too short to be a phrase
    phrases = phrases.filter(pl.col("phrase").str.len_chars() >= 3)
    # a phrase that is a vocabulary term (in any spelling: "self-supervised learning") or an
    # acronym of one is already a tag. A phrase holds letters, digits, single spaces and inner
    # apostrophes and hyphens only, so one without either is its own match key; the others are
    # looked up once per distinct phrase. Dropped before counting, while the rows are in text
    # order (string work on the counted rows, in hash order, is twice as slow).
    keys = terms.select(pl.col("key").str.strip_chars().str.to_lowercase().alias("phrase"))
    spelled = (
        phrases.filter(pl.col("phrase").str.contains(r"[-']"))
        .select(pl.col("phrase").unique())
        .filter(pl.col("phrase").str.replace_all(_NON_WORD, " ").is_in(keys["phrase"].implode()))
    )
    kept = (
        phrases.join(pl.concat([keys, spelled]), on="phrase", how="anti")
        .group_by("row", "phrase")
        .agg(pl.len().cast(pl.UInt32).alias("tf"))
    )
    return kept.select(papers["paper_id"].gather(kept["row"]), "phrase", "tf")


def keyphrase_document_counts(candidates: pl.DataFrame) -> pl.DataFrame:
    """(phrase, df): in how many papers each candidate phrase occurs (sums over partitions)."""
    return candidates.group_by("phrase").agg(pl.len().cast(pl.UInt32).alias("df"))


def keyphrase_top(
    candidates: pl.DataFrame, df: pl.DataFrame, n_docs: int, params: TagsParams
) -> pl.DataFrame:
    """(paper_id, keyphrases): the top params.keyphrases_top_k candidates of each paper by TF-IDF.

    score = tf x (ln((1 + n_docs) / (1 + df)) + 1) x sqrt(words): idf over n_docs papers. A
    phrase missing from `df` occurs in one paper (a partitioned build leaves those out of it).
    """
    scored = (
        candidates.join(df, on="phrase", how="left")
        .with_columns(pl.col("df").fill_null(1))
        .with_columns(
            (
                pl.col("tf")
                * (((1 + n_docs) / (1 + pl.col("df"))).log() + 1.0)
                * pl.col("phrase").str.count_matches(" ", literal=True).add(1).sqrt()
            ).alias("score")
        )
    )
    # sorted within each paper only (a phrase occurs once per paper, so no ties remain)
    return (
        scored.group_by("paper_id")
        .agg(
            pl.col("phrase")
            .sort_by(["score", "phrase"], descending=[True, False])
            .head(params.keyphrases_top_k)
            .alias("keyphrases")
        )
        .sort("paper_id")
    )


def keyphrases(papers: pl.DataFrame, terms: pl.DataFrame, params: TagsParams) -> pl.DataFrame:
    """(paper_id, keyphrases): top params.keyphrases_top_k candidate phrases by TF-IDF.

    See keyphrase_candidates and keyphrase_top; IDF is computed over the papers given.
    """
    if params.keyphrases_top_k == 0 or papers.height == 0:
        return papers.select("paper_id", pl.lit([], pl.List(pl.String)).alias("keyphrases"))
    candidates = keyphrase_candidates(papers, terms, params)
    top = keyphrase_top(candidates, keyphrase_document_counts(candidates), papers.height, params)
    return (
        papers.select("paper_id")
        .join(top, on="paper_id", how="left")
        .with_columns(pl.col("keyphrases").fill_null(pl.lit([], pl.List(pl.String))))
    )
