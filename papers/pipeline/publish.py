"""The publish step: the partitions' tables streamed into the published Parquet files, with the
manifest, metrics, plots and dataset card, written to a staging folder and then published
atomically (after the quality gates, when asked). Also `unchanged`: whether out_dir already
holds a dataset version intact, so an incremental run has nothing to do."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import polars as pl

from papers import __version__, card, dataset, history, io
from papers.config import KeyphraseIdf, Params
from papers.dataset import VERSION_KEYS, FileEntry, split_by_node, write_table
from papers.errors import PapersError
from papers.fill_rates import fill_rates
from papers.gates import enforce as enforce_gates
from papers.pipeline.figures import quality_figures, table_figures
from papers.pipeline.parallel import parallel_map
from papers.pipeline.version import code_sha256, dataset_version
from papers.stages.keyphrases import keyphrase_top
from schemas import PUBLISHED, SCHEMA_VERSION, Provenance, Rejected

# the tables `write.layout: partitioned` publishes as directories of node files
PARTITIONED = ("papers", "links", "tags")
DEFAULT_MAX_ROWS = 1_000_000
STAGE_REJECT_ORDER = ("read", "parse", "normalize", "links", "tags", "validate")
_PROVENANCE_COLUMNS = ("paper_id", "source_file", "source", "record_index", "line")


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
) -> dict[str, Any]:
    """Stream the partitions' tables into the published files; manifest, metrics; publish.

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
        params,
        vocabulary,
        out_dir,
        run_id,
        gates,
        records=records,
        idf=idf,
    )


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
) -> dict[str, Any]:
    """Write the published tables, manifest and metrics to a staging folder, then publish.

    Each table is a whole frame or its sorted parts in published order (streamed: one part in
    memory at a time). With gates, the staged build is first compared with the dataset in
    out_dir (papers/gates.py) and nothing is published when it fails one. `records` are the
    normalised record files before the merge; metrics.json's per-source fill rates are measured
    on them (papers/fill_rates.py). `idf` is the pinned keyphrase IDF the papers were ranked
    with (None: ranked against this build), recorded in the version and the manifest.
    """
    vocabulary_version = str(vocabulary["version"])
    out = Path(out_dir)
    idf_sha256 = idf.sha256 if idf is not None else None
    version = dataset_version([p["sha256"] for p in parsed], params, vocabulary_version, idf_sha256)
    metadata = {
        "papers.dataset": params.write.dataset_name,
        "papers.dataset_version": version,
        "papers.schema_version": SCHEMA_VERSION,
        "papers.vocabulary_version": vocabulary_version,
    }
    staging = io.staging_dir(out, run_id)
    outputs: list[dict[str, Any]] = []
    rows: dict[str, int] = {}

    digests: dict[str, str] = {}
    partitioned = params.write.layout == "partitioned"
    files: dict[str, list[FileEntry]] = {}

    def write(names: list[str]) -> None:
        for name in names:
            model, sort_by = PUBLISHED[name]
            if partitioned and name in PARTITIONED:
                files[name] = _write_partitioned(
                    name, tables[name], staging, params, metadata, list(sort_by)
                )
                rows[name] = sum(entry.rows for entry in files[name])
                continue
            rows[name] = io.write_parquet(
                tables[name], model, staging / f"{name}.parquet", params.write,
                {**metadata, "papers.table": name}, sort_by,
            )  # fmt: skip
            # hashed here, beside the other group's writing (hashlib releases the GIL)
            digests[name] = io.sha256_file(staging / f"{name}.parquet")

    # the papers table (keyphrases picked as it streams) beside all the others: two cores busy
    parallel_map(write, [(["papers"],), ([n for n in PUBLISHED if n != "papers"],)])
    for name in PUBLISHED:
        if name in files:
            outputs.extend(entry.as_json() for entry in files[name])
            continue
        file_name = f"{name}.parquet"
        outputs.append({"path": file_name, "sha256": digests[name], "rows": rows[name]})
    counts = _counts(staging, rows, parsed, dropped)
    manifest = {
        "dataset": {"name": params.write.dataset_name, "version": version},
        # only when partitioned: a single-file build's manifest stays as it was
        **({"layout": params.write.layout} if partitioned else {}),
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
        "outputs": outputs,
        "counts": counts,
        "dropped": dropped,
    }
    io.write_json(manifest, staging / io.MANIFEST)
    # the figures stream the staged files (the columns they need, counted by the streaming
    # engine): at 5M records reading five columns of every paper was the write step's peak
    papers = pl.scan_parquet(_scan_path(staging, "papers", files))
    links = pl.scan_parquet(_scan_path(staging, "links", files))
    io.write_json(
        {
            **table_figures(papers, links, counts),
            "quality": quality_figures(staging, papers, links, params, vocabulary),
            "fill_rates": fill_rates(
                pl.scan_parquet(list(records)) if records else None,
                pl.scan_parquet(staging / "provenance.parquet"),
                papers,
            ),
        },
        staging / io.METRICS,
    )
    names = [f"{n}.parquet" for n in PUBLISHED if n not in files]
    names += [entry.path for name in files for entry in files[name]]
    names += [io.METRICS, io.MANIFEST]
    names += history.write_plots(papers, staging)
    names.append(card.write_card(staging, params))  # README.md: the dataset card
    if gates:
        enforce_gates(out, staging, params.gates)
    io.fault_point("write")
    io.publish(staging, out, names)
    if partitioned:
        _remove_unlisted(out, files)
    return {"dataset_version": version, "counts": counts, "out_dir": str(out)}


def _write_partitioned(
    name: str,
    table: pl.DataFrame | Iterable[pl.DataFrame],
    staging: Path,
    params: Params,
    metadata: Mapping[str, str],
    sort_by: list[str],
) -> list[FileEntry]:
    """Table `name` as content-named node files in staging/<name>/ (dataset.write_table).

    The node plan needs the whole table's per-leaf counts, so the table's parts are gathered
    here (one table in memory; streaming per node is the next step). The files carry no
    dataset version: with it every file would change with every version.
    """
    frame = table if isinstance(table, pl.DataFrame) else pl.concat(list(table), how="vertical")
    model, _ = PUBLISHED[name]
    max_rows = params.write.partition_max_rows.get(name, DEFAULT_MAX_ROWS)
    file_metadata = {k: v for k, v in metadata.items() if k not in VERSION_KEYS}
    return write_table(
        split_by_node(frame, max_rows),
        model,
        staging / name,
        params.write,
        {**file_metadata, "papers.table": name},
        sort_by,
    )


def _scan_path(folder: Path, name: str, files: Mapping[str, list[FileEntry]]) -> Path | list[Path]:
    """What to scan for table `name` of a staged build: its files, or its single file."""
    if name in files:
        return [folder / entry.path for entry in files[name]]
    return folder / f"{name}.parquet"


def _remove_unlisted(out: Path, files: Mapping[str, list[FileEntry]]) -> None:
    """After the commit: drop the files of the partitioned tables that the new manifest does not
    list (the previous version's changed nodes), and the single files they replace, so a plain
    glob of a table directory reads exactly the published version. A crash before this leaves
    extra files that the next publish removes (garbage collection proper, with the journal and
    manifest v2, is the next step: docs/design/partitioned-versions.md §4)."""
    for name, entries in files.items():
        keep = {Path(entry.path).name for entry in entries}
        for path in dataset.table_files(out / name):
            if path.name not in keep:
                path.unlink(missing_ok=True)
        (out / f"{name}.parquet").unlink(missing_ok=True)


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
