"""Path-in, path-out wrappers around the pure stages: what each Prefect task runs.

Each step reads its inputs from Parquet files in the run's work folder, calls pure stage
functions, and writes its outputs back as files, returning only paths and small counts (Prefect
hashes and persists task results: file paths and hashes travel well, DataFrames do not).
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import polars as pl
import yaml

from papers import __version__, card, history, io
from papers.config import Params, load_params, resolve_vocabulary
from papers.errors import PapersError
from papers.fill_rates import fill_rates
from papers.gates import enforce as enforce_gates
from papers.readers import iter_file
from papers.stages.links import code_url, extract_links, links_per_paper
from papers.stages.normalize import merge_duplicates, normalize_records, resolve_identity
from papers.stages.tags import (
    category_matches,
    compile_vocabulary,
    keyphrase_candidates,
    keyphrase_document_counts,
    keyphrase_top,
    tag_papers,
    tags_per_paper,
)
from papers.stages.validate import split_valid, validate_papers
from schemas import (
    PUBLISHED,
    SCHEMA_VERSION,
    Links,
    Papers,
    Provenance,
    Rejected,
    Tags,
    polars_schema,
)

STAGE_REJECT_ORDER = ("read", "parse", "normalize", "links", "tags", "validate")

IN_FLIGHT = 2
"""Steps of one stage running at once in one process (run_local, and the flow on its local
thread-pool runner). Polars runs most string expressions of one column on one core, so two
shards or partitions side by side keep both cores of a small machine busy; memory holds two
partitions' frames, which the partition size (params parse.partition_rows) bounds."""

T = TypeVar("T")


def parallel_map(
    work: Callable[..., T], calls: list[tuple[Any, ...]], in_flight: int = IN_FLIGHT
) -> list[T]:
    """work(*args) for each argument tuple, at most in_flight at once in threads; results in
    call order (the outputs do not depend on which finishes first)."""
    if in_flight <= 1 or len(calls) <= 1:
        return [work(*args) for args in calls]
    with ThreadPoolExecutor(max_workers=in_flight) as pool:
        return list(pool.map(lambda args: work(*args), calls))


def _read(path: str) -> pl.DataFrame:
    return pl.read_parquet(path)


# libyaml's parser when PyYAML has it: the vocabulary (~125 KB) parses in 0.03 s instead of 0.2 s
_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_vocabulary(path: Path) -> dict[str, Any]:
    """The topic vocabulary file as a mapping with a version; a bad file is a PapersError."""
    try:
        stat = path.stat()
    except FileNotFoundError as exc:
        raise PapersError(f"vocabulary file not found: {path}") from exc
    # a deep copy per call: callers may not share one mutable mapping
    return copy.deepcopy(_load_vocabulary(path, stat.st_mtime_ns, stat.st_size))


@cache
def _load_vocabulary(path: Path, _mtime_ns: int, _size: int) -> dict[str, Any]:
    # cached per file version: every task of a run reads the same vocabulary
    try:
        data = yaml.load(path.read_text("utf-8"), Loader=_YAML_LOADER)
    except FileNotFoundError as exc:
        raise PapersError(f"vocabulary file not found: {path}") from exc
    except yaml.YAMLError as exc:
        raise PapersError(f"vocabulary file {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or "version" not in data or not data.get("topics"):
        raise PapersError(f"vocabulary file {path} needs a version and a list of topics")
    return data


def _terms(vocabulary: dict[str, Any]) -> pl.DataFrame:
    """The compiled vocabulary, compiled once per vocabulary content in this process."""
    return _compiled(json.dumps(vocabulary, sort_keys=True, default=str))


@cache
def _compiled(vocabulary_json: str) -> pl.DataFrame:
    return compile_vocabulary(json.loads(vocabulary_json))


def parse_cache_key(file_sha256: str, relative: str, params: Params) -> str:
    """What a parsed shard depends on: the file's bytes and name, the read params, the code."""
    blob = json.dumps(
        {
            "file": file_sha256,
            "name": relative,  # listing dates and lineage come from the name
            "read": params.read.model_dump(mode="json"),
            "parse": params.parse.model_dump(mode="json"),
            "code": code_sha256(),
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def parse_step(
    raw_dir: str,
    relative: str,
    params_path: str,
    work: str,
    cache_dir: str | None = None,
    sha256: str | None = None,
) -> dict[str, Any]:
    """Read one raw file into record and reject shards (one pair per batch); paths and counts.

    With a cache_dir, shards are kept there under a key of the file's content, name, the read
    and parse params and the code, so a rerun parses only new or changed files.
    """
    params = load_params(Path(params_path))
    path = Path(raw_dir) / relative
    sha = sha256 or io.sha256_file(path)
    key = parse_cache_key(sha, relative, params)
    if cache_dir:
        entry = Path(cache_dir) / key[:2] / key
        hit = _cache_hit(entry)
        if hit is not None:
            return {**hit, "key": key}
        target = io.cache_tmp_dir(entry)
    else:
        entry = None
        target = Path(work) / f"parsed-{key[:16]}"
        target.mkdir(parents=True, exist_ok=True)
    reader, batches = iter_file(path, relative, params)
    raw_records = 0
    shards = 0

    def write(number: int, records: pl.DataFrame, rejects: pl.DataFrame) -> None:
        # lz4 like every intermediate: zstd took twice the CPU on these raw-heavy shards
        io.write_frame(records, target / f"records-{number:05d}.parquet")
        io.write_frame(rejects, target / f"rejects-{number:05d}.parquet")

    # A batch is written while the next one is read (a snapshot is one file: its batches were
    # the one task of the parse stage, and reading and writing each used about one core).
    # Memory: two batches.
    with ThreadPoolExecutor(max_workers=1) as writer:
        writing: Future[None] | None = None
        for number, (records, rejects) in enumerate(batches):
            if writing is not None:
                writing.result()
            writing = writer.submit(write, number, records, rejects)
            raw_records += records.height + rejects.height
            shards += 1
            del records, rejects
        if writing is not None:
            writing.result()
    meta = {"file": relative, "sha256": sha, "reader": reader, "raw_records": raw_records,
            "shards": shards}  # fmt: skip
    if entry is not None:
        io.write_json(meta, target / "meta.json")
        target = io.commit_cache_entry(target, entry)
    return {**meta, **_shards(target), "cached": False, "key": key}


def _cache_hit(entry: Path) -> dict[str, Any] | None:
    """A cache entry's result, or None when it is absent or incomplete (then it is rebuilt).

    An entry is trusted only when every shard its meta.json names is there: a copied or
    damaged cache must cost a re-parse, never a silently emptier dataset.
    """
    if not (entry / "meta.json").exists():
        return None
    meta: dict[str, Any] = io.read_json(entry / "meta.json")
    shards = _shards(entry)
    expected = meta.get("shards")
    if not isinstance(expected, int) or any(len(paths) != expected for paths in shards.values()):
        shutil.rmtree(entry, ignore_errors=True)
        return None
    return {**meta, **shards, "cached": True}


def _shards(folder: Path) -> dict[str, list[str]]:
    return {
        "records": [str(p) for p in sorted(folder.glob("records-*.parquet"))],
        "rejects": [str(p) for p in sorted(folder.glob("rejects-*.parquet"))],
    }


def _assemble_papers(
    papers: pl.DataFrame, links_pp: pl.DataFrame, tags_pp: pl.DataFrame
) -> pl.DataFrame:
    empty_list = pl.lit([], pl.List(pl.String))
    return (
        papers.join(links_pp, on="paper_id", how="left")
        .join(tags_pp, on="paper_id", how="left")
        .with_columns(
            pl.col("links").fill_null(pl.lit([], polars_schema(Papers)["links"])),
            pl.col("tags").fill_null(empty_list),
            pl.col("keyphrases").fill_null(empty_list),
        )
        .select(polars_schema(Papers).names())
        .cast(polars_schema(Papers))
    )


def _validate_tables(
    papers: pl.DataFrame,
    provenance: pl.DataFrame,
    raw: pl.DataFrame,
    links: pl.DataFrame,
    tags: pl.DataFrame,
) -> tuple[
    pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame, list[dict[str, Any]]
]:
    """(good papers, their provenance, rejected records, link rows, tag rows, dropped rows)."""
    good, provenance, rejected_records = validate_papers(papers, provenance, raw, Papers)
    kept = good.select("paper_id")
    # Links and tags are derived rows: those of rejected papers go with them; a derived row that
    # fails its own model is dropped and counted (it would be a pipeline bug, not lost input).
    link_rows, bad_links = split_valid(links.join(kept, on="paper_id", how="semi"), Links)
    tag_rows, bad_tags = split_valid(tags.join(kept, on="paper_id", how="semi"), Tags)
    # a bad row is a pipeline bug, rare by construction: a Python list of them is fine
    dropped = [
        {"table": "links", "paper_id": r["paper_id"], "reason": r["reason"]}
        for r in bad_links.iter_rows(named=True)
    ] + [
        {"table": "tags", "paper_id": r["paper_id"], "reason": r["reason"]}
        for r in bad_tags.iter_rows(named=True)
    ]
    if bad_links.height or bad_tags.height:
        # Keep the papers' list columns consistent with the link and tag tables.
        good = good.with_columns(
            pl.col("links").list.eval(
                pl.element().filter(
                    pl.element().struct.field("url").is_in(link_rows["url"].unique().implode())
                )
            )
        )
    return good, provenance, rejected_records, link_rows, tag_rows, dropped


# --- the partitioned build ---------------------------------------------------------------------
#
# What the flow runs (flows/build.py). Memory is bounded by a batch, not by the input:
#
#   parse      per file, streamed in batches of params.parse.batch_rows  -> record shards (cached)
#   normalize  per shard: text, keys, own paper id                       -> normalized shards
#   identity   global, narrow: records without an arXiv id against the arXiv records sharing
#              their DOI or title key (only those keys are read)         -> id mapping
#   shuffle    per shard: final paper id, range partition of the id      -> shard x partition
#   partition  per partition: merge, links, tags, keyphrase candidates, validation
#   publish    global, streamed: keyphrases from the summed document counts; each table written
#              part by part in paper_id order (provenance shard by shard); manifest; publish
#
# Every per-shard and per-partition result is cached under a key of what it is made of (content
# keys chained from the raw files' sha256, the params its stage reads, the vocabulary and the
# code), so a rerun recomputes only the shards and partitions that new input touches.

# One paper id in this many (per normalized shard) places the partition boundaries.
SAMPLE_EVERY = 100
_PROVENANCE_COLUMNS = ("paper_id", "source_file", "source", "record_index", "line")


def _key(*parts: Any) -> str:
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def _entry(cache_dir: str | None, work: str, kind: str, key: str) -> tuple[Path, bool]:
    """(folder for a cached result, whether it is complete): under cache_dir, else in work."""
    entry = Path(cache_dir) / kind / key[:2] / key if cache_dir else Path(work) / kind / key
    return entry, (entry / "meta.json").exists()


def _build_entry(entry: Path, cache_dir: str | None) -> Path:
    """Where to build an entry: a temporary folder committed by _commit (cache), else in place."""
    if cache_dir:
        return io.cache_tmp_dir(entry)
    entry.mkdir(parents=True, exist_ok=True)
    return entry


def _commit(target: Path, entry: Path, meta: dict[str, Any]) -> dict[str, Any]:
    io.write_json(meta, target / "meta.json")  # last: an entry without it is never trusted
    if target != entry:
        io.commit_cache_entry(target, entry)
    return meta


def _read_meta(entry: Path) -> dict[str, Any]:
    meta: dict[str, Any] = io.read_json(entry / "meta.json")
    return meta


def record_shards(parsed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The record shards of parsed files, in file order: key, records path, source file."""
    return [
        {"key": _key(p["key"], number), "records": path, "source_file": p["file"]}
        for p in parsed
        for number, path in enumerate(p["records"])
    ]


def normalize_shard_step(
    shard: dict[str, Any], params_path: str, work: str, cache_dir: str | None
) -> dict[str, Any]:
    """Normalise one record shard: readable text, keys, the record's own paper id.

    Returns paths and small figures: rows, how many records lack an arXiv id (identity_step
    resolves those), the shard's record_index range and a sample of its paper ids.
    """
    params = load_params(Path(params_path))
    key = _key("normalize", shard["key"], params.normalize.model_dump(mode="json"),
               code_sha256())  # fmt: skip
    entry, done = _entry(cache_dir, work, "normalized", key)
    if not done:
        target = _build_entry(entry, cache_dir)
        normalized, rejects = normalize_records(_read(shard["records"]), params.normalize)
        normalized = normalized.drop("raw")  # the parse shard keeps it, for rejects
        io.write_frame(normalized, target / "records.parquet")
        io.write_frame(rejects, target / "rejects.parquet")
        ids = normalized["paper_id"].sort()
        # small shards give every id (so small inputs still split into partitions)
        step = SAMPLE_EVERY if ids.len() >= 10 * SAMPLE_EVERY else 1
        _commit(target, entry, {
            "rows": normalized.height,
            "unresolved": int(normalized["arxiv_id"].null_count()),
            "first": normalized["record_index"].min(),
            "last": normalized["record_index"].max(),
            "sample": ids.gather_every(step).to_list(),
            "sample_step": step,
        })  # fmt: skip
    return {
        **_read_meta(entry),
        "key": key,
        "cached": done,
        "source_file": shard["source_file"],
        "normalized": str(entry / "records.parquet"),
        "rejects": str(entry / "rejects.parquet"),
    }


def identity_step(
    normalized: list[dict[str, Any]],
    params_path: str,
    work: str,
    cache_dir: str | None,
    target_rows: int | None = None,
) -> dict[str, Any]:
    """Resolve the identity of records without an arXiv id; place the partition boundaries.

    Partitions hold about target_rows records (default: params.parse.partition_rows).

    Global but narrow: the records without an arXiv id (few in an arXiv snapshot; a daily
    listing's worth otherwise) are read with five columns, and of the others only those sharing
    one of their DOIs or title keys. `resolve_identity` on that subset gives exactly what it
    gives on the whole (its DOI and title groups are complete for every key looked up).
    """
    params = load_params(Path(params_path))
    columns = ["source_file", "record_index", "arxiv_id", "doi", "title_key", "abstract",
               "paper_id"]  # fmt: skip
    mapping = pl.DataFrame(
        schema={"source_file": pl.String, "record_index": pl.Int64, "paper_id": pl.String}
    )
    open_paths = [n["normalized"] for n in normalized if n["unresolved"]]
    if open_paths:
        unresolved = (
            pl.scan_parquet(open_paths)
            .filter(pl.col("arxiv_id").is_null())
            .select(columns)
            .collect()
        )
        dois = unresolved["doi"].drop_nulls().unique().implode()
        keys = unresolved["title_key"].unique().implode()
        known = (
            pl.scan_parquet([n["normalized"] for n in normalized])
            .filter(
                pl.col("arxiv_id").is_not_null()
                & (pl.col("doi").is_in(dois) | pl.col("title_key").is_in(keys))
            )
            .select(columns)
            .collect()
        )
        resolved = resolve_identity(pl.concat([unresolved, known]), params.normalize)
        mapping = (
            resolved.filter(pl.col("arxiv_id").is_null())
            .select("source_file", "record_index", "paper_id")
            .sort("source_file", "record_index")
        )
    rows = sum(int(n["rows"]) for n in normalized)
    sample = pl.DataFrame(
        {
            "paper_id": [i for n in normalized for i in n["sample"]],
            "weight": [n["sample_step"] for n in normalized for _ in n["sample"]],
        },
        schema={"paper_id": pl.String, "weight": pl.Int64},
    )
    boundaries = _boundaries(sample, rows, target_rows or params.parse.partition_rows, cache_dir)
    return {
        "identity": io.write_frame(mapping, Path(work) / "identity.parquet"),
        "boundaries": boundaries,
        "records": rows,
    }


def _boundaries(sample: pl.DataFrame, rows: int, target: int, cache_dir: str | None) -> list[str]:
    """Paper ids cutting the id space into ranges of about `target` records each.

    sample: paper ids, each standing for `weight` records. The previous build's boundaries
    (kept in the cache) are reused while no range holds over twice the target: new records
    then land in few partitions and the others stay cached. Outputs never depend on the
    boundaries, only the work does.
    """
    sample = sample.sort("paper_id")
    state = Path(cache_dir) / "partitions.json" if cache_dir else None
    if state is not None and state.exists():
        previous: dict[str, Any] = io.read_json(state)
        cuts = pl.Series("cut", previous.get("boundaries", []), dtype=pl.String)
        if previous.get("target") == target:
            ranges = cuts.search_sorted(sample["paper_id"], side="right").alias("range")
            heaviest = sample.group_by(ranges).agg(pl.col("weight").sum())["weight"].max()
            if int(heaviest or 0) <= 2 * target:  # type: ignore[arg-type]
                return list(cuts.to_list())
    parts = max(1, -(-rows // target))
    total = int(sample["weight"].sum())
    cuts_list: list[str] = []
    if total:
        at = (
            sample["weight"]
            .cum_sum()
            .search_sorted(pl.Series([total * i // parts for i in range(1, parts)], dtype=pl.Int64))
        )
        cuts_list = sorted(set(sample["paper_id"].gather(at.clip(0, sample.height - 1)).to_list()))
    if state is not None:
        io.replace_json({"target": target, "boundaries": cuts_list}, state)
    return cuts_list


def shuffle_step(
    normalized: dict[str, Any],
    identity_path: str,
    boundaries: list[str],
    work: str,
    cache_dir: str | None,
) -> dict[str, Any]:
    """Give one normalized shard its final paper ids and split it by paper-id range."""
    own = (
        pl.scan_parquet(identity_path)
        .filter(
            (pl.col("source_file") == normalized["source_file"])
            & pl.col("record_index").is_between(normalized["first"], normalized["last"])
        )
        .collect()
        if normalized["unresolved"]
        else None
    )
    mapped = hashlib.sha256(own.write_ndjson().encode()).hexdigest() if own is not None else ""
    key = _key("shuffle", normalized["key"], boundaries, mapped)
    entry, done = _entry(cache_dir, work, "shuffled", key)
    if not done:
        target = _build_entry(entry, cache_dir)
        frame = _read(normalized["normalized"])
        if own is not None and own.height:
            frame = (
                frame.join(
                    own.rename({"paper_id": "_resolved"}),
                    on=["source_file", "record_index"],
                    how="left",
                )
                .with_columns(pl.coalesce("_resolved", "paper_id").alias("paper_id"))
                .drop("_resolved")
            )
        cuts = pl.Series("cut", boundaries, dtype=pl.String)
        part = pl.Series("_part", cuts.search_sorted(frame["paper_id"], side="right"))
        files: dict[str, str] = {}
        for (number,), rows in (
            frame.with_columns(part)
            .partition_by("_part", as_dict=True, maintain_order=True)
            .items()
        ):
            name = f"part-{int(number):05d}.parquet"
            io.write_frame(rows.drop("_part"), target / name)
            files[str(number)] = name
        _commit(target, entry, {"parts": files})
    parts = _read_meta(entry)["parts"]
    return {
        "key": key,
        "parts": {number: str(entry / name) for number, name in parts.items()},
    }


def partition_inputs(
    shuffled: list[dict[str, Any]], partitions: int
) -> list[list[tuple[str, str]]]:
    """For each partition, its (shard key, file) pieces in shard order."""
    pieces: list[list[tuple[str, str]]] = [[] for _ in range(partitions)]
    for shard in shuffled:
        for number, path in shard["parts"].items():
            pieces[int(number)].append((shard["key"], path))
    return pieces


def _enrich(
    papers: pl.DataFrame, params: Params, vocabulary: dict[str, Any], terms: pl.DataFrame
) -> dict[str, pl.DataFrame]:
    """The per-paper enrichment of merged papers: every row it gives belongs to one paper and
    depends on that paper's row alone (so it can be kept per paper, see partition_step)."""
    links = extract_links(papers, params.links)
    tags = tag_papers(
        papers,
        terms,
        params.tags,
        categories=category_matches(papers, vocabulary),
        category_weight=params.tags.category_weight,
    )
    return {
        "links": links,
        "links_pp": links_per_paper(links).join(
            code_url(papers, links, params.links), on="paper_id", how="left"
        ),
        "tags": tags,
        "tags_pp": tags_per_paper(tags),
        "candidates": (
            keyphrase_candidates(papers, terms, params.tags)
            if params.tags.keyphrases_top_k
            else pl.DataFrame(schema={"paper_id": pl.String, "phrase": pl.String, "tf": pl.UInt32})
        ),
    }


def _paper_hashes(papers: pl.DataFrame) -> pl.DataFrame:
    # 128 bits of each merged paper's whole row (two seeds): what its enrichment depends on
    return papers.select("paper_id").with_columns(
        papers.hash_rows(seed=1).alias("_h1"),
        papers.hash_rows(seed=2).alias("_h2"),
    )


def _memo_pointer(cache_dir: str, shard_key: str, path: str) -> Path:
    key = _key("memo", shard_key, Path(path).name)
    return Path(cache_dir) / "memo" / key[:2] / f"{key}.json"


def _memo(
    cache_dir: str | None, pieces: list[tuple[str, str]], enrich_key: str
) -> dict[str, pl.DataFrame] | None:
    """The enrichment a previous build kept for a partition sharing one of these pieces.

    Pieces are (shuffled shard, part) pairs: a day's new file adds a piece to a partition and
    keeps the others, so the previous build of the same paper-id range is found through any of
    them. None when there is none (or it was made with other params, vocabulary or code).
    """
    if not cache_dir:
        return None
    for shard_key, path in pieces:
        pointer = _memo_pointer(cache_dir, shard_key, path)
        if not pointer.exists():
            continue
        try:
            found: dict[str, Any] = io.read_json(pointer)
            entry = Path(found["entry"])
            if found.get("enrich_key") != enrich_key or not (entry / "meta.json").exists():
                continue
            kept = {name: _read(str(entry / f"memo-{name}.parquet")) for name in _MEMO}
            return {**kept, "candidates": _read(str(entry / "candidates.parquet"))}
        except (OSError, ValueError, KeyError, TypeError, pl.exceptions.PolarsError):
            continue  # a damaged or half-removed memo costs a re-enrichment, nothing else
    return None


# what a partition's cache entry keeps for the next build, beside its candidates.parquet
_MEMO = ("hashes", "links", "links_pp", "tags", "tags_pp")


def partition_step(
    pieces: list[tuple[str, str]], params_path: str, work: str, cache_dir: str | None
) -> dict[str, Any]:
    """Merge, enrich and validate the papers of one paper-id range.

    Writes the partition's validated papers (keyphrases still empty: they need document counts
    over all partitions), links, tags, the records rejected at validation (raw text filled in
    at publish), the keyphrase candidates and their document counts.

    With a cache, enrichment is kept per paper: a paper whose merged row (all columns, hashed)
    is the same as in the previous build of this range takes that build's links, tags and
    keyphrase candidates, and only new or changed papers are enriched. A day's listing that
    re-lists a few older papers then costs a merge and a validation of their partitions, not
    their enrichment. The outputs are the same as without the cache.
    """
    params = load_params(Path(params_path))
    vocabulary = load_vocabulary(resolve_vocabulary(params, Path(params_path)))
    enrich_params = params.model_dump(mode="json", include={"links", "tags"})
    key = _key(
        "partition",
        # a shuffled shard's key and which of its parts: the content of this partition's input
        [(k, Path(path).name) for k, path in pieces],
        params.model_dump(mode="json", include={"normalize", "links", "tags"}),
        vocabulary,
        code_sha256(),
    )
    entry, done = _entry(cache_dir, work, "partitions", key)
    if not done:
        target = _build_entry(entry, cache_dir)
        records = pl.concat([_read(path) for _, path in pieces])
        papers, provenance = merge_duplicates(records, params.normalize)
        del records
        terms = _terms(vocabulary)
        enrich_key = _key("enrich", enrich_params, vocabulary, code_sha256())
        hashes = _paper_hashes(papers)
        prior = _memo(cache_dir, pieces, enrich_key)
        if prior is None:
            enriched = _enrich(papers, params, vocabulary, terms)
            reused = 0
        else:
            same = hashes.join(prior["hashes"], on=["paper_id", "_h1", "_h2"], how="semi")
            fresh = _enrich(papers.join(same, on="paper_id", how="anti"), params, vocabulary, terms)
            order = papers.select("paper_id").with_row_index("_order")
            enriched = {
                # the kept rows and the new ones in paper order, as one enrichment would give
                name: pl.concat([prior[name].join(same, on="paper_id", how="semi"), rows])
                .join(order, on="paper_id", how="left")
                .sort("_order", maintain_order=True)
                .drop("_order")
                for name, rows in fresh.items()
            }
            reused = same.height
        links, candidates = enriched["links"], enriched["candidates"]
        links_pp = enriched["links_pp"]
        tags = enriched["tags"]
        tags_pp = (
            papers.select("paper_id")
            .join(enriched["tags_pp"], on="paper_id", how="left")
            .with_columns(pl.lit([], pl.List(pl.String)).alias("keyphrases"))
        )
        no_raw = pl.DataFrame(
            schema={"source_file": pl.String, "record_index": pl.Int64, "raw": pl.String}
        )
        good, _, rejected, link_rows, tag_rows, dropped = _validate_tables(
            _assemble_papers(papers, links_pp, tags_pp), provenance, no_raw, links, tags
        )
        io.write_frame(good, target / "papers.parquet")
        io.write_frame(link_rows, target / "links.parquet")
        io.write_frame(tag_rows, target / "tags.parquet")
        io.write_frame(rejected, target / "rejected.parquet")
        io.write_frame(candidates, target / "candidates.parquet")
        io.write_frame(keyphrase_document_counts(candidates), target / "df.parquet")
        if cache_dir:
            for name in _MEMO:
                frame = hashes if name == "hashes" else enriched[name]
                io.write_frame(frame, target / f"memo-{name}.parquet")
        _commit(target, entry, {"papers_in": papers.height, "papers": good.height,
                                "rejected": rejected.height, "dropped": dropped,
                                "enriched": papers.height - reused})  # fmt: skip
        if cache_dir:
            for shard_key, path in pieces:
                pointer = _memo_pointer(cache_dir, shard_key, path)
                io.replace_json({"entry": str(entry), "enrich_key": enrich_key}, pointer)
    return {
        **_read_meta(entry),
        "key": key,
        "cached": done,
        **{
            name: str(entry / f"{name}.parquet")
            for name in ("papers", "links", "tags", "rejected", "candidates", "df")
        },
    }


def publish_step(
    parsed: list[dict[str, Any]],
    normalized: list[dict[str, Any]],
    shuffled: list[dict[str, Any]],
    partitions: list[dict[str, Any]],
    params_path: str,
    out_dir: str,
    run_id: str,
    gates: bool = True,
) -> dict[str, Any]:
    """Stream the partitions' tables into the published files; manifest, metrics; publish.

    Keyphrases are picked here, partition by partition, from document counts summed over all
    partitions (counts of 1 are left out of the sum table: a phrase not in it occurs once).
    """
    params = load_params(Path(params_path))
    vocabulary = load_vocabulary(resolve_vocabulary(params, Path(params_path)))
    n_docs = sum(int(p["papers_in"]) for p in partitions)
    # summed by polars' streaming engine, file by file: the partitions' counts are never all in
    # memory at once (200 partitions at 5M records)
    df = (
        pl.scan_parquet([p["df"] for p in partitions])
        .group_by("phrase")
        .agg(pl.col("df").sum())
        .filter(pl.col("df") > 1)
        .collect(engine="streaming")
        if partitions
        else pl.DataFrame(schema={"phrase": pl.String, "df": pl.UInt32})
    )
    rejected = pl.concat(
        [_read(path) for p in parsed for path in p["rejects"]]
        + [_read(n["rejects"]) for n in normalized]
        + [_read(p["rejected"]) for p in partitions]
    )
    bad = rejected.filter(pl.col("stage") == "validate").select("source_file", "record_index")
    if bad.height:
        raw = (
            pl.scan_parquet([path for p in parsed for path in p["records"]])
            .select("source_file", "record_index", "raw")
            .join(bad.lazy(), on=["source_file", "record_index"], how="semi")
            .collect()
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
        top = keyphrase_top(_read(part["candidates"]), df, n_docs, params.tags)
        return (
            _read(part["papers"])
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
            yield _read(part[name])

    def provenance() -> Iterator[pl.DataFrame]:
        for shard in shuffled:
            pieces = [
                pl.read_parquet(path, columns=list(_PROVENANCE_COLUMNS))
                for path in shard["parts"].values()
            ]
            if pieces:
                frame = pl.concat(pieces).join(bad, on=["source_file", "record_index"], how="anti")
                Provenance.validate(frame)
                yield frame

    tables: dict[str, pl.DataFrame | Iterable[pl.DataFrame]] = {
        "papers": papers(),
        "links": table("links"),
        "tags": table("tags"),
        "provenance": provenance(),
        "rejected": rejected,
    }
    dropped = [d for p in partitions for d in p["dropped"]]
    records = [path for shard in shuffled for path in shard["parts"].values()]
    return publish_tables(
        tables,
        parsed,
        dropped,
        str(vocabulary["version"]),
        params_path,
        out_dir,
        run_id,
        gates,
        records=records,
    )


def run_local(
    raw_dir: str,
    out_dir: str,
    params_path: str,
    cache_dir: str | None = None,
    gates: bool = False,
    target_rows: int | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """The build-dataset flow's steps in this process, in order, without Prefect (benchmarks,
    tests). on_stage(name) is called as each stage ends. Same outputs as the flow."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    done = on_stage or (lambda _: None)
    files = [f.relative_to(raw_dir).as_posix() for f in io.list_inputs(Path(raw_dir))]
    params = load_params(Path(params_path))
    vocabulary = load_vocabulary(resolve_vocabulary(params, Path(params_path)))
    hashes = io.sha256_files({f: Path(raw_dir) / f for f in files}, cache_dir)
    version = dataset_version(list(hashes.values()), params, str(vocabulary["version"]))
    if cache_dir and (same := unchanged(out, version, cache_dir)) is not None:
        done("unchanged")
        return {**same, "partitions": []}
    run_id = hashlib.sha256(f"{os.getpid()}-{out}".encode()).hexdigest()[:12]
    work = out / f".work-{run_id}"
    work.mkdir(exist_ok=True)
    w, c = str(work), cache_dir
    try:
        parsed = parallel_map(parse_step, [(raw_dir, f, params_path, w, c, hashes[f])
                                           for f in files])  # fmt: skip
        done("parse")
        normalized = parallel_map(
            normalize_shard_step, [(s, params_path, w, c) for s in record_shards(parsed)]
        )
        done("normalize")
        plan = identity_step(normalized, params_path, w, c, target_rows)
        done("identity")
        shuffled = parallel_map(
            shuffle_step, [(n, plan["identity"], plan["boundaries"], w, c) for n in normalized]
        )
        done("shuffle")
        pieces = partition_inputs(shuffled, len(plan["boundaries"]) + 1)
        partitions = parallel_map(
            partition_step, [(piece, params_path, w, c) for piece in pieces if piece]
        )
        done("enrich")
        summary = publish_step(
            parsed, normalized, shuffled, partitions, params_path, out_dir, run_id, gates
        )
        done("write")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {**summary, "partitions": partitions}


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
        paths = {str(o["path"]): out_dir / o["path"] for o in manifest["outputs"]}
        if not all(path.is_file() for path in paths.values()):
            return None
        hashes = io.sha256_files(paths, cache_dir)
        if any(hashes[str(o["path"])] != o["sha256"] for o in manifest["outputs"]):
            return None
    except (ValueError, KeyError, TypeError):
        return None
    return {"dataset_version": version, "counts": manifest["counts"], "out_dir": str(out_dir),
            "unchanged": True}  # fmt: skip


@cache
def code_sha256() -> str:
    """Hash of the pipeline's own source (the stage, schema and flow packages).

    The packages are found as folders beside this one, not imported: the core does not know the
    flows exist, it only hashes the code that runs it.
    """
    source_root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for package in ("papers", "schemas", "flows"):
        root = source_root / package
        for path in sorted(root.rglob("*.py")):
            digest.update(f"{package}/{path.relative_to(root).as_posix()}\0".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def dataset_version(input_hashes: list[str], params: Params, vocabulary_version: str) -> str:
    """Content-derived version: the same inputs, params, vocabulary and code give the same id."""
    blob = json.dumps(
        {
            "inputs": sorted(input_hashes),
            "params": params.sha256(),
            "vocabulary": vocabulary_version,
            "schema": SCHEMA_VERSION,
            "code": code_sha256(),
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def publish_tables(
    tables: Mapping[str, pl.DataFrame | Iterable[pl.DataFrame]],
    parsed: list[dict[str, Any]],
    dropped: list[dict[str, Any]],
    vocabulary_version: str,
    params_path: str,
    out_dir: str,
    run_id: str,
    gates: bool = True,
    records: Sequence[str] = (),
) -> dict[str, Any]:
    """Write the published tables, manifest and metrics to a staging folder, then publish.

    Each table is a whole frame or its sorted parts in published order (streamed: one part in
    memory at a time). With gates, the staged build is first compared with the dataset in
    out_dir (papers/gates.py) and nothing is published when it fails one. `records` are the
    normalised record files before the merge; metrics.json's per-source fill rates are measured
    on them (papers/fill_rates.py).
    """
    params = load_params(Path(params_path))
    out = Path(out_dir)
    version = dataset_version([p["sha256"] for p in parsed], params, vocabulary_version)
    metadata = {
        "papers.dataset": params.write.dataset_name,
        "papers.dataset_version": version,
        "papers.schema_version": SCHEMA_VERSION,
        "papers.vocabulary_version": vocabulary_version,
    }
    staging = io.staging_dir(out, run_id)
    outputs = []
    rows: dict[str, int] = {}

    digests: dict[str, str] = {}

    def write(names: list[str]) -> None:
        for name in names:
            model, sort_by = PUBLISHED[name]
            rows[name] = io.write_parquet(
                tables[name], model, staging / f"{name}.parquet", params.write,
                {**metadata, "papers.table": name}, sort_by,
            )  # fmt: skip
            # hashed here, beside the other group's writing (hashlib releases the GIL)
            digests[name] = io.sha256_file(staging / f"{name}.parquet")

    # the papers table (keyphrases picked as it streams) beside all the others: two cores busy
    parallel_map(write, [(["papers"],), ([n for n in PUBLISHED if n != "papers"],)])
    for name in PUBLISHED:
        file_name = f"{name}.parquet"
        outputs.append({"path": file_name, "sha256": digests[name], "rows": rows[name]})
    counts = _counts(staging, rows, parsed, dropped)
    manifest = {
        "dataset": {"name": params.write.dataset_name, "version": version},
        "schema_version": SCHEMA_VERSION,
        "vocabulary_version": vocabulary_version,
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
        "outputs": outputs,
        "counts": counts,
        "dropped": dropped,
    }
    io.write_json(manifest, staging / io.MANIFEST)
    # the figures stream the staged files (the columns they need, counted by the streaming
    # engine): at 5M records reading five columns of every paper was the write step's peak
    papers = pl.scan_parquet(staging / "papers.parquet")
    links = pl.scan_parquet(staging / "links.parquet")
    io.write_json(
        {
            **_metrics(papers, links, counts),
            "quality": _quality(staging, papers, links, params, Path(params_path)),
            "fill_rates": fill_rates(
                pl.scan_parquet(list(records)) if records else None,
                pl.scan_parquet(staging / "provenance.parquet"),
                papers,
            ),
        },
        staging / io.METRICS,
    )
    names = [f"{n}.parquet" for n in PUBLISHED] + [io.METRICS, io.MANIFEST]
    names += history.write_plots(papers, staging)
    names.append(card.write_card(staging, params))  # README.md: the dataset card
    if gates:
        enforce_gates(out, staging, params.gates)
    io.fault_point("write")
    io.publish(staging, out, names)
    return {"dataset_version": version, "counts": counts, "out_dir": str(out)}


def _counts(
    staging: Path, rows: dict[str, int], parsed: list[dict[str, Any]], dropped: list[dict[str, Any]]
) -> dict[str, Any]:
    stages = pl.read_parquet(staging / "rejected.parquet", columns=["stage"])["stage"]
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


def _quality(
    staging: Path,
    papers: pl.LazyFrame,
    links: pl.LazyFrame,
    params: Params,
    params_path: Path,
) -> dict[str, Any]:
    """The enrichment quality figures (papers evaluate), so DVC shows how they move."""
    from papers.evaluate import (
        GOLD_LINKS,
        code_link_agreement,
        links_against_gold,
        load_gold,
        tag_quality_of_file,
    )

    terms = _terms(load_vocabulary(resolve_vocabulary(params, params_path)))
    # Only papers with a curated GitHub repository count in the code-link agreement: mining the
    # text of the others again would cost a second links pass over the whole dataset.
    curated = (
        links.select("paper_id", "url", "curated", "rule")
        .filter(pl.col("curated") & (pl.col("rule") == "github-repo"))
        .collect(engine="streaming")
    )
    text = (
        papers.select("paper_id", "title", "abstract")
        .join(curated.lazy().select("paper_id").unique(), on="paper_id", how="semi")
        .collect()
    )
    quality: dict[str, Any] = {
        # the curated GitHub rows are all of links that code_link_agreement reads
        "code_links": code_link_agreement(text, curated, params),
        "tags": tag_quality_of_file(papers, staging / "tags.parquet", terms),
    }
    if GOLD_LINKS.exists():
        quality["links_gold"] = links_against_gold(load_gold(GOLD_LINKS), params)
    return quality


def _metrics(papers: pl.LazyFrame, links: pl.LazyFrame, counts: dict[str, Any]) -> dict[str, Any]:
    whole = (
        papers.select(
            pl.len().alias("n"),
            pl.col("code_url").is_not_null().sum().alias("with_code"),
            (pl.col("tags").list.len() > 0).sum().alias("tagged"),
            pl.col("tags").list.len().sum().alias("tags"),
        )
        .collect(engine="streaming")
        .row(0, named=True)
    )
    n = max(int(whole["n"]), 1)
    kinds = links.group_by("kind").len().sort("kind").collect(engine="streaming")
    return {
        "papers": counts["papers"],
        "raw_records": counts["raw_records"],
        "rejected": counts["rejected"],
        "links": counts["links"],
        "tags": counts["tags"],
        "links_by_kind": dict(zip(kinds["kind"].to_list(), kinds["len"].to_list(), strict=True)),
        "papers_with_code_url": int(whole["with_code"]),
        "tag_coverage": round(float(whole["tagged"] or 0) / n, 4),
        "mean_tags_per_paper": round(float(whole["tags"] or 0) / n, 4),
    }
