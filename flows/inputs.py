"""The build's inputs, read and checked without Prefect: `papers run` checks them before it starts
a Prefect server (a bad folder or params file fails in a second with one readable line), and the
flow reads them through the same function."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from papers import io
from papers.config import KeyphraseIdf, Params, load_build_config
from papers.errors import PapersError


def check_inputs(raw_dir: Path, params_path: Path) -> list[str]:
    """Fail fast, with one readable line, before any task runs; return the input files."""
    return read_inputs(raw_dir, params_path)[0]


def read_inputs(
    raw_dir: Path, params_path: Path
) -> tuple[list[str], Params, dict[str, Any], KeyphraseIdf | None]:
    """(input files, params, vocabulary, keyphrase IDF): the one place a build reads params.yaml
    (and the vocabulary and IDF files it names); a missing folder or file or a bad one is a
    PapersError."""
    if not raw_dir.is_dir():
        raise PapersError(f"raw input folder not found: {raw_dir}")
    config = load_build_config(params_path)
    files = [p.relative_to(raw_dir).as_posix() for p in io.list_inputs(raw_dir)]
    if not files:
        raise PapersError(f"no input files under {raw_dir}")
    return files, config.params, config.vocabulary, config.idf
