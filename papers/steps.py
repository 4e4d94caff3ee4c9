"""Path-in, path-out wrappers around the pure stages: what each Prefect task runs.

Each step reads its inputs from Parquet files in the run's work folder, calls pure stage
functions, and writes its outputs back as files, returning only paths and small counts (Prefect
hashes and persists task results: file paths and hashes travel well, DataFrames do not).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from papers import __version__, card, history, io
from papers.config import Params, load_params, resolve_vocabulary
from papers.errors import PapersError
from papers.gates import enforce as enforce_gates
from papers.readers import iter_file
from papers.stages.links import code_url, extract_links, links_per_paper
from papers.stages.normalize import merge_duplicates, normalize_records, resolve_identity
from papers.stages.tags import (
    category_matches,
    compile_vocabulary,
    keyphrases,
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
    RawRecords,
    Rejected,
    Tags,
    empty_frame,
    polars_schema,
)

STAGE_REJECT_ORDER = ("read", "parse", "normalize", "links", "tags", "validate")


def _write(frame: pl.DataFrame, work: Path, name: str) -> str:
    path = work / f"{name}.parquet"
    frame.write_parquet(path)
    return str(path)


def _read(path: str) -> pl.DataFrame:
    return pl.read_parquet(path)


def load_vocabulary(path: Path) -> dict[str, Any]:
    """The topic vocabulary file as a mapping with a version; a bad file is a PapersError."""
    try:
        data = yaml.safe_load(path.read_text("utf-8"))
    except FileNotFoundError as exc:
        raise PapersError(f"vocabulary file not found: {path}") from exc
    except yaml.YAMLError as exc:
        raise PapersError(f"vocabulary file {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or "version" not in data or not data.get("topics"):
        raise PapersError(f"vocabulary file {path} needs a version and a list of topics")
    return data


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
    raw_dir: str, relative: str, params_path: str, work: str, cache_dir: str | None = None
) -> dict[str, Any]:
    """Read one raw file into record and reject shards (one pair per batch); paths and counts.

    With a cache_dir, shards are kept there under a key of the file's content, name, the read
    and parse params and the code, so a rerun parses only new or changed files.
    """
    params = load_params(Path(params_path))
    path = Path(raw_dir) / relative
    sha = io.sha256_file(path)
    key = parse_cache_key(sha, relative, params)
    if cache_dir:
        entry = Path(cache_dir) / key[:2] / key
        hit = _cache_hit(entry)
        if hit is not None:
            return hit
        target = io.cache_tmp_dir(entry)
    else:
        entry = None
        target = Path(work) / f"parsed-{key[:16]}"
        target.mkdir(parents=True, exist_ok=True)
    reader, batches = iter_file(path, relative, params)
    raw_records = 0
    shards = 0
    for number, (records, rejects) in enumerate(batches):
        records.write_parquet(target / f"records-{number:05d}.parquet")
        rejects.write_parquet(target / f"rejects-{number:05d}.parquet")
        raw_records += records.height + rejects.height
        shards += 1
    meta = {"file": relative, "sha256": sha, "reader": reader, "raw_records": raw_records,
            "shards": shards}  # fmt: skip
    if entry is not None:
        io.write_json(meta, target / "meta.json")
        target = io.commit_cache_entry(target, entry)
    return {**meta, **_shards(target), "cached": False}


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


def normalize_step(shards: list[dict[str, Any]], params_path: str, work: str) -> dict[str, Any]:
    """Normalise every parsed shard and merge duplicates into one row per paper."""
    params = load_params(Path(params_path))
    frames = [_read(path) for s in shards for path in s["records"]]
    records = pl.concat(frames) if frames else empty_frame(RawRecords)
    normalized, rejects = normalize_records(records, params.normalize)
    normalized = resolve_identity(normalized, params.normalize)
    papers, provenance = merge_duplicates(normalized, params.normalize)
    out = Path(work)
    return {
        "papers": _write(papers, out, "papers-base"),
        "provenance": _write(provenance, out, "provenance"),
        "raw": _write(records.select("source_file", "record_index", "raw"), out, "raw"),
        "rejects": _write(rejects, out, "normalize-rejects"),
        "records": normalized.height,
    }


def links_step(papers_path: str, params_path: str, work: str) -> dict[str, Any]:
    """Mine, clean, canonicalise and classify the links of every paper."""
    params = load_params(Path(params_path))
    papers = _read(papers_path)
    links = extract_links(papers, params.links)
    per_paper = links_per_paper(links).join(
        code_url(papers, links, params.links), on="paper_id", how="left"
    )
    return {
        "links": _write(links, Path(work), "links"),
        "per_paper": _write(per_paper, Path(work), "links-per-paper"),
    }


def tags_step(papers_path: str, params_path: str, work: str) -> dict[str, Any]:
    """Tag every paper against the vocabulary and pick its keyphrases."""
    params = load_params(Path(params_path))
    vocabulary = load_vocabulary(resolve_vocabulary(params, Path(params_path)))
    terms = compile_vocabulary(vocabulary)
    papers = _read(papers_path)
    tags = tag_papers(
        papers,
        terms,
        params.tags,
        categories=category_matches(papers, vocabulary),
        category_weight=params.tags.category_weight,
    )
    per_paper = (
        papers.select("paper_id")
        .join(tags_per_paper(tags), on="paper_id", how="left")
        .join(keyphrases(papers, terms, params.tags), on="paper_id", how="left")
    )
    return {
        "tags": _write(tags, Path(work), "tags"),
        "per_paper": _write(per_paper, Path(work), "tags-per-paper"),
        "vocabulary_version": str(vocabulary["version"]),
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


def validate_step(
    normalized: dict[str, Any],
    links: dict[str, Any],
    tags: dict[str, Any],
    parsed: list[dict[str, Any]],
    work: str,
) -> dict[str, Any]:
    """Assemble the published tables and validate them; bad papers' records become rejects."""
    papers = _assemble_papers(
        _read(normalized["papers"]), _read(links["per_paper"]), _read(tags["per_paper"])
    )
    good, provenance, rejected_records = validate_papers(
        papers, _read(normalized["provenance"]), _read(normalized["raw"]), Papers
    )
    kept = good.select("paper_id")
    # Links and tags are derived rows: those of rejected papers go with them; a derived row that
    # fails its own model is dropped and counted (it would be a pipeline bug, not lost input).
    link_rows, bad_links = split_valid(
        _read(links["links"]).join(kept, on="paper_id", how="semi"), Links
    )
    tag_rows, bad_tags = split_valid(
        _read(tags["tags"]).join(kept, on="paper_id", how="semi"), Tags
    )
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
    rejects = pl.concat(
        [_read(path) for s in parsed for path in s["rejects"]]
        + [_read(normalized["rejects"]), rejected_records]
    )
    Provenance.validate(provenance)
    Rejected.validate(rejects)
    out = Path(work)
    return {
        "papers": _write(good, out, "v-papers"),
        "links": _write(link_rows, out, "v-links"),
        "tags": _write(tag_rows, out, "v-tags"),
        "provenance": _write(provenance, out, "v-provenance"),
        "rejected": _write(rejects, out, "v-rejected"),
        "dropped": dropped,
    }


def code_sha256() -> str:
    """Hash of the pipeline's own source (the stage, schema and flow packages)."""
    import flows
    import papers
    import schemas

    digest = hashlib.sha256()
    for package in (papers, schemas, flows):
        root = Path(package.__file__ or "").parent
        for path in sorted(root.rglob("*.py")):
            digest.update(f"{package.__name__}/{path.relative_to(root).as_posix()}\0".encode())
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


def write_step(
    validated: dict[str, Any],
    parsed: list[dict[str, Any]],
    vocabulary_version: str,
    params_path: str,
    out_dir: str,
    run_id: str,
    gates: bool = True,
) -> dict[str, Any]:
    """Write the published tables, manifest and metrics to a staging folder, then publish.

    With gates, the staged build is first compared with the dataset in out_dir (papers/gates.py)
    and nothing is published when it fails one.
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
    frames = {name: _read(validated[name]) for name in PUBLISHED}
    outputs = []
    for name, (model, sort_by) in PUBLISHED.items():
        file_name = f"{name}.parquet"
        io.write_parquet(
            frames[name], model, staging / file_name, params.write,
            {**metadata, "papers.table": name}, sort_by,
        )  # fmt: skip
        outputs.append(
            {"path": file_name, "sha256": io.sha256_file(staging / file_name),
             "rows": frames[name].height}
        )  # fmt: skip
    counts = _counts(frames, parsed, validated["dropped"])
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
        "dropped": validated["dropped"],
    }
    io.write_json(manifest, staging / io.MANIFEST)
    io.write_json(
        {**_metrics(frames, counts), "quality": _quality(frames, params, Path(params_path))},
        staging / io.METRICS,
    )
    names = [f"{n}.parquet" for n in PUBLISHED] + [io.METRICS, io.MANIFEST]
    names += history.write_plots(frames["papers"], staging)
    names.append(card.write_card(staging, params))  # README.md: the dataset card
    if gates:
        enforce_gates(out, staging, params.gates)
    io.fault_point("write")
    io.publish(staging, out, names)
    return {"dataset_version": version, "counts": counts, "out_dir": str(out)}


def _counts(
    frames: dict[str, pl.DataFrame], parsed: list[dict[str, Any]], dropped: list[dict[str, Any]]
) -> dict[str, Any]:
    rejected = frames["rejected"]
    by_stage = Counter(rejected["stage"].to_list())
    raw_records = sum(int(p["raw_records"]) for p in parsed)
    counts: dict[str, Any] = {
        "input_files": len(parsed),
        "raw_records": raw_records,
        "records_in_papers": frames["provenance"].height,
        "papers": frames["papers"].height,
        "merged_duplicates": frames["provenance"].height - frames["papers"].height,
        "rejected": rejected.height,
        "rejected_by_stage": {s: by_stage.get(s, 0) for s in STAGE_REJECT_ORDER},
        "links": frames["links"].height,
        "tags": frames["tags"].height,
        "dropped_derived_rows": len(dropped),
    }
    if raw_records != frames["provenance"].height + rejected.height:
        msg = (
            f"counts do not reconcile: {raw_records} raw records but "
            f"{frames['provenance'].height} in papers + {rejected.height} rejected"
        )
        raise PapersError(msg)
    return counts


def _quality(frames: dict[str, pl.DataFrame], params: Params, params_path: Path) -> dict[str, Any]:
    """The enrichment quality figures (papers evaluate), so DVC shows how they move."""
    from papers.evaluate import (
        GOLD_LINKS,
        code_link_agreement,
        links_against_gold,
        load_gold,
        tag_quality,
    )

    terms = compile_vocabulary(load_vocabulary(resolve_vocabulary(params, params_path)))
    quality: dict[str, Any] = {
        "code_links": code_link_agreement(frames["papers"], frames["links"], params),
        "tags": tag_quality(frames["papers"], frames["tags"], terms),
    }
    if GOLD_LINKS.exists():
        quality["links_gold"] = links_against_gold(load_gold(GOLD_LINKS), params)
    return quality


def _metrics(frames: dict[str, pl.DataFrame], counts: dict[str, Any]) -> dict[str, Any]:
    papers = frames["papers"]
    n = max(papers.height, 1)
    kinds = Counter(frames["links"]["kind"].to_list())
    return {
        "papers": counts["papers"],
        "raw_records": counts["raw_records"],
        "rejected": counts["rejected"],
        "links": counts["links"],
        "tags": counts["tags"],
        "links_by_kind": dict(sorted(kinds.items())),
        "papers_with_code_url": int(papers["code_url"].is_not_null().sum()),
        "tag_coverage": round(float((papers["tags"].list.len() > 0).sum()) / n, 4),
        "mean_tags_per_paper": round(float(papers["tags"].list.len().sum()) / n, 4),
    }
