"""All file I/O in one place: deterministic Parquet and JSON, hashing, atomic publish."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandera.polars as pa
import polars as pl
import pyarrow as arrow
import pyarrow.parquet as pq

from papers.config import IDF_N_DOCS_KEY, IDF_VERSION_KEY, WriteParams
from papers.errors import PapersError
from schemas import PUBLISHED, arrow_schema, polars_schema

_CHUNK = 1 << 20
MANIFEST = "manifest.json"
METRICS = "metrics.json"


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes, read in chunks (inputs can be large)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


HASH_STATE = "file-hashes.json"


def sha256_files(paths: Mapping[str, Path], cache_dir: str | Path | None) -> dict[str, str]:
    """sha256 of each file (by name); with a cache, a file is read only when it changed.

    The cache (cache_dir/file-hashes.json) remembers each file's hash with its size, inode,
    mtime and ctime, as DVC's state does: the same four mean the same bytes (ctime cannot be set
    back, so a rewrite that restores size and mtime is still seen). A rerun over an unchanged
    1.9 GB snapshot then costs a stat instead of 1.8 s of hashing.
    """
    if cache_dir is None:
        return {name: sha256_file(path) for name, path in paths.items()}
    state_path = Path(cache_dir) / HASH_STATE
    try:
        state: dict[str, Any] = read_json(state_path) if state_path.exists() else {}
    except ValueError:
        state = {}  # a damaged state file only costs a rehash
    if not isinstance(state, dict):
        state = {}
    hashes: dict[str, str] = {}
    changed = False
    for name, path in paths.items():
        st = path.stat()
        stamp = [st.st_size, st.st_ino, st.st_mtime_ns, st.st_ctime_ns]
        key = str(path.resolve())
        known = state.get(key)
        if isinstance(known, dict) and known.get("stat") == stamp:
            hashes[name] = str(known["sha256"])
            continue
        hashes[name] = sha256_file(path)
        state[key] = {"stat": stamp, "sha256": hashes[name]}
        changed = True
    if changed:
        replace_json(state, state_path)
    return hashes


def list_inputs(raw_dir: Path) -> list[Path]:
    """Every regular input file under raw_dir, sorted by relative path; dotfiles are skipped."""
    files = [
        p
        for p in raw_dir.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(raw_dir).parts)
    ]
    return sorted(files, key=lambda p: p.relative_to(raw_dir).as_posix())


def write_parquet(
    frame: pl.DataFrame | Iterable[pl.DataFrame],
    model: type[pa.DataFrameModel],
    path: Path,
    params: WriteParams,
    metadata: Mapping[str, str],
    sort_by: Iterable[str],
) -> int:
    """Write a published table with deterministic bytes; return its number of rows.

    Rows sorted by `sort_by`, columns and types from the table's model (one schema source),
    fixed compression and row-group size, `metadata` in the Parquet key-value metadata.

    `frame` is either the whole table or its parts in the published order (each part is sorted
    here; a partitioned build streams them, one part in memory at a time). Row groups
    are cut at every params.row_group_size rows whatever the parts are, so the file's bytes
    depend only on its rows: one part or a thousand give the same file.
    """
    names = polars_schema(model).names()
    order = list(sort_by)
    parts: Iterable[pl.DataFrame] = [frame] if isinstance(frame, pl.DataFrame) else frame
    schema = arrow_schema(model).with_metadata(dict(sorted(metadata.items())))
    size = params.row_group_size
    rows = 0
    with pq.ParquetWriter(
        path,
        schema,
        compression=params.compression,
        compression_level=params.compression_level,
        use_dictionary=True,
        write_statistics=True,
    ) as writer:
        pending: list[arrow.Table] = []
        held = 0
        for part in parts:
            if part.height == 0:
                continue
            pending.append(part.select(names).sort(order, nulls_last=True).to_arrow().cast(schema))
            held += part.height
            rows += part.height
            while held >= size:
                table = arrow.concat_tables(pending)
                # one contiguous chunk per column: page boundaries then depend only on the rows
                writer.write_table(table.slice(0, size).combine_chunks(), row_group_size=size)
                pending, held = [table.slice(size)], held - size
        if held:
            writer.write_table(arrow.concat_tables(pending).combine_chunks(), row_group_size=size)
    return rows


def write_frame(frame: pl.DataFrame, path: Path) -> str:
    """An intermediate file (work folder or cache), renamed into place when complete: Parquet,
    or Arrow IPC where the name ends in `.arrow` (a partition's signatures: 128 minhashes a
    paper read back as one buffer).

    Uncompressed: each is read once or twice by a later step of the build (or by a later build,
    from the cache), and lz4 cost more CPU than it saved in bytes moved. A 100k-record
    normalized shard (300 MB as written, 170 MB in lz4): 0.20 user CPU s to write instead of
    1.26 (polars' lz4 was a fifth of the parse and normalize steps' CPU in a profile of the 1M
    build), 0.13 instead of 0.21 to read back; the system time (page cache) the same.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}.tmp")
    if path.suffix == ".arrow":
        frame.write_ipc(tmp, compression="uncompressed")
    else:
        frame.write_parquet(tmp, compression="uncompressed", statistics=False)
    os.replace(tmp, path)
    return str(path)


def write_keyphrase_idf(table: pl.DataFrame, n_docs: int, version: str, path: Path) -> int:
    """The pinned keyphrase IDF file (papers/config.py: load_keyphrase_idf), deterministic and
    whole or absent: rows (phrase, df) sorted by phrase, n_docs and version in the key-value
    metadata, fixed compression and row groups; written beside `path`, then renamed over it.
    Returns the number of rows."""
    schema = arrow.schema(
        [("phrase", arrow.large_string()), ("df", arrow.uint32())],
        metadata={IDF_N_DOCS_KEY: str(n_docs), IDF_VERSION_KEY: version},
    )
    rows = table.select("phrase", pl.col("df").cast(pl.UInt32)).sort("phrase")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}.tmp")
    try:
        with pq.ParquetWriter(
            tmp, schema, compression="zstd", compression_level=9, use_dictionary=False,
            write_statistics=False,
        ) as writer:  # fmt: skip
            writer.write_table(
                rows.to_arrow().cast(schema).combine_chunks(), row_group_size=1 << 20
            )
        _fsync(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return rows.height


def _json_text(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def write_json(obj: Any, path: Path) -> None:
    """Deterministic JSON: sorted keys, two-space indent, trailing newline."""
    path.write_text(_json_text(obj), "utf-8")


def replace_json(obj: Any, path: Path) -> None:
    """write_json, atomically: a state file that concurrent runs or tasks may read and rewrite
    (cache state, partition boundaries, memo pointers) is whole or absent, never half."""
    write_text(_json_text(obj), path)


def write_text(text: str, path: Path) -> None:
    """A UTF-8 text file (report, dataset card) written whole: temp file, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    tmp.write_text(text, "utf-8")
    os.replace(tmp, path)


def read_json(path: Path) -> Any:
    return json.loads(path.read_text("utf-8"))


def fsync_file(path: Path) -> None:
    """Flush a file's bytes to disk (before it is renamed into a published place)."""
    _fsync(path)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def cache_tmp_dir(entry: Path) -> Path:
    """A fresh folder beside a cache entry, to build it in before committing it."""
    entry.parent.mkdir(parents=True, exist_ok=True)
    tmp = entry.parent / f".tmp-{entry.name}-{os.getpid()}-{threading.get_ident()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    return tmp


def commit_cache_entry(tmp: Path, entry: Path) -> Path:
    """Rename a fully written entry into place; return where it now is.

    Built under a temporary name and renamed only when complete, a crash or a concurrent run
    never leaves a half-written entry that a later run would trust.
    """
    try:
        os.rename(tmp, entry)
    except OSError:
        # another run committed the same entry first; both are identical by construction
        shutil.rmtree(tmp, ignore_errors=True)
    return entry


def staging_dir(out_dir: Path, run_id: str) -> Path:
    """A fresh folder inside out_dir (same file system, so renames out of it are atomic)."""
    path = out_dir / f".staging-{run_id}"
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def table_path(folder: Path, name: str) -> Path | None:
    """Where a build folder's table `name` is read from: its single file (`papers.parquet`), or
    a glob of its directory's files (`papers/*.parquet`, layout `partitioned`); None if neither.

    The glob reads every visible file in the directory; only a manifest's file list is exact
    while a publish is renaming files in (dataset.scan_entries).
    """
    single = folder / f"{name}.parquet"
    if single.is_file():
        return single
    directory = folder / name
    if directory.is_dir() and any(
        not p.name.startswith((".", "_")) for p in directory.glob("*.parquet")
    ):
        return directory / "*.parquet"
    return None


JOURNAL = ".publish-journal.json"
LOCK = ".lock"


def fault_point(name: str) -> None:
    """Fault injection for the crash tests: SIGKILL this process at the named point.

    Inert unless PAPERS_KILL_AT names the point (tests/test_crash.py kills real runs with it).
    """
    if os.environ.get("PAPERS_KILL_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


@contextmanager
def output_lock(out_dir: Path, wait_s: float = 0.0) -> Iterator[None]:
    """Hold an exclusive lock on out_dir for a whole run; a second run waits or fails clearly.

    The lock is an flock on out_dir/.lock, released by the kernel if the holder dies, so a killed
    run never leaves the folder locked.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / LOCK
    with path.open("a+") as handle:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    handle.seek(0)
                    holder = handle.read().strip() or "unknown"
                    msg = (
                        f"another run is writing to {out_dir} (pid {holder}); "
                        "wait for it to finish or pass --wait SECONDS"
                    )
                    raise PapersError(msg) from None
                time.sleep(0.2)
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def manifest_tables(manifest: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The files of each table a manifest lists, {table: [entry, …]} (format 1 or 2).

    The implementation of `papers.dataset.manifest_tables` (read it through that name), here so
    that `recover` can garbage-collect against a manifest without importing a higher layer.
    """
    tables = manifest.get("tables")
    if isinstance(tables, Mapping):
        return {str(name): list(table.get("files", [])) for name, table in tables.items()}
    grouped: dict[str, list[dict[str, Any]]] = {}
    for entry in manifest.get("outputs", []):
        path = str(entry["path"])
        name = path.partition("/")[0] if "/" in path else path.removesuffix(".parquet")
        grouped.setdefault(name, []).append(dict(entry))
    return grouped


def _table_names(manifest: Mapping[str, Any]) -> list[str]:
    return sorted(set(PUBLISHED) | set(manifest_tables(manifest)))


def _listed(path: Path) -> tuple[dict[str, Any], set[str]] | None:
    """(manifest, the paths it lists) of a manifest file; None when absent or unreadable."""
    try:
        manifest = read_json(path) if path.is_file() else None
        if not isinstance(manifest, dict):
            return None
        tables = manifest_tables(manifest)
        return manifest, {str(e["path"]) for entries in tables.values() for e in entries}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def unreferenced(out_dir: Path) -> list[Path]:
    """Files of the published tables in out_dir that its manifest does not list: in each table
    directory (every file, hidden ones too: some readers glob them) and a table's single file
    (`papers.parquet`). None without a readable manifest (nothing says what is published)."""
    found_manifest = _listed(out_dir / MANIFEST)
    if found_manifest is None:
        return []
    manifest, listed = found_manifest
    found: list[Path] = []
    for name in _table_names(manifest):
        single = out_dir / f"{name}.parquet"
        if single.is_file() and single.name not in listed:
            found.append(single)
        folder = out_dir / name
        if folder.is_dir():
            found.extend(
                p for p in sorted(folder.iterdir())
                if p.is_file() and f"{name}/{p.name}" not in listed
            )  # fmt: skip
    return found


def collect_garbage(out_dir: Path) -> list[str]:
    """§4 step 6: unlink every table file the current manifest does not list, and the scratch
    folders of table writes; a table directory left empty goes too. Must run under output_lock
    with no journal pending (else the files of the publish in flight would be lost)."""
    victims = unreferenced(out_dir)
    for number, path in enumerate(victims):
        path.unlink(missing_ok=True)
        if number == len(victims) // 2:
            fault_point("gc")
    folders = {p.parent for p in victims if p.parent != out_dir}
    for folder in sorted(folders):
        with contextlib.suppress(OSError):
            folder.rmdir()  # only when empty: a single-file version left no directory in use
    for folder in sorted(folders | {out_dir}):
        if folder.is_dir():
            _fsync_dir(folder)
    for scratch in sorted(out_dir.glob(".tmp-*")):
        shutil.rmtree(scratch, ignore_errors=True)
    return [f"removed {p.relative_to(out_dir)}, which the manifest does not list" for p in victims]


def recover(out_dir: Path) -> list[str]:
    """Finish a publish that a crash interrupted (roll forward), then clear leftovers.

    The journal names a staging folder whose files were all complete and fsynced before the
    first rename, so completing the renames yields exactly the set that run meant to publish.
    Then every table file the (now current) manifest does not list is removed, and the work
    and staging folders. Returns what was done, for the log. Must run under output_lock.
    """
    done: list[str] = []
    journal = out_dir / JOURNAL
    if journal.exists():
        entry = read_json(journal)
        staging = out_dir / entry["staging"]
        if "names" in entry:  # a journal of the format before the version commit
            for name in entry["names"]:
                if (staging / name).exists():
                    (out_dir / name).parent.mkdir(parents=True, exist_ok=True)
                    os.replace(staging / name, out_dir / name)
                    done.append(f"completed the interrupted publish of {name}")
        else:
            done.extend(_roll_forward(staging, out_dir, entry["add"], entry["replace"]))
        journal.unlink()
        _fsync_dir(out_dir)
    done.extend(collect_garbage(out_dir))
    for path in sorted(out_dir.glob(".staging-*")) + sorted(out_dir.glob(".work-*")):
        shutil.rmtree(path, ignore_errors=True)
        done.append(f"removed {path.name} left by an interrupted run")
    return done


def _is_table_file(name: str) -> bool:
    """A staged data file: a node file in a table directory, or a table's single file."""
    head, _, rest = name.partition("/")
    return head in PUBLISHED if rest else name.removesuffix(".parquet") in PUBLISHED


def publish(staging: Path, out_dir: Path, names: list[str]) -> None:
    """Commit a staged version into out_dir (docs/design/partitioned-versions.md §4).

    `names` are the staged files, relative to staging (which mirrors out_dir): the tables' data
    files (`papers/<node>-<sha12>.parquet` or `papers.parquet`), the small replaced files
    (metrics.json, README.md, plots…) and manifest.json. In order: fsync every staged file,
    write and fsync the journal {staging, add, replace, remove, manifest}; rename the data files
    in (a content-named node file already there has the same bytes and is kept as it is, so the
    previous version stays intact); replace the small files; rename the manifest over the old
    one: the commit; then remove the table files the new manifest does not list (GC), the
    journal and staging. A crash anywhere is finished by `recover` (roll forward). With single
    files (`papers.parquet`) a data file is replaced in place, so the previous version is only
    intact until the first rename (the journal still completes the set).
    """
    if MANIFEST not in names:
        raise ValueError("a publish needs its manifest.json staged: it is the commit")
    for name in names:
        _fsync(staging / name)
    add = [n for n in names if _is_table_file(n)]
    replace = [n for n in names if n not in add and n != MANIFEST]
    new = _listed(staging / MANIFEST)
    old = _listed(out_dir / MANIFEST)
    # informational (GC removes whatever the committed manifest does not list)
    remove = sorted(old[1] - new[1]) if new is not None and old is not None else []
    journal = out_dir / JOURNAL
    record = {
        "staging": staging.name, "add": add, "replace": replace, "remove": remove,
        "manifest": {"path": MANIFEST, "sha256": sha256_file(staging / MANIFEST)},
    }  # fmt: skip
    write_json(record, journal)
    _fsync(journal)
    _fsync_dir(out_dir)
    fault_point("staged")
    _roll_forward(staging, out_dir, add, replace)
    journal.unlink()
    _fsync_dir(out_dir)
    shutil.rmtree(staging, ignore_errors=True)


def _roll_forward(staging: Path, out_dir: Path, add: list[str], replace: list[str]) -> list[str]:
    """§4 steps 3 to 6 from a journal's lists: rename the data files in, replace the small
    files, rename the manifest (the commit), GC. Idempotent: a file already moved is skipped,
    so recover can run it again after a crash at any point."""
    done: list[str] = []
    folders = {(out_dir / name).parent for name in add + replace}
    for folder in sorted(folders):
        folder.mkdir(parents=True, exist_ok=True)
    for number, name in enumerate(add):
        source, target = staging / name, out_dir / name
        if source.exists():
            if "/" in name and target.exists():
                source.unlink()  # content-named: the same name is the same bytes, kept as it is
            else:
                os.replace(source, target)
                done.append(f"added {name}")
        if number == 0:
            fault_point("adding")
    for folder in sorted(folders, reverse=True):
        _fsync_dir(folder)
    for name in replace:
        if (staging / name).exists():
            os.replace(staging / name, out_dir / name)
            done.append(f"replaced {name}")
    if (staging / MANIFEST).exists():
        os.replace(staging / MANIFEST, out_dir / MANIFEST)
        done.append(f"committed {MANIFEST}")
    _fsync_dir(out_dir)
    fault_point("committed")
    done.extend(collect_garbage(out_dir))
    return done


def _fsync_dir(path: Path) -> None:
    dir_fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
