"""Benchmark: the pipeline against the I/O floor and a straightforward baseline, per input size.

    python bench/run.py [--sizes 100000,1000000] [--skip-baseline-above N] [--json PATH]
                        [--profile] [--prefect] [--no-cli] [--max-rss-gib G]
                        [--work DIR] [--from DIR] [--no-floor] [--no-baseline]
                        [--no-pipeline] [--text auto|pairs|sentences]
    python bench/run.py --incremental [--records 1000000] [--update-model recent|uniform|both]
                        [--validate-only] [--new N] [--updates N]

For each size N, one measurement after another, each in a child process of its own (so one run's
memory and caches do not flatter or burden the next; peak RSS is the child's ru_maxrss from
wait4), each after reading its raw input once untimed (all start from the page cache):

- generate: bench/generate.py writes (or reuses, cached under data/interim/bench/) N records;
  --text sentences makes abstracts of pool sentences instead of two records' halves (each half
  recurs in ~N / pool size papers: at 5M from the realdata pool their real near-duplicate pairs
  number ~10^9, at 1M from a fresh clone's 169-record pool the similarity step ran out of 24 GB);
  --text auto (the default) takes the halves up to 100 papers a pool record, else sentences;
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
  the 5M memory check: `--sizes 5000000 --no-pipeline --no-baseline` (sentences, by auto).

With --incremental it measures instead one more day on a partitioned build against issue 14's
targets (bench/incremental.py): --records sizes, --update-model recent|uniform|both,
--validate-only for the full build and its validation only.

It prints a table and writes the figures with the machine's facts to --json. The measuring
harness (child processes, wait4, memory limit, inputs) is bench/harness.py; what runs in a
child, bench/children.py.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: bench/ is on the path, not the repository
    sys.path.insert(0, str(ROOT))

from bench.harness import (  # noqa: E402
    DEFAULT_WORK,
    RAW_NAME,
    configure,
    machine,
    measure,
    measure_cli,
    measure_kernels,
    pool_records,
    raw_dir_for,
    text_for,
    with_related,
)

DEFAULT_JSON = ROOT / "bench" / "results.json"
INCREMENTAL_JSON = ROOT / "bench" / "results" / "incremental.json"


# --- the benchmark ----------------------------------------------------------------------------


_BASELINES: dict[tuple[int, str], dict[str, Any]] = {}


def bench_size(n: int, opts: argparse.Namespace) -> dict[str, Any]:
    text = text_for(n, opts)
    raw = raw_dir_for(n, opts, text)
    params = str(opts.params)
    out = opts.work / f"out-{n}"
    entry: dict[str, Any] = {
        "n": n,
        "text": text,
        "pool_records": pool_records(opts),
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
        if (m, text) not in _BASELINES:  # one run per input, shared by the sizes from it
            base_raw = raw if m == n else raw_dir_for(m, opts, text)
            print(f"[{n}] baseline on {m} records ...", flush=True)
            _BASELINES[m, text] = measure(
                "baseline", {"raw": str(base_raw), "out": str(out) + "-baseline", "params": params}
            )
            shutil.rmtree(str(out) + "-baseline", ignore_errors=True)
        base = json.loads(json.dumps(_BASELINES[m, text]))
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
            pool = f", a pool of {e['pool_records']:,} records" if "pool_records" in e else ""
            lines.append(f"{n:>9}  (generated with --text {e['text']}{pool})")
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
    argv = sys.argv[1:] if argv is None else argv
    from bench import generate

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
        "bench/results/incremental.json)",
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
        choices=generate.TEXT_CHOICES,
        default="auto",
        help="generated abstracts (bench/generate.py): two pool records' halves, or pool "
        "sentences, whose near-duplicates stay few at any size; auto (default): halves up to "
        f"{generate.PAIRS_PER_RECORD} records a pool record, else sentences",
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
        choices=sorted(generate.UPDATE_MODEL_CHOICES),
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
        default=DEFAULT_WORK,
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
    configure(opts.work, opts.max_rss_gib * 1024)
    if opts.related != "params":
        opts.params = with_related(opts.params, opts.work / f"params-related-{opts.related}.yaml",
                                   opts.related)  # fmt: skip
    if opts.incremental or opts.validate_only:
        from bench import incremental

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
