"""What a daily related-papers update costs at scale (issue 17's target: <= 10 minutes at 1M).

The similarity step's daily search (papers/pipeline/similarity.py: related.update_top_k) on
synthetic int8 vectors: N papers, of which `new` are new or changed; each old paper has a full
list of k neighbours whose k-th score is its floor. Prints wall and CPU seconds and the peak
RSS of the search and of the merge with the previous lists. The embedding of the new papers is
measured by bench/related.py (papers/s on real abstracts); add both for the daily cost.

    .venv/bin/python bench/similarity.py --papers 1000000 --new 10000
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import numpy as np
import polars as pl

from papers.stages import embed, related


def _clock() -> tuple[float, float]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return time.perf_counter(), usage.ru_utime + usage.ru_stime


def _since(start: tuple[float, float]) -> dict[str, float]:
    wall, cpu = _clock()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"wall_s": round(wall - start[0], 1), "cpu_s": round(cpu - start[1], 1),
            "peak_rss_mib": round(peak)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=1_000_000)
    parser.add_argument("--new", type=int, default=10_000)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--block-mib", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    opts = parser.parse_args()
    rng = np.random.default_rng(opts.seed)
    n, k = opts.papers, opts.k
    # unit vectors quantised like embed.pack: int8 values, the search's float32 rows
    values = rng.integers(-127, 128, size=(n, embed.DIMENSIONS), dtype=np.int8)
    frame = pl.DataFrame(
        {"vector": pl.Series([row.tobytes() for row in values], dtype=pl.Binary)}
    )  # one-off setup; the pipeline reads these bytes from the vectors memo
    del values
    start = _clock()
    matrix, scale = embed.search_matrix(frame)
    del frame
    unpack = _since(start)
    ids = pl.Series("paper_id", [f"p{i:08d}" for i in range(n)])
    new = np.sort(rng.choice(n, size=opts.new, replace=False)).astype(np.int64)
    old = np.setdiff1d(np.arange(n), new)
    # each old paper's previous list: k neighbours among the old papers, scores descending, the
    # k-th at the level a real k-th best of N random unit vectors reaches (~4.5 sd of 1/sqrt(d))
    kth = float(4.5 / np.sqrt(embed.DIMENSIONS))
    previous = (
        pl.DataFrame(
            {
                "paper_id": ids.gather(np.repeat(old, k)),
                "method": "embeddings",
                "rank": np.tile(np.arange(1, k + 1, dtype=np.uint8), len(old)),
                "related_id": ids.gather(rng.choice(old, size=len(old) * k)),
                "score": np.tile(np.linspace(kth + 0.2, kth, k, dtype=np.float32), len(old)),
            }
        )
        .select(related.RELATED_SCHEMA.names())
        .cast(related.RELATED_SCHEMA)
    )
    start = _clock()
    rows = related.update_top_k(
        matrix, ids, k, "embeddings", new, previous, opts.block_mib, scale=scale
    )
    update = _since(start)
    print(json.dumps({
        "papers": n, "new": opts.new, "k": k, "block_mib": opts.block_mib,
        "search_matrix": unpack, "update_top_k": update, "rows": rows.height,
        "note": "update_top_k: one new x all product with the old papers' floors, then the "
                "merge with the previous lists (related.merge_top_k)",
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
