"""Coverage-guided fuzzing of every reader with atheris (libFuzzer): bytes -> a file -> read_file.

The first input byte picks the file name (which decides a params.yaml generic source by glob, or
leaves the reader to sniffing: HF API, arXiv snapshot/OAI/Atom, feeds, scrapes, page text); the
rest is the file. The invariant is the one tests/fuzz/test_readers_fuzz.py checks on every
result: no exception, frames conform to their schemas, every record accounted for (records plus
rejects, a non-empty file leaves at least one), rejects carry file, stage and reason, no XML
entity is ever expanded. Any exception is a finding: libFuzzer saves the input and stops.

    python tests/fuzz/atheris_readers.py CORPUS_DIR -runs=2000 -max_len=65536
    python tests/fuzz/atheris_readers.py --seed-corpus CORPUS_DIR   # write the seeds, then exit

tests/fuzz/test_atheris.py runs it for a bounded number of inputs (a smoke slice by default,
a longer run with -m slow).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import atheris

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

with atheris.instrument_imports(include=["papers", "schemas"]):
    from papers.readers import iter_file, read_file

from tests.fuzz.test_readers_fuzz import ALL_FIXTURES, PARAMS, check  # noqa: E402

# Names the first byte selects: the fixtures' own names (generic globs among them) and a few
# neutral ones that leave the choice to sniffing.
NAMES = [
    *sorted({name for name, _ in ALL_FIXTURES}),
    "raw/listing.json",
    "raw/2024-05-27.txt",
    "raw/snapshot.jsonl",
    "raw/snapshot.jsonl.gz",
    "raw/feed.xml",
]
_TMP = Path(tempfile.mkdtemp(prefix="papers-atheris-"))


def one_input(data: bytes) -> None:
    if not data:
        return
    name = NAMES[data[0] % len(NAMES)]
    body = data[1:]
    path = _TMP / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    result = read_file(path, name, PARAMS)
    check(name, body, result)
    # the streaming entry point agrees with the whole-file one on the counts
    reader, batches = iter_file(path, name, PARAMS)
    total = sum(records.height + rejects.height for records, rejects in batches)
    assert reader == result.reader, (reader, result.reader)
    assert total == result.raw_records, (name, total, result.raw_records)


def write_seeds(folder: Path) -> int:
    """One seed per fixture: the byte that selects its name, then its bytes (at most 64 KiB)."""
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    for name, data in ALL_FIXTURES:
        if len(data) > 65536:
            continue
        (folder / f"seed-{count:03d}").write_bytes(bytes([NAMES.index(name)]) + data)
        count += 1
    return count


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--seed-corpus":
        print(f"wrote {write_seeds(Path(sys.argv[2]))} seeds")
        return
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
