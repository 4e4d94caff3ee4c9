"""`bench/run.py --incremental`: one more day on a partitioned build, against the issue-14 targets.

    python bench/run.py --incremental [--records 1000000] [--update-model recent|uniform|both]
                        [--validate-only] [--work DIR] [--json PATH]

For each record count N and update model, in a scratch folder of its own under --work:

1. the base input (bench/generate.py, N records, cached by size and seed) and one more day
   (1% new papers in a new arXiv month plus 0.2% re-listed existing papers, drawn from the
   newest 2% of ids or uniformly; --new and --updates override the counts);
2. a full build with a params file that sets `write.layout: partitioned` (the repository's
   params otherwise) and a build cache folder;
3. `papers validate` on it (full);
4. a scratch git + DVC repository whose data/processed is the build's output folder, with a local
   remote and `cache.type copy`: `dvc add` of the table directories (and the feed and manifest
   when the build writes them), then `dvc push`; `du -sb` of .dvc/cache and of the remote;
5. the day's file added to the input folder: the +1 day build (same cache), then a rerun with
   nothing changed;
6. `papers validate` again: with `--changed-only` when `papers validate --help` offers it, else
   a plain second run;
7. `dvc add` + `dvc push` again; the cache and remote growth over `du -sb` of the tracked paths.

Every build and validation runs in a child process of its own: wall seconds, CPU seconds and
peak RSS are the child's (wait4). A build's "work" seconds exclude the interpreter's start and
imports (the sum of its timed stages, as in the main benchmark table); the targets are judged on
them and the child's wall time is printed next to them. `uptime`'s load is recorded next to each
figure: the machine may be shared. --validate-only: steps 1-3 only (validation memory at a size
whose full sequence would take too long).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from bench import generate, harness
from schemas import PUBLISHED

# every published table, as dvc.yaml tracks them (duplicates and related were left out before
# 2026-12-05, so the DVC figures then did not count the near-duplicate files a day rewrote)
TABLES = tuple(PUBLISHED)
# Tracked by DVC besides the tables, when the build writes them (design §6): the change feed
# and the manifest.
EXTRA_OUTS = ("changes", "manifest.json")
GIB = 1024.0  # MiB
DAY_NAME = "daily-listing.jsonl"
QUIET_ENV = {
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "GX_ANALYTICS_ENABLED": "False",
    "DVC_NO_ANALYTICS": "1",
    "COLUMNS": "200",  # typer's help is not cut at 80 columns
}


def load() -> str:
    """The 1-minute load average, as `uptime` reports it, for the figure measured next."""
    return f"{os.getloadavg()[0]:.2f}"


def partitioned_params(source: Path, target: Path) -> Path:
    """A copy of the params file with `write.layout: partitioned`, the vocabulary and the IDF
    paths made absolute (they are relative to the params file's folder)."""
    params = yaml.safe_load(source.read_text("utf-8"))
    tags = params.setdefault("tags", {})
    for key in ("vocabulary", "keyphrase_idf"):
        if tags.get(key) and not Path(tags[key]).is_absolute():
            tags[key] = str((source.parent / tags[key]).resolve())
    params.setdefault("write", {})["layout"] = "partitioned"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(params, sort_keys=False), "utf-8")
    return target


def day_for(n: int, model: str, opts: Any) -> tuple[Path, int, int]:
    """One more day after n records (cached like the base input): path, new, updates."""
    new = n // 100 if opts.new is None else opts.new
    updates = n // 500 if opts.updates is None else opts.updates
    path = opts.work / f"day-{n}-s{opts.seed}-{model}-n{new}-u{updates}.jsonl"
    if not path.exists():
        print(f"generating one more day ({new} new, {updates} {model} updates) ...", flush=True)
        sources = [str(s) for s in opts.sources] if opts.sources else None
        done = harness.measure(
            "generate_day",
            {"n": n, "path": str(path), "seed": opts.seed, "new": new, "updates": updates,
             "model": model, "sources": sources, "work": str(opts.work)},
        )  # fmt: skip
        print(f"  {done['wall_seconds']:.1f} s", flush=True)
    return path, new, updates


def build(raw: Path, out: Path, params: Path, cache: Path | None, label: str) -> dict[str, Any]:
    """One build in a child process (run_steps with the cache folder, if any; out is kept)."""
    before = load()
    result = harness.measure(
        "build",
        {"raw": str(raw), "out": str(out), "params": str(params),
         "cache": str(cache) if cache else None},
    )  # fmt: skip
    result["load"] = before
    print(
        f"  {label}: {result['seconds']:.2f} s work, {result['wall_seconds']:.2f} s wall, "
        f"{result['cpu_seconds']:.1f} s CPU, {result['peak_rss_mib']:,.0f} MiB (load {before})",
        flush=True,
    )
    return result


def validate_has_changed_only() -> bool:
    """Whether `papers validate` has an incremental mode (`--changed-only`) in this code."""
    done = subprocess.run(
        [sys.executable, "-m", "papers", "validate", "--help"],
        cwd=harness.ROOT, capture_output=True, text=True, env=os.environ | QUIET_ENV, check=False,
    )  # fmt: skip
    return "--changed-only" in done.stdout


def validate(out: Path, reports: Path, label: str, changed_only: bool) -> dict[str, Any]:
    """`papers validate` in a child process: its exit code, wall, CPU and peak RSS."""
    cmd = [sys.executable, "-m", "papers", "validate", "--out", str(out), "--reports", str(reports)]
    before = load()
    result = harness.measure_command(
        [*cmd, *(["--changed-only"] if changed_only else [])], env=QUIET_ENV
    )
    result["load"] = before
    result["changed_only"] = changed_only
    state = "passed" if result["returncode"] == 0 else f"FAILED (exit {result['returncode']})"
    print(
        f"  {label}: {state}, {result['wall_seconds']:.2f} s wall, {result['cpu_seconds']:.1f} s "
        f"CPU, {result['peak_rss_mib']:,.0f} MiB (load {before})",
        flush=True,
    )
    if result["returncode"] != 0:
        print("    " + "\n    ".join(result["output"].splitlines()[-6:]), flush=True)
    return result


def du(*paths: Path) -> int:
    """`du -sb` of the paths that exist, summed (0 for none)."""
    present = [str(p) for p in paths if p.exists()]
    if not present:
        return 0
    done = subprocess.run(["du", "-sb", *present], capture_output=True, text=True, check=True)
    return sum(int(line.split("\t", 1)[0]) for line in done.stdout.splitlines())


def _dvc_bin() -> str:
    local = Path(sys.executable).parent / "dvc"
    return str(local) if local.exists() else "dvc"


def _dvc(repo: Path, *args: str) -> None:
    done = subprocess.run(
        [_dvc_bin(), *args], cwd=repo, capture_output=True, text=True,
        env=os.environ | QUIET_ENV, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"bench: dvc {' '.join(args)} failed:\n{done.stdout}{done.stderr}")


def dvc_repo(repo: Path, remote: Path) -> None:
    """A scratch git + DVC repository with a local remote and copies, not links, in the cache."""
    repo.mkdir(parents=True)
    remote.mkdir(parents=True)
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    _dvc(repo, "init", "-q")
    _dvc(repo, "config", "core.analytics", "false")
    _dvc(repo, "config", "cache.type", "copy")
    _dvc(repo, "remote", "add", "-d", "local", str(remote))


def tracked(out: Path) -> list[Path]:
    """What DVC tracks of a build folder: each table (its directory, or its single file in the
    `single` layout), the change feed and the manifest when present."""
    paths = []
    for name in TABLES:
        directory, single = out / name, out / f"{name}.parquet"
        paths.append(directory if directory.is_dir() else single)
    paths += [out / extra for extra in EXTRA_OUTS]
    return [p for p in paths if p.exists()]


def dvc_version(repo: Path, out: Path, remote: Path) -> dict[str, Any]:
    """`dvc add` + `dvc push` of the build's tracked paths; the sizes after."""
    paths = tracked(out)
    started = time.perf_counter()
    _dvc(repo, "add", "-q", *[str(p.relative_to(repo)) for p in paths])
    _dvc(repo, "push", "-q")
    return {
        "seconds": time.perf_counter() - started,
        "tracked": [str(p.relative_to(out)) for p in paths],
        "dataset_bytes": du(*paths),
        "cache_bytes": du(repo / ".dvc" / "cache"),
        "remote_bytes": du(remote),
    }


def file_changes(before: dict[str, Any], after: dict[str, Any], out: Path) -> dict[str, Any]:
    """Files of the day's manifest (`after`, the build in `out`) that the previous one does not
    list with the same sha256 (new or rewritten): count and bytes, per table."""
    from papers.dataset import manifest_tables

    old = {e["path"]: e.get("sha256") for files in manifest_tables(before).values() for e in files}
    result: dict[str, Any] = {}
    for name, files in manifest_tables(after).items():
        # format 1 entries carry no size: the file is there, in the build just made
        size = {e["path"]: int(e.get("bytes") or (out / e["path"]).stat().st_size) for e in files}
        new = [e["path"] for e in files if old.get(e["path"]) != e.get("sha256")]
        result[name] = {
            "files": len(files),
            "new_files": len(new),
            "new_bytes": sum(size[path] for path in new),
            "bytes": sum(size.values()),
        }
    return result


def _manifest(out: Path) -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads((out / "manifest.json").read_text("utf-8"))
    return manifest


def bench_incremental(n: int, model: str, opts: Any) -> dict[str, Any]:
    """The sequence of the module docstring for n records and one update model."""
    base = harness.raw_dir_for(n, opts)
    scratch = opts.work / f"incremental-{n}-{model}"
    shutil.rmtree(scratch, ignore_errors=True)
    raw, cache, reports = scratch / "raw", scratch / "cache", scratch / "reports"
    repo, remote = scratch / "repo", scratch / "remote"
    out = repo / "data" / "processed"
    raw.mkdir(parents=True)
    (raw / harness.RAW_NAME).symlink_to((base / harness.RAW_NAME).resolve())
    params = partitioned_params(opts.params, scratch / "params.yaml")
    entry: dict[str, Any] = {"n": n, "update_model": model, "validate_only": opts.validate_only}
    harness.warm(str(raw))
    if not opts.validate_only:
        day, entry["new"], entry["updates"] = day_for(n, model, opts)
        harness.warm(str(day))
        dvc_repo(repo, remote)
    out.mkdir(parents=True, exist_ok=True)

    print(f"[{n} {model}] full build (layout partitioned) ...", flush=True)
    # --validate-only keeps no cache: at 5M it would hold ~40 GB of intermediates
    entry["full"] = build(raw, out, params, None if opts.validate_only else cache, "full build")
    full_manifest = _manifest(out)
    entry["validate_full"] = validate(out, reports, "validate (full)", changed_only=False)
    if opts.validate_only:
        shutil.rmtree(scratch, ignore_errors=True)
        return entry
    entry["dvc_full"] = dvc_version(repo, out, remote)

    shutil.copyfile(day, raw / DAY_NAME)
    harness.warm(str(raw))
    print(f"[{n} {model}] +1 day ...", flush=True)
    entry["plus_one_day"] = build(raw, out, params, cache, "+1 day build")
    entry["day_files"] = file_changes(full_manifest, _manifest(out), out)
    entry["day_changes"] = _manifest(out).get("changes")
    entry["unchanged"] = build(raw, out, params, cache, "unchanged rerun")
    changed_only = validate_has_changed_only()
    entry["validate_day"] = validate(
        out, reports, "validate (after the day" + (", --changed-only)" if changed_only else ")"),
        changed_only,
    )  # fmt: skip
    entry["dvc_day"] = dvc_version(repo, out, remote)
    shutil.rmtree(scratch, ignore_errors=True)
    return entry


# --- the targets -------------------------------------------------------------------------------

# A reference older than this is another machine's (see reference)
REFERENCE_HOURS = 12


def reference(n: int, path: Path, cpu: str | None = None) -> dict[str, Any] | None:
    """Today's full build at n (the main benchmark's pipeline figures in `path`), if recorded in
    the last REFERENCE_HOURS on a machine with this `cpu` (None: any machine, any age). Older
    figures or another machine's compare nothing: these VMs are replaced between sessions and
    their speeds differ by a third and more (bench/results.json of 2026-11-29, another AMD EPYC
    VM, made a 2026-12-07 full build look 7% larger)."""
    if not path.exists():
        return None
    payload = json.loads(path.read_text("utf-8"))
    if cpu is not None:
        theirs = payload.get("machine", {}).get("cpu")
        finished = str(payload.get("finished_at", ""))
        try:
            age = datetime.now(UTC) - datetime.fromisoformat(finished)
        except ValueError:
            age = None
        if theirs != cpu or age is None or age > timedelta(hours=REFERENCE_HOURS):
            print(f"{path.name} ({theirs}, finished {finished or '?'}) is not from this machine "
                  f"in the last {REFERENCE_HOURS} hours: the full build is not compared with it",
                  flush=True)  # fmt: skip
            return None
    for entry in payload.get("results", []):
        pipe = entry.get("pipeline", {})
        if entry.get("n") == n and "seconds" in pipe:
            return {"source": f"{path.name} ({payload.get('finished_at', '?')})",
                    "seconds": pipe["seconds"], "peak_rss_mib": pipe["peak_rss_mib"],
                    "cpu_seconds": pipe.get("cpu_seconds"),
                    "load": payload.get("machine", {}).get("load_average_at_start")}  # fmt: skip
    return None


def targets(entry: dict[str, Any], ref: dict[str, Any] | None) -> list[tuple[str, str, str, str]]:
    """(figure, value, target, met) rows for one measured entry."""
    rows: list[tuple[str, str, str, str]] = []

    def add(figure: str, value: str, target: str, met: bool | None) -> None:
        rows.append((figure, value, target, "n/a" if met is None else "met" if met else "NOT met"))

    full = entry["full"]
    if "plus_one_day" in entry:
        day, same = entry["plus_one_day"], entry["unchanged"]
        share = day["seconds"] / full["seconds"]
        add("+1 day build / full build",
            f"{share:.1%} ({day['seconds']:.1f} s / {full['seconds']:.1f} s work; wall "
            f"{day['wall_seconds']:.1f} / {full['wall_seconds']:.1f} s; CPU "
            f"{day['cpu_seconds'] / full['cpu_seconds']:.1%}; load {day['load']})",
            "<= 5%", share <= 0.05)  # fmt: skip
        add("unchanged rerun",
            f"{same['seconds']:.2f} s work ({same['wall_seconds']:.2f} s wall with start; "
            f"load {same['load']})",
            "<= 1 s", same["seconds"] <= 1.0)  # fmt: skip
        dvc0, dvc1 = entry["dvc_full"], entry["dvc_day"]
        for store in ("cache", "remote"):
            grown = dvc1[f"{store}_bytes"] - dvc0[f"{store}_bytes"]
            share = grown / dvc0["dataset_bytes"]
            add(f"DVC {store} growth for the day",
                f"{share:.1%} ({grown:,} B over {dvc0['dataset_bytes']:,} B of dataset)",
                "<= 3%", share <= 0.03)  # fmt: skip
    vfull = entry["validate_full"]
    add("papers validate peak RSS (full)",
        f"{vfull['peak_rss_mib']:,.0f} MiB ({_state(vfull)}; load {vfull['load']})",
        "<= 2 GiB", _if_passed(vfull["peak_rss_mib"] <= 2 * GIB, vfull))  # fmt: skip
    if "validate_day" in entry:
        vday = entry["validate_day"]
        mode = "--changed-only" if vday["changed_only"] else "plain rerun: no incremental mode"
        add("papers validate peak RSS (after the day)",
            f"{vday['peak_rss_mib']:,.0f} MiB ({_state(vday)}; load {vday['load']})",
            "<= 2 GiB", _if_passed(vday["peak_rss_mib"] <= 2 * GIB, vday))  # fmt: skip
        share = vday["wall_seconds"] / vfull["wall_seconds"]
        add("validate after the day / full",
            f"{share:.1%} ({vday['wall_seconds']:.1f} s / {vfull['wall_seconds']:.1f} s wall; "
            f"{mode})",
            "<= 10%", _if_passed(share <= 0.10, vfull, vday))  # fmt: skip
    if ref is None:
        add("full build vs today: time", f"{full['seconds']:.1f} s work", "<= today", None)
        add("full build vs today: peak RSS", f"{full['peak_rss_mib']:,.0f} MiB", "<= today", None)
    else:
        add("full build vs today: time",
            f"{full['seconds']:.1f} s work vs {ref['seconds']:.1f} s ({ref['source']}, load "
            f"{ref['load']}); CPU {full['cpu_seconds']:.1f} vs {ref['cpu_seconds'] or 0:.1f} s",
            "<= today", full["seconds"] <= ref["seconds"])  # fmt: skip
        add("full build vs today: peak RSS",
            f"{full['peak_rss_mib']:,.0f} MiB vs {ref['peak_rss_mib']:,.0f} MiB",
            "<= today", full["peak_rss_mib"] <= ref["peak_rss_mib"])  # fmt: skip
    return rows


# the order the build runs its stages and publishes its tables (a saved JSON has sorted keys)
STAGES = ("unchanged", "parse", "normalize", "identity", "shuffle", "enrich", "write")


def _stage_order(name: str) -> tuple[int, str]:
    return (STAGES.index(name) if name in STAGES else len(STAGES), name)


def _table_order(name: str) -> tuple[int, str]:
    return (TABLES.index(name) if name in TABLES else len(TABLES), name)


def _if_passed(met: bool, *runs: dict[str, Any]) -> bool | None:
    """A validation target is judged on passing runs only (a failing one may stop early)."""
    return met if all(r["returncode"] == 0 for r in runs) else None


def _state(result: dict[str, Any]) -> str:
    return "passed" if result["returncode"] == 0 else f"FAILED, exit {result['returncode']}"


def table(entry: dict[str, Any], ref: dict[str, Any] | None) -> str:
    """The targets table of one entry, then the +1 day build's stages and rewritten files."""
    title = f"{entry['n']:,} records"
    if not entry["validate_only"]:
        title += (f", one more day: {entry['new']:,} new + {entry['updates']:,} "
                  f"{entry['update_model']} updates")  # fmt: skip
    rows = [("figure", "value", "target", "met"), *targets(entry, ref)]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [title]
    for r in rows:
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip())
        if len(lines) == 2:
            lines.append("-" * len(lines[-1]))
    if "plus_one_day" in entry:
        lines.append("")
        lines.append("+1 day build by stage (work seconds, CPU seconds, stage peak RSS):")
        stages = entry["plus_one_day"]["stages"]
        for name in sorted(stages, key=_stage_order):
            stage = stages[name]
            rss = stage.get("peak_rss_mib", stage["peak_rss_mib_so_far"])
            lines.append(f"  {name:<10} {stage['seconds']:>8.2f} s {stage['cpu_seconds']:>8.2f} s "
                         f"{rss:>8,.0f} MiB")  # fmt: skip
        lines.append("files of the +1 day version not in the full build's (new or rewritten):")
        for name in sorted(entry["day_files"], key=_table_order):
            files = entry["day_files"][name]
            lines.append(f"  {name:<10} {files['new_files']:>5} of {files['files']:>5} files, "
                         f"{files['new_bytes']:>14,} of {files['bytes']:>14,} B")  # fmt: skip
        if entry.get("day_changes"):
            lines.append(f"change feed: {entry['day_changes']}")
    return "\n".join(lines)


def main(opts: Any) -> int:
    """Run the incremental benchmark for each --records size and update model; print, save."""
    sizes = [int(s.replace("_", "")) for s in opts.records.split(",") if s.strip()]
    models = list(generate.UPDATE_MODEL_CHOICES[opts.update_model])
    facts = harness.machine()
    print(f"machine: {facts['cpu']}, {facts['cores_available']} cores, {facts['ram_gib']} GiB, "
          f"load {facts['load_average_at_start']}", flush=True)  # fmt: skip
    kernels = harness.measure_kernels(opts)  # a fresh clone's compiles in no build's figures
    results: list[dict[str, Any]] = []
    for n in sizes:
        ref = reference(n, opts.reference, facts["cpu"])
        for model in models[:1] if opts.validate_only else models:
            entry = bench_incremental(n, model, opts)
            entry["reference"] = ref
            entry["targets"] = [dict(zip(("figure", "value", "target", "met"), row, strict=True))
                                for row in targets(entry, ref)]  # fmt: skip
            results.append(entry)
            payload = {
                "machine": facts,
                "kernels": kernels,
                "command": "python bench/run.py " + " ".join(opts.argv),
                "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "results": results,
            }
            opts.json.parent.mkdir(parents=True, exist_ok=True)
            opts.json.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", "utf-8")
            print()
            print(table(entry, ref), flush=True)
    print(f"\nwrote {opts.json}")
    return 0
