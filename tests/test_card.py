"""The dataset card (data/processed/README.md) a build writes: its header, its schema, hostile text
shown as text, and Hugging Face `datasets` loading every table offline through the card's configs.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml

from papers import io
from papers.card import CARD, header, md, render_card, size_category, table_paths
from papers.dataset import manifest_tables
from papers.io import read_json
from schemas import PUBLISHED, arrow_schema
from tests.conftest import read_table

SCRIPT_TITLE = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def built(
    prefect_harness: None, repo: Path, fixtures: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A build of the hostile listing (3 papers, so all are example rows) and an error body."""
    from flows.build import build_dataset

    raw = tmp_path_factory.mktemp("card-raw")
    shutil.copy(fixtures / "report" / "2025-01-11.txt", raw / "2025-01-11.txt")
    shutil.copy(fixtures / "hf_api" / "papers.json", raw / "error.json")  # one reject
    out = tmp_path_factory.mktemp("card-out")
    build_dataset(raw_dir=str(raw), out_dir=str(out), params_path=str(repo / "params.yaml"))
    return out


def split_card(text: str) -> tuple[dict[str, Any], str]:
    match = re.match(r"---\n(.*?)\n---\n(.*)", text, flags=re.S)
    assert match, "the card starts with a YAML header between --- lines"
    header = yaml.safe_load(match.group(1))
    assert isinstance(header, dict)
    return header, match.group(2)


def test_header_parses_and_points_at_every_table(built: Path) -> None:
    header, _ = split_card((built / CARD).read_text("utf-8"))
    manifest = read_json(built / "manifest.json")
    assert header["license"] == "other"  # params.yaml write.license
    assert header["size_categories"] == ["n<1K"]
    assert header["dataset_version"] == manifest["dataset"]["version"]
    assert header["pretty_name"] == "Curated Papers"
    feed = ["changes"] if manifest.get("changes") else []  # format 2: the change feed
    assert [c["config_name"] for c in header["configs"]] == [*PUBLISHED, *feed]
    for config in header["configs"]:
        for data_file in config["data_files"]:
            assert io.table_path(built, config["config_name"]) == built / data_file["path"]
    assert sum(bool(c.get("default")) for c in header["configs"]) == 1


def test_card_lists_every_column_of_every_table_with_its_meaning(built: Path) -> None:
    _, body = split_card((built / CARD).read_text("utf-8"))
    for name, (model, _) in PUBLISHED.items():
        path = io.table_path(built, name)
        assert path is not None
        section = body.split(f"### `{path.relative_to(built)}`")[1].split("###")[0]
        on_disk = pl.scan_parquet(path).collect_schema()
        for field in arrow_schema(model):
            row = re.search(
                rf"^\| `{field.name}` \| `[^`]+` \| (yes|no) \| (.+) \|$", section, re.M
            )
            assert row, (name, field.name)
            assert row.group(2).strip(), f"{name}.{field.name} has no meaning"
            assert field.name in on_disk
        assert len(on_disk) == len(arrow_schema(model))


def test_hostile_titles_are_text_in_the_card(built: Path) -> None:
    from markdown_it import MarkdownIt

    text = (built / CARD).read_text("utf-8")
    titles = pl.read_parquet(io.table_path(built, "papers") or built)["title"].to_list()
    assert SCRIPT_TITLE in titles  # the build kept it as data
    assert "<script" not in text
    assert "<img" not in text
    _, body = split_card(text)
    rendered = MarkdownIt("commonmark").enable("table").render(body)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered  # shown as text
    for tag in ("<script", "<img", "<b>", "<iframe", 'href="javascript'):
        assert tag not in rendered, tag
    # the title's `|` and `[..](..)` did not break the examples table or make a link
    examples = rendered.split("Example rows")[1].split("</table>")[0]
    for row in re.findall(r"<tr>(.*?)</tr>", examples, flags=re.S)[1:]:
        assert row.count("<td") == 4, row


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ("a | b", r"a \| b"),
        ("[x](javascript:y)", r"\[x\](javascript:y)"),
        ("*bold* _it_ `code`", r"\*bold\* \_it\_ \`code\`"),
        ("two\nlines", "two lines"),
    ],
)
def test_md_escapes_text_from_the_data(text: str, escaped: str) -> None:
    assert md(text) == escaped


@pytest.mark.parametrize(
    ("rows", "category"),
    [(0, "n<1K"), (999, "n<1K"), (1_000, "1K<n<10K"), (13_556, "10K<n<100K"),
     (100_000, "100K<n<1M"), (20_000_000, "n>10M")],
)  # fmt: skip
def test_size_category(rows: int, category: str) -> None:
    assert size_category(rows) == category


def test_card_loads_in_datasets_offline(built: Path, tmp_path: Path, hf_offline: Any) -> None:
    header, _ = split_card((built / CARD).read_text("utf-8"))
    manifest = read_json(built / "manifest.json")
    rows = {
        name: sum(f["rows"] for f in files) for name, files in manifest_tables(manifest).items()
    }
    for config in header["configs"]:
        name = config["config_name"]
        files = {f["split"]: str(built / f["path"]) for f in config["data_files"]}
        if rows.get(name) == 0:
            # an empty table (no near-duplicate pair among 3 papers) is one file with the
            # table's columns and no row group, which `datasets` refuses (docs/dataset.md)
            with pytest.raises(ValueError, match="corresponds to no data"):
                hf_offline.load_dataset("parquet", data_files=files, cache_dir=str(tmp_path))
            continue
        loaded = hf_offline.load_dataset("parquet", data_files=files, cache_dir=str(tmp_path))
        if name not in PUBLISHED:  # the change feed: every version's feed file, this one's rows
            feed = manifest["changes"]
            changed = feed["added"] + feed["updated"] + feed["removed"]
            assert loaded["train"].num_rows >= changed > 0
            continue
        assert loaded["train"].num_rows == rows[name] > 0, name
        assert loaded["train"].column_names == arrow_schema(PUBLISHED[name][0]).names
        # and by config name from the folder: `datasets` reads the card's configs itself
        by_name = hf_offline.load_dataset(str(built), name, cache_dir=str(tmp_path))
        assert by_name["train"].num_rows == rows[name]
    papers = hf_offline.load_dataset(str(built), cache_dir=str(tmp_path))  # the default config
    assert papers["train"].num_rows == rows["papers"]


def _entry(path: str, rows: int) -> dict[str, Any]:
    return {"path": path, "node": "n", "rows": rows, "bytes": 1, "sha256": "0" * 64, "key": None}


@pytest.mark.parametrize("partitioned", [False, True])
def test_table_paths_and_configs_of_a_format_2_manifest(params: Any, partitioned: bool) -> None:
    """Format 2: a table listed as node files is read by its directory's glob, a single file by
    its name; a change feed adds a `changes` config. Rows in the table list sum the files."""
    tables = {
        name: {
            "rows": 3,
            "files": [_entry(f"{name}/a-000000000001.parquet", 1), _entry(f"{name}/b-0.parquet", 2)]
            if partitioned
            else [_entry(f"{name}.parquet", 3)],
        }
        for name in PUBLISHED
    }
    manifest = {
        "format": 2,
        "dataset": {"name": "curated-papers", "version": "v1", "number": 2, "parent": "v0"},
        "schema_version": "1",
        "counts": {"papers": 3},
        "tables": tables,
    }
    if partitioned:
        feed = {"path": "changes/v000002-x.parquet", "added": 2, "updated": 1, "removed": 0}
        manifest["changes"] = feed
    suffix = "/*.parquet" if partitioned else ".parquet"
    expected = {name: f"{name}{suffix}" for name in PUBLISHED}
    if partitioned:
        expected["changes"] = "changes/*.parquet"
    assert table_paths(manifest) == expected
    configs = header(manifest, params)["configs"]
    assert [(c["config_name"], c["data_files"][0]["path"]) for c in configs] == list(
        expected.items()
    )


def test_card_of_a_partitioned_version_describes_its_layout(built: Path, params: Any) -> None:
    """The built folder's card data under a format-2 manifest of node files and a change feed."""
    manifest = read_json(built / "manifest.json")
    tables = {
        name: {"files": [_entry(f"{name}/a-0.parquet", sum(f["rows"] for f in files))]}
        for name, files in manifest_tables(manifest).items()
    }
    feed = {"path": "changes/v000002-x.parquet", "added": 2, "updated": 1, "removed": 0}
    v2 = {**manifest, "format": 2, "tables": tables, "changes": feed}
    v2.pop("outputs", None)
    papers = read_table(built, "papers")
    text = render_card(v2, read_json(built / "metrics.json"), papers, params)
    _, body = split_card(text)
    assert "## Layout" in body
    assert 'manifest["tables"]["papers"]["files"]' in body
    assert f"| `papers/*.parquet` | {papers.height:,} |" in body
    assert "| `changes/*.parquet` | 3 this version |" in body
    assert 'pl.scan_parquet("data/processed/papers/*.parquet")' in body
    assert "read_parquet('data/processed/tags/*.parquet')" in body
    assert "### `rejected/*.parquet`" in body
