"""The change feed (papers/changes.py): per paper added / updated / removed with the changed
columns, on tiny ugly frames and on two partitioned seed builds a day apart; applying a version's
feed to the previous version's papers gives the new version's (design §5)."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from papers import io
from papers.changes import (
    CHANGES_SCHEMA,
    apply_changes,
    compact_feeds,
    feed_frame,
    field_counts,
    frame_changes,
    manifest_changes,
    totals,
    version_changes,
    write_feed,
)
from papers.config import (
    Params,
    load_params,
)
from papers.dataset import manifest_tables
from schemas import Changes, polars_schema
from tests.conftest import REPO, SEED, build_with

LINK = pl.Struct({"url": pl.String, "kind": pl.String})
SCHEMA: dict[str, pl.DataType] = {
    "paper_id": pl.String(),
    "title": pl.String(),
    "code_url": pl.String(),
    "authors": pl.List(pl.String),
    "listing_dates": pl.List(pl.Date),
    "links": pl.List(LINK),
}
D1, D2 = date(2025, 1, 21), date(2025, 1, 22)


def frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=SCHEMA, orient="row")


OLD = frame(
    [
        {"paper_id": "2401.00001", "title": "Same", "code_url": None, "authors": [],
         "listing_dates": [D1], "links": []},
        {"paper_id": "title:aa", "title": "Null to value", "code_url": None, "authors": ["A"],
         "listing_dates": [], "links": [{"url": "u", "kind": None}]},
        {"paper_id": "doi:10.1/x", "title": "Gone", "code_url": "https://g.it/x", "authors": [],
         "listing_dates": [], "links": []},
        {"paper_id": "hep-th/9901001", "title": "Lists", "code_url": None, "authors": ["A", "B"],
         "listing_dates": [D1], "links": [{"url": "u", "kind": None}]},
        {"paper_id": "2401.00002", "title": "Empty vs null item", "code_url": None,
         "authors": [], "listing_dates": [], "links": [{"url": None, "kind": None}]},
    ]
)  # fmt: skip
NEW = frame(
    [
        {"paper_id": "2401.00001", "title": "Same", "code_url": None, "authors": [],
         "listing_dates": [D1], "links": []},
        {"paper_id": "title:aa", "title": "Null to value", "code_url": "https://g.it/a",
         "authors": ["A"], "listing_dates": [], "links": [{"url": "u", "kind": "code"}]},
        {"paper_id": "hep-th/9901001", "title": "Lists", "code_url": None, "authors": ["B", "A"],
         "listing_dates": [D1, D2], "links": [{"url": "u", "kind": None}]},
        {"paper_id": "2401.00002", "title": "Empty vs null item", "code_url": None,
         "authors": [None], "listing_dates": [], "links": [None]},
        {"paper_id": "title:Ünï", "title": "New", "code_url": None, "authors": [],
         "listing_dates": [], "links": []},
    ]
)  # fmt: skip


def test_frame_changes_null_aware_and_exact_on_lists() -> None:
    changes = frame_changes(OLD.sample(fraction=1, shuffle=True, seed=3), NEW)
    assert changes.schema == CHANGES_SCHEMA
    assert changes.rows() == [
        ("title:Ünï", "added", []),
        ("doi:10.1/x", "removed", []),
        ("2401.00002", "updated", ["authors", "links"]),
        ("hep-th/9901001", "updated", ["authors", "listing_dates"]),
        ("title:aa", "updated", ["code_url", "links"]),
    ]


def test_frame_changes_sides_missing_and_columns_on_one_side() -> None:
    assert frame_changes(None, None).schema == CHANGES_SCHEMA
    assert frame_changes(None, None).is_empty()
    assert frame_changes(None, NEW).get_column("op").unique().to_list() == ["added"]
    assert frame_changes(OLD, None).get_column("op").unique().to_list() == ["removed"]
    assert frame_changes(OLD, OLD).is_empty()
    # a column added (or retyped) by a schema change differs for every paper in both
    widened = OLD.with_columns(pl.lit(None, pl.String).alias("doi"))
    changes = frame_changes(OLD, widened)
    assert changes.get_column("fields").to_list() == [["doi"]] * OLD.height
    retyped = OLD.with_columns(pl.col("title").cast(pl.Categorical))
    assert frame_changes(OLD, retyped).get_column("fields").to_list() == [["title"]] * OLD.height


def test_frame_changes_refuses_duplicate_ids() -> None:
    with pytest.raises(ValueError, match=r"paper_id not unique in the new papers rows"):
        frame_changes(OLD, pl.concat([NEW, NEW.head(1)]))


def _differing(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    return [c for c in new if c != "paper_id" and old[c] != new[c]]


def check_feed_applies(old: pl.DataFrame, new: pl.DataFrame, feed: pl.DataFrame) -> None:
    """papers(N) == papers(N-1) minus removed and updated, plus added and updated rows of N;
    each update's fields are exactly the columns that differ; no other paper differs."""
    assert_frame_equal(apply_changes(old, feed, new), new.sort("paper_id"))
    fields = {r["paper_id"]: r["fields"] for r in feed.filter(op="updated").to_dicts()}
    by_id = {r["paper_id"]: r for r in old.to_dicts()}
    for row in new.to_dicts():
        before = by_id.get(row["paper_id"])
        if before is not None:
            assert _differing(before, row) == fields.get(row["paper_id"], []), row["paper_id"]


def test_change_feed_applies_on_tiny_frames() -> None:
    changes = frame_changes(OLD, NEW)
    check_feed_applies(OLD, NEW, feed_frame(2, "v2", changes))
    # only the changed rows of the new version are needed
    changed = NEW.join(changes.select("paper_id"), on="paper_id", how="semi")
    assert_frame_equal(apply_changes(OLD, changes, changed), NEW.sort("paper_id"))
    with pytest.raises(ValueError, match=r"1 added or updated papers are not in the current rows"):
        apply_changes(OLD, changes, changed.filter(pl.col("paper_id") != "title:Ünï"))


def test_feed_frame_schema_totals_and_field_counts(tmp_path: Path, params: Params) -> None:
    changes = frame_changes(OLD, NEW)
    feed = feed_frame(42, "abc123", changes)
    assert feed.schema == polars_schema(Changes)
    Changes.validate(feed)
    assert feed.get_column("version").unique().to_list() == [42]
    assert feed.get_column("previous_paper_id").null_count() == feed.height
    assert totals(changes) == {"added": 1, "updated": 3, "removed": 1}
    assert totals(changes.head(0)) == {"added": 0, "updated": 0, "removed": 0}
    assert field_counts(changes).rows() == [
        ("authors", 2, ["2401.00002", "hep-th/9901001"]),
        ("links", 2, ["2401.00002", "title:aa"]),
        ("code_url", 1, ["title:aa"]),
        ("listing_dates", 1, ["hep-th/9901001"]),
    ]
    entry = write_feed(feed, tmp_path / "a" / "changes", 42, params.write)
    again = write_feed(feed.reverse(), tmp_path / "b" / "changes", 42, params.write)
    assert entry == again  # same rows in any order: same name, bytes and sha256
    assert entry.path.startswith("changes/v000042-")
    assert entry.rows == feed.height
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["changes"]  # no scratch left
    assert_frame_equal(pl.read_parquet(tmp_path / "a" / entry.path), feed)
    assert manifest_changes(entry, changes) == {
        "path": entry.path, "added": 1, "updated": 3, "removed": 1,
    }  # fmt: skip
    empty = write_feed(feed_frame(1, "x", changes.head(0)), tmp_path / "e", 1, params.write)
    assert empty.rows == 0
    assert pl.read_parquet(tmp_path / "e" / Path(empty.path).name).schema == feed.schema


# --------------------------------------------------------------------------- seed builds

CHANGED = (
    "Don't Play Favorites: Minority Guidance for Diffusion Models",
    "Comparing Human and Machine Bias in Face Recognition",
)
DROPPED = "DeepfakeBench: A Comprehensive Benchmark of Deepfake Detection"
NEW_PAPERS = (
    ("Tiny Ugly Fixtures Find Real Bugs", "We show that five records find more bugs than 5k."),
    ("A Change Feed for Versioned Parquet", "Consecutive versions differ by their changed files."),
    ("Ünïcode Títles Still Count", "An abstract with $\\alpha$ LaTeX and   spaces."),
)


def next_day(seed: str) -> tuple[str, str]:
    """The seed with two abstracts changed and one paper gone, and a day file of 3 new papers."""
    lines = seed.splitlines(keepends=True)
    out: list[str] = []
    skip_abstract = False
    for i, line in enumerate(lines):
        text = line.strip()
        if text == DROPPED:
            skip_abstract = True
            continue
        if skip_abstract and text:
            skip_abstract = False
            continue
        previous = next((p.strip() for p in reversed(lines[:i]) if p.strip()), "")
        revised = text and previous in CHANGED
        out.append(line.rstrip("\n") + " Revised in v2.\n" if revised else line)
    day = "Daily Papers\n\n" + "".join(f"{t}\n\n{a}\n\n" for t, a in NEW_PAPERS)
    return "".join(out), day


def partitioned(**write: Any) -> Params:
    params = load_params(REPO / "params.yaml")
    # max_rows 6: the seed's papers in about 12 files, so a day leaves some of them as they were
    update = {"layout": "partitioned", "partition_max_rows": {"papers": 6, "links": 20, "tags": 20}}
    return params.model_copy(update={"write": params.write.model_copy(update={**update, **write})})


def build(raw: Path, out: Path, params: Params) -> dict[str, Any]:
    return build_with(raw, out, params)


@pytest.fixture(scope="module")
def days(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Seed builds a day apart, partitioned (papers max_rows 6) and single: a, then b over a copy."""
    root = tmp_path_factory.mktemp("days")
    seed = SEED.read_text("utf-8")
    edited, day = next_day(seed)
    assert edited.count("Revised in v2.") == 2
    assert DROPPED not in edited
    (root / "raw-a").mkdir()
    (root / "raw-a" / "seed.txt").write_text(seed, "utf-8")
    (root / "raw-b").mkdir()
    (root / "raw-b" / "seed.txt").write_text(edited, "utf-8")
    (root / "raw-b" / "day2.txt").write_text(day, "utf-8")
    found: dict[str, Path] = {}
    for layout, params in (("part", partitioned()), ("single", partitioned(layout="single"))):
        a, b = root / f"{layout}-a", root / f"{layout}-b"
        build(root / "raw-a", a, params)
        shutil.copytree(a, b)
        build(root / "raw-b", b, params)
        found |= {f"{layout}-a": a, f"{layout}-b": b}
    return found


def papers_entries(folder: Path) -> list[dict[str, Any]]:
    return manifest_tables(io.read_json(folder / io.MANIFEST))["papers"]


def read_papers(folder: Path) -> pl.DataFrame:
    return pl.read_parquet([folder / e["path"] for e in papers_entries(folder)])


@pytest.mark.parametrize("layout", ["part", "single"])
def test_change_feed_applies(days: dict[str, Path], layout: str) -> None:
    a, b = days[f"{layout}-a"], days[f"{layout}-b"]
    changes = version_changes(a, papers_entries(a), b, papers_entries(b))
    old, new = read_papers(a), read_papers(b)
    assert totals(changes) == {"added": 3, "updated": 2, "removed": 1}
    titles = dict(pl.concat([old, new]).select("paper_id", "title").unique().iter_rows())
    by_op = {op: {titles[i] for i in ids} for op, ids in changes.group_by("op").agg("paper_id").iter_rows()}  # fmt: skip
    assert by_op == {
        "added": {title for title, _ in NEW_PAPERS},
        "updated": set(CHANGED),
        "removed": {DROPPED},
    }
    for fields in changes.filter(op="updated").get_column("fields").to_list():
        assert {"abstract", "abstract_raw"} <= set(fields)
    check_feed_applies(old, new, feed_frame(2, "b", changes))
    # only the changed files' rows are needed
    changed = read_papers_changed(a, b)
    assert_frame_equal(apply_changes(old, changes, changed), new.sort("paper_id"))


def read_papers_changed(a: Path, b: Path) -> pl.DataFrame:
    shared = {e["sha256"] for e in papers_entries(a)}
    return pl.read_parquet([b / e["path"] for e in papers_entries(b) if e["sha256"] not in shared])


def test_files_both_versions_list_are_not_read(days: dict[str, Path], tmp_path: Path) -> None:
    a, b = days["part-a"], days["part-b"]
    old_entries, new_entries = papers_entries(a), papers_entries(b)
    shared = {e["path"] for e in old_entries} & {e["path"] for e in new_entries}
    assert shared, "max_rows 6 should leave some papers files of the seed unchanged"
    assert len(shared) < len(new_entries)
    # copies of both versions without the files they share: the same changes
    sparse = {}
    for label, folder, entries in (("a", a, old_entries), ("b", b, new_entries)):
        for entry in entries:
            if entry["path"] not in shared:
                target = tmp_path / label / entry["path"]
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(folder / entry["path"], target)
        sparse[label] = tmp_path / label
    assert_frame_equal(
        version_changes(sparse["a"], old_entries, sparse["b"], new_entries),
        version_changes(a, old_entries, b, new_entries),
    )


def test_first_version_lists_everything_as_added(days: dict[str, Path]) -> None:
    a = days["part-a"]
    changes = version_changes(None, [], a, papers_entries(a))
    assert totals(changes) == {"added": 57, "updated": 0, "removed": 0}
    assert changes.get_column("paper_id").to_list() == sorted(read_papers(a)["paper_id"])
    with pytest.raises(ValueError, match=r"without the folder they are in"):
        version_changes(None, papers_entries(a), a, papers_entries(a))


def test_a_month_of_feeds_compacts_into_one_file(tmp_path: Path, params: Params) -> None:
    changes_dir = tmp_path / "changes"
    feeds = [
        feed_frame(1, "v1", frame_changes(None, OLD)),
        feed_frame(2, "v2", frame_changes(OLD, NEW)),
        feed_frame(3, "v3", frame_changes(NEW, OLD)),
    ]
    daily = [write_feed(f, changes_dir, n, params.write) for n, f in enumerate(feeds, 1)]
    entry, replaced = compact_feeds(changes_dir, "2025-01", [2, 1], params.write)
    assert entry.path.startswith("changes/2025-01-")
    assert replaced == [daily[0].path, daily[1].path]
    assert all((tmp_path / e.path).is_file() for e in daily)  # the caller removes them later
    assert_frame_equal(pl.read_parquet(tmp_path / entry.path), pl.concat(feeds[:2]))
    again, _ = compact_feeds(changes_dir, "2025-01", [1, 2], params.write)
    assert again == entry
    with pytest.raises(ValueError, match=r"no feed file for versions \[4\]"):
        compact_feeds(changes_dir, "2025-02", [3, 4], params.write)
    with pytest.raises(ValueError, match=r"not a month"):
        compact_feeds(changes_dir, "2025-13", [3], params.write)


def _files(root: Path, parts: dict[str, pl.DataFrame]) -> list[dict[str, Any]]:
    """Each part as papers/<node>-<sha12>.parquet under root; their manifest entries."""
    entries = []
    for node, part in parts.items():
        (root / "papers").mkdir(parents=True, exist_ok=True)
        scratch = root / "part.parquet"
        part.write_parquet(scratch)
        sha = io.sha256_file(scratch)
        path = f"papers/{node}-{sha[:12]}.parquet"
        scratch.replace(root / path)
        entries.append({"path": path, "sha256": sha, "rows": part.height})
    return entries


def test_papers_moved_to_another_node_are_updates_or_nothing(tmp_path: Path) -> None:
    ids = pl.col("paper_id")
    old = _files(tmp_path / "a", {"x": OLD.filter(ids.str.starts_with("2401")), "y": OLD.filter(~ids.str.starts_with("2401"))})  # fmt: skip
    # the plan moved every paper: title:aa and hep-th/9901001 changed on the way
    new = _files(tmp_path / "b", {"x_y": NEW.filter(ids != "title:Ünï"), "z": NEW.filter(ids == "title:Ünï")})  # fmt: skip
    found = version_changes(tmp_path / "a", old, tmp_path / "b", new)
    assert_frame_equal(found, frame_changes(OLD, NEW))
    check_feed_applies(OLD, NEW, feed_frame(2, "b", found))


def test_a_new_plan_of_the_same_papers_is_no_change(days: dict[str, Path], tmp_path: Path) -> None:
    """The seed in files of at most 6 papers, then of 20: every file differs, no paper does."""
    replanned = tmp_path / "b"
    shutil.copytree(days["part-a"], replanned)
    raw = tmp_path / "raw"
    raw.mkdir()
    shutil.copy(SEED, raw / "seed.txt")
    build(raw, replanned, partitioned(partition_max_rows={"papers": 20, "links": 20, "tags": 20}))
    old, new = papers_entries(days["part-a"]), papers_entries(replanned)
    assert not {e["path"] for e in old} & {e["path"] for e in new}
    assert version_changes(days["part-a"], old, replanned, new).is_empty()


def test_a_move_to_another_layout_compares_the_moved_papers_in_batches(
    days: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """single-a -> part-b: every paper moves from papers.parquet to a node file. The feed is
    the day's changes all the same, whatever the batch the moved papers are compared in."""
    from papers import changes as module

    a, b = days["single-a"], days["part-b"]
    whole = frame_changes(read_papers(a), read_papers(b))
    for batch in (50_000, 7):
        monkeypatch.setattr(module, "_MOVED_BATCH", batch)
        found = version_changes(a, papers_entries(a), b, papers_entries(b))
        assert_frame_equal(found, whole)
    assert totals(whole) == {"added": 3, "updated": 2, "removed": 1}
