"""dvc.yaml and the CLI agree: every stage calls a real command with real options, and lists
the code, params and data it reads and the files it writes."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import typer
import yaml

from papers.card import CARD
from papers.cli import app
from schemas import PUBLISHED


def load(repo: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((repo / "dvc.yaml").read_text())
    return data["stages"]


def command(name: str) -> Any:
    group: Any = typer.main.get_command(app)
    commands: dict[str, Any] = group.commands
    assert name in commands, f"dvc.yaml calls unknown command papers {name}"
    return commands[name]


def test_every_stage_calls_an_existing_command_with_existing_options(repo: Path) -> None:
    for stage_name, stage in load(repo).items():
        argv = shlex.split(stage["cmd"])
        assert argv[0] == "papers", stage_name
        cmd = command(argv[1])
        known = {opt for p in cmd.params for opt in getattr(p, "opts", [])}
        used = {a for a in argv[2:] if a.startswith("--")}
        assert used <= known, (stage_name, used - known)


def option_value(stage: dict[str, Any], option: str) -> str:
    argv = shlex.split(stage["cmd"])
    return argv[argv.index(option) + 1]


def outs(stage: dict[str, Any], key: str = "outs") -> list[str]:
    return [next(iter(o)) if isinstance(o, dict) else o for o in stage.get(key, [])]


def test_build_stage_lists_what_it_reads_and_writes(repo: Path) -> None:
    stage = load(repo)["build-dataset"]
    out = option_value(stage, "--out")
    raw = option_value(stage, "--raw")
    params_file = option_value(stage, "--params")
    assert params_file == "params.yaml"
    # every source package and data folder the run reads is a dependency
    for dep in (raw, "flows", "papers", "schemas", "vocab"):
        assert dep in stage["deps"], dep
    # every params section the build reads is listed, and only existing ones (the schedule is
    # read by `papers serve`, not by the build)
    sections = set(yaml.safe_load((repo / params_file).read_text())) - {"schedule"}
    assert set(stage["params"]) == sections
    # the outputs are exactly the published tables plus the manifest; metrics separately. The
    # tables are directories of node files (write.layout: partitioned), tracked as DVC
    # directory outs: a new version adds only its new files to the cache
    assert yaml.safe_load((repo / params_file).read_text())["write"]["layout"] == "partitioned"
    expected = {f"{out}/{name}" for name in PUBLISHED} | {f"{out}/manifest.json"}
    expected |= {f"{out}/{CARD}"}  # the dataset card
    expected |= {f"{out}/changes"}  # the change feed's directory
    assert set(outs(stage)) == expected
    assert outs(stage, "metrics") == [f"{out}/metrics.json"]
    # the vocabulary and the keyphrase IDF the params point at live inside a listed dependency
    tags = yaml.safe_load((repo / params_file).read_text())["tags"]
    for pinned in (tags["vocabulary"], tags["keyphrase_idf"]):
        assert any(Path(pinned).is_relative_to(d) for d in stage["deps"]), pinned


def test_validate_stage_reads_the_published_files(repo: Path) -> None:
    stages = load(repo)
    out = option_value(stages["build-dataset"], "--out")
    # the files the gate checks: every output but the dataset card (documentation) and the
    # change feed (what changed, not the dataset)
    published = set(outs(stages["build-dataset"])) - {f"{out}/{CARD}", f"{out}/changes"}
    validate = stages["validate"]
    assert published <= set(validate["deps"])
    assert option_value(validate, "--out") == option_value(stages["build-dataset"], "--out")


def test_published_outputs_are_git_ignored(repo: Path) -> None:
    ignore = (repo / "data/processed/.gitignore").read_text().splitlines()
    for name in (*PUBLISHED, "changes", "manifest.json"):
        assert f"/{name}" in ignore, name
