"""`papers run --executor dask`: the same flow on a 2-worker Dask cluster, byte-identical output.

The cluster is a real `distributed.LocalCluster` of worker processes (not threads), so every task
argument and result crosses a process boundary as it would across machines, and the workers
report their task runs to the session's Prefect server.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.runners import make_task_runner
from papers.cli import app
from papers.errors import PapersError
from tests.conftest import every_file, params_file

runner = CliRunner()

# A small multi-file raw folder: the seed page plus one file of each other reader, and a
# truncated file and bad records so that rejects travel through the cluster as well.
FIXTURE_FILES = {
    "hf_daily_papers/2024-05-27.json": "hf_api/2024-05-27.json",
    "hf_daily_papers/2024-12-13.json": "hf_api/2024-12-13.json",
    "hf_daily_papers/truncated.json": "hf_api/truncated.json",
    "arxiv/snapshot.jsonl": "arxiv/snapshot.jsonl",
    "arxiv/oai_page.xml": "arxiv/oai_page.xml",
    "arxiv/atom_2026.xml": "arxiv/atom_2026.xml",
    "feeds/hf-papers-2024-05-28.json": "feeds/hf-papers-2024-05-28.json",
    "feeds/hf-papers.atom.xml": "feeds/hf-papers.atom.xml",
}


@pytest.fixture(scope="module")
def raw(repo: Path, fixtures: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("dask-raw") / "raw"
    shutil.copytree(repo / "data" / "raw", folder)
    for target, source in FIXTURE_FILES.items():
        (folder / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(fixtures / source, folder / target)
    return folder


@pytest.fixture(scope="module")
def cluster() -> Iterator[object]:
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=":0"
    ) as local:
        yield local


def run_json(*args: str) -> dict[str, object]:
    result = runner.invoke(app, ["run", "--json", *args])
    assert result.exit_code == 0, result.stderr
    summary: dict[str, object] = json.loads(result.stdout)
    return summary


def test_dask_outputs_are_byte_identical_to_local(
    prefect_harness: None, repo: Path, raw: Path, cluster: object, tmp_path: Path
) -> None:
    # small node files: the partitioned tables come as several files each, every one of them the
    # same bytes whichever executor ran the partitions
    limits = {"papers": 15, "links": 20, "tags": 60, "provenance": 20, "rejected": 20}
    params = str(params_file(tmp_path, partition_max_rows=limits))
    cache = str(tmp_path / "cache")  # shared by the workers: written by one run, read by the next
    local = run_json("--raw", str(raw), "--out", str(tmp_path / "local"), "--params", params,
                     "--no-cache")  # fmt: skip
    remote = run_json(
        "--raw", str(raw), "--out", str(tmp_path / "address"), "--params", params,
        "--cache-dir", cache, "--executor", "dask",
        "--address", cluster.scheduler_address,  # type: ignore[attr-defined]
    )  # fmt: skip
    spawned = run_json(
        "--raw", str(raw), "--out", str(tmp_path / "workers"), "--params", params,
        "--cache-dir", cache, "--executor", "dask", "--workers", "2",
    )  # fmt: skip

    # The per-shard tasks really ran on the given cluster's worker processes (Dask names them
    # after the task functions: parse, normalize, ...).
    prefixes = set(cluster.scheduler.task_prefixes)  # type: ignore[attr-defined]
    assert "parse" in prefixes, prefixes
    assert len(prefixes) >= 2, prefixes
    assert any(Path(cache).rglob("meta.json"))  # the workers filled the shared parse cache

    counts = local["counts"]
    assert isinstance(counts, dict)
    assert counts["input_files"] == 1 + len(FIXTURE_FILES)
    assert counts["rejected"] > 0
    assert remote["counts"] == spawned["counts"] == counts
    assert remote["dataset_version"] == spawned["dataset_version"] == local["dataset_version"]
    expected = every_file(tmp_path / "local")
    assert {"manifest.json", "metrics.json"} <= set(expected)
    tops = {name.partition("/")[0] for name in expected if "/" in name}
    assert {"papers", "links", "tags", "provenance", "rejected"} <= tops
    assert len([name for name in expected if name.startswith("papers/")]) > 2
    assert every_file(tmp_path / "address") == expected
    assert every_file(tmp_path / "workers") == expected


@pytest.mark.parametrize(
    ("executor", "address", "workers", "message"),
    [
        ("spark", None, None, "unknown executor 'spark'"),
        ("local", "tcp://127.0.0.1:8786", None, "--address and --workers need --executor dask"),
        ("local", None, 2, "--address and --workers need --executor dask"),
        ("dask", "tcp://127.0.0.1:8786", 2, "either --address"),
    ],
)
def test_runner_choice_is_checked(
    executor: str, address: str | None, workers: int | None, message: str
) -> None:
    with pytest.raises(PapersError, match=message):
        make_task_runner(executor, address, workers)


def test_runner_settings() -> None:
    from prefect.task_runners import ThreadPoolTaskRunner
    from prefect_dask.task_runners import DaskTaskRunner

    assert isinstance(make_task_runner("local"), ThreadPoolTaskRunner)
    remote = make_task_runner("dask", address="10.0.0.5:8786")
    assert isinstance(remote, DaskTaskRunner)
    assert remote.address == "tcp://10.0.0.5:8786"
    spawned = make_task_runner("dask", workers=3)
    assert isinstance(spawned, DaskTaskRunner)
    assert spawned.cluster_kwargs["n_workers"] == 3
    assert spawned.cluster_kwargs["threads_per_worker"] == 1
    assert int(spawned.cluster_kwargs["env"]["POLARS_MAX_THREADS"]) >= 1


def test_bad_executor_is_one_line_error() -> None:
    result = runner.invoke(app, ["run", "--executor", "spark"])
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: unknown executor 'spark' (choose one of local, dask)"
