"""The compiled vocabulary (the tag stage's matchable forms), compiled once per content."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import polars as pl

from papers.stages.tags import compile_vocabulary


def compiled_terms(vocabulary: dict[str, Any]) -> pl.DataFrame:
    """The compiled vocabulary, compiled once per vocabulary content in this process."""
    return _compiled(json.dumps(vocabulary, sort_keys=True, default=str))


@cache
def _compiled(vocabulary_json: str) -> pl.DataFrame:
    return compile_vocabulary(json.loads(vocabulary_json))
