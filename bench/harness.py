"""The benchmarks' measuring harness (bench/run.py, bench/incremental.py, bench/rule_change.py).

Each measurement runs in a child process of its own (`python -m bench.children KIND ARGS_JSON
RESULT_PATH`: bench/children.py holds what runs there), waited for with wait4 for its CPU
seconds and peak RSS, and stopped past a memory limit; a command (`papers run`) is measured the
same way. Also the machine's facts, the params file a benchmark build reads, and the generated
inputs, made once and kept under the work folder. `configure` sets the work folder and the
memory limit before anything is measured.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_WORK = ROOT / "data" / "interim" / "bench"  # --work's default
WORK = DEFAULT_WORK  # the children's result files, inputs, outputs (set by configure)
MAX_RSS_MIB = 0.0  # 0: no limit (set by --max-rss-gib)
RAW_NAME = "arxiv-metadata-oai-snapshot.jsonl"


def configure(work: Path, max_rss_mib: float = 0.0) -> None:
    """Where measurements keep their files, and the memory past which a child is stopped."""
    global WORK, MAX_RSS_MIB  # read by every measurement
    WORK, MAX_RSS_MIB = work, max_rss_mib


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


def _tree_rss_mib(pid: int) -> float:
    """Resident memory of a process and its children, from /proc (0 when it is gone)."""
    import psutil

    try:
        root = psutil.Process(pid)
        return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)]) / 2**20
    except psutil.Error:
        return 0.0


def warm(raw: str | None) -> None:
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
    warm(args.get("raw"))
    result_path = WORK / f".result-{uuid.uuid4().hex[:8]}.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.children",
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
    warm(str(raw))
    shutil.rmtree(out, ignore_errors=True)
    result = measure_command([*run, "--raw", str(raw), "--out", str(out)], env)
    shutil.rmtree(out, ignore_errors=True)
    if result["returncode"] != 0 and result["aborted"] is None:
        raise SystemExit(f"bench: `papers run` failed:\n{result['output']}")
    result["seconds"] = result["wall_seconds"]
    return result


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


def _generate(n: int, path: Path, opts: argparse.Namespace, start: int = 0, *, text: str) -> None:
    print(f"generating {n} records ...", flush=True)
    sources = [str(s) for s in opts.sources] if opts.sources else None
    done = measure(
        "generate",
        {
            "n": n,
            "path": str(path),
            "seed": opts.seed,
            "text": text,
            "start": start,
            "sources": sources,
            "work": str(opts.work),
        },
    )
    print(f"  {done['wall_seconds']:.1f} s", flush=True)


def pool_records(opts: argparse.Namespace) -> int:
    """How many records the generator's pool holds (--from, else its default sources)."""
    from bench import generate

    sources = tuple(opts.sources) if opts.sources else generate.default_sources()
    return generate.load_pool(sources, opts.work).height  # where the generating child keeps it


def text_for(n: int, opts: argparse.Namespace) -> str:
    """--text for n records, "auto" resolved against the pool (generate.text_for)."""
    from bench import generate

    return opts.text if opts.text != "auto" else generate.text_for(n, pool_records(opts))


def raw_dir_for(n: int, opts: argparse.Namespace, text: str | None = None) -> Path:
    """The generated input for n records (abstracts: `text`, default text_for), made once and
    kept (it is large: reused across runs).

    Kept by size, seed and text only: delete the work folder after changing the generator or
    --from.
    """
    text = text or text_for(n, opts)
    suffix = "" if text == "pairs" else f"-{text}"
    raw = opts.work / f"raw-{n}-s{opts.seed}{suffix}"
    if not (raw / RAW_NAME).exists():
        _generate(n, raw / RAW_NAME, opts, text=text)
    return raw


# Generated records the kernels are compiled on: a few hundred near-duplicate pairs, so every
# kernel (the pairs' Jaccard estimate included) is reached.
KERNEL_RECORDS = 20_000


def measure_kernels(opts: argparse.Namespace) -> dict[str, Any]:
    """Compile the kernels before any size is measured (_child_kernels), printing what it
    cost: their compile lands in no size's figures, whichever size comes first."""
    print("compiled kernels (numba; once per machine and code, cached in __pycache__) ...",
          flush=True)  # fmt: skip
    # the halves' near-duplicate pairs, whatever the pool (at 20,000 records a small pool's
    # clusters stay small)
    raw = raw_dir_for(KERNEL_RECORDS, opts, "pairs" if opts.text == "auto" else None)
    result = measure("kernels", {"raw": str(raw), "params": str(opts.params),
                                 "out": str(opts.work / "out-kernels")})  # fmt: skip
    print(f"  {len(result['kernels'])} kernels ready: a build of {KERNEL_RECORDS:,} records "
          f"with every compiled pass {result['seconds']:.1f} s, {result['cpu_seconds']:.1f} CPU "
          "s (a few seconds when numba's cache was warm)", flush=True)  # fmt: skip
    return result
