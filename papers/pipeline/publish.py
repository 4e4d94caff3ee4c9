"""The publish step: the partitions' tables streamed into the published Parquet files, with the
manifest, metrics, plots and dataset card, written to a staging folder and then published
atomically (after the quality gates, when asked). Also `unchanged`: whether out_dir already
holds a dataset version intact, so an incremental run has nothing to do.

With `write.layout: partitioned` every table is a directory of content-named node files
(docs/design/partitioned-versions.md §2), and a node whose input key equals the previous
version's is not read nor written again: its file is hard-linked into staging (same inode) and
kept by the commit (io.publish, §4)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import polars as pl

from papers import __version__, card, changes, history, io
from papers.config import KeyphraseIdf, Params
from papers.dataset import VERSION_KEYS, FileEntry, manifest_tables, split_by_node, write_table
from papers.errors import PapersError
from papers.evaluate import similarity_figures
from papers.fill_rates import fill_rates
from papers.gates import enforce as enforce_gates
from papers.layout import ROOT, leaf_of, plan_files, source_leaf, source_node_name
from papers.pipeline.figures import (
    Summed,
    card_figures,
    quality_figures,
    sum_figures,
    summed_fill_rates,
    summed_quality_figures,
    summed_table_figures,
    table_figures,
)
from papers.pipeline.parallel import parallel_map
from papers.pipeline.partition import leaf_stats
from papers.pipeline.version import code_sha256, dataset_version
from papers.stages.keyphrases import keyphrase_top
from schemas import (
    PUBLISHED,
    SCHEMA_VERSION,
    Duplicates,
    Provenance,
    Rejected,
    Related,
    empty_frame,
)

# the tables planned from the partitions' per-leaf counts (keyed by paper id); provenance and
# rejected are keyed by raw file (layout.source_leaf) and split from their rows
BY_PAPER = ("papers", "links", "tags")
DEFAULT_MAX_ROWS = 1_000_000
MANIFEST_FORMAT = 2
STAGE_REJECT_ORDER = ("read", "parse", "normalize", "links", "tags", "validate")


def publish_step(
    parsed: list[dict[str, Any]],
    normalized: list[dict[str, Any]],
    shuffled: list[dict[str, Any]],
    partitions: list[dict[str, Any]],
    params: Params,
    vocabulary: dict[str, Any],
    out_dir: str,
    run_id: str,
    gates: bool = True,
    idf: KeyphraseIdf | None = None,
    similar: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Stream the partitions' tables into the published files; manifest, metrics; publish.

    `similar`: the similarity step's output (duplicates and related rows); None publishes both
    tables empty.

    With the pinned keyphrase IDF the partitions' papers come ranked (partition_step). Without
    it keyphrases are picked here, partition by partition, from document counts summed over all
    partitions (counts of 1 are left out of the sum table: a phrase not in it occurs once).
    """
    ranked = idf is not None
    if any(bool(p.get("ranked")) != ranked for p in partitions):
        raise PapersError("partitions were ranked with another keyphrase IDF than the build's")
    n_docs = sum(int(p["papers_in"]) for p in partitions)
    # summed by polars' streaming engine, file by file: the partitions' counts are never all in
    # memory at once (200 partitions at 5M records)
    df = (
        pl.scan_parquet([p["df"] for p in partitions])
        .group_by("phrase")
        .agg(pl.col("df").sum())
        .filter(pl.col("df") > 1)
        .collect(engine="streaming")
        if partitions and not ranked
        else pl.DataFrame(schema={"phrase": pl.String, "df": pl.UInt32})
    )
    rejected = pl.concat(
        [pl.read_parquet(path) for p in parsed for path in p["rejects"]]
        + [pl.read_parquet(n["rejects"]) for n in normalized]
        + [pl.read_parquet(p["rejected"]) for p in partitions]
    )
    bad = rejected.filter(pl.col("stage") == "validate").select("source_file", "record_index")
    if bad.height:
        # only the parsed files holding a rejected record are read, by the streaming engine
        # (the in-memory one read the raw text of every record: 1-2 GB at 1M)
        holding = set(bad.get_column("source_file").to_list())
        paths = [path for p in parsed if p["file"] in holding for path in p["raw"]]
        raw = (
            pl.scan_parquet(paths or [path for p in parsed for path in p["raw"]])
            .join(bad.lazy(), on=["source_file", "record_index"], how="semi")
            .collect(engine="streaming")
        )
        rejected = (
            rejected.join(raw, on=["source_file", "record_index"], how="left", suffix="_parse")
            .with_columns(
                pl.when(pl.col("stage") == "validate")
                .then(pl.col("raw_parse"))
                .otherwise(pl.col("raw"))
                .alias("raw")
            )
            .drop("raw_parse")
        )
    Rejected.validate(rejected)

    def papers_part(part: dict[str, Any]) -> pl.DataFrame:
        if ranked:
            return pl.read_parquet(part["papers"])
        top = keyphrase_top(pl.read_parquet(part["candidates"]), df, n_docs, params.tags)
        return (
            pl.read_parquet(part["papers"])
            .drop("keyphrases")
            .join(top, on="paper_id", how="left")
            .with_columns(pl.col("keyphrases").fill_null(pl.lit([], pl.List(pl.String))))
        )

    def papers() -> Iterator[pl.DataFrame]:
        # the next part's keyphrases are ranked while this one is written
        with ThreadPoolExecutor(max_workers=1) as pool:
            ahead = [pool.submit(papers_part, part) for part in partitions[:1]]
            for number in range(len(partitions)):
                if number + 1 < len(partitions):
                    ahead.append(pool.submit(papers_part, partitions[number + 1]))
                yield ahead.pop(0).result()

    def table(name: str) -> Iterator[pl.DataFrame]:
        for part in partitions:
            yield pl.read_parquet(part[name])

    def provenance() -> Iterator[pl.DataFrame]:
        for shard in shuffled:
            if shard["parts"]:
                frame = pl.read_parquet(shard["provenance"]).join(
                    bad, on=["source_file", "record_index"], how="anti"
                )
                Provenance.validate(frame)
                yield frame

    tables: dict[str, pl.DataFrame | Iterable[pl.DataFrame]] = {
        "papers": papers(),
        "links": table("links"),
        "tags": table("tags"),
        "provenance": provenance(),
        "rejected": rejected,
        **{
            name: pl.read_parquet(similar[name]) if similar is not None else empty_frame(model)
            for name, model in (("duplicates", Duplicates), ("related", Related))
        },
    }
    planned: dict[str, list[Node]] = {}
    if params.write.layout == "partitioned":
        base = _base_key(params, vocabulary, idf)

        def read(name: str) -> Callable[[dict[str, Any]], pl.DataFrame]:
            return papers_part if name == "papers" else lambda part: pl.read_parquet(part[name])

        for name in BY_PAPER:
            # without the pinned IDF a paper's keyphrases depend on every partition: no key
            keyed = ranked or name != "papers"
            max_rows = params.write.partition_max_rows.get(name, DEFAULT_MAX_ROWS)
            planned[name] = paper_nodes(name, partitions, max_rows, base if keyed else None,
                                        read(name))  # fmt: skip
        planned["provenance"] = provenance_nodes(
            shuffled, bad, params.write.partition_max_rows.get("provenance", DEFAULT_MAX_ROWS), base
        )
    dropped = [d for p in partitions for d in p["dropped"]]
    # read only without partitions (no summed figures), when no part was consumed by one
    records = [path for shard in shuffled for path in shard["parts"].values()]
    return publish_tables(
        tables,
        parsed,
        dropped,
        params,
        vocabulary,
        out_dir,
        run_id,
        gates,
        records=records,
        idf=idf,
        planned=planned,
        # each partition's sums, kept in its cache meta: the figures read no table
        summed=sum_figures(partitions) if partitions else None,
    )


@dataclass(frozen=True)
class Node:
    """One file of a partitioned table to publish: its node, its input key (None: always
    written) and how to read its rows (called only when the file is not kept)."""

    node: str
    key: str | None
    load: Callable[[], pl.DataFrame | list[pl.DataFrame]]


def _base_key(params: Params, vocabulary: dict[str, Any], idf: KeyphraseIdf | None) -> str:
    """What every node file's bytes depend on besides its rows' inputs: the write params, the
    code, the schema and vocabulary versions, the pinned IDF and the polars version."""
    blob = json.dumps(
        [params.write.model_dump(mode="json"), params.write.dataset_name, code_sha256(),
         SCHEMA_VERSION, str(vocabulary["version"]), idf.sha256 if idf is not None else None,
         pl.__version__],
        sort_keys=True,
    )  # fmt: skip
    return hashlib.sha256(blob.encode()).hexdigest()


def _node_key(*parts: Any) -> str:
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def _leaf_stats(part: dict[str, Any], name: str) -> dict[str, list[int]]:
    """A partition's [rows, row hash…] per leaf of table `name`: from its meta, or (a partition
    cached by code before they were kept) from its rows."""
    known = part.get("leaves", {}).get(name)
    if isinstance(known, dict):
        return {str(k): [int(x) for x in v] for k, v in known.items()}
    return leaf_stats(pl.read_parquet(part[name]))


# partitions a table's node loads keep in memory (paper_nodes): one node plus these
_READS_KEPT = 2


def paper_nodes(
    name: str,
    partitions: Sequence[dict[str, Any]],
    max_rows: int,
    base_key: str | None,
    read: Callable[[dict[str, Any]], pl.DataFrame],
) -> list[Node]:
    """The node files of papers, links or tags, planned from the partitions' per-leaf counts
    without reading a row (layout.plan_files). A node's key hashes its leaves with their row
    counts and row hashes summed over the partitions (partition.leaf_stats): the same key, the
    same rows, whatever the partitions were. Its rows are read from just the partitions holding
    its leaves, filtered to them (memory: one node plus two partitions)."""
    stats = [_leaf_stats(part, name) for part in partitions]
    # nodes are loaded in name order, which follows the partitions' id ranges: consecutive
    # nodes mostly read the same partition, kept here instead of read again for each
    by_path = {str(part[name]): part for part in partitions}

    # a partition read is split by node once (the leaf of every row computed once, not once
    # per node that reads the partition)
    node_of: dict[str, str] = {}

    @lru_cache(maxsize=_READS_KEPT)
    def read_path(path: str) -> tuple[dict[str, pl.DataFrame], pl.DataFrame]:
        frame = read(by_path[path])
        mapping = pl.DataFrame(
            {"_leaf": list(node_of), "_node": list(node_of.values())},
            schema={"_leaf": pl.String, "_node": pl.String},
        )
        split = (
            frame.with_columns(leaf_of(pl.col("paper_id")).alias("_leaf"))
            .join(mapping, on="_leaf", how="left", maintain_order="left")
            .drop("_leaf")
            .partition_by("_node", as_dict=True, include_key=False, maintain_order=True)
        )
        return {str(node): rows for (node,), rows in split.items()}, frame.clear()

    # nodes are written two at a time (publish_tables): the one that misses reads, the other
    # waits for it instead of reading the same partition again
    lock = threading.Lock()

    def cached(part: dict[str, Any], node: str) -> pl.DataFrame:
        with lock:
            split, empty = read_path(str(part[name]))
        return split.get(node, empty)

    total: dict[str, list[int]] = {}
    for stat in stats:
        for leaf, values in stat.items():
            held = total.setdefault(leaf, [0] * len(values))
            total[leaf] = [a + b for a, b in zip(held, values, strict=True)]
    members: dict[str, list[str]] = {}
    for leaf, node in plan_files({k: v[0] for k, v in total.items()}, max_rows).items():
        members.setdefault(node, []).append(leaf)
        node_of[leaf] = node
    if not members:
        return [Node(ROOT, _node_key(base_key, name, ROOT) if base_key else None, list)]
    nodes: list[Node] = []
    for node in sorted(members):
        leaves = sorted(members[node])
        wanted = set(leaves)
        parts = [p for p, stat in zip(partitions, stats, strict=True) if wanted & stat.keys()]
        key = None
        if base_key is not None:
            # sums wrap at 64 bits: the same multiset of rows gives the same numbers
            key = _node_key(base_key, name, node, [[leaf, *(v % 2**64 for v in total[leaf])]
                                                   for leaf in leaves])  # fmt: skip

        def load(parts: list[dict[str, Any]] = parts, node: str = node) -> pl.DataFrame:
            return pl.concat([cached(part, node) for part in parts])

        nodes.append(Node(node, key, load))
    return nodes


def provenance_nodes(
    shuffled: Sequence[dict[str, Any]], bad: pl.DataFrame, max_rows: int, base_key: str
) -> list[Node]:
    """The node files of provenance (keyed by raw file, layout.source_leaf), planned from the
    shuffled shards' (source_file, record_index) columns alone. A node's key hashes its leaves'
    row counts, the rows keys of the shards holding them (shuffle_step: a shard's records
    and their final paper ids, not the boundaries) and the validation rejects of its raw files (left
    out of provenance); its rows are read from just those shards (memory: one node)."""
    keys = ["source_file", "record_index"]
    counts: list[dict[str, int]] = []
    for shard in shuffled:
        if not shard["parts"]:
            counts.append({})
            continue
        rows = (
            pl.scan_parquet(shard["provenance"])
            .select(keys)
            .join(bad.lazy(), on=keys, how="anti")
            .group_by(source_leaf(pl.col("source_file"), pl.col("record_index"), max_rows))
            .len("rows")
            .collect()
        )
        counts.append(dict(zip(rows["leaf"].to_list(), rows["rows"].to_list(), strict=True)))
    total: Counter[str] = Counter()
    for count in counts:
        total.update(count)
    members: dict[str, list[str]] = {}
    for leaf, node in plan_files(total, max_rows, source_node_name).items():
        members.setdefault(node, []).append(leaf)
    if not members:
        return [Node(ROOT, _node_key(base_key, "provenance", ROOT), list)]
    nodes: list[Node] = []
    for node in sorted(members):
        leaves = sorted(members[node])
        wanted = set(leaves)
        shards = [s for s, count in zip(shuffled, counts, strict=True) if wanted & count.keys()]
        files = {leaf.rsplit("/", 1)[0] for leaf in leaves}
        rejects = bad.filter(pl.col("source_file").is_in(sorted(files))).sort(keys)
        key = _node_key(base_key, "provenance", node, [[leaf, total[leaf]] for leaf in leaves],
                        sorted(str(s.get("rows_key", s["key"])) for s in shards),
                        rejects.rows())  # fmt: skip

        def load(shards: list[dict[str, Any]] = shards, leaves: list[str] = leaves) -> pl.DataFrame:
            keep = pl.Series(leaves, dtype=pl.String).implode()
            leaf = source_leaf(pl.col("source_file"), pl.col("record_index"), max_rows)
            frame = (
                pl.scan_parquet([s["provenance"] for s in shards])
                .filter(leaf.is_in(keep))
                .join(bad.lazy(), on=keys, how="anti")
                .collect()
            )
            Provenance.validate(frame)
            return frame

        nodes.append(Node(node, key, load))
    return nodes


def _split_nodes(
    name: str, table: pl.DataFrame | Iterable[pl.DataFrame], max_rows: int, base_key: str
) -> list[Node]:
    """The node files of a table gathered whole (provenance and rejected, keyed by raw file):
    each node's key is a hash of its sorted rows, so an unchanged node is not re-encoded."""
    frame = table if isinstance(table, pl.DataFrame) else pl.concat(list(table), how="vertical")
    _, sort_by = PUBLISHED[name]
    nodes: list[Node] = []
    for node, rows in split_by_node(frame, max_rows, table=name).items():
        ordered = rows.sort(list(sort_by), nulls_last=True)
        digest = hashlib.sha256()
        # 128 bits per row, in order (polars' row hash is stable within a polars version, which
        # is in base_key): a changed, added or removed row changes the key
        for seed in (1, 2):
            digest.update(ordered.hash_rows(seed=seed).to_numpy().tobytes())
        key = _node_key(base_key, name, node, rows.height, digest.hexdigest())
        nodes.append(Node(node, key, _const(rows)))
    return nodes


def _const(rows: pl.DataFrame) -> Callable[[], pl.DataFrame]:
    return lambda: rows


def _write_node(
    name: str,
    node: Node,
    out: Path,
    staging: Path,
    previous: Mapping[str, dict[str, Any]],
    params: Params,
    metadata: Mapping[str, str],
) -> tuple[FileEntry, bool]:
    """A node's file in staging/<name>/ and whether it was kept. A node whose key is the
    previous version's entry's, with its file still in out, is kept: hard-linked into staging
    (no read, no write; the commit keeps the file in out as it is)."""
    model, sort_by = PUBLISHED[name]
    old = previous.get(node.node)
    present = out / str(old["path"]) if old is not None else None
    if node.key is not None and old is not None and old.get("key") == node.key and present \
            and present.is_file():  # fmt: skip
        target = staging / str(old["path"])
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(present, target)
        except OSError:
            shutil.copyfile(present, target)  # a file system without hard links: a copy
        entry = FileEntry(str(old["path"]), node.node, int(old["rows"]), int(old["bytes"]),
                          str(old["sha256"]), node.key)  # fmt: skip
        return entry, True
    # each node its own scratch folder: nodes are written side by side (publish_tables)
    scratch = staging / f".tmp-{name}-{node.node}"
    (entry,) = write_table({node.node: node.load()}, model, staging / name, params.write,
                           {**metadata, "papers.table": name}, sort_by, scratch)  # fmt: skip
    shutil.rmtree(scratch, ignore_errors=True)
    return replace(entry, key=node.key), False


def _change_feed(
    previous: Mapping[str, Any],
    version: str,
    number: int,
    out: Path,
    staging: Path,
    manifest: Mapping[str, Any],
    params: Params,
) -> dict[str, Any] | None:
    """The version's change feed (docs/design/partitioned-versions.md §5), staged as
    `changes/v<number>-<sha12>.parquet`; what the manifest records of it. Only the papers files
    the two versions do not share are read (papers/changes.py). A rebuild of the version
    already in out keeps that version's feed."""
    if previous.get("dataset", {}).get("version") == version:
        kept = previous.get("changes")
        return dict(kept) if isinstance(kept, Mapping) else None
    old_entries = manifest_tables(previous).get("papers", []) if previous else []
    new_entries = list(manifest["tables"]["papers"]["files"])
    if old_entries:
        found = changes.version_changes(out, old_entries, staging, new_entries, parallel_map)
    else:
        # the first version: every paper is added, with no fields; only the ids are read
        # (version_changes would hold every row of every column until its end: 4.9 GB at 1M)
        ids = pl.scan_parquet([staging / str(e["path"]) for e in new_entries])
        found = changes.frame_changes(None, ids.select("paper_id").collect(engine="streaming"))
    entry = changes.write_feed(
        changes.feed_frame(number, version, found), staging / "changes", number, params.write
    )
    return changes.manifest_changes(entry, found)


def unchanged(out_dir: Path, version: str, cache_dir: str | None = None) -> dict[str, Any] | None:
    """The published summary when out_dir already holds this dataset version intact, else None.

    Intact: every output the manifest lists is there with the sha256 it records (with a cache,
    hashes of files unchanged since they were last hashed come from io.sha256_files' state).
    """
    manifest_path = out_dir / io.MANIFEST
    if not manifest_path.exists():
        return None
    try:
        manifest: dict[str, Any] = io.read_json(manifest_path)
        if manifest["dataset"]["version"] != version:
            return None
        listed = [entry for files in manifest_tables(manifest).values() for entry in files]
        paths = {str(o["path"]): out_dir / str(o["path"]) for o in listed}
        if not listed or not all(path.is_file() for path in paths.values()):
            return None
        hashes = io.sha256_files(paths, cache_dir)
        if any(hashes[str(o["path"])] != o["sha256"] for o in listed):
            return None
    except (ValueError, KeyError, TypeError):
        return None
    return {"dataset_version": version, "counts": manifest["counts"], "out_dir": str(out_dir),
            "unchanged": True}  # fmt: skip


def publish_tables(
    tables: Mapping[str, pl.DataFrame | Iterable[pl.DataFrame]],
    parsed: list[dict[str, Any]],
    dropped: list[dict[str, Any]],
    params: Params,
    vocabulary: dict[str, Any],
    out_dir: str,
    run_id: str,
    gates: bool = True,
    records: Sequence[str] = (),
    idf: KeyphraseIdf | None = None,
    planned: Mapping[str, Sequence[Node]] | None = None,
    summed: Summed | None = None,
) -> dict[str, Any]:
    """Write the published tables, manifest and metrics to a staging folder, then publish.

    Each table is a whole frame or its sorted parts in published order (streamed: one part in
    memory at a time). With `write.layout: partitioned` each table is a directory of node
    files: `planned` gives the nodes of a table planned without reading it (paper_nodes), the
    others are split from their rows; a node whose key is unchanged keeps its file. With gates,
    the staged build is first compared with the dataset in out_dir (papers/gates.py) and
    nothing is published when it fails one. `records` are the normalised record files before
    the merge; metrics.json's per-source fill rates are measured on them
    (papers/fill_rates.py). `idf` is the pinned keyphrase IDF the papers were ranked with
    (None: ranked against this build), recorded in the version and the manifest. `summed`:
    the partitions' figures added up (pipeline.figures.sum_figures); with them metrics.json,
    the plots and the card read no table (the same bytes as from the tables), else the figures
    stream the staged tables' columns they need.

    The summary counts the table files kept as they were (`files.kept`) and written.
    The manifest (format 2) lists each table's files with node, rows, bytes, sha256 and key,
    and numbers the version: the previous manifest's number + 1 and its version as parent (the
    same number and parent when out_dir already holds this version).
    """
    vocabulary_version = str(vocabulary["version"])
    out = Path(out_dir)
    idf_sha256 = idf.sha256 if idf is not None else None
    version = dataset_version([p["sha256"] for p in parsed], params, vocabulary, idf_sha256)
    metadata = {
        "papers.dataset": params.write.dataset_name,
        "papers.dataset_version": version,
        "papers.schema_version": SCHEMA_VERSION,
        "papers.vocabulary_version": vocabulary_version,
    }
    staging = io.staging_dir(out, run_id)
    previous = _previous_manifest(out)
    before = {
        name: {str(e["node"]): e for e in entries if "node" in e}
        for name, entries in manifest_tables(previous).items()
    }
    partitioned = params.write.layout == "partitioned"
    max_rows = {
        name: params.write.partition_max_rows.get(name, DEFAULT_MAX_ROWS) for name in PUBLISHED
    }
    base_key = _base_key(params, vocabulary, idf)
    # node files carry no dataset version: with it every file would change with every version
    node_metadata = {k: v for k, v in metadata.items() if k not in VERSION_KEYS}
    files: dict[str, list[FileEntry]] = {}
    kept: list[str] = []

    if partitioned:
        # every node file of every table in one pool on both cores, the papers table's first
        # (the largest); pyarrow encodes with the GIL released. Results in node order.
        plan = {
            name: nodes
            if (nodes := (planned or {}).get(name)) is not None
            else _split_nodes(name, tables[name], max_rows[name], base_key)
            for name in PUBLISHED
        }
        jobs = [(name, node) for name in PUBLISHED for node in plan[name]]
        done = parallel_map(
            _write_node,
            [(name, node, out, staging, before.get(name, {}), params, node_metadata)
             for name, node in jobs],
        )  # fmt: skip
        for (name, _), (entry, was_kept) in zip(jobs, done, strict=True):
            files.setdefault(name, []).append(entry)
            if was_kept:
                kept.append(entry.path)
    else:

        def write(names: list[str]) -> None:
            for name in names:
                model, sort_by = PUBLISHED[name]
                path = staging / f"{name}.parquet"
                rows = io.write_parquet(tables[name], model, path, params.write,
                                        {**metadata, "papers.table": name}, sort_by)  # fmt: skip
                # hashed here, beside the other group's writing (hashlib releases the GIL)
                files[name] = [
                    FileEntry(path.name, ROOT, rows, path.stat().st_size, io.sha256_file(path))
                ]

        # the papers table (keyphrases picked as it streams) beside all the others
        parallel_map(write, [(["papers"],), ([n for n in PUBLISHED if n != "papers"],)])
    rows = {name: sum(entry.rows for entry in files[name]) for name in PUBLISHED}
    counts = _counts(staging, files, rows, parsed, dropped)
    number, parent = _lineage(previous, version)
    manifest = {
        "format": MANIFEST_FORMAT,
        "dataset": {
            "name": params.write.dataset_name,
            "version": version,
            "number": number,
            "parent": parent,
        },
        "layout": {
            "name": params.write.layout,
            "max_rows": {name: max_rows[name] for name in PUBLISHED} if partitioned else {},
        },
        "schema_version": SCHEMA_VERSION,
        "vocabulary_version": vocabulary_version,
        "idf": idf.describe() if idf is not None else None,
        "code_version": __version__,
        "code_sha256": code_sha256(),
        "params_sha256": params.sha256(),
        "inputs": [
            {
                "path": p["file"],
                "sha256": p["sha256"],
                "records": p["raw_records"],
                "reader": p["reader"],
            }
            for p in parsed
        ],
        "tables": {
            name: {
                "rows": rows[name],
                "bytes": sum(entry.bytes for entry in files[name]),
                "files": [entry.as_json() for entry in files[name]],
            }
            for name in PUBLISHED
        },
        "counts": counts,
        "dropped": dropped,
    }
    feed = _change_feed(previous, version, number, out, staging, manifest, params)
    if feed is not None:
        manifest["changes"] = feed
    io.write_json(manifest, staging / io.MANIFEST)
    papers = pl.scan_parquet(_staged(staging, files, "papers"))
    if summed is not None:
        # summed over the partitions (each partition's sums are computed once, when it is
        # built, and kept in its cache meta): no table is read, whatever its size
        metrics = {
            **summed_table_figures(summed, counts),
            "quality": summed_quality_figures(summed, params),
            "fill_rates": summed_fill_rates(summed),
        }
    else:
        # the figures stream the staged files (the columns they need, counted by the streaming
        # engine): at 5M records reading five columns of every paper was the write step's peak
        links = pl.scan_parquet(_staged(staging, files, "links"))
        metrics = {
            **table_figures(papers, links, counts),
            "quality": quality_figures(staging, papers, links, params, vocabulary),
            "fill_rates": fill_rates(
                pl.scan_parquet(list(records)) if records else None,
                pl.scan_parquet(_staged(staging, files, "provenance")),
                papers,
            ),
        }
    # related papers against arXiv categories, near-duplicates against the hand-checked sample
    metrics["similarity"] = similarity_figures(
        papers,
        pl.scan_parquet(_staged(staging, files, "related")),
        pl.scan_parquet(_staged(staging, files, "duplicates")),
    )
    io.write_json(metrics, staging / io.METRICS)
    names = [entry.path for name in PUBLISHED for entry in files[name]]
    names += [io.METRICS, io.MANIFEST]
    if feed is not None and (staging / feed["path"]).is_file():
        names.append(feed["path"])
    if summed is not None:
        names += history.write_plots(None, staging, by_date=summed.by_date)
        names.append(card.write_card(staging, params, summary=card_figures(summed)))
    else:
        names += history.write_plots(papers, staging)
        names.append(card.write_card(staging, params))  # README.md: the dataset card
    if gates:
        enforce_gates(out, staging, params.gates)
    io.fault_point("write")
    io.publish(staging, out, names)
    listed = sum(len(entries) for entries in files.values())
    return {"dataset_version": version, "counts": counts, "out_dir": str(out),
            "files": {"kept": len(kept), "written": listed - len(kept)}}  # fmt: skip


def _previous_manifest(out: Path) -> dict[str, Any]:
    """The manifest of the version in out ({} when there is none or it cannot be read)."""
    path = out / io.MANIFEST
    try:
        found = io.read_json(path) if path.is_file() else {}
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _lineage(previous: Mapping[str, Any], version: str) -> tuple[int, str | None]:
    """(number, parent) of a new version over the previous manifest: number + 1 and the
    previous version; the same again when the version is the same (a rebuild); 1 and None when
    there is none. A format 1 manifest has no number: it counts as version 1."""
    dataset = previous.get("dataset")
    if not isinstance(dataset, dict) or not isinstance(dataset.get("version"), str):
        return 1, None
    number = dataset.get("number")
    number = number if isinstance(number, int) and not isinstance(number, bool) else 1
    if dataset["version"] == version:
        parent = dataset.get("parent")
        return number, parent if isinstance(parent, str) else None
    return number + 1, str(dataset["version"])


def _staged(staging: Path, files: Mapping[str, list[FileEntry]], name: str) -> list[Path]:
    """The staged files of table `name` (the new ones and the kept ones, linked in)."""
    return [staging / entry.path for entry in files[name]]


def _counts(
    staging: Path,
    files: Mapping[str, list[FileEntry]],
    rows: dict[str, int],
    parsed: list[dict[str, Any]],
    dropped: list[dict[str, Any]],
) -> dict[str, Any]:
    stages = pl.read_parquet(_staged(staging, files, "rejected"), columns=["stage"])["stage"]
    by_stage = Counter(stages.to_list())
    raw_records = sum(int(p["raw_records"]) for p in parsed)
    counts: dict[str, Any] = {
        "input_files": len(parsed),
        "raw_records": raw_records,
        "records_in_papers": rows["provenance"],
        "papers": rows["papers"],
        "merged_duplicates": rows["provenance"] - rows["papers"],
        "rejected": rows["rejected"],
        "rejected_by_stage": {s: by_stage.get(s, 0) for s in STAGE_REJECT_ORDER},
        "links": rows["links"],
        "tags": rows["tags"],
        "dropped_derived_rows": len(dropped),
    }
    if raw_records != rows["provenance"] + rows["rejected"]:
        msg = (
            f"counts do not reconcile: {raw_records} raw records but "
            f"{rows['provenance']} in papers + {rows['rejected']} rejected"
        )
        raise PapersError(msg)
    return counts
