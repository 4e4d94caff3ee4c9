"""tags: topic tags from the controlled vocabulary, and free keyphrases by TF-IDF.

Topic matching is one Aho-Corasick pass per field over a padded token string: the text is reduced
to words separated by single spaces with a space at each end, and every vocabulary term is
likewise padded, so a literal match is a whole-word match. Terms match lower-cased text;
acronyms match the original case, so `GAN` does not fire on "organ" or on "gan" in prose.
"""

from __future__ import annotations

import re
from typing import Any

import polars as pl

from papers.config import TagsParams
from schemas import Tags, polars_schema

_NON_WORD = r"[^\p{L}\p{N}]+"

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
    """Vocabulary mapping -> one row per matchable form: key (padded), tag, term, cased.

    Terms are lower-cased and matched case-insensitively; acronyms keep their case and are
    matched exactly (plural `GANs` included). The result is sorted, so matching is deterministic.
    """
    rows: dict[tuple[str, bool], tuple[str, str]] = {}
    for topic in vocabulary.get("topics", []):
        tag = str(topic["id"])
        for term in topic.get("terms", []) or []:
            for form in _variants(str(term).lower()):
                rows.setdefault((f" {form} ", False), (tag, str(term)))
        for acronym in topic.get("acronyms", []) or []:
            acr = " ".join(_token_split(str(acronym)))
            for form in (acr, acr + "s"):
                rows.setdefault((f" {form} ", True), (tag, str(acronym)))
    return pl.DataFrame(
        {
            "key": [k for k, _ in rows],
            "cased": [c for _, c in rows],
            "tag": [v[0] for v in rows.values()],
            "term": [v[1] for v in rows.values()],
        },
        schema={"key": pl.String, "cased": pl.Boolean, "tag": pl.String, "term": pl.String},
    ).sort("cased", "key")


def _padded(text: pl.Expr, *, lower: bool) -> pl.Expr:
    base = text.fill_null("")
    if lower:
        base = base.str.to_lowercase()
    return pl.lit(" ") + base.str.replace_all(_NON_WORD, " ").str.strip_chars() + pl.lit(" ")


def _hits(papers: pl.DataFrame, terms: pl.DataFrame, field: str, *, cased: bool) -> pl.DataFrame:
    """(paper_id, key, field) per match of the cased or uncased terms in one text field."""
    keys = terms.filter(pl.col("cased") == cased)["key"].to_list()
    if not keys:
        return pl.DataFrame(schema={"paper_id": pl.String, "key": pl.String, "field": pl.String})
    return (
        papers.select(
            "paper_id",
            _padded(pl.col(field), lower=not cased)
            .str.extract_many(keys, overlapping=True)
            .alias("key"),
        )
        .explode("key")
        .drop_nulls("key")
        .with_columns(pl.lit(field).alias("field"))
    )


def tag_papers(papers: pl.DataFrame, terms: pl.DataFrame, params: TagsParams) -> pl.DataFrame:
    """Papers (paper_id, title, abstract) + compiled vocabulary -> Tags table.

    score = params.title_weight x title hits + params.abstract_weight x abstract hits, kept when
    >= params.min_score; evidence is the vocabulary term matched most often (ties: alphabetical).
    """
    hits = pl.concat(
        [
            _hits(papers, terms, field, cased=cased)
            for field in ("title", "abstract")
            for cased in (False, True)
        ]
    )
    weights = pl.when(pl.col("field") == "title").then(params.title_weight)
    weighted = hits.join(terms.select("key", "tag", "term"), on="key", how="inner").with_columns(
        weights.otherwise(params.abstract_weight).alias("w")
    )
    evidence = (
        weighted.group_by("paper_id", "tag", "term")
        .agg(pl.len().alias("n"))
        .sort(["paper_id", "tag", "n", "term"], descending=[False, False, True, False])
        .group_by("paper_id", "tag", maintain_order=True)
        .agg(pl.col("term").first().alias("evidence"))
    )
    scored = (
        weighted.group_by("paper_id", "tag")
        .agg(pl.col("w").sum().cast(pl.Float64).alias("score"))
        .filter(pl.col("score") >= params.min_score)
        .join(evidence, on=["paper_id", "tag"], how="left")
    )
    return scored.select(polars_schema(Tags).names()).sort("paper_id", "tag")


def tags_per_paper(tags: pl.DataFrame) -> pl.DataFrame:
    """(paper_id, tags): each paper's tags, strongest first (ties alphabetical)."""
    return (
        tags.sort(["paper_id", "score", "tag"], descending=[False, True, False])
        .group_by("paper_id", maintain_order=True)
        .agg(pl.col("tag").alias("tags"))
    )


def keyphrases(papers: pl.DataFrame, terms: pl.DataFrame, params: TagsParams) -> pl.DataFrame:
    """(paper_id, keyphrases): top params.keyphrases_top_k candidate phrases by TF-IDF.

    Candidates are runs of up to params.keyphrase_max_words words between stopwords, numbers and
    punctuation (longer runs keep their last words, where English puts the head noun). Phrases
    that are vocabulary terms are left to the tags. IDF is computed over the papers given.
    """
    if params.keyphrases_top_k == 0 or papers.height == 0:
        return papers.select("paper_id", pl.lit([], pl.List(pl.String)).alias("keyphrases"))
    text = (
        pl.concat_str(
            [pl.col("title").fill_null(""), pl.col("abstract").fill_null("")], separator=" . "
        )
        # a URL is a link, not a phrase: cut it out, leaving a phrase boundary
        .str.replace_all(r"(?:https?://|www\.)\S+|\S+\.(?:com|org|io|net)/\S*", " . ")
        .str.to_lowercase()
    )
    tokens = (
        papers.select(
            "paper_id",
            text.str.extract_all(
                r"[\p{L}\p{N}][\p{L}\p{N}'-]*[\p{L}\p{N}]|[\p{L}\p{N}]|[^\s]"
            ).alias("tok"),
        )
        .explode("tok")
        .drop_nulls("tok")
        .with_columns(
            (
                pl.col("tok").is_in(list(STOPWORDS))
                | ~pl.col("tok").str.contains(r"\p{L}")
                | (pl.col("tok").str.len_chars() < 2)
                # adverbs (-ly) end a noun phrase ("roughly", "seriously")
                | (pl.col("tok").str.ends_with("ly") & (pl.col("tok").str.len_chars() > 4))
            ).alias("stop")
        )
        .with_columns(pl.col("stop").cum_sum().over("paper_id").alias("run"))
        .filter(~pl.col("stop"))
    )
    n_docs = papers.height
    candidates = (
        tokens.group_by("paper_id", "run", maintain_order=True)
        .agg(pl.col("tok").tail(params.keyphrase_max_words).str.join(" ").alias("phrase"))
        .filter(pl.col("phrase").str.len_chars() >= 3)
        # a phrase that is a vocabulary term (in any spelling: "self-supervised learning") or an
        # acronym of one is already a tag
        .with_columns(pl.col("phrase").str.replace_all(_NON_WORD, " ").alias("match_key"))
        .join(
            terms.select(pl.col("key").str.strip_chars().str.to_lowercase().alias("match_key")),
            on="match_key",
            how="anti",
        )
        .drop("match_key")
    )
    tf = candidates.group_by("paper_id", "phrase").agg(pl.len().alias("tf"))
    df = tf.group_by("phrase").agg(pl.len().alias("df"))
    scored = tf.join(df, on="phrase").with_columns(
        (
            pl.col("tf")
            * (((1 + n_docs) / (1 + pl.col("df"))).log() + 1.0)
            * pl.col("phrase").str.count_matches(" ").add(1).sqrt()
        ).alias("score")
    )
    top = (
        scored.sort(["paper_id", "score", "phrase"], descending=[False, True, False])
        .group_by("paper_id", maintain_order=True)
        .agg(pl.col("phrase").head(params.keyphrases_top_k).alias("keyphrases"))
    )
    return (
        papers.select("paper_id")
        .join(top, on="paper_id", how="left")
        .with_columns(pl.col("keyphrases").fill_null(pl.lit([], pl.List(pl.String))))
    )
