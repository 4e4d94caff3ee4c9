"""What runs inside a benchmark's measuring child (bench/harness.py starts it:
`python -m bench.children KIND ARGS_JSON RESULT_PATH`): the in-process pipeline with each stage
timed, the I/O floor, the per-record baseline, the Prefect flow, the kernels' build, a build
with a cache, the generator. Each writes its figures as JSON to RESULT_PATH."""

from __future__ import annotations

import inspect
import json
import resource
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from bench.harness import RAW_NAME


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class _Stages:
    """Wall time and peak RSS of each stage.

    On Linux the stage's own peak: the kernel's high-water mark (VmHWM) is read and reset
    (/proc/self/clear_refs) as each stage ends, so a stage's figure is not hidden by an earlier,
    larger one. Elsewhere only the peak so far is known.
    """

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, float]] = {}
        self._t = time.perf_counter()
        self._cpu = time.process_time()
        self._peak = 0.0
        self._reset_hwm()

    @staticmethod
    def _reset_hwm() -> bool:
        try:
            Path("/proc/self/clear_refs").write_text("5")
        except OSError:
            return False
        return True

    @staticmethod
    def _hwm_mib() -> float | None:
        try:
            status = Path("/proc/self/status").read_text()
        except OSError:
            return None
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return None

    def done(self, name: str) -> None:
        now, cpu = time.perf_counter(), time.process_time()
        own = self._hwm_mib()
        # CPU over wall: how many of the cores the stage kept busy
        row: dict[str, float] = {"seconds": now - self._t, "cpu_seconds": cpu - self._cpu}
        if own is not None and self._reset_hwm():
            row["peak_rss_mib"] = own
            self._peak = max(self._peak, own)
        else:
            self._peak = max(self._peak, _rss_mib())
        # once the mark is reset, ru_maxrss holds only the peak since: keep the running maximum
        row["peak_rss_mib_so_far"] = self._peak
        self.rows[name] = row
        self._t, self._cpu = now, cpu

    @property
    def peak_mib(self) -> float:
        return max(self._peak, _rss_mib())


def run_steps(
    raw_dir: Path, out: Path, params_path: Path, cache_dir: Path | None
) -> dict[str, Any]:
    """The build-dataset flow's work without Prefect (papers.pipeline.local.run_local), each stage
    timed (loading the params and vocabulary is not)."""
    from papers.config import (
        load_keyphrase_idf,
        load_params,
        load_vocabulary,
        resolve_keyphrase_idf,
        resolve_vocabulary,
    )
    from papers.pipeline.local import run_local

    params = load_params(params_path)
    vocabulary = load_vocabulary(resolve_vocabulary(params, params_path))
    idf = load_keyphrase_idf(resolve_keyphrase_idf(params, params_path))
    stages = _Stages()
    summary = run_local(
        str(raw_dir),
        str(out),
        params,
        vocabulary,
        str(cache_dir) if cache_dir else None,
        on_stage=stages.done,
        idf=idf,
    )
    seconds = sum(stage["seconds"] for stage in stages.rows.values())
    # the enrichment stages the partitions ran over all their papers (the rest from the memo)
    rerun = sorted({stage for part in summary["partitions"] for stage in part.get("rerun", [])})
    return {
        "stages": stages.rows,
        "counts": summary["counts"],
        "rerun": rerun,
        "seconds": seconds,
        "peak_rss_mib": stages.peak_mib,
    }


def _child_pipeline(args: dict[str, Any]) -> dict[str, Any]:
    import papers.pipeline.local  # noqa: F401 - imported before the clock (and the profiler) starts

    out = Path(args["out"])
    shutil.rmtree(out, ignore_errors=True)
    raw, params = Path(args["raw"]), Path(args["params"])
    if args.get("profile"):
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.005)
        profiler.start()
        result = run_steps(raw, out, params, None)
        profiler.stop()
        Path(args["profile"]).write_text(profiler.output_html(), "utf-8")
        text = profiler.output_text(unicode=False, color=False, show_all=False)
        Path(args["profile"]).with_suffix(".txt").write_text(text, "utf-8")
        return result
    return run_steps(raw, out, params, None)


def _child_floor(args: dict[str, Any]) -> dict[str, Any]:
    import polars as pl

    from papers.config import load_params
    from papers.readers.arxiv_snapshot_records import SNAPSHOT_SCHEMA

    write = load_params(Path(args["params"])).write
    out = Path(args["out"])
    out.mkdir(parents=True, exist_ok=True)
    target = out / "floor.parquet"
    started = time.perf_counter()
    # Streaming read and write: the least any pipeline must do to turn these lines into Parquet.
    pl.scan_ndjson(Path(args["raw"]) / RAW_NAME, schema=SNAPSHOT_SCHEMA).sink_parquet(
        target,
        compression=write.compression,
        compression_level=write.compression_level,
        row_group_size=write.row_group_size,
    )
    seconds = time.perf_counter() - started
    rows = pl.scan_parquet(target).select(pl.len()).collect().item()
    return {"rows": rows, "seconds": seconds}


def _child_baseline(args: dict[str, Any]) -> dict[str, Any]:
    from bench import baseline

    out = Path(args["out"])
    shutil.rmtree(out, ignore_errors=True)
    timings, counts = baseline.run(Path(args["raw"]), out, Path(args["params"]))
    return {
        "stages": {k: {"seconds": v} for k, v in timings.items()},
        "counts": counts,
        "seconds": sum(timings.values()),
    }


def _child_prefect(args: dict[str, Any]) -> dict[str, Any]:
    from flows.build import build_dataset

    out = Path(args["out"])
    shutil.rmtree(out, ignore_errors=True)
    extra = {"gates": False} if "gates" in inspect.signature(build_dataset.fn).parameters else {}
    started = time.perf_counter()
    build_dataset(raw_dir=args["raw"], out_dir=str(out), params_path=args["params"], **extra)
    return {"flow_seconds": time.perf_counter() - started}


def _child_kernels(args: dict[str, Any]) -> dict[str, Any]:
    """Every compiled kernel compiled, or loaded from numba's cache (`__pycache__`, kept per
    machine and code): a small generated input built in process with every compiled pass forced
    on (the thresholds lowered as tests/stages/test_neardup.py does). A fresh clone's first large
    build pays the compiles once (tens of seconds on two cores); measured here, they stay out of
    the sizes' figures, as the package install does."""
    import papers.pipeline.local  # noqa: F401 - imported before the clock starts
    from papers.stages import compiled, neardup

    compiled.ALWAYS_FROM = 0
    neardup.COMPILED_ROWS = neardup.COMPILED_PAIRS = 0
    out = Path(args["out"])
    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    run_steps(Path(args["raw"]), out, Path(args["params"]), None)
    seconds = time.perf_counter() - started
    shutil.rmtree(out, ignore_errors=True)
    kernels = compiled.kernels()
    missing = sorted(name for name, dispatcher in kernels.items() if not dispatcher.signatures)
    if missing:
        raise SystemExit(f"bench: the kernels' build did not reach {missing}")
    return {"seconds": seconds, "kernels": sorted(kernels)}


def _child_build(args: dict[str, Any]) -> dict[str, Any]:
    """One build into `out` with a cache folder, keeping what `out` holds (incremental runs)."""
    import papers.pipeline.local  # noqa: F401 - imported before the clock starts

    cache = Path(args["cache"]) if args.get("cache") else None
    return run_steps(Path(args["raw"]), Path(args["out"]), Path(args["params"]), cache)


def _pool(args: dict[str, Any]) -> Any:
    """The generator's pool of real records, from args["sources"] (or its defaults), kept
    under args["work"]."""
    from bench import generate

    sources = tuple(Path(s) for s in args["sources"]) if args["sources"] else None
    return generate.load_pool(sources or generate.default_sources(), Path(args["work"]))


def _child_generate(args: dict[str, Any]) -> dict[str, Any]:
    from bench import generate

    started = time.perf_counter()
    generate.generate(args["n"], Path(args["path"]), args["seed"], _pool(args),
                      start=args["start"], text=args.get("text", "pairs"))  # fmt: skip
    return {"seconds": time.perf_counter() - started}


def _child_generate_day(args: dict[str, Any]) -> dict[str, Any]:
    from bench import generate

    started = time.perf_counter()
    generate.generate_day(
        args["n"], Path(args["path"]), args["new"], args["updates"], args["model"], args["seed"],
        _pool(args),
    )  # fmt: skip
    return {"seconds": time.perf_counter() - started}


CHILDREN = {
    "pipeline": _child_pipeline,
    "floor": _child_floor,
    "baseline": _child_baseline,
    "prefect": _child_prefect,
    "build": _child_build,
    "kernels": _child_kernels,
    "generate": _child_generate,
    "generate_day": _child_generate_day,
}


def main(argv: list[str] | None = None) -> int:
    kind, args, result_path = sys.argv[1:] if argv is None else argv
    result = CHILDREN[kind](json.loads(args))
    Path(result_path).write_text(json.dumps(result), "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
