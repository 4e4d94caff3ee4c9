"""The pipeline core: path-in, path-out steps around the pure stages, what each Prefect task runs.

Each step reads its inputs from Parquet files in the run's work folder (or the cache), calls pure
stage functions, and writes its outputs back as files, returning only paths and small counts
(Prefect hashes and persists task results: file paths and hashes travel well, DataFrames do
not). Steps get the loaded params (papers.config.Params) and vocabulary; none reads params.yaml.

What the flow runs (flows/build.py), one module per step. Memory is bounded by a batch, not by
the input:

  parse      per file, streamed in batches of params.parse.batch_rows  -> record shards (cached)
  normalize  per shard: text, keys, own paper id                       -> normalized shards
  identity   global, narrow: records without an arXiv id against the arXiv records sharing
             their DOI or title key (only those keys are read)         -> id mapping
  shuffle    per shard: final paper id, range partition of the id      -> shard x partition
  partition  per partition: merge, links, tags, keyphrase candidates, validation
  publish    global, streamed: keyphrases from the summed document counts; each table written
             part by part in paper_id order (provenance shard by shard); manifest; publish

Every per-shard and per-partition result is cached under a key of what it is made of (content
keys chained from the raw files' sha256, the params its stage reads, the vocabulary and the
code; cache.py), so a rerun recomputes only the shards and partitions that new input touches.
local.py runs the same steps in one process without Prefect; version.py hashes the code and
names the dataset version; figures.py measures what metrics.json reports.
"""
