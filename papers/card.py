"""The dataset card (`README.md` beside the Parquet files), Hugging Face style, from each build.

Rendered from what the build already wrote (manifest.json, metrics.json, the papers table), the
params and the tables' Pandera models (column meanings come from their `description=`), so it
never disagrees with the data. The YAML header is written with yaml.safe_dump; text that comes
from the data (titles, file names, reasons) is escaped so it shows as text on the Hub or GitHub
and never becomes markup. No dates: the same build gives the same bytes.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from papers.config import Params
from papers.dataset import manifest_tables
from schemas import PUBLISHED, arrow_schema

CARD = "README.md"
EXAMPLES = 3

# Hugging Face size categories, by the number of papers.
_SIZES = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
          (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M")]  # fmt: skip

TABLE_MEANING = {
    "papers": "one row per paper: readable title and abstract, links, code link, tags, keyphrases",
    "links": "one row per (paper, canonical link), with its kind, where it was found and its span",
    "tags": "one row per (paper, topic tag), with its score and the term that matched",
    "provenance": "which raw record contributed to which paper",
    "rejected": "every raw record that did not make it, with its file, position, stage and reason",
    "duplicates": "one row per near-duplicate pair (MinHash Jaccard >= neardup.min_jaccard), "
    "with its kind and evidence",
    "related": "each paper's k most related papers per method (embeddings, tfidf), with the "
    "cosine score",
}
CHANGES = "changes"
CHANGES_MEANING = (
    "the change feed: per version, the paper ids it added, updated (with the changed columns) "
    "and removed"
)

# What each built-in reader reads; a source configured in params.yaml (read.sources) is generic.
SOURCE_MEANING = {
    "hf_papers_page": "Hugging Face Daily Papers page, as text",
    "hf_daily_papers": "Hugging Face `/api/daily_papers` JSON",
    "arxiv_snapshot": "arXiv metadata snapshot (JSON lines)",
    "arxiv_oai": "arXiv OAI-PMH `ListRecords` pages",
    "arxiv_atom": "arXiv API Atom responses",
    "feed": "RSS / Atom / JSON Feed listings",
    "hf_title_pdf_summary": "text blocks `Title: / PDF: / Summary:`",
    "abstract_lines": "one abstract per line, no title or id (every line is rejected)",
    "(none)": "files no reader recognises (each is one reject)",
}
UNREAD = "(none)"

_MD_SPECIAL = re.compile(r"([\\`*_\[\]{}|#~!])")


def md(text: Any) -> str:
    """Text from the data, safe inline in Markdown: no HTML, no emphasis, links or table breaks.

    `<`, `>` and `&` become entities (a title `<script>` shows as text), Markdown punctuation is
    backslash-escaped, and line breaks become spaces (a table row stays one line).
    """
    value = " ".join(str(text).split())
    value = _MD_SPECIAL.sub(r"\\\1", value)
    return html.escape(value, quote=False)


def code(text: Any) -> str:
    """An inline code span for identifiers we control (column names, types, ids)."""
    value = " ".join(str(text).split()).replace("`", "'").replace("|", "\\|")
    return f"`{value}`"


def size_category(rows: int) -> str:
    """The Hugging Face size_categories value for `rows` papers."""
    for limit, name in _SIZES:
        if rows < limit:
            return name
    return "n>10M"


def pretty_name(dataset_name: str) -> str:
    return " ".join(part.capitalize() for part in re.split(r"[-_\s]+", dataset_name) if part)


def table_paths(manifest: Mapping[str, Any]) -> dict[str, str]:
    """Where each published table is read from, relative to the dataset folder: its one file
    (`papers.parquet`) or, when the manifest lists it as node files, its directory's glob
    (`papers/*.parquet`). A manifest with a change feed adds `changes/*.parquet`."""
    files = manifest_tables(manifest)
    paths = {
        name: f"{name}/*.parquet"
        if any("/" in str(entry["path"]) for entry in files.get(name, []))
        else f"{name}.parquet"
        for name in PUBLISHED
    }
    if manifest.get("changes"):
        paths[CHANGES] = f"{CHANGES}/*.parquet"
    return paths


def header(manifest: dict[str, Any], params: Params) -> dict[str, Any]:
    """The card's YAML metadata: license, size, task categories, one config per table (and the
    change feed), each config's data files its table's file or directory glob."""
    papers = int(manifest["counts"]["papers"])
    configs = [
        {
            "config_name": name,
            "data_files": [{"split": "train", "path": path}],
            **({"default": True} if name == "papers" else {}),
        }
        for name, path in table_paths(manifest).items()
    ]
    return {
        "pretty_name": pretty_name(manifest["dataset"]["name"]),
        "license": params.write.license,
        "language": ["en"],
        "size_categories": [size_category(papers)],
        "task_categories": ["text-classification", "text-retrieval"],
        "tags": ["arxiv", "research-papers", "scientific-documents", "links", "topic-tags"],
        "dataset_version": manifest["dataset"]["version"],
        "schema_version": manifest["schema_version"],
        "configs": configs,
    }


def _pct(value: Any) -> str:
    return "n/a" if value is None else f"{100 * float(value):.1f}%"


def _schema_section(paths: Mapping[str, str]) -> list[str]:
    lines = ["## Schema", ""]
    for name, (model, sort_by) in PUBLISHED.items():
        columns = model.to_schema().columns
        lines += [
            f"### `{paths[name]}`",
            "",
            f"{TABLE_MEANING.get(name, '')} (sorted by {', '.join(code(c) for c in sort_by)}).",
            "",
            "| column | type | nullable | meaning |",
            "|---|---|---|---|",
        ]
        for field in arrow_schema(model):
            meaning = columns[field.name].description or ""
            lines.append(
                f"| {code(field.name)} | {code(field.type)} | "
                f"{'yes' if field.nullable else 'no'} | {md(meaning)} |"
            )
        lines.append("")
    return lines


def _sources_section(manifest: dict[str, Any]) -> list[str]:
    inputs = pl.DataFrame(
        manifest["inputs"],
        schema={"path": pl.String, "reader": pl.String, "records": pl.Int64, "sha256": pl.String},
    )
    per = (
        inputs.with_columns(pl.col("reader").fill_null(UNREAD))
        .group_by("reader")
        .agg(pl.len().alias("files"), pl.col("records").sum(), pl.col("path").min())
        .sort(["records", "reader"], descending=[True, False])
    )
    lines = [
        "## Sources",
        "",
        f"Built from {len(manifest['inputs']):,} raw files ({manifest['counts']['raw_records']:,} "
        "records). Each file is read by the reader its content calls for; `manifest.json` lists "
        "every input with its sha256 and record count.",
        "",
        "| source | what it is | files | records | e.g. |",
        "|---|---|---|---|---|",
    ]
    for reader, files, records, path in per.iter_rows():
        meaning = SOURCE_MEANING.get(reader, "a layout mapped by configuration (`read.sources`)")
        name = md(reader) if reader == UNREAD else code(reader)
        lines.append(f"| {name} | {meaning} | {files:,} | {records:,} | {code(path)} |")
    return [*lines, ""]


def _curation_section(params: Params, manifest: dict[str, Any]) -> list[str]:
    n, lk, tg = params.normalize, params.links, params.tags
    kinds = sorted({rule.kind for rule in lk.rules} - {"other"})
    precedence = ", ".join(code(s) for s in n.source_precedence) or "as read"
    return [
        "## Curation rules",
        "",
        "- **Text**: titles and abstracts are Unicode NFC with whitespace collapsed and LaTeX "
        "turned into Unicode; `title_raw` and `abstract_raw` keep the text as listed.",
        "- **Identity and merge**: records of the same paper (arXiv id; else DOI; else a title "
        f"key with at least {n.abstract_agreement:.0%} shared abstract words) become one row. "
        f"Each field comes from the first source that has it, in the order {precedence}; "
        "`upvotes` and `hf_keywords` come from the latest daily listing, `published_at` is the "
        "earliest.",
        f"- **Links**: URLs are mined from titles and abstracts (schemeless for "
        f"{len(lk.schemeless_hosts)} known hosts), cleaned of trailing punctuation, "
        f"canonicalised ({len(lk.host_aliases)} mirror hosts mapped to their origin) and "
        f"classified by {len(lk.rules)} ordered rules into {', '.join(kinds)} or other. A code "
        'link the abstract presents as its own (a cue such as "code is available at" within '
        f"{lk.own_code_cue_window} characters) is the paper's `code_url`.",
        f"- **Tags**: topics from the vocabulary {code(manifest.get('vocabulary_version'))} "
        f"matched on word boundaries, score = {tg.title_weight:g} x title hits + "
        f"{tg.abstract_weight:g} x abstract hits (+ {tg.category_weight:g} per arXiv category "
        f"that maps to the topic), kept at score >= {tg.min_score:g}; generic topics need a "
        f"title hit. Up to {tg.keyphrases_top_k} TF-IDF keyphrases of at most "
        f"{tg.keyphrase_max_words} words per paper, "
        f"{_idf_text(manifest.get('idf'), tg.keyphrase_idf)}.",
        "- **Validation**: every table is checked against its Pandera model; a paper that fails "
        "sends its records to `rejected` with the failed check. The published folder is checked "
        "again with Great Expectations (`papers validate`).",
        f"- **Files**: rows sorted, explicit Arrow schema, {params.write.compression} compression, "
        f"{params.write.row_group_size:,}-row groups, versions in the Parquet metadata: the same "
        "inputs and params give byte-identical files.",
        "",
    ]


def _idf_text(idf: dict[str, Any] | None, path: Path | None) -> str:
    if not idf:
        return "the IDF counted over this build"
    return (
        f"the IDF pinned in {code(path)} ({code(idf['version'])}, "
        f"{int(idf['n_docs']):,} papers): a paper's keyphrases depend on its own text only"
    )


def papers_summary(papers: pl.DataFrame | pl.LazyFrame) -> dict[str, Any]:
    """What the card reads of the papers table: counts for the limitations (total, no_authors,
    no_dates, no_id) and the example rows (`examples`: the first EXAMPLES by paper_id). Counted
    by the streaming engine: a scanned papers table is never loaded whole. A partitioned build
    sums them over its partitions instead (pipeline.figures.card_figures)."""
    figures: dict[str, Any] = (
        papers.lazy()
        .select(
            pl.len().alias("total"),
            (pl.col("authors").list.len() == 0).sum().alias("no_authors"),
            (pl.col("listing_dates").list.len() == 0).sum().alias("no_dates"),
            pl.col("arxiv_id").is_null().sum().alias("no_id"),
        )
        .collect(engine="streaming")
        .row(0, named=True)
    )
    figures["examples"] = (
        papers.lazy()
        .sort("paper_id")
        .head(EXAMPLES)
        .select("paper_id", "title", "tags", "code_url")
        .collect()
    )
    return figures


def _limitations_section(figures: Mapping[str, Any], metrics: dict[str, Any]) -> list[str]:
    total = max(int(figures["total"]), 1)
    no_authors, no_dates, no_id = (int(figures[k]) for k in ("no_authors", "no_dates", "no_id"))
    return [
        "## Known limitations",
        "",
        f"- {no_authors:,} papers ({no_authors / total:.1%}) have no authors: page and scrape "
        "listings carry none.",
        f"- {no_dates:,} papers ({no_dates / total:.1%}) have no listing date: no file with a "
        "date in its name listed them (arXiv harvests and snapshots, undated page dumps).",
        f"- {no_id:,} papers have no arXiv id; they are identified by DOI or by a hash of the "
        "title key, so a retitled paper can appear twice.",
        f"- Tags come from a fixed vocabulary; {_pct(metrics.get('tag_coverage'))} of papers have "
        "at least one. Papers outside machine learning and algorithms are tagged sparsely.",
        "- Links are mined from text: a repository named only in the PDF is missed, and a "
        "cited baseline's code can be taken for the paper's own when no cue says otherwise.",
        "- Titles and abstracts are the authors' text under their own licenses (`license` "
        "gives arXiv's per-paper license when known); this dataset adds the curation.",
        "",
    ]


def _quality_section(metrics: dict[str, Any]) -> list[str]:
    from papers.report import quality_rows

    lines = [
        "## Quality",
        "",
        "Measured on every build (`metrics.json`, tracked by DVC; `papers evaluate` prints them).",
        "",
        "| figure | value | on |",
        "|---|---|---|",
    ]
    lines += [f"| {md(a)} | {md(b)} | {md(c)} |" for a, b, c in quality_rows(metrics)]
    return [*lines, ""]


def _examples_section(sample: pl.DataFrame) -> list[str]:
    lines = [
        "## Example rows",
        "",
        "| paper_id | title | tags | code_url |",
        "|---|---|---|---|",
    ]
    for paper_id, title, tags, code_url in sample.select(
        "paper_id", "title", "tags", "code_url"
    ).iter_rows():
        lines.append(
            f"| {md(paper_id)} | {md(title)} | {md(', '.join(tags))} | {md(code_url or '')} |"
        )
    return [*lines, ""]


def _layout_section(manifest: Mapping[str, Any], paths: Mapping[str, str]) -> list[str]:
    """How a partitioned table sits on disk and how to read exactly one version of it."""
    if not any(path.endswith("/*.parquet") for path in paths.values()):
        return []
    lines = [
        "## Layout",
        "",
        "Each table written as a directory holds flat Parquet files named "
        "`<node>-<sha12>.parquet`. A node is a range of the table's key: an arXiv month or "
        "10,000-number bucket of paper ids (small months and years are packed together), a "
        "hash range for DOI and title ids, a raw source file for provenance and rejected. The "
        "12 hex digits start the file's sha256: a node whose rows did not change keeps its "
        "file, name and bytes from one version to the next. Every file has the table's full "
        "schema and no partition column, so a glob reads one table.",
        "",
        "`manifest.json` lists the files of this version (path, node, rows, bytes, sha256) and "
        "is replaced last when a version is published. While a version is being published "
        "(seconds), or after a crash until `papers recover` or the next `papers run`, a "
        "directory can hold files of two versions; a strict reader reads the manifest's file "
        "list:",
        "",
        "```python",
        "import json",
        "",
        "import polars as pl",
        "",
        'manifest = json.load(open("data/processed/manifest.json"))',
    ]
    if "tables" in manifest:
        lines.append('files = [f["path"] for f in manifest["tables"]["papers"]["files"]]')
    else:  # format 1: one list of every table's files
        lines.append(
            'files = [f["path"] for f in manifest["outputs"] if f["path"].startswith("papers/")]'
        )
    lines += [
        'papers = pl.scan_parquet([f"data/processed/{path}" for path in files])',
        "```",
        "",
    ]
    if CHANGES in paths:
        lines += [
            f"{code(paths[CHANGES])} is the change feed: one file per version (merged per month), "
            "rows (version, paper_id, op added/updated/removed, fields changed).",
            "",
        ]
    return lines


def _loading_section(paths: Mapping[str, str]) -> list[str]:
    def at(name: str) -> str:
        return f"data/processed/{paths[name]}"

    directory = paths["papers"].removesuffix("/*.parquet")
    return [
        "## How to load",
        "",
        "From a checkout of this folder (`data/processed/`, e.g. by DVC):",
        "",
        "```python",
        "import polars as pl",
        "",
        f'papers = pl.scan_parquet("{at("papers")}")',
        'with_code = papers.filter(pl.col("code_url").is_not_null()).collect()',
        "",
        "import duckdb",
        "",
        'duckdb.sql("""',
        f"    SELECT tag, count(*) AS papers FROM read_parquet('{at('tags')}')",
        "    GROUP BY tag ORDER BY papers DESC LIMIT 10",
        '""").show()',
        "",
        "import pyarrow.dataset as ds",
        "",
        f'links = ds.dataset("data/processed/{paths["links"].removesuffix("/*.parquet")}", '
        'format="parquet").to_table()',
        "",
        "from datasets import load_dataset",
        "",
        f'hf = load_dataset("parquet", data_files={{"train": "{at("papers")}"}})["train"]',
        'links_ds = load_dataset("data/processed", "links")["train"]  # the configs above',
        "```",
        "",
        *(
            []
            if directory == paths["papers"]
            else [
                f"A glob (`{paths['papers']}`, or `{directory}/**/*.parquet`) or the directory "
                "itself reads the table; no reader adds a column.",
                "",
            ]
        ),
    ]


def render_card(
    manifest: dict[str, Any],
    metrics: dict[str, Any],
    papers: pl.DataFrame | pl.LazyFrame | Mapping[str, Any],
    params: Params,
) -> str:
    """The card's Markdown: YAML header, then description, sources, schema, rules, quality.

    papers: the papers table, or a scan of it (write_card: then only the example rows and a few
    counts are ever in memory, not the whole table's titles and authors), or what the card reads
    of it (papers_summary).
    """
    summary = papers if isinstance(papers, Mapping) else papers_summary(papers)
    meta = header(manifest, params)
    counts = manifest["counts"]
    paths = table_paths(manifest)
    files = manifest_tables(manifest)
    tables = [
        f"| {code(paths[name])} | {sum(int(f.get('rows', 0)) for f in files.get(name, [])):,} | "
        f"{TABLE_MEANING.get(name, '')} |"
        for name in PUBLISHED
    ]
    if CHANGES in paths:
        feed = manifest["changes"]
        changed = sum(int(feed.get(op, 0)) for op in ("added", "updated", "removed"))
        tables.append(f"| {code(paths[CHANGES])} | {changed:,} this version | {CHANGES_MEANING} |")
    body = [
        "---",
        yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=100).rstrip(),
        "---",
        "",
        f"# {md(meta['pretty_name'])}",
        "",
        "Research papers from daily listings (Hugging Face Daily Papers, arXiv) curated into one "
        "row per paper: readable titles and abstracts (LaTeX turned into Unicode), the links "
        "their abstracts mention (canonical, classified as code, dataset, model, demo, project "
        "page, paper, docs or other), the paper's own code repository, topic tags from a "
        "versioned vocabulary and keyphrases. Every raw record is either in the data (with its "
        f"provenance) or in {code(paths['rejected'])} with the reason.",
        "",
        f"- dataset version {code(meta['dataset_version'])} (a hash of the inputs, params, "
        f"vocabulary, schema and code), schema {code(manifest['schema_version'])}, vocabulary "
        f"{code(manifest.get('vocabulary_version'))}, code {code(manifest.get('code_version'))}",
        f"- {counts['papers']:,} papers from {counts['raw_records']:,} raw records in "
        f"{counts['input_files']:,} files ({counts['merged_duplicates']:,} duplicate records "
        f"merged, {counts['rejected']:,} rejected), {counts['links']:,} links, "
        f"{counts['tags']:,} tags",
        "",
        "| file | rows | contents |",
        "|---|---|---|",
        *tables,
        "",
        "`manifest.json` records the inputs, every table's files (rows, bytes, sha256), params "
        "hash and counts; `metrics.json` the figures below.",
        "",
        *_layout_section(manifest, paths),
        *_sources_section(manifest),
        *_schema_section(paths),
        *_curation_section(params, manifest),
        *_limitations_section(summary, metrics),
        *_quality_section(metrics),
        *_examples_section(summary["examples"]),
        *_loading_section(paths),
    ]
    return "\n".join(body)


def write_card(
    folder: Path,
    params: Params,
    base: Path | None = None,
    summary: Mapping[str, Any] | None = None,
) -> str:
    """Write README.md into `folder` (a build's staging folder) from its manifest, metrics and
    papers; return the file name, to publish with the other files.

    base: the published folder, where the manifest's files that staging does not hold are (the
    unchanged node files of a partitioned version). summary: what the card reads of the papers
    (papers_summary), when the build already has it; then the papers table is not read.
    """
    from papers import io
    from papers.gates import scan_folder_table

    manifest = json.loads((folder / io.MANIFEST).read_text("utf-8"))
    metrics = json.loads((folder / io.METRICS).read_text("utf-8"))
    if summary is None:
        scan = scan_folder_table(folder, "papers", base)
        if scan is None:
            raise FileNotFoundError(f"no papers table in {folder}")
        summary = papers_summary(
            scan.select(
                "paper_id", "arxiv_id", "title", "tags", "code_url", "authors", "listing_dates"
            )
        )
    io.write_text(render_card(manifest, metrics, summary, params), folder / CARD)
    return CARD
