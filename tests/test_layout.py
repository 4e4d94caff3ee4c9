"""layout: the partition key of every paper-id form, and the node plan's bounds and purity."""

from __future__ import annotations

import hashlib
import random

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from papers.config import NormalizeParams
from papers.dataset import node_name_unsafe
from papers.layout import (
    leaf_of,
    node_name,
    nodes_of,
    plan_files,
    source_leaf,
    source_node_name,
)
from papers.stages.normalize import arxiv_id


def leaves(ids: list[str | None]) -> list[str | None]:
    frame = pl.DataFrame({"paper_id": ids}, schema={"paper_id": pl.String})
    return frame.select(leaf_of(pl.col("paper_id")))["leaf"].to_list()


def hashed(paper_id: str) -> str:
    digest = hashlib.sha256(paper_id.encode()).hexdigest()
    return "other/" + "/".join(digest[:3])


@pytest.mark.parametrize(
    ("paper_id", "leaf"),
    [
        ("2401.12345", "arxiv/2024/01/b1"),
        ("2401.02345", "arxiv/2024/01/b0"),
        ("2412.99999", "arxiv/2024/12/b9"),
        ("1501.00001", "arxiv/2015/01/b0"),
        ("0704.0001", "arxiv/2007/04/b0"),  # the first new-style id, 4 digits
        ("1412.9999", "arxiv/2014/12/b0"),
        ("hep-th/9901001", "arxiv/1999/01/hep-th"),
        ("math.AG/0601001", "arxiv/2006/01/math"),  # subject class shares the archive numbering
        ("math/0601002", "arxiv/2006/01/math"),
        ("cond-mat/0703999", "arxiv/2007/03/cond-mat"),  # the last old-style month
        ("q-bio.NC/0001001", "arxiv/2000/01/q-bio"),
        ("astro-ph/9112001", "arxiv/1991/12/astro-ph"),
        ("doi:10.1000/xyz", hashed("doi:10.1000/xyz")),
        ("doi:10.1145/3292500.3330701", hashed("doi:10.1145/3292500.3330701")),
        ("title:0123456789abcdef", hashed("title:0123456789abcdef")),
        # ugly: not ids the normaliser makes, but they must not crash or look like arXiv
        ("2401.123", hashed("2401.123")),
        ("2401.123456", hashed("2401.123456")),
        ("HEP-TH/9901001", hashed("HEP-TH/9901001")),
        ("", hashed("")),
        ("é/ü 🙂", hashed("é/ü 🙂")),
    ],
)
def test_leaf_of_every_id_form(paper_id: str, leaf: str) -> None:
    assert leaves([paper_id]) == [leaf]


def test_leaf_of_null_is_null() -> None:
    assert leaves([None, "2401.00001"]) == [None, "arxiv/2024/01/b0"]


@pytest.mark.parametrize(
    "written",
    ["arXiv:2401.12345v2", "https://arxiv.org/abs/hep-th/9901001v1", "MATH.ag/0601001",
     "https://arxiv.org/pdf/0704.0001.pdf", "https://huggingface.co/papers/2401.00001"],
)  # fmt: skip
def test_ids_the_normaliser_makes_are_arxiv_leaves(written: str) -> None:
    frame = pl.DataFrame({"raw": [written]})
    paper_id = frame.select(arxiv_id(pl.col("raw")))["raw"][0]
    assert leaves([paper_id])[0].startswith("arxiv/"), paper_id


def test_title_ids_of_the_default_params_are_hashed() -> None:
    paper_id = NormalizeParams().title_id_prefix + "f" * NormalizeParams().title_id_hex_chars
    assert leaves([paper_id]) == [hashed(paper_id)]


def test_leaf_of_is_deterministic_and_row_local() -> None:
    ids = ["2401.12345", "doi:10.1/a", "hep-th/9901001", "title:abc"] * 50
    shuffled = random.Random(3).sample(ids, len(ids))
    by_id = dict(zip(ids, leaves(list(ids)), strict=True))
    assert dict(zip(shuffled, leaves(list(shuffled)), strict=True)) == by_id
    assert dict(zip(ids[:1], leaves(ids[:1]), strict=True)) == {ids[0]: by_id[ids[0]]}


def test_node_names() -> None:
    assert node_name(()) == "all"
    assert node_name(("arxiv", "2015", "01", "b0")) == "arxiv-2015-01-b0"
    assert node_name(("arxiv", "2015", "01"), "03") == "arxiv-2015-01_03"
    assert node_name(("other", "5", "c")) == "other-h5c"
    assert node_name(("other", "0"), "3") == "other-h0_h3"


def test_plan_one_file_when_it_fits() -> None:
    counts = {"arxiv/2024/01/b0": 5, "other/a/b/c": 2}
    assert set(plan_files(counts, 7).values()) == {"all"}
    assert plan_files({}, 7) == {}
    with pytest.raises(ValueError, match="positive"):
        plan_files(counts, 0)


def test_plan_splits_big_nodes_and_packs_small_neighbours() -> None:
    counts = {
        "arxiv/1999/01/hep-th": 3, "arxiv/1999/02/hep-th": 3, "arxiv/2023/11/b0": 4,
        "arxiv/2024/01/b0": 10, "arxiv/2024/01/b1": 9, "arxiv/2024/02/b0": 1,
        "other/0/0/0": 1, "other/f/f/f": 1,
    }  # fmt: skip
    plan = plan_files(counts, 10)
    assert plan == {
        "arxiv/1999/01/hep-th": "arxiv-1999_2023", "arxiv/1999/02/hep-th": "arxiv-1999_2023",
        "arxiv/2023/11/b0": "arxiv-1999_2023",
        "arxiv/2024/01/b0": "arxiv-2024-01-b0", "arxiv/2024/01/b1": "arxiv-2024-01-b1",
        "arxiv/2024/02/b0": "arxiv-2024-02",
        "other/0/0/0": "other", "other/f/f/f": "other",
    }  # fmt: skip


def test_a_leaf_past_max_rows_is_its_own_file() -> None:
    plan = plan_files({"arxiv/2024/01/b0": 50, "arxiv/2024/01/b1": 1}, 10)
    assert plan == {"arxiv/2024/01/b0": "arxiv-2024-01-b0", "arxiv/2024/01/b1": "arxiv-2024-01-b1"}


def test_hash_family_splits_by_more_digits() -> None:
    rng = random.Random(0)
    ids = [f"title:{rng.getrandbits(64):016x}" for _ in range(2000)]
    frame = nodes_of(pl.DataFrame({"paper_id": ids}), 300)
    sizes = frame.group_by("node").len()
    assert sizes["len"].max() <= 300
    assert all(n.startswith("other-h") for n in sizes["node"])
    assert sizes.height <= 2 * 2000 // 300 + 2


counts_strategy = st.dictionaries(
    st.one_of(
        st.builds(
            lambda y, m, b: f"arxiv/{y}/{m:02d}/b{b}",
            st.integers(2007, 2026), st.integers(1, 12), st.integers(0, 9),
        ),
        st.builds(
            lambda y, m, a: f"arxiv/{y}/{m:02d}/{a}",
            st.integers(1991, 2007), st.integers(1, 12), st.sampled_from(["hep-th", "math", "q-bio"]),
        ),
        st.builds(lambda h: "other/" + "/".join(f"{h:03x}"), st.integers(0, 4095)),
    ),
    st.integers(1, 300),
    max_size=60,
)  # fmt: skip


def check_plan(counts: dict[str, int], plan: dict[str, str], max_rows: int) -> None:
    assert set(plan) == set(counts)  # every leaf in exactly one node
    rows: dict[str, int] = {}
    leaves_of: dict[str, list[str]] = {}
    for leaf, node in plan.items():
        rows[node] = rows.get(node, 0) + counts[leaf]
        leaves_of.setdefault(node, []).append(leaf)
    for node, held in rows.items():
        assert held <= max_rows or len(leaves_of[node]) == 1, (node, held)


@settings(max_examples=200, deadline=None)
@given(counts_strategy, st.integers(1, 500))
def test_plan_properties(counts: dict[str, int], max_rows: int) -> None:
    plan = plan_files(counts, max_rows)
    check_plan(counts, plan, max_rows)
    permuted = dict(random.Random(1).sample(list(counts.items()), len(counts)))
    assert plan_files(permuted, max_rows) == plan  # pure: order does not matter
    # local: more rows in one arXiv year never move a hash-family leaf, unless it shared a file
    # with the arXiv family (the whole table in one file, or a root-level run)
    years = sorted({leaf.split("/")[1] for leaf in counts if leaf.startswith("arxiv/")})
    if years:
        bumped = {
            k: v + (max_rows if k.startswith(f"arxiv/{years[0]}/") else 0)
            for k, v in counts.items()
        }
        replanned = plan_files(bumped, max_rows)
        for leaf, node in plan.items():
            if leaf.startswith("other/") and node not in {"all", "arxiv_other"}:
                assert replanned[leaf] == node


def test_from_scratch_equals_incremental() -> None:
    rng = random.Random(7)
    counts: dict[str, int] = {}
    for _ in range(300):
        leaf = f"arxiv/20{rng.randint(10, 24)}/{rng.randint(1, 12):02d}/b{rng.randint(0, 2)}"
        counts[leaf] = counts.get(leaf, 0) + rng.randint(1, 40)
        plan_files(counts, 500)  # the plan of every intermediate day leaves no state behind
    assert plan_files(counts, 500) == plan_files(dict(sorted(counts.items())), 500)


def test_sizes_stay_in_range_after_many_daily_appends() -> None:
    """Three simulated years of arXiv-like days: ~1.2k new ids a weekday, numbered densely
    within each month, on top of an old-style backlog. Every file stays <= max_rows; the run
    files of one parent are more than half full on average; a day rewrites few files."""
    max_rows = 20_000
    counts: dict[str, int] = {
        f"arxiv/{y}/{m:02d}/hep-th": 900 for y in range(1992, 2007) for m in range(1, 13)
    }
    plans = [plan_files(counts, max_rows)]
    rewritten: list[int] = []
    rng = random.Random(11)
    for year in (2022, 2023, 2024):
        for month in range(1, 13):
            number = 0
            for _day in range(22):
                before = dict(counts)
                for _ in range(rng.randint(900, 1500)):
                    leaf = f"arxiv/{year}/{month:02d}/b{number // 10_000}"
                    counts[leaf] = counts.get(leaf, 0) + 1
                    number += 1
                plan = plan_files(counts, max_rows)
                check_plan(counts, plan, max_rows)
                # a file is rewritten when its leaf set or the rows of its leaves changed
                old = _files(plans[-1], before)
                new = _files(plan, counts)
                rewritten.append(len(set(new.items()) - set(old.items())))
                plans.append(plan)
    files = _files(plans[-1], counts)
    sizes = [sum(counts[leaf] for leaf in leaves) for leaves in _members(plans[-1]).values()]
    assert max(sizes) <= max_rows
    assert sum(sizes) / len(sizes) > max_rows / 2
    assert len(files) <= 2 * sum(counts.values()) / max_rows + 12  # ~2 per split node at most
    assert max(rewritten) <= 3
    assert sum(rewritten) / len(rewritten) <= 1.2


def _members(plan: dict[str, str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for leaf, node in sorted(plan.items()):
        out.setdefault(node, []).append(leaf)
    return out


def _files(plan: dict[str, str], counts: dict[str, int]) -> dict[str, tuple[tuple[str, int], ...]]:
    return {
        node: tuple((leaf, counts[leaf]) for leaf in leaves)
        for node, leaves in _members(plan).items()
    }


# --- provenance and rejected: keyed by raw file ---------------------------------------------


def source_leaves(files: list[str | None], indices: list[int | None], max_rows: int) -> list[str]:
    frame = pl.DataFrame(
        {"source_file": files, "record_index": indices},
        schema={"source_file": pl.String, "record_index": pl.Int64},
    )
    return frame.select(source_leaf(pl.col("source_file"), pl.col("record_index"), max_rows))[
        "leaf"
    ].to_list()


def test_source_leaf_is_the_file_and_its_record_range() -> None:
    assert source_leaves(["pages/2024/x.txt", "pages/2024/x.txt", "a.json"], [0, 25, None], 10) == [
        "pages/2024/x.txt/r00000000",
        "pages/2024/x.txt/r00000002",
        "a.json/r00000000",  # a whole-file reject (no record index) is in the first range
    ]


def test_source_node_names_are_safe_and_distinct() -> None:
    assert source_node_name(()) == "all"
    assert source_node_name(("pages", "x.txt")) == "pages__x.txt"
    assert source_node_name(("pages",), "y") == "pages_to_y"
    odd = [("a b",), ("a_b",), ("a", "b"), ("a__b",), (".hidden",), ("x" * 300,), ("x" * 301,),
           ("é",), ("e",), ("a_to_b",), ("a",)]  # fmt: skip
    names = [source_node_name(path) for path in odd] + [source_node_name(("a",), "b")]
    assert len(set(names)) == len(names), names
    for name in names:
        assert not node_name_unsafe(name), name
        assert len(name) <= 96 + 9


def test_a_big_raw_file_splits_into_record_ranges_small_ones_pack() -> None:
    files = ["big.jsonl"] * 25 + ["day/1.json"] * 3 + ["day/2.json"] * 4 + ["day/3.json"] * 9
    indices = [*range(25), *range(3), *range(4), *range(9)]
    frame = pl.DataFrame({"source_file": files, "record_index": indices})
    planned = nodes_of(frame, 10, table="provenance")
    rows = planned.group_by("node").len().sort("node")
    assert dict(zip(rows["node"], rows["len"], strict=True)) == {
        "big.jsonl__r00000000": 10,
        "big.jsonl__r00000001": 10,
        "big.jsonl__r00000002": 5,
        "day__1.json_to_2.json": 7,
        "day__3.json": 9,
    }


def test_duplicates_rows_are_placed_by_the_newer_paper() -> None:
    # a day's new paper pairs with old ones across the id range: its pairs land in its own node
    pairs = pl.DataFrame(
        {
            "paper_id_a": ["0704.0001", "1501.00002", "2001.00003", "2401.00004", "2401.00005"],
            "paper_id_b": ["2412.00009", "2412.00009", "2412.00009", "2412.00009", "2401.00006"],
        }
    )
    nodes = nodes_of(pairs, max_rows=2, table="duplicates")
    newest = nodes.filter(pl.col("paper_id_b") == "2412.00009")["node"].unique()
    assert newest.len() == 1
    assert nodes.filter(pl.col("paper_id_b") == "2401.00006")["node"].item() != newest.item()
