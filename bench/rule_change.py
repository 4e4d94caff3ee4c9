"""What a rule change costs: a full build with a cache, then the same input rebuilt after a
vocabulary change and after a link-rule change (issue 15: "a new topic, a link fix").

    python bench/rule_change.py [--records 1000000] [--text pairs|sentences] [--work DIR]
                                [--from DIR] [--json PATH]

In a scratch folder under --work, each build in a child process of its own (bench/run.py's
`build` child: the flow's steps in one process, each stage timed):

1. the generated input (bench/generate.py, cached by size, seed and text) built from scratch
   with a build cache (the repository's params.yaml, related off as in bench/run.py);
2. rebuilt with a new vocabulary version that drops one topic: the tags and the keyphrase
   candidates read the vocabulary, so the partition step re-runs those two stages over every
   paper and keeps each paper's links and near-duplicate signatures from its memo;
3. rebuilt with one link rule changed (`links.own_code_cue_window`) as well, the new vocabulary
   kept: against the build before, only the link rule differs, and the links alone re-run.

Each build prints the enrichment stages its partitions re-ran over every paper (`rerun`).

Parse, normalize, identity and shuffle come from the cache in 2 and 3 (their keys do not read
the vocabulary or the link rules); the publish rewrites what changed. The figures are printed
and written to --json with the machine's facts.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import generate, harness  # noqa: E402

DROPPED = 0  # the vocabulary topic the changed vocabulary drops (its first)


def variant_params(work: Path) -> dict[str, Path]:
    """params files: the base (related off, absolute paths), one with the changed vocabulary,
    and one with the changed vocabulary and a changed link rule (built after it: only the link
    rule differs from the build before)."""
    base = harness.with_related(harness.ROOT / "params.yaml", work / "params-base.yaml", "off")
    params = yaml.safe_load(base.read_text("utf-8"))
    vocabulary = yaml.safe_load(Path(params["tags"]["vocabulary"]).read_text("utf-8"))
    dropped = vocabulary["topics"].pop(DROPPED)
    vocabulary["version"] = f"{vocabulary['version']}-without-{dropped['id']}"
    vocab_path = work / "topics-changed.yaml"
    vocab_path.write_text(yaml.safe_dump(vocabulary, sort_keys=False), "utf-8")
    topic = {**params, "tags": {**params["tags"], "vocabulary": str(vocab_path)}}
    window = params.get("links", {}).get("own_code_cue_window", 0)
    link = {**topic, "links": {**params.get("links", {}), "own_code_cue_window": window + 2}}
    paths = {"base": base, "vocabulary": work / "params-vocabulary.yaml",
             "links": work / "params-links.yaml"}  # fmt: skip
    paths["vocabulary"].write_text(yaml.safe_dump(topic, sort_keys=False), "utf-8")
    paths["links"].write_text(yaml.safe_dump(link, sort_keys=False), "utf-8")
    return paths


def build(raw: Path, out: Path, params: Path, cache: Path, label: str) -> dict[str, Any]:
    result = harness.measure(
        "build", {"raw": str(raw), "out": str(out), "params": str(params), "cache": str(cache)}
    )
    stages = ", ".join(f"{k} {v['seconds']:.1f}" for k, v in result["stages"].items())
    print(
        f"  {label}: {result['seconds']:.1f} s work ({stages}), {result['cpu_seconds']:.1f} CPU s,"
        f" {result['peak_rss_mib']:,.0f} MiB; enrichment re-run over every paper: "
        f"{', '.join(result['rerun']) or 'none'}",
        flush=True,
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--text", choices=generate.TEXTS, default="pairs")
    parser.add_argument("--work", type=Path, default=harness.DEFAULT_WORK)
    parser.add_argument("--from", dest="sources", type=Path, action="append")
    parser.add_argument("--json", type=Path, help="write the figures here")
    opts = parser.parse_args(argv)
    opts.work = opts.work.resolve()
    harness.configure(opts.work)  # the children's result files
    opts.work.mkdir(parents=True, exist_ok=True)
    raw = harness.raw_dir_for(opts.records, opts)
    scratch = opts.work / f"rule-change-{opts.records}"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    params = variant_params(scratch)
    out, cache = scratch / "out", scratch / "cache"
    print(f"machine: {harness.machine()}", flush=True)
    print(f"[{opts.records}] rule change, builds into {out} with the cache {cache}", flush=True)
    results = {
        "full": build(raw, out, params["base"], cache, "full build (empty cache)"),
        "vocabulary": build(raw, out, params["vocabulary"], cache, "vocabulary changed"),
        "links": build(raw, out, params["links"], cache, "link rule changed"),
    }
    full = results["full"]["seconds"]
    for name in ("vocabulary", "links"):
        share = results[name]["seconds"] / full
        print(f"  {name} change: {share:.1%} of the full build's work seconds", flush=True)
    if opts.json:
        opts.json.write_text(
            json.dumps(
                {"command": "python bench/rule_change.py " + " ".join(argv or sys.argv[1:]),
                 "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                 "machine": harness.machine(), "records": opts.records, "text": opts.text,
                 "results": results},
                indent=1, sort_keys=True,
            ) + "\n",
            "utf-8",
        )  # fmt: skip
        print(f"wrote {opts.json}")
    shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
