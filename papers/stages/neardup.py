"""Near-duplicates: MinHash of title + abstract word shingles, LSH banding in polars, pair kinds.

Pure functions over polars frames; the lead wires them into partition/publish.  rensa computes the
signatures in one call per batch of distinct texts (no Python object per record); banding, the
candidate self-join and the pair classification are polars expressions.
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


def _shingles(text: str, k: int) -> list[str]:
    words = text.split()
    if len(words) < k:
        return [" ".join(words)] if words else []
    return [" ".join(words[i : i + k]) for i in range(len(words) - k + 1)]


# Texts shingled and signed per batch: their shingle lists (a Python string per shingle,
# ~1 GB for 100k abstracts at once) are held one batch at a time.
SIGN_BATCH = 4096


def signatures(texts: pl.Series, params: NeardupParams) -> np.ndarray:
    """Distinct texts -> uint32 signatures (len(texts) x num_perm), one rensa call per batch.

    Shingling is Python list work per distinct text (once per text, never per pair), done per
    batch of SIGN_BATCH texts so memory holds one batch's shingles; a signature depends on its
    text alone, so batches change no byte. An empty text gets an all-max signature that matches
    nothing (see `band_keys`).
    """
    out = np.empty((len(texts), params.num_perm), dtype=np.uint32)
    values = texts.to_list()
    for start in range(0, len(values), SIGN_BATCH):
        sets = [_shingles(t, params.shingle) for t in values[start : start + SIGN_BATCH]]
        matrix = rensa.RMinHash.digest_matrix_from_token_sets(
            sets, num_perm=params.num_perm, seed=SEED
        )
        rows = np.asarray(matrix.to_rows(), dtype=np.uint32).reshape(len(sets), params.num_perm)
        empty = np.fromiter((not s for s in sets), dtype=bool, count=len(sets))
        rows[empty] = np.iinfo(np.uint32).max
        out[start : start + len(sets)] = rows
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
