"""How fast readers scan a published build: the papers table read by polars, DuckDB and pyarrow.

    python bench/scan.py [OUT_DIR] [--repeat N] [--json PATH]

OUT_DIR is a published build (default data/processed). Each query runs --repeat times (default
3) after one untimed run (the files then come from the page cache, as on a reader's second
query); the best wall time is printed, with the table's files, rows and bytes. The queries are
what downstream jobs do most: a full read, a filtered projection (papers with a code link in a
tenth of the ids: the row-group statistics on `paper_id` and the projection skip most bytes), a
count, and a group-by over every row. Figures only, no assertions.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _best(query: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    result = query()  # untimed: warms the page cache and the engine
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = query()
        times.append(time.perf_counter() - started)
    return min(times), result


def queries(out: Path) -> dict[str, Callable[[], Any]]:
    """name -> a function running one query on the papers table of `out` (its row count)."""
    import duckdb
    import polars as pl
    import pyarrow.dataset as ds

    glob = str(out / "papers" / "*.parquet") if (out / "papers").is_dir() else str(
        out / "papers.parquet"
    )  # fmt: skip
    # a tenth of the ids, in their middle (chosen untimed): the files and row groups outside it
    # are skipped by their statistics
    ids = pl.scan_parquet(glob).select("paper_id").collect()["paper_id"].sort()
    low, high = (ids[int(len(ids) * q)] if len(ids) else "" for q in (0.45, 0.55))
    in_range = pl.col("paper_id").is_between(pl.lit(low), pl.lit(high))
    con = duckdb.connect()
    con.execute("SET threads TO 2")

    def arrow_read() -> int:
        source = out / "papers" if (out / "papers").is_dir() else out / "papers.parquet"
        return int(ds.dataset(source, format="parquet").to_table().num_rows)

    def duck(sql: str) -> Callable[[], Any]:
        return lambda: con.execute(sql.format(glob=glob)).fetchall()

    return {
        "polars: full read (read_parquet)": lambda: pl.read_parquet(glob).height,
        "polars: code links of a tenth of the ids (scan, filter, select)": lambda: (
            pl.scan_parquet(glob)
            .filter(in_range & pl.col("code_url").is_not_null())
            .select("paper_id", "title", "code_url")
            .collect()
            .height
        ),
        "polars: papers per primary category (group-by)": lambda: (
            pl.scan_parquet(glob).group_by(pl.col("categories").list.first()).len().collect().height
        ),
        "duckdb: count(*)": duck("SELECT count(*) FROM read_parquet('{glob}')"),
        "duckdb: code links of a tenth of the ids": duck(
            "SELECT paper_id, title, code_url FROM read_parquet('{glob}') "
            f"WHERE paper_id BETWEEN '{low}' AND '{high}' AND code_url IS NOT NULL"
        ),
        "duckdb: papers per primary category": duck(
            "SELECT categories[1], count(*) FROM read_parquet('{glob}') GROUP BY 1"
        ),
        "pyarrow.dataset: full read (to_table)": arrow_read,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", nargs="?", type=Path, default=ROOT / "data" / "processed")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path)
    opts = parser.parse_args(argv)
    files = (
        sorted((opts.out / "papers").glob("*.parquet"))
        if (opts.out / "papers").is_dir()
        else [opts.out / "papers.parquet"]
    )
    if not files or not files[0].is_file():
        parser.error(f"no papers table under {opts.out}")
    size = sum(f.stat().st_size for f in files)
    print(f"papers table: {len(files)} file(s), {size / 2**20:,.1f} MiB, in {opts.out}")
    print(f"load average {os.getloadavg()[0]:.2f}; best of {opts.repeat} after one untimed run")
    figures: dict[str, Any] = {"files": len(files), "bytes": size, "queries": {}}
    for name, query in queries(opts.out).items():
        seconds, result = _best(query, opts.repeat)
        rows = result if isinstance(result, int) else len(result)
        if name.startswith("duckdb: count"):
            rows = int(result[0][0])
        figures["queries"][name] = {"seconds": seconds, "rows": rows}
        print(f"  {name:<62} {seconds * 1000:9.1f} ms  {rows:>10,} rows")
    if opts.json:
        opts.json.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n", "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
