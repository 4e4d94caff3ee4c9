"""Typed, frozen parameters loaded from params.yaml (one section per stage) and the repo's paths."""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from papers.errors import PapersError

if TYPE_CHECKING:  # polars and pyarrow only when the IDF table is read: `papers` starts sooner
    import polars as pl

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_RAW = Path("data/raw")
DEFAULT_OUT = Path("data/processed")
DEFAULT_PARAMS = Path("params.yaml")
DEFAULT_REPORTS = Path("reports")
DEFAULT_CACHE = Path("data/interim/parse-cache")

# libyaml's parser when PyYAML has it (several times faster than the pure-Python one)
_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# Our RawRecords fields a source may fill, by how their values are read.
TEXT_TARGETS: Final = (
    "title_raw",
    "abstract_raw",
    "arxiv_id_raw",
    "doi",
    "comments",
    "journal_ref",
    "license",
)
LIST_TARGETS: Final = ("authors", "categories")
DATE_TARGETS: Final = ("published_at", "updated_at")
# "url" is not a column: an arXiv/HF paper URL fills arxiv_id_raw, and every URL is kept as a
# curated link (with the source's field name) so the links stage sees it.
TARGETS: Final = (*TEXT_TARGETS, *LIST_TARGETS, *DATE_TARGETS, "upvotes", "url")


class GenericSource(BaseModel):
    """How one third-party layout maps onto raw records (an entry of params.yaml `sources:`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)  # goes into the `source` column
    glob: str = Field(min_length=1)  # fnmatch pattern on the path relative to the raw folder
    format: Literal["json", "jsonl", "csv", "parquet"]
    # dotted path to the list inside a JSON object, e.g. "papers" or "data.items"; without it a
    # JSON array is the records and a JSON object is one record
    records_path: str | None = None
    # our RawRecords field (or "url") -> their field; dotted paths reach into nested objects
    fields: dict[str, str]
    # a field of the top-level JSON object (e.g. "date") whose value is the listing date of all
    # records; without it (or when it is absent) the date in the file name is used
    listing_date_field: str | None = None

    @field_validator("fields")
    @classmethod
    def _known_targets(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(TARGETS))
        if unknown:
            msg = f"unknown target field(s) {unknown}; supported: {', '.join(TARGETS)}"
            raise ValueError(msg)
        if not value:
            msg = "map at least one field"
            raise ValueError(msg)
        if not all(path.strip() for path in value.values()):
            msg = "source field names must not be empty"
            raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _json_only_options(self) -> GenericSource:
        if self.format != "json" and (self.records_path or self.listing_date_field):
            msg = "records_path and listing_date_field apply to format json only"
            raise ValueError(msg)
        return self


KIB: Final = 1 << 10
MIB: Final = 1 << 20
GIB: Final = 1 << 30


class ReadLimits(BaseModel):
    """Explicit size limits for raw input (params.yaml `read.limits`); see the module docstring."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Largest real inputs: ~4 MB (an Atom file). A whole-file read can cost ~20x the file in RAM
    # (a 50 MB one-record HF file peaks at ~1.2 GB), so 64 MiB keeps one file under ~1.5 GB.
    max_file_bytes: int = Field(64 * MIB, gt=0)
    # Largest real record: a few hundred KB (arXiv papers with ~5,000 authors).
    max_record_bytes: int = Field(4 * MIB, gt=0)
    # The full arXiv snapshot decompresses to ~4.5 GB; room for years of growth.
    max_decompressed_bytes: int = Field(32 * GIB, gt=0)
    # Real JSON and XML compress 4-10x; a gzip bomb ~1000x.
    max_gzip_ratio: int = Field(100, gt=0)
    # The longest real author lists (ATLAS+CMS) have ~5,200 names.
    max_authors: int = Field(10_000, gt=0)


class ReadParams(_Frozen):
    # Third-party layouts read by field mapping (path glob -> fields); see papers/readers/generic.py
    sources: tuple[GenericSource, ...] = ()
    # Size limits for raw input (file, record, decompressed bytes, authors); see readers/limits.py
    limits: ReadLimits = ReadLimits()


class ParseParams(_Frozen):
    boilerplate: tuple[str, ...] = ()
    title_max_chars: int = Field(300, gt=0)
    batch_rows: int = Field(100_000, gt=0)
    partition_rows: int = Field(25_000, gt=0)


class NormalizeParams(_Frozen):
    title_id_prefix: str = "title:"
    title_id_hex_chars: int = Field(16, ge=8, le=64)
    abstract_agreement: float = Field(0.5, ge=0, le=1)
    # content match (stages.normalize.content_links); None: off (the exact-title rule alone)
    content_match: float | None = Field(0.7, ge=0, le=1)
    content_title_overlap: float = Field(0.5, ge=0, le=1)
    content_min_words: int = Field(20, ge=1)
    content_block_cap: int = Field(20, ge=1)
    source_precedence: tuple[str, ...] = ()


class LinkRule(_Frozen):
    name: str
    host: str
    path: str = ""
    kind: str


class LinksParams(_Frozen):
    schemeless_hosts: tuple[str, ...] = ()
    host_aliases: dict[str, str] = Field(default_factory=dict)
    rules: tuple[LinkRule, ...] = ()
    own_code_cues: tuple[str, ...] = ()
    own_code_cue_window: int = Field(80, ge=0)


class TagsParams(_Frozen):
    vocabulary: Path = Path("vocab/topics.yaml")
    title_weight: float = Field(2.0, gt=0)
    abstract_weight: float = Field(1.0, gt=0)
    min_score: float = Field(1.0, gt=0)
    category_weight: float = Field(1.0, ge=0)
    keyphrases_top_k: int = Field(5, ge=0)
    keyphrase_max_words: int = Field(3, ge=1)
    # The pinned keyphrase IDF table (`papers idf refresh` writes it): keyphrases are ranked
    # against it, so a paper's keyphrases depend on its own text only. None: ranked against the
    # document frequencies of the build itself (every paper's keyphrases depend on every paper).
    keyphrase_idf: Path | None = None


class NeardupParams(_Frozen):
    """Near-duplicates by MinHash-LSH over word shingles of title + abstract (docs/neardup.md)."""

    # words per shingle; minhashes per signature; LSH bands x rows (bands * rows <= num_perm)
    shingle: int = Field(3, ge=1)
    num_perm: int = Field(128, ge=8)
    bands: int = Field(32, ge=1)
    rows: int = Field(4, ge=1)
    # the estimated Jaccard a pair needs to be published
    min_jaccard: float = Field(0.5, ge=0, le=1)
    # memory of one block of signatures the similarity step holds to estimate the pairs'
    # Jaccard (two at once; a corpus under one block is held whole): it shapes no data
    block_mib: int = Field(512, ge=1)
    # candidate pairs (a band key's papers paired, summed over the bands) past which the step
    # stops with a readable error instead of exhausting memory: k papers sharing a key make
    # ~k^2/2 pairs (8 bytes each, held twice while made unique)
    max_candidate_pairs: int = Field(200_000_000, ge=1)

    def shaping(self) -> dict[str, Any]:
        """The fields that shape the pairs: all but the memory budgets (block_mib,
        max_candidate_pairs: a build gives the same pairs at any value, or stops)."""
        return self.model_dump(mode="json", exclude={"block_mib", "max_candidate_pairs"})

    @model_validator(mode="after")
    def _bands_fit(self) -> NeardupParams:
        if self.bands * self.rows > self.num_perm:
            raise ValueError(
                f"neardup: bands x rows ({self.bands} x {self.rows}) exceeds num_perm "
                f"({self.num_perm})"
            )
        return self


class RelatedParams(_Frozen):
    """Each paper's k most related papers (docs/related.md).

    method: tfidf (sparse TF-IDF cosine, no model), embeddings (all-MiniLM-L6-v2 int8 ONNX,
    shipped in a package), both (one list per method), or off. max_length: tokens the model
    reads; min_df / max_df_share: words in fewer papers, or in a larger share of them, are not
    TF-IDF features; block_mib: memory of one block of the exact search's scores.
    """

    method: Literal["tfidf", "embeddings", "both", "off"] = "both"
    k: int = Field(10, ge=1, le=255)
    max_length: int = Field(128, ge=8, le=512)
    min_df: int = Field(2, ge=1)
    max_df_share: float = Field(0.5, gt=0, le=1)
    block_mib: int = Field(256, ge=1)
    # A full (all x all) search over more papers than this is refused with a readable error:
    # exact search is quadratic (TF-IDF ~12.5 CPU hours at 1M). An embeddings run against the
    # cached state of the last build searches only the changed papers and is not limited.
    max_full_search: int = Field(250_000, ge=0)

    @property
    def methods(self) -> tuple[str, ...]:
        """The methods whose lists are built, in table order."""
        return {"off": (), "both": ("embeddings", "tfidf")}.get(self.method, (self.method,))


class WriteParams(_Frozen):
    dataset_name: str = "curated-papers"
    compression: str = "zstd"
    compression_level: int = 9
    row_group_size: int = Field(65536, gt=0)
    # Hugging Face license id written into the dataset card (data/processed/README.md).
    license: str = "other"
    # How the five tables are published: `single` (one file each, `papers.parquet`) or
    # `partitioned` (a directory of content-named node files each, `papers/<node>-<sha12>.parquet`;
    # docs/design/partitioned-versions.md). Rows are the same either way.
    layout: Literal["single", "partitioned"] = "partitioned"
    # Most rows per file of a partitioned table (layout.plan_files); a single leaf may exceed it.
    # provenance and rejected are planned over raw files (layout.source_leaf).
    partition_max_rows: dict[str, int] = Field(
        default_factory=lambda: {
            "papers": 10_000,
            "links": 100_000,
            "tags": 200_000,
            "provenance": 200_000,
            "rejected": 200_000,
            "duplicates": 200_000,
            "related": 200_000,
        }
    )

    @field_validator("partition_max_rows")
    @classmethod
    def _positive_max_rows(cls, value: dict[str, int]) -> dict[str, int]:
        bad = {k: v for k, v in value.items() if v <= 0}
        if bad:
            raise ValueError(f"partition_max_rows must be positive: {bad}")
        return value


class ScheduleFetchParams(_Frozen):
    # The scheduled run fetches the HF daily listing of the scheduled day minus days_back (in the
    # schedule's timezone); hf_base_url None means the public API (papers.fetch.HF_BASE_URL).
    days_back: int = Field(1, ge=0)
    hf_base_url: str | None = None
    # Retries of the whole fetch-listings subflow (each request is already retried with backoff).
    retries: int = Field(2, ge=0)
    retry_delay_seconds: float = Field(300.0, ge=0)


class ScheduleParams(_Frozen):
    """The daily deployment `papers serve` starts (and prefect.yaml declares)."""

    deployment: str = "curated-papers"
    cron: str = "30 6 * * *"
    timezone: str = "UTC"
    fetch: ScheduleFetchParams = ScheduleFetchParams()

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {value!r} (use an IANA name like UTC)") from exc
        return value


class GatesParams(_Frozen):
    """Quality gates between the published dataset and a new build (papers/gates.py)."""

    # share of the previously published papers that may be missing from the new build
    max_paper_loss_share: float = Field(0.05, ge=0, le=1)
    # absolute increase of rejected / raw records allowed
    max_reject_rate_increase: float = Field(0.02, ge=0, le=1)
    # absolute drop of the share of papers with at least one tag allowed
    max_tag_coverage_drop: float = Field(0.05, ge=0, le=1)


class Params(_Frozen):
    read: ReadParams = ReadParams()
    parse: ParseParams = ParseParams()
    normalize: NormalizeParams = NormalizeParams()
    links: LinksParams = LinksParams()
    tags: TagsParams = TagsParams()
    neardup: NeardupParams = NeardupParams()
    related: RelatedParams = RelatedParams()
    write: WriteParams = WriteParams()
    schedule: ScheduleParams = ScheduleParams()
    gates: GatesParams = GatesParams()

    def sha256(self) -> str:
        """A stable hash of the parameters that shape the data (recorded in the manifest).

        The schedule and the gates decide when a build runs and whether it is published, not
        what it contains, so they are left out: changing them keeps the dataset version. So is
        neardup's memory budgets (NeardupParams.shaping: the same pairs at any value).
        """
        shaping = self.model_dump(mode="json", exclude={"schedule", "gates", "neardup"})
        shaping["neardup"] = self.neardup.shaping()
        if self.write.layout == "single":
            # the layout keys are new: a single-file build keeps the version it had before them
            for key in ("layout", "partition_max_rows"):
                shaping["write"].pop(key)
        blob = json.dumps(shaping, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()


def load_params(path: Path) -> Params:
    """Read params.yaml into frozen models; a bad file is a PapersError with a readable reason.

    The file is read on every call (an edit is always seen); parsing and validation are cached
    by its text, as every shard's step loads it (865 loads took 35 s of one real-data build).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise PapersError(f"params file not found: {path}") from exc
    return _parse_params(text, str(path))


@lru_cache(maxsize=16)
def _parse_params(text: str, path: str) -> Params:
    try:
        data: Any = yaml.load(text, Loader=_YAML_LOADER) or {}
    except yaml.YAMLError as exc:
        raise PapersError(f"params file {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise PapersError(f"params file {path} must hold a mapping of stage sections")
    try:
        return Params.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise PapersError(f"params file {path}: {where}: {first['msg']}") from exc


def resolve_vocabulary(params: Params, params_path: Path) -> Path:
    """The vocabulary file, relative to the params file's folder unless absolute.

    Resolved where the params file is loaded (the entry points): below them the pipeline gets
    the loaded vocabulary (load_vocabulary), never the params file's path.
    """
    vocab = params.tags.vocabulary
    return vocab if vocab.is_absolute() else (params_path.parent / vocab)


def load_vocabulary(path: Path) -> dict[str, Any]:
    """The topic vocabulary file as a mapping with a version; a bad file is a PapersError.

    The one loader of the vocabulary: parsed once per file version (path, mtime, size).
    """
    try:
        stat = path.stat()
    except FileNotFoundError as exc:
        raise PapersError(f"vocabulary file not found: {path}") from exc
    # a deep copy per call: callers may not share one mutable mapping
    return copy.deepcopy(_load_vocabulary(path, stat.st_mtime_ns, stat.st_size))


@cache
def _load_vocabulary(path: Path, _mtime_ns: int, _size: int) -> dict[str, Any]:
    # libyaml's parser: the vocabulary (~125 KB) parses in 0.03 s instead of 0.2 s
    try:
        data = yaml.load(path.read_text("utf-8"), Loader=_YAML_LOADER)
    except FileNotFoundError as exc:
        raise PapersError(f"vocabulary file not found: {path}") from exc
    except yaml.YAMLError as exc:
        raise PapersError(f"vocabulary file {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or "version" not in data or not data.get("topics"):
        raise PapersError(f"vocabulary file {path} needs a version and a list of topics")
    return data


# Key-value metadata of the keyphrase IDF file (papers/io.py: write_keyphrase_idf).
IDF_N_DOCS_KEY: Final = "papers.idf.n_docs"
IDF_VERSION_KEY: Final = "papers.idf.version"


@dataclass(frozen=True)
class KeyphraseIdf:
    """The pinned keyphrase IDF: (phrase, df) for phrases in at least 2 of n_docs papers (a
    phrase missing from the table is in one), its version, and the sha256 of the file's bytes
    (part of the dataset version, the partition cache keys and the manifest)."""

    table: pl.DataFrame
    n_docs: int
    version: str
    sha256: str

    def describe(self) -> dict[str, Any]:
        """What the manifest records of it."""
        return {"version": self.version, "n_docs": self.n_docs, "sha256": self.sha256}


def resolve_keyphrase_idf(params: Params, params_path: Path) -> Path | None:
    """The keyphrase IDF file (params tags.keyphrase_idf), relative to the params file's folder
    unless absolute; None when none is configured (see resolve_vocabulary)."""
    idf = params.tags.keyphrase_idf
    if idf is None:
        return None
    return idf if idf.is_absolute() else (params_path.parent / idf)


def load_keyphrase_idf(path: Path | None) -> KeyphraseIdf | None:
    """The pinned keyphrase IDF file, or None for None; a missing or bad file is a PapersError.

    The one loader of it: read once per file version (path, mtime, size), like the vocabulary.
    """
    if path is None:
        return None
    try:
        stat = path.stat()
    except FileNotFoundError as exc:
        msg = f"keyphrase IDF file not found: {path} (write it with `papers idf refresh`)"
        raise PapersError(msg) from exc
    return _load_keyphrase_idf(path, stat.st_mtime_ns, stat.st_size)


@cache
def _load_keyphrase_idf(path: Path, _mtime_ns: int, _size: int) -> KeyphraseIdf:
    import polars as pl
    import pyarrow.parquet as pq

    data = path.read_bytes()
    try:
        meta = pq.read_metadata(path).metadata or {}
        n_docs = int(meta[IDF_N_DOCS_KEY.encode()])
        version = meta[IDF_VERSION_KEY.encode()].decode()
        table = pl.read_parquet(path, columns=["phrase", "df"]).cast(
            {"phrase": pl.String, "df": pl.UInt32}
        )
    except (OSError, KeyError, ValueError, pl.exceptions.PolarsError) as exc:
        msg = f"keyphrase IDF file {path} is not a table of (phrase, df) with n_docs and version"
        raise PapersError(f"{msg}: {exc}") from exc
    return KeyphraseIdf(table, n_docs, version, hashlib.sha256(data).hexdigest())


@dataclass(frozen=True)
class BuildConfig:
    """What a build reads through its params file: the params, the topic vocabulary and the pinned
    keyphrase IDF (None when params names none)."""

    params: Params
    vocabulary: dict[str, Any]
    idf: KeyphraseIdf | None


def load_build_config(params_path: Path) -> BuildConfig:
    """The params file and the vocabulary and keyphrase IDF files it names (relative to its folder
    unless absolute), loaded in that order; the first missing or bad one is a PapersError.

    The one loader of a build's inputs for the entry points (flow, tests, benchmarks)."""
    params = load_params(params_path)
    vocabulary = load_vocabulary(resolve_vocabulary(params, params_path))
    idf = load_keyphrase_idf(resolve_keyphrase_idf(params, params_path))
    return BuildConfig(params, vocabulary, idf)
