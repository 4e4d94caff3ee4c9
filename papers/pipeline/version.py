"""What a published dataset is made of, as hashes: the pipeline's code and the dataset version."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from papers.config import Params
from papers.pipeline.cache import cache_key
from schemas import SCHEMA_VERSION


@cache
def code_sha256() -> str:
    """Hash of the pipeline's own source (the stage, schema and flow packages).

    The packages are found as folders beside this one, not imported: the core does not know the
    flows exist, it only hashes the code that runs it.
    """
    source_root = Path(__file__).resolve().parents[2]  # papers/pipeline/version.py
    digest = hashlib.sha256()
    for package in ("papers", "schemas", "flows"):
        root = source_root / package
        for path in sorted(root.rglob("*.py")):
            digest.update(f"{package}/{path.relative_to(root).as_posix()}\0".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def dataset_version(
    input_hashes: list[str],
    params: Params,
    vocabulary: Mapping[str, Any],
    idf_sha256: str | None = None,
) -> str:
    """Content-derived version: the same inputs, params, vocabulary (its content: an edit that
    forgot to bump its `version` is still another dataset), keyphrase IDF file (its sha256; None
    when keyphrases are ranked against the build itself) and code give the same id."""
    blob = json.dumps(
        {
            "inputs": sorted(input_hashes),
            "params": params.sha256(),
            "vocabulary": cache_key(vocabulary),
            "keyphrase_idf": idf_sha256,
            "schema": SCHEMA_VERSION,
            "code": code_sha256(),
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:12]
