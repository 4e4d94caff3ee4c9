"""The id-blind matching figure: records that carry ids, one source's copy stripped of them, joined
back to their papers by the identity resolution, and counted against the ids they had.

A stripped record is *joinable* when its arXiv id is still carried by a record of another source
(else the right answer is no link). A *link* is a join to an arXiv paper (`matched_by` doi, title
or content). Precision: right links / links; recall: right links / joinable records. The same count
with the content match off (`normalize.content_match: null`) is the exact-title baseline.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import polars as pl

from papers.config import NormalizeParams, Params
from papers.stages.normalize import resolve_identity, title_key, with_own_paper_id

LINKS = ("doi", "title", "content")


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def strip_ids(
    records: pl.DataFrame, source: str, params: NormalizeParams, subtitles: bool = False
) -> pl.DataFrame:
    """NormalizedRecords with `source`'s records stripped of their ids (arXiv id, DOI) and given
    their own id again as normalize would without them; `_truth` keeps the arXiv id they had.

    subtitles: the stripped titles also lose their subtitle (`Name: what it does` -> `Name`,
    the short form listings and v2 titles use), so that the title keys differ: a stress
    variant, since in the real sources the titles of one paper almost always agree."""
    stripped = pl.col("source") == source
    frame = records.with_columns(
        pl.when(stripped).then(pl.col("arxiv_id")).alias("_truth"),
        *[
            pl.when(stripped).then(None).otherwise(pl.col(c)).alias(c)
            for c in ("arxiv_id", "arxiv_id_raw", "doi")
        ],
    )
    if subtitles:
        short = pl.col("title").str.extract(r"^([^:]+\S):\s", 1)
        frame = frame.with_columns(
            pl.when(stripped & short.is_not_null())
            .then(title_key(short))
            .otherwise(pl.col("title_key"))
            .alias("title_key")
        )
    return with_own_paper_id(frame, params)


def score(resolved: pl.DataFrame) -> dict[str, Any]:
    """Precision and recall of the stripped records' links (resolved: strip_ids's rows after
    resolve_identity: paper_id, matched_by, _truth)."""
    carried = resolved.filter(pl.col("arxiv_id").is_not_null())["arxiv_id"].unique().implode()
    stripped = resolved.filter(pl.col("_truth").is_not_null()).with_columns(
        pl.col("_truth").is_in(carried).alias("_joinable"),
        pl.col("matched_by").is_in(list(LINKS)).alias("_linked"),
        (pl.col("paper_id") == pl.col("_truth")).alias("_right"),
    )
    linked = stripped.filter("_linked")
    right = linked.filter("_right").height
    return {
        "stripped": stripped.height,
        "joinable": int(stripped["_joinable"].sum()),
        "linked": linked.height,
        "right": right,
        "wrong": linked.height - right,
        "precision": _ratio(right, linked.height),
        "recall": _ratio(right, int(stripped["_joinable"].sum())),
        "by": {
            how: {
                "linked": linked.filter(pl.col("matched_by") == how).height,
                "right": linked.filter((pl.col("matched_by") == how) & pl.col("_right")).height,
            }
            for how in LINKS
        },
    }


def id_blind(
    records: pl.DataFrame,
    source: str,
    params: NormalizeParams,
    thresholds: tuple[float, ...] = (),
    subtitles: bool = False,
) -> dict[str, Any]:
    """The id-blind figure for `source` stripped (strip_ids): with the content match as params
    set it, the exact-title baseline (content match off), and the content match at each of
    `thresholds`."""
    stripped = strip_ids(records, source, params, subtitles)

    def run(p: NormalizeParams) -> dict[str, Any]:
        return score(resolve_identity(stripped, p))

    return {
        "source": source,
        "subtitles_dropped": subtitles,
        "content_match": params.content_match,
        "content": run(params),
        "baseline": run(params.model_copy(update={"content_match": None})),
        "curve": {
            f"{t:.2f}": run(params.model_copy(update={"content_match": t})) for t in thresholds
        },
    }


def normalized_records(raw_dir: Path, params: Params) -> pl.DataFrame:
    """The normalized records of a raw folder (parse and normalize as the build runs them)."""
    from papers import io
    from papers.pipeline.normalize import normalize_shard_step, record_shards
    from papers.pipeline.parallel import parallel_map
    from papers.pipeline.parse import parse_step

    files = [f.relative_to(raw_dir).as_posix() for f in io.list_inputs(raw_dir)]
    hashes = io.sha256_files({f: raw_dir / f for f in files}, None)
    with tempfile.TemporaryDirectory() as work:
        parsed = parallel_map(
            parse_step, [(str(raw_dir), f, params, work, None, hashes[f]) for f in files]
        )
        normalized = parallel_map(
            normalize_shard_step, [(s, params, work, None) for s in record_shards(parsed)]
        )
        frames = [pl.read_parquet(n["normalized"]) for n in normalized]
    if not frames:
        return pl.DataFrame()
    return pl.concat(frames).sort("source_file", "record_index")


CURVE = (0.3, 0.5, 0.7, 0.9)


def evaluate_id_blind(raw_dir: Path, params: Params, source: str) -> dict[str, Any]:
    """`papers evaluate --id-blind`: the figure on a raw folder's records, `source` stripped, as
    the sources are and with the stripped titles' subtitles dropped (with a threshold curve)."""
    records = normalized_records(raw_dir, params)
    if not records.height or source not in set(records["source"].to_list()):
        from papers.errors import PapersError

        raise PapersError(f"no {source} records in {raw_dir} to strip of their ids")
    return {
        "raw": str(raw_dir),
        "records": records.height,
        "as_listed": id_blind(records, source, params.normalize),
        "subtitles_dropped": id_blind(records, source, params.normalize, CURVE, subtitles=True),
    }
