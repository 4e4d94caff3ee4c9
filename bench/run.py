"""Benchmark: the pipeline against the I/O floor and a straightforward baseline, per input size.

    python bench/run.py [--sizes 100000,1000000] [--skip-baseline-above N] [--json PATH]
                        [--profile] [--prefect] [--no-cli] [--max-rss-gib G]
                        [--work DIR] [--from DIR] [--no-floor] [--no-baseline]
                        [--no-pipeline] [--text pairs|sentences]
    python bench/run.py --incremental [--records 1000000] [--update-model recent|uniform|both]
                        [--validate-only] [--new N] [--updates N]

For each size N, one measurement after another, each in a child process of its own (so one run's
memory and caches do not flatter or burden the next; peak RSS is the child's ru_maxrss from
wait4), each after reading its raw input once untimed (all start from the page cache):

- generate: bench/generate.py writes (or reuses, cached under data/interim/bench/) N records;
  --text sentences makes abstracts of pool sentences instead of two records' halves (beyond ~1M
  the halves repeat so often that their real near-duplicate pairs number ~10^9 at 5M);
- pipeline: the build-dataset flow's steps called in one process without Prefect
  (`papers.pipeline.local.run_local`), each stage timed; the published files are the ones
  `papers run` writes;
- floor: the I/O floor, polars reading the same raw file and writing its rows to Parquet with the
  dataset's compression, no processing;
- baseline: bench/baseline.py, the same stages written per record over dicts (see there);
  above --skip-baseline-above it runs on the first M records (the generator's output for M is a
  prefix of the one for N) and its time is extrapolated linearly, and labelled so;
- prefect (--prefect): the real `build_dataset` flow on a temporary Prefect server, so the
  orchestration overhead is flow time minus steps time;
- papers run (unless --no-cli): the command a user runs, end to end in a new interpreter, with
  the temporary Prefect server; issue 15's targets (x floor by wall and CPU, x baseline, peak
  RSS) are judged on it and printed under each size's table. --no-pipeline measures it without
  the in-process pipeline first (no per-stage figures: at 5M that run takes ~9 min more), e.g.
  the 5M memory check: `--sizes 5000000 --text sentences --no-pipeline --no-baseline`.

With --incremental it measures instead one more day on a partitioned build against issue 14's
targets (bench/incremental.py): --records sizes, --update-model recent|uniform|both,
--validate-only for the full build and its validation only.

It prints a table and writes the figures with the machine's facts to --json.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "data" / "interim" / "bench"
DEFAULT_JSON = ROOT / "bench" / "results.json"
INCREMENTAL_JSON = ROOT / "bench" / "results-incremental.json"
# --update-model: the generator's models (bench/generate.py), or both one after the other
UPDATE_MODEL_CHOICES = {"recent": ("recent",), "uniform": ("uniform",),
                        "both": ("recent", "uniform")}  # fmt: skip
RAW_NAME = "arxiv-metadata-oai-snapshot.jsonl"

sys.path.insert(0, str(ROOT))


# --- measurements, each run in a child: `python bench/run.py --child KIND ARGS_JSON` ----------


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


def with_related(source: Path, target: Path, method: str) -> Path:
    """A copy of the params file with `related.method` set, the vocabulary and IDF paths made
    absolute (they are relative to the params file's folder)."""
    params = yaml.safe_load(source.read_text("utf-8"))
    tags = params.setdefault("tags", {})
    for key in ("vocabulary", "keyphrase_idf"):
        if tags.get(key) and not Path(tags[key]).is_absolute():
            tags[key] = str((source.parent / tags[key]).resolve())
    params.setdefault("related", {})["method"] = method
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(params, sort_keys=False), "utf-8")
    return target


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


def _kernels() -> dict[str, Any]:
    """The compiled passes' numba dispatchers a build calls (papers/stages/*_kernel.py; the
    helpers they inline are not called on their own), by name."""
    import importlib

    from numba.core.registry import CPUDispatcher

    found: dict[str, Any] = {}
    for path in sorted((ROOT / "papers" / "stages").glob("*_kernel.py")):
        module = importlib.import_module(f"papers.stages.{path.stem}")
        for name, value in vars(module).items():
            if (
                isinstance(value, CPUDispatcher)
                and value.__module__ == module.__name__
                and value.targetoptions.get("inline") != "always"
            ):
                found[f"{path.stem}.{name}"] = value
    return found


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
    kernels = _kernels()
    missing = sorted(name for name, dispatcher in kernels.items() if not dispatcher.signatures)
    if missing:
        raise SystemExit(f"bench: the kernels' build did not reach {missing}")
    return {"seconds": seconds, "kernels": sorted(kernels)}


def _child_build(args: dict[str, Any]) -> dict[str, Any]:
    """One build into `out` with a cache folder, keeping what `out` holds (incremental runs)."""
    import papers.pipeline.local  # noqa: F401 - imported before the clock starts

    cache = Path(args["cache"]) if args.get("cache") else None
    return run_steps(Path(args["raw"]), Path(args["out"]), Path(args["params"]), cache)


def _child_generate(args: dict[str, Any]) -> dict[str, Any]:
    from bench import generate

    started = time.perf_counter()
    sources = tuple(Path(s) for s in args["sources"]) if args["sources"] else None
    pool = generate.load_pool(sources or generate.default_sources(), Path(args["work"]))
    generate.generate(args["n"], Path(args["path"]), args["seed"], pool, start=args["start"],
                      text=args.get("text", "pairs"))  # fmt: skip
    return {"seconds": time.perf_counter() - started}


def _child_generate_day(args: dict[str, Any]) -> dict[str, Any]:
    from bench import generate

    started = time.perf_counter()
    sources = tuple(Path(s) for s in args["sources"]) if args["sources"] else None
    pool = generate.load_pool(sources or generate.default_sources(), Path(args["work"]))
    generate.generate_day(
        args["n"], Path(args["path"]), args["new"], args["updates"], args["model"], args["seed"],
        pool,
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


MAX_RSS_MIB = 0.0  # 0: no limit (set by --max-rss-gib)


def _tree_rss_mib(pid: int) -> float:
    """Resident memory of a process and its children, from /proc (0 when it is gone)."""
    import psutil

    try:
        root = psutil.Process(pid)
        return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)]) / 2**20
    except psutil.Error:
        return 0.0


def _warm(raw: str | None) -> None:
    """Read the raw input once, untimed, so every measurement starts from the page cache: the
    first reader of a freshly generated file otherwise pays the disk (12 s for 190 MB here)."""
    if raw is None:
        return
    for path in sorted(Path(raw).glob("*")) if Path(raw).is_dir() else [Path(raw)]:
        with path.open("rb") as f:
            while f.read(16 << 20):
                pass


def _wait(proc: subprocess.Popen[Any], label: str) -> tuple[int, Any, float, str | None, float]:
    """Wait for a child, stopping it past --max-rss-gib: exit status, rusage, seconds, why
    it was stopped (None if it was not), the peak resident memory of the child and all its
    descendants together (sampled every 0.2 s: a Prefect server or worker processes count)."""
    started = time.perf_counter()
    aborted = None
    tree_peak = 0.0
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        rss = _tree_rss_mib(proc.pid)
        tree_peak = max(tree_peak, rss)
        if MAX_RSS_MIB and rss > MAX_RSS_MIB:
            # a shared machine: stop before the kernel's OOM killer picks someone else's process
            aborted = f"stopped at {rss:,.0f} MiB RSS (--max-rss-gib {MAX_RSS_MIB / 1024:g})"
            proc.kill()
        time.sleep(0.2)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    if aborted is not None:
        print(f"  {label}: {aborted} after {seconds:.0f} s", flush=True)
    return proc.returncode, usage, seconds, aborted, tree_peak


def measure(kind: str, args: dict[str, Any]) -> dict[str, Any]:
    """Run one measurement in a child process; its result plus wall seconds and peak RSS."""
    _warm(args.get("raw"))
    result_path = WORK / f".result-{uuid.uuid4().hex[:8]}.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).resolve()),
            "--child",
            kind,
            json.dumps(args),
            str(result_path),
        ],
        cwd=ROOT,
    )
    returncode, usage, seconds, aborted, _ = _wait(proc, kind)
    if aborted is not None:
        result_path.unlink(missing_ok=True)
        return {"aborted": aborted, "wall_seconds": seconds,
                "cpu_seconds": usage.ru_utime + usage.ru_stime,
                "peak_rss_mib": usage.ru_maxrss / 1024}  # fmt: skip
    if returncode != 0:
        raise SystemExit(f"bench: the {kind} measurement failed (exit {returncode})")
    result: dict[str, Any] = json.loads(result_path.read_text("utf-8"))
    result_path.unlink()
    return {
        **result,
        "wall_seconds": seconds,
        # CPU time is steadier than wall time on a shared machine (it excludes waiting for a core)
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        # the child's own figure when it reset the kernel's high-water mark between stages
        "peak_rss_mib": max(usage.ru_maxrss / 1024, result.get("peak_rss_mib", 0.0)),
    }


def measure_command(cmd: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run a command (a CLI, not a bench child) and measure it: exit code, its output (stdout
    and stderr, interleaved), wall and CPU seconds, peak RSS from wait4."""
    log = WORK / f".output-{uuid.uuid4().hex[:8]}.txt"
    with log.open("wb") as handle:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT, env=os.environ | (env or {})
        )
        returncode, usage, seconds, aborted, tree_peak = _wait(proc, Path(cmd[0]).name)
    output = log.read_text("utf-8", errors="replace")
    log.unlink()
    return {
        "returncode": returncode,
        "aborted": aborted,
        "output": output[-4000:],
        "wall_seconds": seconds,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "peak_rss_mib": usage.ru_maxrss / 1024,
        "peak_tree_rss_mib": tree_peak,
    }


def measure_cli(raw: Path, out: Path, params: str) -> dict[str, Any]:
    """`papers run` as a user runs it, end to end: a new interpreter and its imports, the
    temporary Prefect server, the flow, the summary. PREFECT_HOME is kept under the work folder
    like a user's ~/.prefect (its database is created once, by an untimed seed run first).
    CPU seconds are the run's and its reaped children's; the temporary server's own are not
    counted (it dies with the run, unreaped): its memory is, in peak_tree_rss_mib."""
    home = WORK / "prefect-home"
    env = {
        "PREFECT_HOME": str(home),
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "GX_ANALYTICS_ENABLED": "False",
    }
    run = [sys.executable, "-m", "papers", "run", "--no-cache", "--quiet", "--params", params]
    if not home.exists():
        seed = measure_command([*run, "--out", str(WORK / "seed-warmup")], env)
        shutil.rmtree(WORK / "seed-warmup", ignore_errors=True)
        if seed["returncode"] != 0:
            raise SystemExit(f"bench: the warm-up `papers run` failed:\n{seed['output']}")
    _warm(str(raw))
    shutil.rmtree(out, ignore_errors=True)
    result = measure_command([*run, "--raw", str(raw), "--out", str(out)], env)
    shutil.rmtree(out, ignore_errors=True)
    if result["returncode"] != 0 and result["aborted"] is None:
        raise SystemExit(f"bench: `papers run` failed:\n{result['output']}")
    result["seconds"] = result["wall_seconds"]
    return result


# --- the benchmark ----------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    import polars as pl

    mem = 0
    with open("/proc/meminfo", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) * 1024
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            cpu = next(
                (line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")),
                cpu,
            )
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "cores_available": len(os.sched_getaffinity(0)),
        "ram_gib": round(mem / 2**30, 1),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "polars": pl.__version__,
        "platform": platform.platform(),
    }


def _generate(n: int, path: Path, opts: argparse.Namespace, start: int = 0) -> None:
    print(f"generating {n} records ...", flush=True)
    sources = [str(s) for s in opts.sources] if opts.sources else None
    done = measure(
        "generate",
        {
            "n": n,
            "path": str(path),
            "seed": opts.seed,
            "text": opts.text,
            "start": start,
            "sources": sources,
            "work": str(opts.work),
        },
    )
    print(f"  {done['wall_seconds']:.1f} s", flush=True)


def raw_dir_for(n: int, opts: argparse.Namespace) -> Path:
    """The generated input for n records, made once and kept (it is large: reused across runs).

    Kept by size and seed only: delete the work folder after changing the generator or --from.
    """
    suffix = "" if opts.text == "pairs" else f"-{opts.text}"
    raw = opts.work / f"raw-{n}-s{opts.seed}{suffix}"
    if not (raw / RAW_NAME).exists():
        _generate(n, raw / RAW_NAME, opts)
    return raw


_BASELINES: dict[int, dict[str, Any]] = {}


# Generated records the kernels are compiled on: a few hundred near-duplicate pairs, so every
# kernel (the pairs' Jaccard estimate included) is reached.
KERNEL_RECORDS = 20_000


def measure_kernels(opts: argparse.Namespace) -> dict[str, Any]:
    """Compile the kernels before any size is measured (_child_kernels), printing what it
    cost: their compile lands in no size's figures, whichever size comes first."""
    print("compiled kernels (numba; once per machine and code, cached in __pycache__) ...",
          flush=True)  # fmt: skip
    raw = raw_dir_for(KERNEL_RECORDS, opts)
    result = measure("kernels", {"raw": str(raw), "params": str(opts.params),
                                 "out": str(opts.work / "out-kernels")})  # fmt: skip
    print(f"  {len(result['kernels'])} kernels ready: a build of {KERNEL_RECORDS:,} records "
          f"with every compiled pass {result['seconds']:.1f} s, {result['cpu_seconds']:.1f} CPU "
          "s (a few seconds when numba's cache was warm)", flush=True)  # fmt: skip
    return result


def bench_size(n: int, opts: argparse.Namespace) -> dict[str, Any]:
    raw = raw_dir_for(n, opts)
    params = str(opts.params)
    out = opts.work / f"out-{n}"
    entry: dict[str, Any] = {
        "n": n,
        "text": opts.text,
        "input_bytes": (raw / RAW_NAME).stat().st_size,
    }

    pipe_args = {"raw": str(raw), "out": str(out), "params": params}
    if not opts.no_pipeline:
        print(f"[{n}] pipeline ...", flush=True)
        if opts.profile:
            pipe_args["profile"] = str(opts.work / f"profile-{n}.html")
        entry["pipeline"] = measure("pipeline", pipe_args)
        if opts.profile:
            entry["pipeline"]["profile"] = pipe_args["profile"]
            print(f"  profile: {pipe_args['profile']} (and .txt)", flush=True)
    if not opts.no_floor:
        print(f"[{n}] I/O floor ...", flush=True)
        entry["floor"] = measure(
            "floor", {"raw": str(raw), "out": str(out) + "-floor", "params": params}
        )
        shutil.rmtree(str(out) + "-floor", ignore_errors=True)
    if not opts.no_baseline:
        m = min(n, opts.skip_baseline_above) if opts.skip_baseline_above else n
        if m not in _BASELINES:  # one run per size, shared by the sizes extrapolated from it
            base_raw = raw if m == n else raw_dir_for(m, opts)
            print(f"[{n}] baseline on {m} records ...", flush=True)
            _BASELINES[m] = measure(
                "baseline", {"raw": str(base_raw), "out": str(out) + "-baseline", "params": params}
            )
            shutil.rmtree(str(out) + "-baseline", ignore_errors=True)
        base = json.loads(json.dumps(_BASELINES[m]))
        base["measured_n"] = m
        base["extrapolated"] = m != n
        if m != n:
            base["measured_seconds"] = base["seconds"]
            base["seconds"] = base["seconds"] * n / m
            base["cpu_seconds"] = base["cpu_seconds"] * n / m
        entry["baseline"] = base
    if opts.prefect:
        print(f"[{n}] Prefect flow ...", flush=True)
        entry["prefect"] = measure("prefect", pipe_args | {"profile": None})
        entry["prefect"]["overhead_seconds"] = (
            entry["prefect"]["flow_seconds"] - entry["pipeline"]["seconds"]
        )
    if not opts.no_cli:
        print(f"[{n}] papers run (end to end) ...", flush=True)
        entry["cli"] = measure_cli(raw, opts.work / f"out-{n}-cli", params)
    shutil.rmtree(out, ignore_errors=True)
    _ratios(entry)
    return entry


def _ratios(entry: dict[str, Any]) -> None:
    n = entry["n"]
    pipe = entry.get("pipeline")  # absent with --no-pipeline
    if pipe is not None and "aborted" in pipe:
        return
    if "floor" in entry:
        entry["floor"]["records_per_s"] = n / entry["floor"]["seconds"]
    if "baseline" in entry:
        base = entry["baseline"]
        base["records_per_s"] = n / base["seconds"]
        if "floor" in entry:
            base["ratio_to_floor"] = base["seconds"] / entry["floor"]["seconds"]
    if pipe is not None:
        pipe["records_per_s"] = n / pipe["seconds"]
        for stage in pipe["stages"].values():
            stage["records_per_s"] = n / stage["seconds"] if stage["seconds"] else None
        _against_floor_and_baseline(pipe, entry)
    cli = entry.get("cli")
    if cli is not None and cli.get("aborted") is None:
        cli["records_per_s"] = n / cli["seconds"]
        if pipe is not None:
            cli["overhead_seconds"] = cli["seconds"] - pipe["seconds"]
        _against_floor_and_baseline(cli, entry)


def _against_floor_and_baseline(run: dict[str, Any], entry: dict[str, Any]) -> None:
    """A build's (the pipeline's or `papers run`'s) seconds and CPU seconds over the floor's,
    and the baseline's over its, for what the entry measured."""
    if "floor" in entry:
        run["ratio_to_floor"] = run["seconds"] / entry["floor"]["seconds"]
        run["ratio_to_floor_cpu"] = run["cpu_seconds"] / entry["floor"]["cpu_seconds"]
    if "baseline" in entry:
        run["speedup_vs_baseline"] = entry["baseline"]["seconds"] / run["seconds"]
        run["speedup_vs_baseline_cpu"] = entry["baseline"]["cpu_seconds"] / run["cpu_seconds"]


# Issue 15's targets for a full build, end to end (`papers run`)
TARGET_X_FLOOR = 5.0  # wall and CPU
TARGET_SPEEDUP = 25.0  # against the per-record baseline, wall
TARGET_PEAK_GIB = 4.0


def targets(entry: dict[str, Any]) -> list[str]:
    """One line per target of a full build, its figure and met / NOT met (end to end: the
    `papers run` measurement when there is one, else the in-process pipeline)."""
    pipe = entry.get("pipeline")
    cli = entry.get("cli") if entry.get("cli", {}).get("aborted") is None else None
    if (pipe is None or "aborted" in pipe) and cli is None:
        return []
    run = cli or pipe
    what = "`papers run`" if cli else "pipeline (in process; no `papers run` measured)"

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    lines = [f"targets at {entry['n']:,} records, end to end = {what}:"]
    if "ratio_to_floor" in run:
        wall, cpu = run["ratio_to_floor"], run["ratio_to_floor_cpu"]
        lines.append(f"  x floor, wall {wall:.1f}  (<= {TARGET_X_FLOOR:g}: "
                     f"{verdict(wall <= TARGET_X_FLOOR)})")  # fmt: skip
        lines.append(f"  x floor, CPU  {cpu:.1f}  (<= {TARGET_X_FLOOR:g}: "
                     f"{verdict(cpu <= TARGET_X_FLOOR)})")  # fmt: skip
    if "speedup_vs_baseline" in run:
        speed = run["speedup_vs_baseline"]
        lines.append(f"  x baseline, wall {speed:.1f}  (>= {TARGET_SPEEDUP:g}: "
                     f"{verdict(speed >= TARGET_SPEEDUP)})")  # fmt: skip
    piped = pipe is not None and "aborted" not in pipe
    peaks = [pipe["peak_rss_mib"]] if piped else []
    if cli:
        peaks += [cli["peak_rss_mib"], cli["peak_tree_rss_mib"]]
    peak = max(peaks) / 1024
    of = " and ".join(
        name
        for name, measured in (("the in-process pipeline", piped),
                               ("`papers run` with its server", cli is not None))
        if measured
    )  # fmt: skip
    lines.append(f"  peak RSS {peak:.2f} GiB  (<= {TARGET_PEAK_GIB:g}: "
                 f"{verdict(peak <= TARGET_PEAK_GIB)}; the largest of {of})")  # fmt: skip
    return lines


def _fmt(value: float | None, spec: str) -> str:
    return "" if value is None else format(value, spec)


def table(results: list[dict[str, Any]]) -> str:
    header = (
        f"{'N':>9}  {'run':<24} {'seconds':>9} {'records/s':>11} {'peak RSS':>10} "
        f"{'x floor':>8} {'speedup':>8} {'CPU s':>8} {'CPU x fl':>8}"
    )
    lines = [header, "-" * len(header)]

    def row(
        n: int,
        name: str,
        seconds: float,
        rss: float | None,
        floor: float | None,
        speedup: float | None,
        cpu: float | None = None,
    ) -> None:
        cpu_floor = cpu / floor_cpu if cpu is not None and floor_cpu else None
        lines.append(
            f"{n:>9}  {name:<24} {seconds:>9.2f} {n / seconds if seconds else 0:>11,.0f} "
            f"{_fmt(rss, ',.0f') + ' MiB' if rss else '':>10} "
            f"{_fmt(floor, '.2f'):>8} {_fmt(speedup, '.1f'):>8} {_fmt(cpu, '.1f'):>8} "
            f"{_fmt(cpu_floor, '.2f'):>8}"
        )

    for e in results:
        n, pipe = e["n"], e.get("pipeline")  # no pipeline with --no-pipeline
        if e.get("text", "pairs") != "pairs":
            lines.append(f"{n:>9}  (generated with --text {e['text']})")
        if pipe is not None and "aborted" in pipe:
            lines.append(f"{n:>9}  pipeline {pipe['aborted']} after {pipe['wall_seconds']:.0f} s")
            continue
        floor_s = e["floor"]["seconds"] if "floor" in e else None
        floor_cpu = e["floor"]["cpu_seconds"] if "floor" in e else None
        if pipe is not None:
            lines.append(
                f"{n:>9}  (pipeline child process: {pipe['wall_seconds']:.1f} s wall with "
                "interpreter start and imports)"
            )
            row(
                n,
                "pipeline (total)",
                pipe["seconds"],
                pipe["peak_rss_mib"],
                pipe.get("ratio_to_floor"),
                pipe.get("speedup_vs_baseline"),
                pipe["cpu_seconds"],
            )
            for name, stage in pipe["stages"].items():
                row(
                    n,
                    f"  {name}",
                    stage["seconds"],
                    stage.get("peak_rss_mib", stage["peak_rss_mib_so_far"]),
                    stage["seconds"] / floor_s if floor_s else None,
                    None,
                    stage.get("cpu_seconds"),
                )
        if "floor" in e:
            floor = e["floor"]
            row(n, "I/O floor", floor["seconds"], floor["peak_rss_mib"], 1.0, None,
                floor["cpu_seconds"])  # fmt: skip
        if "baseline" in e:
            b = e["baseline"]
            label = "baseline" + (f" (extrap. {b['measured_n']})" if b["extrapolated"] else "")
            row(
                n,
                label,
                b["seconds"],
                None if b["extrapolated"] else b["peak_rss_mib"],
                b.get("ratio_to_floor"),
                1.0,
                b["cpu_seconds"],
            )
            for name, stage in b["stages"].items():
                scale = n / b["measured_n"]
                row(n, f"  {name}", stage["seconds"] * scale, None, None, None)
        if "prefect" in e:
            p = e["prefect"]
            row(n, "Prefect flow", p["flow_seconds"], p["peak_rss_mib"], None, None,
                p["cpu_seconds"])  # fmt: skip
            lines.append(
                f"{'':>11}Prefect overhead: {p['overhead_seconds']:+.1f} s "
                "(temporary server start included)"
            )
        if "cli" in e:
            c = e["cli"]
            if c.get("aborted"):
                lines.append(f"{n:>9}  papers run {c['aborted']} after {c['wall_seconds']:.0f} s")
            else:
                row(n, "papers run (end to end)", c["seconds"],
                    max(c["peak_rss_mib"], c["peak_tree_rss_mib"]), c.get("ratio_to_floor"),
                    c.get("speedup_vs_baseline"), c["cpu_seconds"])  # fmt: skip
                if "overhead_seconds" in c:
                    lines.append(
                        f"{'':>11}over the in-process pipeline: {c['overhead_seconds']:+.1f} s "
                        "(interpreter, imports, temporary Prefect server, flow and task runs)"
                    )
        lines.extend(f"{'':>11}{line}" for line in targets(e))
    lines.append(
        "seconds: work inside each measuring process (interpreter start and imports "
        "excluded); peak RSS: the process's ru_maxrss (per stage: the stage's own peak, on "
        "Linux); CPU s: the process's user + system time, start included (per stage: the "
        "stage's own; steadier than wall time on a busy machine); x floor / CPU x fl: "
        "seconds / CPU seconds over the I/O floor's; speedup: the baseline's seconds over the "
        "run's"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    global WORK, MAX_RSS_MIB  # noqa: PLW0603 - read by measure()
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        kind, args, result_path = argv[1], json.loads(argv[2]), Path(argv[3])
        result = CHILDREN[kind](args)
        result_path.write_text(json.dumps(result), "utf-8")
        return 0
    from bench import generate  # the parent stays light: polars is imported by the children

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        default="100000,1000000",
        help="comma-separated record counts (default 100000,1000000)",
    )
    parser.add_argument(
        "--skip-baseline-above",
        type=int,
        default=100_000,
        metavar="N",
        help="above N records, time the baseline on N and extrapolate linearly",
    )
    parser.add_argument(
        "--json",
        type=Path,
        help="where the figures go (default bench/results.json, with --incremental "
        "bench/results-incremental.json)",
    )
    parser.add_argument("--params", type=Path, default=ROOT / "params.yaml")
    parser.add_argument(
        "--related",
        choices=["off", "tfidf", "embeddings", "both", "params"],
        default="off",
        help="related.method for the benchmark builds (default off: an exact related-paper "
        "search is quadratic and the model embeds ~36 papers/s, see bench/related.py and "
        "docs/related.md; `params` keeps the params file's). Near-duplicates always run.",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--text",
        choices=generate.TEXTS,
        default="pairs",
        help="generated abstracts (bench/generate.py): two pool records' halves (default) or "
        "pool sentences, whose near-duplicates stay few beyond ~1M records",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="write a pyinstrument profile of each pipeline run into --work",
    )
    parser.add_argument(
        "--prefect",
        action="store_true",
        help="also run the real Prefect flow to measure its overhead",
    )
    parser.add_argument(
        "--incremental",
        action="store_true",
        help="instead: one more day on a partitioned build against the issue-14 targets "
        "(bench/incremental.py; sizes from --records)",
    )
    parser.add_argument(
        "--validate-only",
        action="store_true",
        help="with --incremental: only the full build and its validation (memory at large N)",
    )
    parser.add_argument(
        "--records",
        default="1000000",
        help="--incremental: comma-separated record counts (default 1000000)",
    )
    parser.add_argument(
        "--update-model",
        choices=sorted(UPDATE_MODEL_CHOICES),
        default="recent",
        help="--incremental: which papers the day updates (bench/generate.py), or both",
    )
    parser.add_argument("--new", type=int, help="--incremental: new papers (default 1%% of N)")
    parser.add_argument(
        "--updates", type=int, help="--incremental: updated papers (default 0.2%% of N)"
    )
    parser.add_argument(
        "--reference",
        type=Path,
        default=DEFAULT_JSON,
        help="--incremental: today's full-build figures to compare with (default "
        "bench/results.json)",
    )
    parser.add_argument(
        "--work",
        type=Path,
        default=WORK,
        help="folder for generated inputs and outputs (default data/interim/bench)",
    )
    parser.add_argument(
        "--from",
        dest="sources",
        type=Path,
        action="append",
        help="folder(s) of real records for the generator's pool (default: "
        "../shared/realdata when present, else data/raw and tests/fixtures)",
    )
    parser.add_argument(
        "--max-rss-gib",
        type=float,
        default=0,
        help="stop a measurement whose processes exceed this resident memory (0: no limit)",
    )
    parser.add_argument(
        "--no-cli",
        action="store_true",
        help="skip the end-to-end `papers run` measurement (a new interpreter, the temporary "
        "Prefect server, the flow), which the targets are judged on",
    )
    parser.add_argument("--no-floor", action="store_true")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument(
        "--no-pipeline",
        action="store_true",
        help="skip the in-process pipeline (its per-stage figures): `papers run` alone, e.g. "
        "for the peak memory at a size where the pipeline run would double the time",
    )
    opts = parser.parse_args(argv)
    if opts.no_pipeline and opts.no_cli:
        parser.error("--no-pipeline with --no-cli leaves no build to measure")
    if opts.no_pipeline and opts.prefect:
        parser.error("--prefect measures the flow's overhead over the in-process pipeline: "
                     "not with --no-pipeline")  # fmt: skip
    sizes = [int(s.replace("_", "")) for s in opts.sizes.split(",") if s.strip()]
    opts.work = opts.work.resolve()
    opts.work.mkdir(parents=True, exist_ok=True)
    WORK = opts.work
    if opts.related != "params":
        opts.params = with_related(opts.params, opts.work / f"params-related-{opts.related}.yaml",
                                   opts.related)  # fmt: skip
    MAX_RSS_MIB = opts.max_rss_gib * 1024
    if opts.incremental or opts.validate_only:
        from bench import incremental

        # incremental.py measures through `bench.run`, a second copy of this module when it
        # runs as a script: give it the same work folder and memory limit
        incremental.run.WORK, incremental.run.MAX_RSS_MIB = WORK, MAX_RSS_MIB

        opts.json = opts.json or INCREMENTAL_JSON
        opts.argv = argv
        return incremental.main(opts)
    opts.json = opts.json or DEFAULT_JSON
    facts = machine()
    print(
        f"machine: {facts['cpu']}, {facts['cores_available']} cores, {facts['ram_gib']} GiB, "
        f"load {facts['load_average_at_start']}, Python {facts['python']}, "
        f"polars {facts['polars']}",
        flush=True,
    )
    kernels = measure_kernels(opts)
    results: list[dict[str, Any]] = []
    for n in sizes:
        results.append(bench_size(n, opts))
        # written after each size, so a long run that is stopped keeps what it measured
        payload = {
            "machine": facts,
            "kernels": kernels,
            "command": "python bench/run.py " + " ".join(argv),
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "complete": len(results) == len(sizes),
            "results": results,
        }
        opts.json.parent.mkdir(parents=True, exist_ok=True)
        opts.json.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", "utf-8")
        print(table(results[-1:]), flush=True)
    print()
    print(table(results))
    print(f"\nwrote {opts.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
