"""arxiv_snapshot_array: the JSON-array variant of the snapshot, each element a record at its line."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from tests.readers.arxiv_cases import FIXTURES, reasons, record, snapshot

UTC = dt.UTC


def test_snapshot_array_variant() -> None:
    records, rejects = snapshot(FIXTURES / "snapshot_array.json")
    assert rejects.height == 0
    assert records["record_index"].to_list() == [0, 1, 2, 3]
    assert records["line"].to_list() == [2, 16, 30, 44]  # where each element starts
    first = record(records, 0)
    # no authors_parsed and no versions in this hand-assembled file
    assert first["authors"] == ["C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C.-P. Yuan"]
    assert first["published_at"] is None
    assert first["updated_at"] == dt.datetime(2008, 11, 26, tzinfo=UTC)
    assert first["raw"].startswith('{\r\n    "id": "0704.0001",')
    assert first["raw"].endswith('"update_date": "2008-11-26"\r\n  }')
    assert record(records, 3)["categories"] == ["cs.CV", "cs.AI", "cs.CL", "cs.LG"]


def test_truncated_json_array(tmp_path: Path) -> None:
    data = (FIXTURES / "snapshot_array.json").read_bytes()
    path = tmp_path / "cut.json"
    path.write_bytes(data[: data.index(b'"id": "2401.02954"')])
    records, rejects = snapshot(path)
    assert records["record_index"].to_list() == [0, 1, 2]
    assert [(i, s) for i, s, _ in reasons(rejects)] == [(None, "read")]
    assert rejects["reason"].item().startswith("malformed JSON array after 3 elements")
