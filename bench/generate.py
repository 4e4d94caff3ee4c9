"""Synthetic arXiv-snapshot JSON lines of N records, assembled from real records.

    python bench/generate.py 1000000 [--out PATH] [--seed 0] [--from DIR]
        [--text auto|pairs|sentences]
        [--daily-out PATH [--new N] [--updates N] [--update-model recent|uniform]]

The text is real: a pool of records is read once, with the project's own readers, from
`../shared/realdata` when that folder exists (beside the checkout, or beside the main checkout
of a git worktree; about 13,500 distinct papers from arXiv snapshot, OAI-PMH and Atom files and
Hugging Face listings), else from the repository's seed and test fixtures; the pool is cached
under data/interim/bench/. Paper i is built from two pool records a and b (title of a with a
subtitle from b, abstract = first sentences of a + last sentences of b), so texts do not repeat
the way a small pool would make them, yet keep the LaTeX, URLs and wording of real ones. The
pair (a, b) is a bijection of i (for i < pool size squared). Each record's halves then recur in
about N / pool size papers, near-duplicate clusters no real corpus has once that is large; with
`--text sentences` an abstract is 5-9 pool sentences instead, and `--text auto` (the default)
takes sentences beyond PAIRS_PER_RECORD papers a pool record (a fresh clone's pool of seed and
fixtures, 169 records: beyond 16,900 records; the realdata pool: beyond ~1.35M).

Record i lists paper i, except the rows whose (i + 37 * seed) % 100 falls in the duplicate
residues: they re-list an earlier paper, as a merged multi-source listing does (6% in all):

- 3% the same arXiv id again (a later version: unwrapped abstract, other comments, later date);
- 2% no id, the same title written differently (unwrapped, a trailing full stop) and the same
  abstract: linked to the paper by its title key;
- 1% no id and the paper's DOI (papers without a DOI: as the title duplicate).

Fresh ids are new-style arXiv ids (`YYMM.NNNNN`, unique); abstracts are hard-wrapped at 80
columns and titles at 70 with the snapshot's two-space continuation indent. The output is the
same bytes for the same N, seed and pool, and is written in chunks of --chunk rows (memory is
bounded by the chunk, not by N).

`--daily-out` also writes one more day for incremental runs (by default 1% new papers and 0.2%
updated ones, the issue-14 day):

- --updates re-listings of distinct papers of the base, each under its id with a longer abstract
  (an appended sentence), "v3:" comments, a third version and a later update date, so the
  pipeline's merge keeps the re-listing's abstract and comments: the paper is updated. They are
  drawn (seeded) from the newest 2% of the base rows (--update-model recent) or from all of them
  (uniform);
- --new new papers with ids from the first one of the month after the base's last paper.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parent.parent
REALDATA = ROOT.parent / "shared" / "realdata"
CACHE = ROOT / "data" / "interim" / "bench"
# Seed and fixtures: the pool when no realdata folder is there (a fresh clone).
FALLBACK = (ROOT / "data" / "raw", ROOT / "tests" / "fixtures")

ID_DUP, TITLE_DUP, DOI_DUP = 3, 2, 1  # percent of rows of each duplicate kind
UPDATE = 4  # the kind of a day's re-listing of an existing paper (day_plan)
UPDATE_MODELS = ("recent", "uniform")
# the benchmarks' --update-model: one model, or both one after the other (bench/incremental.py)
UPDATE_MODEL_CHOICES = {**{model: (model,) for model in UPDATE_MODELS}, "both": UPDATE_MODELS}
RECENT_SHARE = 0.02  # "recent" updates are drawn from this newest share of the base rows
# Appended to an updated paper's abstract: the longer abstract is the one the merge keeps
# (papers.stages.normalize.merge_duplicates), so the paper's abstract and comments change.
_REVISION = "This revision extends the experiments and corrects the evaluation."
_PER_MONTH = 99_999  # new-style ids YYMM.NNNNN, NNNNN from 00001
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
TEXTS = ("pairs", "sentences")
# `pairs` puts each pool record's title and abstract half into about n / pool size papers, which
# share enough words to be near-duplicate candidates: clusters that grow with n (1M records from
# the 169-record pool of a fresh clone: ~5,900 papers a record, and the similarity step ran out of
# 24 GB). `auto` keeps pairs up to this many papers a pool record (../shared/realdata's 13,481
# records: up to ~1.35M records), else makes sentences.
PAIRS_PER_RECORD = 100
TEXT_CHOICES = (*TEXTS, "auto")
_SENTENCES = (5, 9)  # a `sentences` abstract's sentence count, inclusive
_CATEGORIES = ("cs.CL", "cs.CV", "cs.LG", "cs.AI", "stat.ML", "cs.RO", "cs.IR", "eess.AS")


def _mix(x: np.ndarray, salt: int) -> np.ndarray:
    """splitmix64 of x + salt: a fixed, platform-independent hash of each index."""
    with np.errstate(over="ignore"):
        z = x.astype(np.uint64) + np.uint64((salt * 0x9E3779B97F4A7C15) & (2**64 - 1))
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


# --- the pool of real records -----------------------------------------------------------------


def _source_files(source: Path) -> list[Path]:
    return sorted(
        p
        for p in source.rglob("*")
        if p.is_file() and p.suffix.lower() not in (".md", ".py") and not p.name.startswith(".")
    )


def _read_records(sources: tuple[Path, ...]) -> pl.DataFrame:
    """Every record the project's readers make of the files under `sources`."""
    from papers.config import load_params
    from papers.readers import read_file

    params = load_params(ROOT / "params.yaml")
    frames = []
    for source in sources:
        for path in _source_files(source):
            result = read_file(path, path.relative_to(source).as_posix(), params)
            if result.records.height:
                frames.append(
                    result.records.select(
                        "title_raw",
                        "abstract_raw",
                        "authors",
                        "categories",
                        "comments",
                        "license",
                        "journal_ref",
                    )
                )
    return pl.concat(frames)


def _wrap(text: str, width: int, indent: str = "") -> str:
    return textwrap.fill(
        text, width, subsequent_indent=indent, break_long_words=False, break_on_hyphens=False
    )


def _halves(abstract: str) -> tuple[str, str]:
    sentences = _SENTENCE.split(abstract)
    cut = (len(sentences) + 1) // 2
    return " ".join(sentences[:cut]), " ".join(sentences[cut:])


def _subtitle(title: str) -> str:
    after = title.split(": ", 1)[1] if ": " in title else title
    return " ".join(after.split()[:5])


def build_pool(sources: tuple[Path, ...]) -> pl.DataFrame:
    """Distinct real records -> the text parts papers are assembled from (small: Python is fine)."""
    records = (
        _read_records(sources)
        .with_columns(
            pl.col("title_raw").str.replace_all(r"\s+", " ").str.strip_chars(),
            pl.col("abstract_raw").str.replace_all(r"\s+", " ").str.strip_chars(),
        )
        .filter(
            pl.col("title_raw").str.len_chars().is_between(10, 250),
            pl.col("abstract_raw").str.len_chars() >= 200,
        )
        .unique("title_raw", keep="first", maintain_order=True)
        .unique("abstract_raw", keep="first", maintain_order=True)
    )
    rows = []
    for r in records.iter_rows(named=True):
        head, tail = _halves(r["abstract_raw"])
        authors = [a for a in (r["authors"] or []) if a and a.strip()][:12] or ["A. Nonymous"]
        rows.append(
            {
                "title": r["title_raw"],
                "subtitle": _subtitle(r["title_raw"]),
                "head": _wrap(head, 80),
                "tail": _wrap(tail, 80),
                "authors": ", ".join(authors[:-1])
                + (" and " if len(authors) > 1 else "")
                + authors[-1],
                "authors_parsed": [[a.split()[-1], " ".join(a.split()[:-1]), ""] for a in authors],
                "submitter": authors[0],
                "categories": " ".join(r["categories"] or []) or None,
                "comments": r["comments"],
                "license": r["license"],
                "journal_ref": r["journal_ref"],
            }
        )
    schema = {
        "title": pl.String,
        "subtitle": pl.String,
        "head": pl.String,
        "tail": pl.String,
        "authors": pl.String,
        "authors_parsed": pl.List(pl.List(pl.String)),
        "submitter": pl.String,
        "categories": pl.String,
        "comments": pl.String,
        "license": pl.String,
        "journal_ref": pl.String,
    }
    # sorted: independent of the order the files were read in
    return pl.DataFrame(rows, schema=schema).sort("title")


def sentence_pool(pool: pl.DataFrame) -> pl.Series:
    """Every sentence of the pool's abstracts, unwrapped, in pool order (small: Python is fine)."""
    out: list[str] = []
    for head, tail in pool.select("head", "tail").iter_rows():
        for half in (head, tail):
            out.extend(s for s in _SENTENCE.split(" ".join(half.split())) if s)
    return pl.Series("sentence", out, dtype=pl.String)


def _hard_wrapped(text: pl.Expr, width: int, indent: str) -> pl.Expr:
    """Lines of width-20 to width-1 characters: each broken at the first space past width-20,
    the next line starting with `indent` (the snapshot's hard wrapping)."""
    return text.str.replace_all(rf"(.{{{width - 20},{width - 1}}}?) ", "${1}\n" + indent)


def _mixed_abstracts(p: np.ndarray, seed: int, sentences: pl.Series) -> pl.Series:
    """`--text sentences`: paper p's abstract, 5-9 pool sentences picked by hashes of (p, j),
    hard-wrapped at about 80 columns as the snapshot's ("  " first, lines of 60-80)."""
    low, high = _SENTENCES
    count = (low + _mix(p, seed * 2 + 4) % np.uint64(high - low + 1)).astype(np.int64)
    row = np.repeat(np.arange(len(p)), count)
    j = np.arange(len(row)) - np.repeat(np.cumsum(count) - count, count)
    pick = (_mix(p[row] * 16 + j, seed * 2 + 5) % np.uint64(len(sentences))).astype(np.int64)
    text = (
        pl.DataFrame({"row": row, "sentence": sentences.gather(pick)})
        .group_by("row", maintain_order=True)
        .agg(pl.col("sentence").str.join(" "))["sentence"]
    )
    return pl.select(pl.format("  {}\n", _hard_wrapped(pl.lit(text), 80, ""))).to_series()


def load_pool(sources: tuple[Path, ...], cache: Path = CACHE) -> pl.DataFrame:
    """The pool for `sources`, cached in `cache` by the source files' names and sizes and code."""
    digest = hashlib.sha256(Path(__file__).read_bytes())
    for source in sources:
        for path in _source_files(source):
            digest.update(f"{path.relative_to(source)}\0{path.stat().st_size}\0".encode())
    cached = cache / f"pool-{digest.hexdigest()[:16]}.parquet"
    if cached.exists():
        return pl.read_parquet(cached)
    pool = build_pool(sources)
    cache.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(".tmp")
    pool.write_parquet(tmp)
    tmp.replace(cached)
    return pool


def _main_checkout(root: Path) -> Path:
    """The main checkout of the repository `root` is a git worktree of (else root): a worktree's
    `.git` is a file naming its git dir, whose `commondir` leads to the main `.git`."""
    git = root / ".git"
    if not git.is_file():
        return root
    gitdir = Path(git.read_text("utf-8").removeprefix("gitdir:").strip())
    common = gitdir / "commondir"
    if not common.is_file():
        return root
    return (gitdir / common.read_text("utf-8").strip()).resolve().parent


def default_sources() -> tuple[Path, ...]:
    """../shared/realdata beside the checkout (or beside the main checkout, for a git
    worktree elsewhere), else the seed and fixtures."""
    for realdata in (REALDATA, _main_checkout(ROOT).parent / "shared" / "realdata"):
        if realdata.is_dir():
            return (realdata,)
    return FALLBACK


# --- the records ------------------------------------------------------------------------------


def _arxiv_ids(p: np.ndarray) -> pl.Series:
    month = p // _PER_MONTH
    year, mm = 15 + month // 12, month % 12 + 1
    number = p % _PER_MONTH + 1
    return pl.select(
        pl.format(
            "{}{}.{}",
            pl.Series(year).cast(pl.String).str.zfill(2),
            pl.Series(mm).cast(pl.String).str.zfill(2),
            pl.Series(number).cast(pl.String).str.zfill(5),
        )
    ).to_series()


def plan(start: int, stop: int, seed: int, pool_size: int) -> pl.DataFrame:
    """Rows start..stop-1: kind, the paper each row lists (p) and that paper's pool pair (a, b)."""
    return _plan_rows(np.arange(start, stop, dtype=np.int64), seed, pool_size)


def _kinds(i: np.ndarray, seed: int) -> np.ndarray:
    """Each row's kind: 0 a paper of its own, 1-3 a duplicate of an earlier one (see above)."""
    residue = (i + 37 * seed) % 100
    kind = np.select(
        [residue < ID_DUP, residue < ID_DUP + TITLE_DUP, residue < ID_DUP + TITLE_DUP + DOI_DUP],
        [1, 2, 3],
        0,
    )
    kind[i < 100] = 0  # the first rows have no earlier paper to repeat
    return kind


def _plan_rows(i: np.ndarray, seed: int, pool_size: int) -> pl.DataFrame:
    """plan() for the rows `i` (any int64 array)."""
    kind = _kinds(i, seed)
    # an earlier paper: one of the base rows before i's block of 100
    blocks = np.maximum(i // 100, 1)
    k = (_mix(i, seed * 2 + 1) % blocks.astype(np.uint64)).astype(np.int64)
    dups = ID_DUP + TITLE_DUP + DOI_DUP
    c = (dups + (_mix(i, seed * 2 + 2) % np.uint64(100 - dups)).astype(np.int64) - 37 * seed) % 100
    p = np.where(kind == 0, i, 100 * k + c)
    return _pair(i, kind, p, seed, pool_size)


def _pair(
    i: np.ndarray, kind: np.ndarray, p: np.ndarray, seed: int, pool_size: int
) -> pl.DataFrame:
    """The plan's frame: each paper p's pool pair (a, b) and its hash h."""
    perm = np.random.default_rng(seed).permutation(pool_size)
    q, r = p // pool_size, p % pool_size
    return pl.DataFrame(
        {
            "i": i,
            "kind": kind.astype(np.int8),
            "p": p,
            "a": perm[r],
            "b": perm[(q + 1 + r) % pool_size],
            "h": _mix(p, seed * 2 + 3),
        }
    )


def records(
    start: int, stop: int, seed: int, pool: pl.DataFrame, sentences: pl.Series | None = None
) -> pl.DataFrame:
    """Snapshot records for rows start..stop-1, columns in the snapshot's key order; with
    `sentences` (sentence_pool), the `--text sentences` abstracts."""
    return _records(plan(start, stop, seed, pool.height), pool, seed, sentences)


def _records(
    rows: pl.DataFrame, pool: pl.DataFrame, seed: int = 0, sentences: pl.Series | None = None
) -> pl.DataFrame:
    """Snapshot records for the rows of a plan (kind 4: an update, see day_records)."""
    a = pool[rows["a"].to_numpy()]
    b = pool.select("subtitle", "tail")[rows["b"].to_numpy()]
    ids = _arxiv_ids(rows["p"].to_numpy())
    frame = pl.concat(
        [rows, a, b.rename({"subtitle": "b_subtitle", "tail": "b_tail"})], how="horizontal"
    )
    frame = frame.with_columns(ids.alias("arxiv_id"))
    kind, h = pl.col("kind"), pl.col("h")
    title = pl.format("{}: {}", "title", "b_subtitle")
    wrapped_title = _hard_wrapped(title, 70, "  ")
    if sentences is None:
        abstract = pl.format("  {}\n{}\n", "head", "b_tail")
    else:
        mixed = _mixed_abstracts(rows["p"].to_numpy(), seed, sentences)
        abstract = pl.lit(mixed)
    has_doi = (h % 10) < 4
    doi = pl.when(has_doi).then(pl.format("10.{}/gen.{}", (h // 10 % 9000 + 1000), "arxiv_id"))
    month = pl.col("p") // _PER_MONTH
    day = pl.col("p") % 28 + 1
    when = pl.datetime(
        (2015 + month // 12).cast(pl.Int32),
        (month % 12 + 1).cast(pl.Int8),
        day.cast(pl.Int8),
        (h % 24).cast(pl.Int8),
        (h // 24 % 60).cast(pl.Int8),
        (h // 1440 % 60).cast(pl.Int8),
    )
    created = when.dt.strftime("%a, %-d %b %Y %H:%M:%S GMT")  # RFC 1123, as the snapshot has it
    v1 = pl.struct(pl.lit("v1").alias("version"), created.alias("created"))
    v2 = pl.struct(pl.lit("v2").alias("version"), created.alias("created"))
    v3 = pl.struct(pl.lit("v3").alias("version"), created.alias("created"))
    updated = when.dt.strftime("%Y-%m-%d")
    later = pl.format("{}-12-28", (2016 + month // 12).cast(pl.String))
    revised = pl.format("{}-12-30", (2017 + month // 12).cast(pl.String))
    unwrapped = pl.col("_abstract").str.replace_all(r"\n", " ")
    out = frame.with_columns(
        wrapped_title.alias("_title"),
        abstract.alias("_abstract"),
        doi.alias("_doi"),
        pl.coalesce(
            "categories",
            pl.lit(pl.Series(_CATEGORIES)).gather((h // 7 % len(_CATEGORIES)).cast(pl.Int64)),
        ).alias("categories"),
    )
    return out.select(
        pl.when((kind <= 1) | (kind == UPDATE))
        .then(pl.col("arxiv_id"))
        .otherwise(pl.lit(""))
        .alias("id"),
        "submitter",
        "authors",
        pl.when(kind.is_between(2, 3))
        .then(title.str.replace_all(r"\s+", " ") + ".")
        .otherwise("_title")
        .alias("title"),
        pl.when(kind == 1)
        .then(pl.format("v2: {}", pl.col("comments").fill_null("revised")))
        .when(kind == UPDATE)
        .then(pl.format("v3: {}", pl.col("comments").fill_null("revised")))
        .otherwise("comments")
        .alias("comments"),
        pl.col("journal_ref").alias("journal-ref"),
        pl.when(kind == 2).then(None).otherwise("_doi").alias("doi"),
        pl.lit(None, pl.String).alias("report-no"),
        "categories",
        "license",
        pl.when(kind == 0)
        .then("_abstract")
        .when(kind == UPDATE)
        .then(pl.format("{}{}\n", "_abstract", pl.lit(_REVISION)))
        .otherwise(unwrapped)
        .alias("abstract"),
        pl.when(kind == 1)
        .then(pl.concat_list(v1, v2))
        .when(kind == UPDATE)
        .then(pl.concat_list(v1, v2, v3))
        .otherwise(pl.concat_list(v1))
        .alias("versions"),
        pl.when(kind == 1)
        .then(later)
        .when(kind == UPDATE)
        .then(revised)
        .otherwise(updated)
        .alias("update_date"),
        "authors_parsed",
    )


def day_plan(n: int, new: int, updates: int, model: str, seed: int, pool_size: int) -> pl.DataFrame:
    """The plan of one more day after a base of n rows: `updates` re-listings of distinct papers
    the base lists under their own id (kind 0 rows), drawn from the newest RECENT_SHARE of the
    rows (model "recent") or from all of them ("uniform"), then `new` papers numbered from the
    first id of the month after the base's last paper (a new arXiv month). Seeded: the same
    arguments give the same rows."""
    if model not in UPDATE_MODELS:
        raise ValueError(f"update model must be one of {UPDATE_MODELS}, not {model!r}")
    low = n - max(1, int(np.ceil(n * RECENT_SHARE))) if model == "recent" else 0
    rows = np.arange(max(low, 0), n, dtype=np.int64)
    candidates = rows[_kinds(rows, seed) == 0]
    if updates > candidates.size:
        raise ValueError(
            f"{updates} updates asked, but the {model} model has only {candidates.size} papers "
            f"of the {n} base rows to draw from"
        )
    rng = np.random.default_rng([seed, 14, UPDATE_MODELS.index(model)])
    updated = np.sort(rng.choice(candidates, updates, replace=False))
    first_new = ((n - 1) // _PER_MONTH + 1) * _PER_MONTH if n else 0
    fresh = np.arange(first_new, first_new + new, dtype=np.int64)
    i = np.concatenate([updated, fresh])
    kind = np.concatenate([np.full(updated.size, UPDATE), np.zeros(fresh.size, np.int64)])
    return _pair(i, kind, i, seed, pool_size)


def text_for(n: int, pool_size: int, text: str = "auto") -> str:
    """The abstracts' kind (TEXTS) for n records from a pool of pool_size: `text`, or for
    "auto" pairs up to PAIRS_PER_RECORD papers a pool record, else sentences."""
    if text != "auto":
        return text
    return "pairs" if n <= PAIRS_PER_RECORD * pool_size else "sentences"


def _sentences_for(text: str, pool: pl.DataFrame) -> pl.Series | None:
    if text not in TEXTS:
        raise ValueError(f"text must be one of {TEXTS}, not {text!r}")
    return sentence_pool(pool) if text == "sentences" else None


def generate_day(
    n: int,
    out: Path,
    new: int,
    updates: int,
    model: str = "recent",
    seed: int = 0,
    pool: pl.DataFrame | None = None,
    *,
    chunk: int = 200_000,
    text: str = "pairs",
) -> Path:
    """Write one more day after n base rows (day_plan) to `out` as JSON lines (atomically)."""
    pool = load_pool(default_sources()) if pool is None else pool
    sentences = _sentences_for(text, pool)
    rows = day_plan(n, new, updates, model, seed, pool.height)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with tmp.open("wb") as handle:
        for low in range(0, rows.height, chunk):
            _records(rows.slice(low, chunk), pool, seed, sentences).write_ndjson(handle)
    tmp.replace(out)
    return out


def generate(
    n: int,
    out: Path,
    seed: int = 0,
    pool: pl.DataFrame | None = None,
    *,
    start: int = 0,
    chunk: int = 200_000,
    text: str = "pairs",
) -> Path:
    """Write rows start..start+n-1 to `out` as JSON lines (atomically); return `out`. `text`:
    how abstracts are made (TEXTS; see the module's docstring)."""
    pool = load_pool(default_sources()) if pool is None else pool
    sentences = _sentences_for(text, pool)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with tmp.open("wb") as handle:
        for low in range(start, start + n, chunk):
            records(low, min(low + chunk, start + n), seed, pool, sentences).write_ndjson(handle)
    tmp.replace(out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n", type=int, help="records to write")
    parser.add_argument("--out", type=Path, help="output file (default data/interim/bench/...)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--from",
        dest="sources",
        type=Path,
        action="append",
        help="folder(s) of real records for the pool (default: ../shared/realdata "
        "when present, else data/raw and tests/fixtures)",
    )
    parser.add_argument(
        "--daily-out", type=Path, help="also write one more day (--new, --updates) here"
    )
    parser.add_argument("--new", type=int, help="the day's new papers (default 1%% of n)")
    parser.add_argument(
        "--updates", type=int, help="the day's re-listed existing papers (default 0.2%% of n)"
    )
    parser.add_argument(
        "--update-model",
        choices=UPDATE_MODELS,
        default="recent",
        help=f"draw the updated papers from the newest {RECENT_SHARE * 100:g}%% of ids, or "
        "uniformly",
    )
    parser.add_argument(
        "--text",
        choices=TEXT_CHOICES,
        default="auto",
        help="abstracts from two pool records' halves or from pool sentences; auto (default): "
        f"halves up to {PAIRS_PER_RECORD} records a pool record, else sentences (see above)",
    )
    parser.add_argument("--chunk", type=int, default=200_000)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    pool = load_pool(tuple(args.sources) if args.sources else default_sources())
    args.text = text_for(args.n, pool.height, args.text)
    suffix = "" if args.text == "pairs" else f"-{args.text}"
    out = args.out or CACHE / f"arxiv-snapshot-{args.n}-s{args.seed}{suffix}.jsonl"
    generate(args.n, out, args.seed, pool, chunk=args.chunk, text=args.text)
    print(
        f"{out}: {args.n} records ({args.text}) from a pool of {pool.height}, "
        f"{time.perf_counter() - started:.1f} s"
    )
    if args.daily_out:
        new = args.n // 100 if args.new is None else args.new
        updates = args.n // 500 if args.updates is None else args.updates
        generate_day(
            args.n, args.daily_out, new, updates, args.update_model, args.seed, pool,
            chunk=args.chunk, text=args.text,
        )  # fmt: skip
        print(
            f"{args.daily_out}: one more day, {new} new papers and {updates} "
            f"{args.update_model} updates"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
