"""The build-dataset flow: parse, normalize, links + tags, validate, write, as Prefect tasks.

Tasks exchange file paths and small counts, never DataFrames. The flow runs against the Prefect
API in PREFECT_API_URL when set, and otherwise on a temporary local server Prefect starts itself.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NONE

from papers import io, steps
from papers.config import load_params, resolve_vocabulary
from papers.errors import PapersError

# Files per parse task: one task per file would spend more time in orchestration than in parsing
# when a folder holds hundreds of small daily files.
FILES_PER_PARSE_TASK = 64


@task(name="parse", cache_policy=NONE)
def parse(
    raw_dir: str, relatives: list[str], params_path: str, work: str, cache_dir: str | None
) -> list[dict[str, Any]]:
    return [steps.parse_step(raw_dir, r, params_path, work, cache_dir) for r in relatives]


@task(name="normalize", cache_policy=NONE)
def normalize(parsed: list[dict[str, Any]], params_path: str, work: str) -> dict[str, Any]:
    return steps.normalize_step(parsed, params_path, work)


@task(name="links", cache_policy=NONE)
def links(papers_path: str, params_path: str, work: str) -> dict[str, Any]:
    return steps.links_step(papers_path, params_path, work)


@task(name="tags", cache_policy=NONE)
def tags(papers_path: str, params_path: str, work: str) -> dict[str, Any]:
    return steps.tags_step(papers_path, params_path, work)


@task(name="validate", cache_policy=NONE)
def validate(
    normalized: dict[str, Any],
    links_out: dict[str, Any],
    tags_out: dict[str, Any],
    parsed: list[dict[str, Any]],
    work: str,
) -> dict[str, Any]:
    return steps.validate_step(normalized, links_out, tags_out, parsed, work)


@task(name="write", cache_policy=NONE)
def write(
    validated: dict[str, Any],
    parsed: list[dict[str, Any]],
    vocabulary_version: str,
    params_path: str,
    out_dir: str,
    run_id: str,
    gates: bool = True,
) -> dict[str, Any]:
    return steps.write_step(
        validated, parsed, vocabulary_version, params_path, out_dir, run_id, gates=gates
    )


def check_inputs(raw_dir: Path, params_path: Path) -> list[str]:
    """Fail fast, with one readable line, before any task runs; return the input files."""
    if not raw_dir.is_dir():
        raise PapersError(f"raw input folder not found: {raw_dir}")
    params = load_params(params_path)
    steps.load_vocabulary(resolve_vocabulary(params, params_path))
    files = [p.relative_to(raw_dir).as_posix() for p in io.list_inputs(raw_dir)]
    if not files:
        raise PapersError(f"no input files under {raw_dir}")
    return files


@flow(name="build-dataset", validate_parameters=True)
def build_dataset(
    raw_dir: str = "data/raw",
    out_dir: str = "data/processed",
    params_path: str = "params.yaml",
    cache_dir: str | None = None,
    wait_s: float = 0.0,
    gates: bool = True,
) -> dict[str, Any]:
    """Build the curated dataset from every file under raw_dir into out_dir (atomically).

    With gates (params.yaml: gates), a build that falls too far behind the dataset already in
    out_dir fails with the reasons and publishes nothing.

    One run at a time per out_dir: a second run waits up to wait_s seconds for the lock, then
    fails with a clear error. A publish interrupted by a crash is completed first.
    """
    files = check_inputs(Path(raw_dir), Path(params_path))
    out = Path(out_dir)
    with io.output_lock(out, wait_s):
        return _build(raw_dir, files, out, params_path, cache_dir, gates)


def _build(
    raw_dir: str,
    files: list[str],
    out: Path,
    params_path: str,
    cache_dir: str | None,
    gates: bool = True,
) -> dict[str, Any]:
    logger = get_run_logger()
    out_dir = str(out)
    for line in io.recover(out):
        logger.warning("%s", line)
    run_id = uuid.uuid4().hex[:12]
    work = out / f".work-{run_id}"
    work.mkdir()
    try:
        batches = [
            files[i : i + FILES_PER_PARSE_TASK] for i in range(0, len(files), FILES_PER_PARSE_TASK)
        ]
        futures = [
            parse.submit(raw_dir, batch, params_path, str(work), cache_dir) for batch in batches
        ]
        parsed = [shard for future in futures for shard in future.result()]
        io.fault_point("parse")
        logger.info(
            "parsed %d files (%d from the parse cache), %d raw records",
            len(parsed), sum(bool(p["cached"]) for p in parsed),
            sum(p["raw_records"] for p in parsed),
        )  # fmt: skip
        normalized = normalize(parsed, params_path, str(work))
        links_future = links.submit(normalized["papers"], params_path, str(work))
        tags_future = tags.submit(normalized["papers"], params_path, str(work))
        links_out, tags_out = links_future.result(), tags_future.result()
        io.fault_point("enrich")
        validated = validate(normalized, links_out, tags_out, parsed, str(work))
        summary = write(validated, parsed, tags_out["vocabulary_version"], params_path,
                        out_dir, run_id, gates)  # fmt: skip
        logger.info("published dataset version %s: %s", summary["dataset_version"],
                    summary["counts"])  # fmt: skip
        return summary
    finally:
        shutil.rmtree(work, ignore_errors=True)
