"""Near-duplicate bench: rensa vs datasketch MinHash on a build's papers, then the stage on it.

    .venv/bin/python -m bench.neardup BUILD_DIR

Prints signature throughput (records/s) of both libraries, their agreement with exact Jaccard on the
candidate pairs, determinism across two runs, and the stage's band-key index size and join time.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

from papers.stages import neardup as nd


def main(build: Path) -> None:
    papers = pl.read_parquet(build / "papers" / "**" / "*.parquet").sort("paper_id")
    params = nd.NeardupParams()
    texts = papers.select(nd.shingle_text(pl.col("title"), pl.col("abstract")).alias("t"))["t"]
    n = len(texts)
    sets = [nd._shingles(t, params.shingle) for t in texts.to_list()]

    t0 = time.process_time()
    sig = nd.signatures(texts, params)
    t_r = time.process_time() - t0
    sig2 = nd.signatures(texts, params)
    print(
        f"records {n}; rensa {t_r:.2f} CPU s = {n / t_r:,.0f} rec/s; "
        f"rerun identical: {np.array_equal(sig, sig2)}"
    )

    from datasketch import MinHash  # bench-only: `pip install datasketch==2.0.0` to compare

    t0 = time.process_time()
    ds = np.empty((n, params.num_perm), dtype=np.uint64)
    for i, s in enumerate(sets):
        m = MinHash(num_perm=params.num_perm, seed=nd.SEED)
        m.update_batch([w.encode() for w in s])
        ds[i] = m.hashvalues
    t_d = time.process_time() - t0
    print(f"datasketch signatures {t_d:.2f} CPU s = {n / t_d:,.0f} rec/s")

    t0 = time.process_time()
    keys = nd.band_keys(sig, params)
    pairs = nd.candidate_pairs(np.arange(n), sig, params)
    t_j = time.process_time() - t0
    pairs = nd.estimate_jaccard(pairs, sig)
    print(
        f"band keys {keys.height} rows, {keys.estimated_size() / n:.0f} B/paper; "
        f"keys+join {t_j:.2f} CPU s; candidates {pairs.height}"
    )

    set_of = [set(s) for s in sets]
    err_r, err_d = [], []
    for i, k, est in pairs.iter_rows():
        exact = len(set_of[i] & set_of[k]) / max(1, len(set_of[i] | set_of[k]))
        err_r.append(est - exact)
        err_d.append(float((ds[i] == ds[k]).mean()) - exact)
    if err_r:
        for name, e in (("rensa", np.array(err_r)), ("datasketch", np.array(err_d))):
            print(
                f"{name}: |est-exact| mean {np.abs(e).mean():.4f}, "
                f"p95 {np.quantile(np.abs(e), 0.95):.4f}, max {np.abs(e).max():.4f}"
            )

    dup = nd.find_duplicates(papers, papers, sig, params)
    print(dup.group_by("kind").len().sort("kind"))
    with pl.Config(fmt_str_lengths=80, tbl_rows=40):
        print(dup.head(40))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
