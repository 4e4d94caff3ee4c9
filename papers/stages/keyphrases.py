"""keyphrases: free keyphrases per paper by TF-IDF over candidate phrases (never a vocabulary
term: those are the tags' job, papers/stages/tags.py).

Candidates are runs of words between punctuation and stop words, found per paper; the document
frequencies of the candidates and the ranking against them are separate steps, so a build can
count candidates per partition and rank once the corpus-wide counts are known.
"""

from __future__ import annotations

import re

import polars as pl

from papers.config import TagsParams
from papers.stages.compiled import worth_compiling
from papers.stages.text import runs_outside

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

_NON_WORD = r"[^\p{L}\p{N}]+"
# Ends a keyphrase run in keyphrase_candidates (never a token: tokens are split at it first).
_RUN_END = "\u0002"

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
    papers: pl.DataFrame, terms: pl.DataFrame, params: TagsParams, compiled: bool | None = None
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
    string. Where a compiled pass is worth it (compiled.worth_compiling, or when `compiled` says
    so) one compiled pass does all of it instead (papers/stages/candidate_runs.py: the same
    rows, 0.6 instead of 1.14 CPU s per 25k papers on the AMD machine of docs/performance.md),
    leaving to the regex passes the few texts it does not handle.
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
    max_words = params.keyphrase_max_words
    # a phrase that is a vocabulary term (in any spelling: "self-supervised learning") or an
    # acronym of one is already a tag
    keys = terms.select(pl.col("key").str.strip_chars().str.to_lowercase().alias("phrase"))
    if worth_compiling(papers.height, compiled):
        # one compiled pass; the few texts it leaves by the regex passes
        from papers.stages.candidate_runs import candidate_runs

        found, wide = candidate_runs(text, STOPWORDS, keys["phrase"].to_list(), max_words)
        rest = _counted(_phrases(text.gather(wide), max_words), keys)
        rest = rest.select(wide.gather(rest["row"]).alias("row"), "phrase", "tf")
        kept = pl.concat([found, rest])
    else:
        kept = _counted(_phrases(text, max_words), keys)
    return kept.select(papers["paper_id"].gather(kept["row"]), "phrase", "tf")


def _counted(phrases: pl.DataFrame, keys: pl.DataFrame) -> pl.DataFrame:
    """(row, phrase, tf): the phrases that are no vocabulary key, counted per row.

    A phrase holds letters, digits, single spaces and inner apostrophes and hyphens only, so one
    without either is its own match key; the others are looked up once per distinct phrase.
    Dropped before counting, while the rows are in text order (string work on the counted rows,
    in hash order, is twice as slow)."""
    spelled = (
        phrases.filter(pl.col("phrase").str.contains(r"[-']"))
        .select(pl.col("phrase").unique())
        .filter(pl.col("phrase").str.replace_all(_NON_WORD, " ").is_in(keys["phrase"].implode()))
    )
    # counted by the streaming engine: a tenth less CPU than the in-memory group-by at 25k papers
    return (
        phrases.lazy()
        .join(pl.concat([keys, spelled]).lazy(), on="phrase", how="anti")
        .group_by("row", "phrase")
        .agg(pl.len().cast(pl.UInt32).alias("tf"))
        .collect(engine="streaming")
    )


def _phrases(text: pl.Series, max_words: int) -> pl.DataFrame:
    """(row, phrase) of each text's candidate runs, by regex passes (see keyphrase_candidates;
    papers/stages/candidate_runs.py does the same in one compiled pass)."""
    wrapped = (
        pl.lit(text)
        .str.to_lowercase()
        .str.replace_all(runs_outside(r"\S"), " ")  # whitespace is single spaces
        .str.strip_chars(" ")
        .str.replace_all(_PUNCT_OR_WORD_EDGE, f" {_RUN_END} ")
        .str.replace_all(_STOP_WORDS, _RUN_END)
    )
    runs = (
        pl.select(wrapped.str.split(_RUN_END).alias("run"))
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
    return phrases.filter(pl.col("phrase").str.len_chars() >= 3)


def keyphrase_document_counts(candidates: pl.DataFrame) -> pl.DataFrame:
    """(phrase, df): in how many papers each candidate phrase occurs (sums over partitions)."""
    return candidates.group_by("phrase").agg(pl.len().cast(pl.UInt32).alias("df"))


def keyphrase_idf_rows(document_counts: pl.DataFrame) -> pl.DataFrame:
    """(phrase, df) of a pinned IDF table: the phrases in at least 2 papers. A phrase missing from
    it occurs in one paper (keyphrase_top), so the rest would only make the table larger."""
    return document_counts.filter(pl.col("df") >= 2).select("phrase", pl.col("df").cast(pl.UInt32))


def keyphrase_top(
    candidates: pl.DataFrame, df: pl.DataFrame, n_docs: int, params: TagsParams
) -> pl.DataFrame:
    """(paper_id, keyphrases): the top params.keyphrases_top_k candidates of each paper by TF-IDF.

    score = tf x (ln((1 + n_docs) / (1 + df)) + 1) x sqrt(words): idf over n_docs papers. A
    phrase missing from `df` occurs in one paper (a partitioned build leaves those out of it).
    With `df` and n_docs from the pinned IDF table (papers/config.py: KeyphraseIdf), a paper's
    keyphrases depend on its own candidates and that table only.
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
