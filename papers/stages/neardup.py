"""Near-duplicates: MinHash of title + abstract word shingles, LSH banding in polars, pair kinds.

Pure functions over polars frames (the similarity step, papers/pipeline/similarity.py, calls
them). The shingles are hashed by polars and numpy, rensa signs them in one call per batch of
distinct texts (no Python object per record or shingle); banding, the candidate self-join and
the pair classification are polars expressions.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import rensa  # type: ignore[import-untyped]

from papers.config import NeardupParams

SEED = 42  # fixed: signatures must be the same bytes in every run and process
NUM_PERM = 128  # 32 bands x 4 rows: S-curve midpoint (1/32)^(1/4) ~ 0.42


def shingle_text(title: pl.Expr, abstract: pl.Expr) -> pl.Expr:
    """Lower-cased title + abstract, word characters only, single spaces: the shingled text."""
    text = pl.concat_str([title.fill_null(""), abstract.fill_null("")], separator=" ")
    return text.str.to_lowercase().str.replace_all(r"[^\w]+", " ").str.strip_chars()


# Shingle hashes: each word hashed by polars (seeded), k consecutive word hashes folded into one
# 64-bit token (h * MUL + next, wrapping): the k-shingle without building its string
_MUL = np.uint64(0x9E3779B97F4A7C15)


def shingle_hashes(texts: pl.Series, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each text's word k-shingles as uint64 token hashes, flat, with row offsets (len + 1).

    `texts` are shingle_text's output (single spaces, stripped). A text of fewer than k words
    is one token (all its words folded), an empty text none. Vectorised: polars splits and
    hashes the words, numpy folds them; no Python object per word or shingle.
    """
    frame = pl.DataFrame({"t": texts})
    words = (
        frame.select(
            pl.when(pl.col("t") == "").then(0).otherwise(pl.col("t").str.count_matches(" ") + 1)
        )
        .to_series()
        .to_numpy()
        .astype(np.int64)
    )
    hashes = (
        frame.select(pl.col("t").str.split(" "))
        .explode("t")
        .filter(pl.col("t") != "")
        .to_series()
        .hash(SEED)
        .to_numpy()
    )
    n = len(hashes)
    folded = [hashes]  # folded[j][i]: words i..i+j folded (past a row's end: masked below)
    with np.errstate(over="ignore"):
        for shift in range(1, k):
            after = np.zeros(n, dtype=np.uint64)
            after[: n - shift] = hashes[shift:]
            folded.append(folded[-1] * _MUL + after)
    tokens = np.where(words >= k, words - k + 1, np.minimum(words, 1))
    offsets = np.zeros(len(words) + 1, dtype=np.uint64)
    np.cumsum(tokens, out=offsets[1:])
    starts = np.cumsum(words) - words
    first = np.repeat(starts, tokens) + (
        np.arange(int(offsets[-1])) - np.repeat(offsets[:-1].astype(np.int64), tokens)
    )
    width = np.repeat(np.minimum(words, k), tokens)
    flat = folded[k - 1][first]
    for j in range(1, k):  # the short texts: all their words
        short = width == j
        if short.any():
            flat[short] = folded[j - 1][first[short]]
    return flat, offsets


# Texts hashed and signed per batch: the word and token arrays of one batch at a time
# (~2 million 8-byte hashes), reused by the allocator instead of page-faulted in each time.
SIGN_BATCH = 4096


def signatures(texts: pl.Series, params: NeardupParams) -> np.ndarray:
    """Distinct texts -> uint32 signatures (len(texts) x num_perm), one rensa call per batch.

    The tokens are shingle_hashes' (polars and numpy, no Python loop per text); rensa signs
    them from the flat buffer. A signature depends on its text alone, so batches change no
    byte. An empty text gets an all-max signature that matches nothing (see `band_keys`).
    """
    out = np.empty((len(texts), params.num_perm), dtype=np.uint32)
    for start in range(0, len(texts), SIGN_BATCH):
        batch = texts.slice(start, SIGN_BATCH)
        flat, offsets = shingle_hashes(batch, params.shingle)
        matrix = rensa.RMinHash.digest_matrix_from_flat_token_hashes(
            flat, offsets, num_perm=params.num_perm, seed=SEED
        )
        rows = np.asarray(matrix.to_rows(), dtype=np.uint32).reshape(len(batch), params.num_perm)
        rows[np.diff(offsets) == 0] = np.iinfo(np.uint32).max
        out[start : start + len(batch)] = rows
    return out


def band_keys(paper_ids: pl.Series, sig: np.ndarray, params: NeardupParams) -> pl.DataFrame:
    """Signatures -> rows (paper_id, band UInt8, key UInt64): one key per band of `rows` minhashes.

    Papers with an empty text get no keys, so they are never candidates.
    """
    if params.bands * params.rows > sig.shape[1]:
        raise ValueError("bands * rows exceeds num_perm")
    n = sig.shape[0]
    cols = {f"h{j}": sig[:, j] for j in range(params.bands * params.rows)}
    frame = pl.DataFrame({"paper_id": paper_ids, **cols})
    empty = sig[:, 0] == np.iinfo(np.uint32).max if n else np.zeros(0, dtype=bool)
    frame = frame.filter(pl.Series(~empty))
    parts = [
        frame.select(
            "paper_id",
            pl.lit(b, dtype=pl.UInt8).alias("band"),
            pl.struct([f"h{b * params.rows + r}" for r in range(params.rows)])
            .hash(SEED)
            .alias("key"),
        )
        for b in range(params.bands)
    ]
    return pl.concat(parts).sort("paper_id", "band")


def candidate_pairs(new_keys: pl.DataFrame, index_keys: pl.DataFrame) -> pl.DataFrame:
    """New/changed papers' band keys joined to the index's -> pairs (paper_id_a < paper_id_b).

    `index_keys` holds every paper's keys (the new ones included or not: both give the same pairs).
    """
    joined = new_keys.join(index_keys, on=["band", "key"], suffix="_o").filter(
        pl.col("paper_id") != pl.col("paper_id_o")
    )
    return (
        joined.select(
            pl.min_horizontal("paper_id", "paper_id_o").alias("paper_id_a"),
            pl.max_horizontal("paper_id", "paper_id_o").alias("paper_id_b"),
        )
        .unique()
        .sort("paper_id_a", "paper_id_b")
    )


def estimate_jaccard(pairs: pl.DataFrame, ids: pl.Series, sig: np.ndarray) -> pl.DataFrame:
    """Adds `jaccard` (Float32): share of equal minhashes of the two papers' signatures."""
    pos = pl.DataFrame({"paper_id": ids, "_i": np.arange(len(ids), dtype=np.int64)})
    ia = pairs.join(pos, left_on="paper_id_a", right_on="paper_id", how="left")["_i"].to_numpy()
    ib = pairs.join(pos, left_on="paper_id_b", right_on="paper_id", how="left")["_i"].to_numpy()
    est = (sig[ia] == sig[ib]).mean(axis=1) if len(pairs) else np.zeros(0)
    return pairs.with_columns(pl.Series("jaccard", est, dtype=pl.Float32))


def classify(pairs: pl.DataFrame, papers: pl.DataFrame) -> pl.DataFrame:
    """Pairs (paper_id_a, paper_id_b, jaccard) + papers (paper_id, title, abstract, authors).

    Output: paper_id_a, paper_id_b, jaccard, kind, evidence.

    Rules, read from the real data:
    - boilerplate: same abstract, different titles and no shared author (a template abstract);
    - same_work: same or near-same title and a shared author (one work under two ids);
    - reposted: a shared author but the title changed (a new version posted under a new id);
    - otherwise similar_text.
    """
    side = papers.select(
        "paper_id",
        pl.col("title").str.to_lowercase().str.replace_all(r"[^\w]+", "").alias("t"),
        pl.col("abstract").str.to_lowercase().str.replace_all(r"[^\w]+", "").alias("ab"),
        pl.col("authors").list.eval(pl.element().str.to_lowercase()).alias("au"),
    )
    j = pairs.join(side, left_on="paper_id_a", right_on="paper_id", how="left").join(
        side, left_on="paper_id_b", right_on="paper_id", how="left", suffix="_b"
    )
    same_title = pl.col("t") == pl.col("t_b")
    same_abs = pl.col("ab") == pl.col("ab_b")
    shared = pl.col("au").list.set_intersection(pl.col("au_b")).list.len().fill_null(0)
    kind = (
        pl.when(same_abs & ~same_title & (shared == 0))
        .then(pl.lit("boilerplate"))
        .when(same_title & (shared > 0))
        .then(pl.lit("same_work"))
        .when(shared > 0)
        .then(pl.lit("reposted"))
        .otherwise(pl.lit("similar_text"))
    )
    evidence = pl.format(
        "jaccard={}; title {}; abstract {}; shared authors {}",
        pl.col("jaccard").round(3),
        pl.when(same_title).then(pl.lit("same")).otherwise(pl.lit("differs")),
        pl.when(same_abs).then(pl.lit("same")).otherwise(pl.lit("differs")),
        shared,
    )
    return j.select(
        "paper_id_a", "paper_id_b", "jaccard", kind.alias("kind"), evidence.alias("evidence")
    )


def find_duplicates(
    new: pl.DataFrame,
    index_keys: pl.DataFrame,
    papers: pl.DataFrame,
    sig_of: np.ndarray,
    params: NeardupParams,
) -> pl.DataFrame:
    """The duplicates of `new` papers against the index (`candidate_pairs`), jaccard >= min_jaccard.

    `papers` and `sig_of` are row-aligned: every paper that can appear in a pair, and its signature.
    """
    new_keys = index_keys.join(new.select("paper_id"), on="paper_id", how="semi")
    pairs = estimate_jaccard(candidate_pairs(new_keys, index_keys), papers["paper_id"], sig_of)
    pairs = pairs.filter(pl.col("jaccard") >= params.min_jaccard)
    return classify(pairs, papers).sort("paper_id_a", "paper_id_b")
