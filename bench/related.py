"""Related papers on a real build: throughput, quality and search figures that choose the design.

    .venv/bin/python -m bench.related BUILD_DIR [--n 2000] [--search-rows 20000]

BUILD_DIR is a `papers run` output (papers/**/*.parquet). Prints: TF-IDF time; embedding
throughput at max_length 128 and 256 on n papers that carry an arXiv category (records/s wall,
CPU s, load average, peak RSS); how many top-10 neighbours change between 128 and 256; the share
of top-5 neighbours with the same primary category against chance (sum of squared category
shares) for TF-IDF and embeddings on the same papers; int8 packing's effect on the neighbours;
blocked exact search against usearch on search-rows vectors (real vectors plus noise to reach
the count), with recall and memory; and the near-identical pairs the identity merge left apart.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path

import numpy as np
import polars as pl

from papers.stages import embed, related


def _same_category_share(table: pl.DataFrame, primary: pl.DataFrame, k: int = 5) -> float:
    """Share of top-k neighbours whose primary category equals the paper's."""
    pairs = (
        table.filter(pl.col("rank") <= k)
        .join(primary, on="paper_id")
        .join(primary.rename({"paper_id": "related_id", "primary": "other"}), on="related_id")
    )
    return float((pairs["primary"] == pairs["other"]).mean() or 0.0)


def _overlap(a: pl.DataFrame, b: pl.DataFrame) -> float:
    """Share of (paper, neighbour) pairs of a that b also lists."""
    joined = a.join(b, on=["paper_id", "related_id"], how="semi")
    return joined.height / max(a.height, 1)


def _stamp() -> str:
    load = os.getloadavg()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return f"load {load[0]:.2f}/{load[1]:.2f}, peak RSS {rss:,.0f} MiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("build", type=Path)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--search-rows", type=int, default=20000)
    parser.add_argument("--lengths", default="128,256")
    args = parser.parse_args()

    papers = pl.read_parquet(args.build / "papers" / "**" / "*.parquet").sort("paper_id")
    params = related.RelatedParams()
    print(f"build: {papers.height:,} papers; {os.cpu_count()} CPUs; {_stamp()}")

    started, cpu = time.perf_counter(), time.process_time()
    everything = related.related_tfidf(papers, params)
    print(
        f"tfidf all {papers.height:,}: {time.perf_counter() - started:.1f} s wall, "
        f"{time.process_time() - cpu:.1f} s CPU, {everything.height:,} rows; {_stamp()}"
    )

    categorised = papers.filter(
        (pl.col("categories").list.len() > 0) & (pl.col("abstract").str.len_chars() > 0)
    )
    sample = categorised.sample(min(args.n, categorised.height), seed=17).sort("paper_id")
    primary = sample.select("paper_id", primary=pl.col("categories").list.first())
    shares = primary["primary"].value_counts(normalize=False)["count"].to_numpy() / sample.height
    chance = float((shares**2).sum())
    texts = sample.select(related.related_text())["text"]
    ids = sample["paper_id"]
    print(f"quality sample: {sample.height:,} papers with a category; chance {chance:.3f}")

    tfidf = related.top_k(related.tfidf_matrix(texts, params), ids, 10, "tfidf")
    print(
        f"  tfidf      same primary category in top-5: {_same_category_share(tfidf, primary):.3f}"
    )

    tables: dict[int, pl.DataFrame] = {}
    vectors: dict[int, np.ndarray] = {}
    for length in (int(x) for x in args.lengths.split(",")):
        embedder = embed.load_embedder(length)
        started, cpu = time.perf_counter(), time.process_time()
        vectors[length] = embed.embed_texts(embedder, texts.to_list())
        wall = time.perf_counter() - started
        print(
            f"  embeddings max_length {length}: {sample.height / wall:.1f} records/s wall "
            f"({wall:.1f} s), {time.process_time() - cpu:.1f} s CPU; {_stamp()}"
        )
        tables[length] = related.top_k(vectors[length], ids, 10, "embeddings")
        print(
            f"  embeddings {length} same primary category in top-5: "
            f"{_same_category_share(tables[length], primary):.3f}"
        )
        packed, scales = embed.pack(vectors[length])
        frame = pl.DataFrame({"vector": pl.Series(packed, dtype=pl.Binary), "scale": scales})
        from_int8 = related.top_k(embed.unpack(frame), ids, 10, "embeddings")
        print(f"  int8 packing keeps {_overlap(tables[length], from_int8):.3f} of top-10 pairs")
    lengths = sorted(tables)
    if len(lengths) == 2:
        a, b = lengths
        print(
            f"  top-10 pairs shared by {a} and {b}: {_overlap(tables[a], tables[b]):.3f}; "
            f"tfidf vs embeddings {b}: {_overlap(tfidf, tables[b]):.3f}"
        )

    # Search at scale: exact blocked matmul against usearch (HNSW, cosine, f32 / i8).
    base = vectors[lengths[0]]
    rng = np.random.default_rng(17)
    reps = -(-args.search_rows // base.shape[0])
    grown = np.vstack([base + rng.normal(0, 0.03, base.shape) for _ in range(reps)])[
        : args.search_rows
    ].astype(np.float32)
    grown /= np.linalg.norm(grown, axis=1, keepdims=True)
    grown_ids = pl.Series([f"{i:08d}" for i in range(grown.shape[0])])
    started, cpu = time.perf_counter(), time.process_time()
    exact = related.top_k(grown, grown_ids, 10, "embeddings")
    exact_s = time.perf_counter() - started
    print(
        f"search {grown.shape[0]:,} x 384: exact blocked {exact_s:.1f} s wall, "
        f"{time.process_time() - cpu:.1f} s CPU; {_stamp()}"
    )
    try:
        from usearch.index import Index
    except ImportError:
        print("usearch not installed: skipped")
        return
    for dtype in ("f32", "i8"):
        index = Index(ndim=384, metric="cos", dtype=dtype)
        started = time.perf_counter()
        index.add(np.arange(grown.shape[0]), grown, threads=2)
        built = time.perf_counter() - started
        found = index.search(grown, 11, threads=2)
        searched = time.perf_counter() - started - built
        keys = np.asarray(found.keys)
        approx = pl.DataFrame(
            {
                "paper_id": np.repeat(np.arange(grown.shape[0]), keys.shape[1]),
                "related_id": keys.ravel(),
            }
        ).filter(pl.col("paper_id") != pl.col("related_id"))
        truth = exact.select(pl.col("paper_id").cast(pl.Int64), pl.col("related_id").cast(pl.Int64))
        recall = truth.join(approx, on=["paper_id", "related_id"], how="semi").height / truth.height
        print(
            f"  usearch {dtype}: build {built:.1f} s, search {searched:.1f} s, "
            f"recall@10 vs exact {recall:.4f}, index {index.memory_usage / 2**20:.0f} MiB"
        )

    # Same work under two ids: near-identical text the identity merge left apart.
    near = everything.filter((pl.col("rank") == 1) & (pl.col("score") >= 0.9))
    near = near.filter(pl.col("paper_id") < pl.col("related_id"))
    print(f"pairs with TF-IDF cosine >= 0.9 under two paper ids: {near.height}")
    print(near.head(10))


if __name__ == "__main__":
    main()
