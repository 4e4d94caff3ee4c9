"""metrics.json, the plots and the card summed over the partitions (pipeline.figures: each
partition's sums kept in its cache meta) are byte for byte what the whole-table figures give,
for either layout, and a +1 day build's equal a from-scratch build's."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from papers import io
from papers.config import load_build_config
from papers.pipeline.figures import sum_figures
from papers.pipeline.identity import identity_step
from papers.pipeline.normalize import normalize_shard_step, record_shards
from papers.pipeline.parse import parse_step
from papers.pipeline.partition import partition_step
from papers.pipeline.publish import publish_step
from papers.pipeline.shuffle import partition_inputs, shuffle_step
from tests.conftest import FIXTURES, SEED, build_local, params_file
from tests.pipeline.test_incremental_publish import (
    LISTING,
    TARGET_ROWS,
    next_day,
    partitioned_params,
)

# an HF API listing with ai_keywords and githubRepo: keyword tags, curated code links
KEYWORDS = FIXTURES / "hf_api" / "2025-10-08.json"
DERIVED = (io.METRICS, "papers_by_date.json", "README.md")


def raw_inputs(root: Path) -> Path:
    """The seed, two HF listings (one with keywords and curated GitHub repositories) and the
    next day."""
    raw = root / "raw"
    (raw / "hf").mkdir(parents=True)
    shutil.copy(SEED, raw / "seed.txt")
    shutil.copy(LISTING, raw / "hf" / LISTING.name)
    shutil.copy(KEYWORDS, raw / "hf" / KEYWORDS.name)
    (raw / "hf" / "2024-07-02.json").write_text(json.dumps(next_day(), indent=1), "utf-8")
    return raw


def publish_both(raw: Path, params_path: Path, root: Path) -> dict[str, Path]:
    """run_local's steps, then the publish twice: from the partitions' sums, and from the
    tables (the same partitions without their sums: the whole-table figures)."""
    config = load_build_config(params_path)
    params, vocabulary, idf = config.params, config.vocabulary, config.idf
    work = root / "work"
    work.mkdir()
    # with a cache, which keeps the shuffled records the whole-table figures read (without
    # one, each partition deletes its pieces)
    w, c = str(work), str(root / "cache")
    files = [f.relative_to(raw).as_posix() for f in io.list_inputs(raw)]
    parsed = [parse_step(str(raw), f, params, w, c, io.sha256_file(raw / f)) for f in files]
    normalized = [normalize_shard_step(s, params, w, c) for s in record_shards(parsed)]
    plan = identity_step(normalized, params, w, c, TARGET_ROWS)
    shuffled = [shuffle_step(n, plan["identity"], plan["boundaries"], w, c) for n in normalized]
    pieces = partition_inputs(shuffled, plan["boundaries"])
    partitions = [partition_step(p, params, vocabulary, w, c, idf) for p in pieces if p]
    assert len(partitions) > 2, "several partitions, so the sums add up something"
    assert sum_figures(partitions) is not None
    bare = [{k: v for k, v in p.items() if k != "figures"} for p in partitions]
    assert sum_figures(bare) is None
    outs = {}
    for label, parts in (("summed", partitions), ("scanned", bare)):
        out = root / label
        run_id = hashlib.sha256(label.encode()).hexdigest()[:12]
        publish_step(parsed, normalized, shuffled, parts, params, vocabulary, str(out), run_id,
                     False, idf)  # fmt: skip
        outs[label] = out
    return outs


@pytest.mark.parametrize("layout", ["partitioned", "single"])
def test_summed_figures_equal_the_whole_table_figures(tmp_path: Path, layout: str) -> None:
    params = partitioned_params(tmp_path) if layout == "partitioned" else params_file(tmp_path)
    outs = publish_both(raw_inputs(tmp_path), params, tmp_path)
    metrics = io.read_json(outs["summed"] / io.METRICS)
    # the fixture exercises the figures: keyword tags, several sources
    assert metrics["quality"]["tags"]["papers_with_mapped_keywords"] > 0
    assert len(metrics["fill_rates"]["by_source"]) > 1
    for name in DERIVED:
        summed = (outs["summed"] / name).read_text("utf-8")
        scanned = (outs["scanned"] / name).read_text("utf-8")
        assert summed == scanned, name


def _without_feed(card: str) -> list[str]:
    return [line for line in card.splitlines() if "changes/" not in line]


def test_a_day_s_figures_equal_a_from_scratch_build_s(tmp_path: Path) -> None:
    """The +1 day build (its unchanged partitions' sums from the cache) against a build of the
    same inputs from scratch: the same metrics and plots; the same card but for the change
    feed it names (version 2's against version 1's)."""
    params = partitioned_params(tmp_path)
    raw = raw_inputs(tmp_path)
    day = raw / "hf" / "2024-07-02.json"
    saved = day.read_bytes()
    day.unlink()
    out, cache = tmp_path / "out", str(tmp_path / "cache")
    build_local(raw, out, params, cache_dir=cache, target_rows=TARGET_ROWS)
    day.write_bytes(saved)
    build_local(raw, out, params, cache_dir=cache, target_rows=TARGET_ROWS)
    fresh = tmp_path / "fresh"
    build_local(raw, fresh, params, target_rows=TARGET_ROWS)
    for name in (io.METRICS, "papers_by_date.json"):
        assert (out / name).read_bytes() == (fresh / name).read_bytes(), name
    card, fresh_card = ((o / "README.md").read_text("utf-8") for o in (out, fresh))
    assert _without_feed(card) == _without_feed(fresh_card)
