"""The straightforward baseline: the pipeline's stages record by record, as most scripts do it.

    python bench/baseline.py RAW_DIR OUT_DIR [--params params.yaml]

One Python function per record over plain dicts, every regex compiled once, pandas to write
Parquet. It reads the two formats the benchmark and the seed use (arXiv snapshot JSON lines, the
HF papers-page text), normalises text (LaTeX to Unicode, whitespace), resolves identities and
merges duplicates, mines, cleans, canonicalises and classifies links, tags papers against the
vocabulary, and writes papers, links, tags, provenance and rejects.

It is also a correctness oracle for the vectorised pipeline: tests/test_bench.py checks that both
give the same papers (ids, titles, abstracts, title keys, tags and links lists), links and tags.
It shares the pipeline's rule *data* (the LaTeX literal table and rewrite list, the URL regexes,
the alias and classification tables in params.yaml, the vocabulary), not its code: no polars
expression of a stage runs here, so what it checks is that the vectorised implementation applies
those rules as a per-record reading of them does (leftmost-first literal replacement, regex
semantics, span arithmetic, group-by and sort orders of the merge, whole-word matching).

Not done here, so the baseline does less work than the pipeline and the measured speedup errs
low: TF-IDF keyphrases, `code_url`, Pandera validation, the manifest, metrics and quality
figures, deterministic row groups and key-value metadata, the parse cache. Other input formats
(OAI-PMH, Atom, HF API JSON, feeds, scrapes, generic mappings) are not read.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
import unicodedata
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import regex as re  # the `regex` module: \p{L} classes, as polars' Rust regex has them

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from papers.config import load_params, load_vocabulary, resolve_vocabulary  # noqa: E402
from papers.stages import latex as _latex  # noqa: E402  (rule tables only)
from papers.stages import links as _links  # noqa: E402  (rule constants only)
from papers.stages import normalize as _normalize  # noqa: E402  (rule constants only)
from papers.stages import tags as _tags  # noqa: E402  (rule constants, pure-Python helpers)


def _first_word(text: str | None) -> str | None:
    """The first whitespace-separated word (a doi field may list the paper's DOI, then more)."""
    found = re.match(r"\s*(\S+)", text) if text is not None else None
    return found.group(1) if found else None


def _sub(replacement: str) -> str:
    """Rust's `${1}` group references as Python's `\\g<1>`; a backslash is literal in Rust's
    replacement, an escape in Python's."""
    return re.sub(r"\$\{(\d+)\}", r"\\g<\1>", replacement.replace("\\", "\\\\"))


# --- read --------------------------------------------------------------------------------------

_DATE_IN_NAME = re.compile(r"(\d{4}-\d{2}-\d{2})[^/]*$")
_SENTENCE_END = re.compile(r"[.;:,]$")
_PAGE_STRIP = " \t\r\n\u00a0\ufeff"
_WS = re.compile(r"\s+")
_AND = re.compile(r"\s+and\s+")
_NONSPACE = re.compile(r"\S+")
_FIRST = {"record_index", "line"}


def _listing_date(source_file: str) -> str | None:
    m = _DATE_IN_NAME.search(source_file)
    if not m:
        return None
    try:
        return datetime.strptime(m.group(1), "%Y-%m-%d").date().isoformat()
    except ValueError:
        return None


def _record(source_file: str, source: str, index: int, line: int, **fields: Any) -> dict[str, Any]:
    base = {
        "source_file": source_file,
        "source": source,
        "record_index": index,
        "line": line,
        "title_raw": None,
        "abstract_raw": None,
        "arxiv_id_raw": None,
        "doi": None,
        "authors": [],
        "categories": [],
        "published_at": None,
        "updated_at": None,
        "listing_date": None,
        "upvotes": None,
        "comments": None,
        "journal_ref": None,
        "license": None,
        "hf_keywords": [],
        "raw": "",
    }
    base.update(fields)
    return base


def _reject(
    source_file: str, index: int | None, stage: str, reason: str, raw: str | None
) -> dict[str, Any]:
    return {
        "source_file": source_file,
        "record_index": index,
        "stage": stage,
        "reason": reason,
        "raw": raw,
    }


def _names(names: list[str]) -> list[str]:
    tidy = (_WS.sub(" ", n).strip() for n in names)
    return [n for n in tidy if n]


def _blank(value: Any) -> bool:
    return value is None or str(value).strip() == ""


def _utc(text: str | None) -> datetime | None:
    if text is None:
        return None
    text = text.strip()
    for layout in ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d"):
        try:
            value = datetime.strptime(text, layout)
        except ValueError:
            continue
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return None


def read_snapshot_line(
    source_file: str, index: int, text: str
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """One snapshot JSON line -> (record, None) or (None, reject)."""
    raw = text[:2000]
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, _reject(
            source_file, index, "parse", f"invalid JSON: {exc.msg} (line {index + 1})", raw
        )
    if not isinstance(obj, dict):
        return None, _reject(
            source_file, index, "parse", f"not a JSON object (line {index + 1})", raw
        )
    if _blank(obj.get("id")) and _blank(obj.get("title")):
        return None, _reject(
            source_file,
            index,
            "parse",
            f"record has no arXiv id and no title (line {index + 1})",
            raw,
        )
    parsed = obj.get("authors_parsed")
    authors: list[str] = []
    if isinstance(parsed, list):
        authors = _names(
            [
                " ".join(p for p in (e[1:2] + e[0:1] + e[2:3]) if isinstance(p, str))
                for e in parsed
                if isinstance(e, list)
            ]
        )
    if not authors and isinstance(obj.get("authors"), str):
        authors = _names(_AND.sub(",", obj["authors"]).split(","))
    published = None
    versions = obj.get("versions")
    if isinstance(versions, list) and versions and isinstance(versions[0], dict):
        created = versions[0].get("created")
        if isinstance(created, str):
            try:
                published = datetime.strptime(created.strip(), "%a, %d %b %Y %H:%M:%S GMT").replace(
                    tzinfo=UTC
                )
            except ValueError:
                published = None
    return _record(
        source_file,
        "arxiv_snapshot",
        index,
        index + 1,
        title_raw=obj.get("title"),
        abstract_raw=obj.get("abstract"),
        arxiv_id_raw=obj.get("id"),
        doi=_first_word(obj.get("doi")),
        authors=authors,
        categories=_NONSPACE.findall(obj.get("categories") or ""),
        published_at=published,
        updated_at=_utc(obj.get("update_date")),
        comments=obj.get("comments"),
        journal_ref=obj.get("journal-ref"),
        license=obj.get("license"),
        raw=raw,
    ), None


def read_snapshot(
    path: Path, source_file: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    records, rejects = [], []
    with path.open("r", encoding="utf-8") as handle:
        for index, written in enumerate(handle):
            line = written.rstrip("\n").removesuffix("\r")
            if index == 0:
                line = line.removeprefix("\ufeff")
            if not line.strip(" \t"):
                continue
            record, reject = read_snapshot_line(source_file, index, line)
            if record is not None:
                records.append(record)
            else:
                rejects.append(reject)
    return records, rejects


def read_page(
    text: str, source_file: str, boilerplate: set[str], title_max: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The HF papers-page text: title line + abstract paragraph blocks."""
    blocks: list[dict[str, Any]] = []
    current: list[str] = []
    first_line = 0
    for number, written in enumerate(text.split("\n"), start=1):
        line = written.strip(_PAGE_STRIP)
        if line and line not in boilerplate:
            if not current:
                first_line = number
            current.append(line)
        elif current:
            blocks.append({"line": first_line, "lines": current})
            current = []
    if current:
        blocks.append({"line": first_line, "lines": current})
    groups: list[list[dict[str, Any]]] = []
    for block in blocks:
        block["text"] = "\n".join(block["lines"])
        block["is_title"] = (
            len(block["lines"]) == 1
            and len(block["text"]) <= title_max
            and not _SENTENCE_END.search(block["text"])
        )
        if block["is_title"] or not groups:
            groups.append([block])
        else:
            groups[-1].append(block)
    records, rejects = [], []
    listing = _listing_date(source_file)
    for index, group in enumerate(groups):
        raw = "\n\n".join(b["text"] for b in group)
        if not group[0]["is_title"]:
            reason = "abstract paragraph without a title line"
        elif len(group) == 1:
            reason = "title line without an abstract paragraph"
        else:
            records.append(
                _record(
                    source_file,
                    "hf_papers_page",
                    index,
                    group[0]["line"],
                    title_raw=group[0]["text"],
                    abstract_raw="\n\n".join(b["text"] for b in group[1:]),
                    listing_date=listing,
                    raw=raw,
                )
            )
            continue
        rejects.append(
            _reject(source_file, index, "parse", f"{reason} (line {group[0]['line']})", raw)
        )
    if not records and not rejects:
        rejects.append(
            _reject(
                source_file, None, "parse", "no paper records found in the page text", text[:2000]
            )
        )
    if records and len(rejects) > len(records):
        return [], [
            _reject(
                source_file, None, "read", "text does not have the papers-page layout", text[:200]
            )
        ]
    return records, rejects


def read_folder(raw_dir: Path, params: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    records: list[dict[str, Any]] = []
    rejects: list[dict[str, Any]] = []
    files = sorted(
        (
            p
            for p in raw_dir.rglob("*")
            if p.is_file()
            and not any(part.startswith(".") for part in p.relative_to(raw_dir).parts)
        ),
        key=lambda p: p.relative_to(raw_dir).as_posix(),
    )
    for path in files:
        name = path.relative_to(raw_dir).as_posix()
        with path.open("rb") as handle:
            head = handle.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
        if head[:1] == b"{" and b'"id"' in head:
            found, bad = read_snapshot(path, name)
        else:
            text = path.read_text("utf-8").lstrip("\ufeff")
            found, bad = read_page(
                text, name, set(params.parse.boilerplate), params.parse.title_max_chars
            )
        records += found
        rejects += bad
    return records, rejects


# --- normalize ---------------------------------------------------------------------------------


class Latex:
    """LaTeX -> Unicode for one string at a time, from the pipeline's own rule tables."""

    def __init__(self) -> None:
        patterns, replacements = _latex.literal_table()
        self.table = dict(zip(patterns, replacements, strict=True))
        lengths: dict[str, set[int]] = defaultdict(set)
        alpha_prefixes = set()
        for p in patterns:
            lengths[p[0]].add(len(p))
            if p[0].isalpha():
                alpha_prefixes.add(p[:4])
        self.lengths = {c: sorted(ls, reverse=True) for c, ls in lengths.items()}
        firsts = "".join(sorted(c for c in lengths if not c.isalpha()))
        self.candidates = re.compile(
            "[" + re.escape(firsts) + "]|" + "|".join(re.escape(p) for p in sorted(alpha_prefixes))
        )
        self.split = re.compile(r"(\\[A-Za-z]+)\\")

        def compiled(rewrites: list[tuple[str, str]]) -> list[tuple[Any, str]]:
            return [(re.compile(p), _sub(r)) for p, r in rewrites]

        # the pipeline's rewrite groups, in its order (papers/stages/latex.py: _latex)
        self.marks = re.compile(_latex._MARKS)
        self.before = compiled([*_latex._accent_rewrites(), *_latex._pre_rewrites()])
        self.markup = compiled(_latex._markup_rewrites())
        self.round = compiled(_latex._brace_round())
        self.after = compiled(
            [
                *_latex._brace_cleanup(),
                *_latex._finish_rewrites(),
                *_latex._comparison_rewrites(),
                *_latex._debris_rewrites(),
            ]
        )
        self.marked = re.compile(_latex._MARKED)
        self.superscripts = str.maketrans(_latex._SUPERSCRIPTS)
        self.subscripts = str.maketrans(_latex._SUBSCRIPTS)
        self.zero_width = re.compile(r"[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
        self.spaces = re.compile(r"[^\S\n]+")
        self.paragraph = re.compile(r" ?\n ?\n[\s]*")
        self.wrap = re.compile(r"\s*\n\s*")
        self.mark = re.compile(r" *\u2029 *")

    def literals(self, text: str) -> str:
        """Leftmost-first replacement: at the earliest position, the longest pattern wins."""
        out: list[str] = []
        cursor = 0
        for m in self.candidates.finditer(text):
            i = m.start()
            if i < cursor:
                continue
            for length in self.lengths[text[i]]:
                replacement = self.table.get(text[i : i + length])
                if replacement is not None:
                    out.append(text[cursor:i])
                    out.append(replacement)
                    cursor = i + length
                    break
        out.append(text[cursor:])
        return "".join(out)

    @staticmethod
    def rewrite(text: str, rewrites: list[tuple[Any, str]]) -> str:
        for pattern, replacement in rewrites:
            text = pattern.sub(replacement, text)
        return text

    def scripts(self, text: str) -> str:
        """Marked super/subscript runs in their Unicode forms, then the marks dropped."""
        text = self.marked.sub(
            lambda m: m.group(0).translate(
                self.superscripts if m.group(0)[0] == _latex._SUP_OPEN else self.subscripts
            ),
            text,
        )
        return self.marks.sub("", text)

    def __call__(self, text: str | None) -> str:
        text = self.marks.sub("", unicodedata.normalize("NFC", text or ""))
        text = self.rewrite(text, self.before) + " "
        text = text.replace("/\\~", "/~")
        text = self.split.sub("\\g<1>\u0001\\\\", text)
        text = self.literals(text).replace("\u0001", "").removesuffix(" ")
        text = self.rewrite(text, self.markup)
        for _ in range(_latex.BRACE_ROUNDS):
            text = self.rewrite(text, self.round)
        text = self.scripts(self.rewrite(text, self.after))
        text = self.zero_width.sub("", text)
        text = self.spaces.sub(" ", text)
        text = self.paragraph.sub("\u2029", text)
        text = self.wrap.sub(" ", text)
        text = self.mark.sub("\n\n", text).strip()
        return unicodedata.normalize("NFC", text)


_MARKS = re.compile(r"\p{M}+")
_NON_WORD = re.compile(r"[^\p{L}\p{N}]+")
_ARXIV_ID = re.compile(_normalize._ARXIV_ID)
_DOI = re.compile(_normalize._DOI)
_OLD_ARCHIVE = re.compile(r"^([A-Za-z-]+)")
_OLD_SUBJECT = re.compile(r"^[A-Za-z-]+\.([A-Za-z]{2})/")
_OLD_NUMBER = re.compile(r"/(\d{7})$")
_WORDS3 = re.compile(r"\p{L}{3,}")
GENERIC = set(_normalize.GENERIC_TITLES)


def title_key(title: str) -> str:
    text = _MARKS.sub("", unicodedata.normalize("NFKD", title)).lower()
    return _NON_WORD.sub(" ", text).strip()


def arxiv_id(raw: str | None) -> str | None:
    if raw is None:
        return None
    m = _ARXIV_ID.search(raw.strip())
    if not m:
        return None
    found = m.group(1)
    if "/" not in found:
        return found
    archive = _OLD_ARCHIVE.search(found).group(1).lower()  # type: ignore[union-attr]
    subject = _OLD_SUBJECT.search(found)
    number = _OLD_NUMBER.search(found).group(1)  # type: ignore[union-attr]
    return f"{archive}{'.' + subject.group(1).upper() if subject else ''}/{number}"


def doi(raw: str | None) -> str | None:
    if raw is None:
        return None
    m = _DOI.search(raw.strip())
    return m.group(1).lower() if m else None


def normalize_record(
    r: dict[str, Any], latex: Latex, prefix: str, hex_chars: int
) -> dict[str, Any]:
    r["title"] = latex(r["title_raw"])
    r["abstract"] = latex(r["abstract_raw"])
    r["arxiv_id"] = arxiv_id(r["arxiv_id_raw"])
    r["doi"] = doi(r["doi"])
    r["authors"] = [latex(a) for a in r["authors"]]
    r["title_key"] = title_key(r["title"])
    id_text = r["title_key"]
    if id_text in GENERIC:
        id_text += "\u0000" + title_key(r["abstract"])
    if r["arxiv_id"] is not None:
        r["paper_id"] = r["arxiv_id"]
    elif r["doi"] is not None:
        r["paper_id"] = "doi:" + r["doi"]
    else:
        r["paper_id"] = prefix + hashlib.sha256(id_text.encode()).hexdigest()[:hex_chars]
    return r


def _words(text: str) -> set[str]:
    return set(_WORDS3.findall(text.lower()))


def resolve_identity(records: list[dict[str, Any]], agreement: float) -> None:
    """Records without an arXiv id join an arXiv paper by DOI, else by title key (in place)."""
    doi_ids: dict[str, set[str]] = defaultdict(set)
    by_title: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        if r["arxiv_id"] is None:
            continue
        if r["doi"] is not None:
            doi_ids[r["doi"]].add(r["arxiv_id"])
        if r["title_key"] not in GENERIC:
            by_title[r["title_key"]].append(r)
    titles: dict[str, tuple[str, str | None, str | None]] = {}
    for key, group in by_title.items():
        if len({r["arxiv_id"] for r in group}) != 1:
            continue
        group.sort(key=lambda r: (r["arxiv_id"], r["source_file"], r["record_index"]))
        ref_doi = next((r["doi"] for r in group if r["doi"] is not None), None)
        ref_abstract = next((r["abstract"] for r in group if r["abstract"] != ""), None)
        titles[key] = (group[0]["arxiv_id"], ref_doi, ref_abstract)
    for r in records:
        if r["arxiv_id"] is not None:
            continue
        ids = doi_ids.get(r["doi"]) if r["doi"] is not None else None
        if ids is not None and len(ids) == 1:
            r["paper_id"] = next(iter(ids))
            continue
        match = titles.get(r["title_key"])
        if match is None:
            continue
        via, ref_doi, ref_abstract = match
        words, ref_words = _words(r["abstract"]), _words(ref_abstract or "")
        overlap = len(words & ref_words) / max(len(words | ref_words), 1)
        agree = (not words or not ref_words or overlap >= agreement) and (
            r["doi"] is None or ref_doi is None or r["doi"] == ref_doi
        )
        if agree:
            r["paper_id"] = via


def merge_duplicates(
    records: list[dict[str, Any]], precedence: tuple[str, ...]
) -> list[dict[str, Any]]:
    """One paper per paper_id; each field from the first record that has it, by precedence."""
    rank = {name: i for i, name in enumerate(precedence)}
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        groups[r["paper_id"]].append(r)

    def order(r: dict[str, Any]) -> tuple[Any, ...]:
        updated = r["updated_at"]
        return (
            rank.get(r["source"], len(precedence)),
            r["source"],
            -len(r["abstract"]),
            (0, -updated.timestamp()) if updated is not None else (1, 0),
            r["source_file"],
            r["record_index"],
        )

    def first(group: list[dict[str, Any]], field: str, keep: Any = None) -> Any:
        for r in group:
            value = r[field]
            if keep(r) if keep else value is not None:
                return value
        return None

    papers = []
    for paper_id in sorted(groups):
        group = sorted(groups[paper_id], key=order)
        with_abstract = [r for r in group if r["abstract"] != ""]
        published = [r["published_at"] for r in group if r["published_at"] is not None]
        papers.append(
            {
                "paper_id": paper_id,
                "arxiv_id": first(group, "arxiv_id"),
                "title": group[0]["title"],
                "title_raw": group[0]["title_raw"] or "",
                "abstract": with_abstract[0]["abstract"] if with_abstract else "",
                "abstract_raw": (with_abstract[0]["abstract_raw"] or "") if with_abstract else "",
                "title_key": group[0]["title_key"],
                "authors": first(group, "authors", lambda r: len(r["authors"]) > 0) or [],
                "published_at": min(published) if published else None,
                "listing_dates": sorted({r["listing_date"] for r in group if r["listing_date"]}),
                "sources": sorted({r["source"] for r in group}),
                "doi": first(group, "doi"),
                "categories": first(group, "categories", lambda r: len(r["categories"]) > 0) or [],
                "comments": first(group, "comments"),
                "license": first(group, "license"),
            }
        )
    return papers


# --- links -------------------------------------------------------------------------------------


class LinkMiner:
    """Links of one paper: mined, split, cleaned, canonicalised, classified, deduplicated."""

    def __init__(self, params: Any) -> None:
        pattern = _links.url_pattern(params.schemeless_hosts)
        self.url = re.compile(pattern)
        self.whole_url = re.compile(rf"^{pattern}$")
        self.glued_scheme = re.compile(r"(.)((?i:https?)://)")
        self.trailing = _links._TRAILING
        colours = "|".join(_links._COLOURS)
        texts = "|".join(_links._GLUED_LINK_TEXTS)
        self.colour = re.compile(rf"[A-Za-z0-9]((?:{colours}))$")
        self.glued = [
            re.compile(rf"[A-Za-z0-9]((?:{colours})?(?:{texts}))$"),
            re.compile(rf"/((?:{'|'.join(_links._GLUED_AFTER_SLASH)}))$"),
            re.compile(r"/?([A-Za-z]*['’]s)$"),
            re.compile(_links._GLUED_AFTER_FILE),
        ]
        self.link_nouns = re.compile(_links._LINK_NOUNS)
        self.determiner = re.compile(rf"[A-Za-z0-9/]({_links._GLUED_DETERMINERS})$")
        self.scheme = re.compile(r"^(?i:https?)://")
        self.www = re.compile(r"^(?i:www\.)")
        self.segment = re.compile(r"/([^/]+)$")
        self.parts = re.compile(_links._URL_PARTS)
        self.aliases = dict(params.host_aliases)
        self.rules = [
            (re.compile(rf"^(?:{r.host})$"), re.compile(rf"^(?:{r.path})"), r.kind, r.name)
            for r in params.rules
        ]
        self.valid_host = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)+$")
        self.self_hosted_gitlab = re.compile(r"^(?:[a-z0-9-]+\.)*gitlab\.[a-z]")
        self.bitbucket_workspace = re.compile(r"^/[^/]+/workspace(/|$)")
        self.two_segments = re.compile(r"^(/[^/]+/[^/]+)")
        self.hf_tail = re.compile(r"/(tree|blob|resolve|viewer|discussions|commits?)/.*$")
        self.arxiv_path = re.compile(r"^/(?:abs|pdf)/(.+?)(?:v\d+)?(?:\.pdf)?$")
        self.path_of = re.compile(r"^https://[^/]+(/[^?#]*)?")

    def _clean(self, url: str) -> str:
        for _ in range(_links._CLEANING_PASSES):
            url = url.rstrip(self.trailing)
            for close, open_ in ((")", "("), ("]", "["), ("}", "{")):
                if url.endswith(close) and url.count(close) > url.count(open_):
                    url = url[:-1]
        return url

    @staticmethod
    def _doubled(part: str | None) -> int | None:
        if part is None:
            return None
        n = len(part)
        half = n // 2
        first, second = part[:half], part[half:]
        if (
            n % 2 == 0
            and half >= 4
            and first.lower() == second.lower()
            and (half >= _links._DOUBLED_MIN_HALF or first != second)
        ):
            return half
        return None

    @staticmethod
    def _group(pattern: Any, text: str, group: int = 1) -> str | None:
        m = pattern.search(text)
        return m.group(group) if m else None

    def _trim(self, url: str, after: str) -> str:
        colour = self._group(self.colour, url)
        glued = None
        for pattern in self.glued:
            glued = self._group(pattern, url)
            if glued is not None:
                break
        if glued is None and self.link_nouns.search(after):
            glued = self._group(self.determiner, url)
        if glued is None and colour is not None:
            uncoloured = url[: len(url) - len(colour)]
            if after.startswith(uncoloured) and not after.startswith(url):
                glued = colour
        if glued is not None:
            url = url[: len(url) - len(glued)]
        rest = self.www.sub("", self.scheme.sub("", url, count=1), count=1)
        cut = self._doubled(rest)
        if cut is None:
            cut = self._doubled(self._group(self.segment, url))
        return url[: len(url) - cut] if cut else url

    def _canonical(self, url: str) -> tuple[str, str]:
        url = _WS.sub("", url)
        m = self.parts.search(url)
        host = (m.group(2) or "").lower() if m else ""
        host = re.sub(r"\.$", "", host, count=1)
        host = re.sub(r":(80|443)$", "", host, count=1)
        host = re.sub(r"^www\.", "", host, count=1)
        host = self.aliases.get(host, host)
        path = (m.group(3) or "") if m else ""
        query = (m.group(4) or "") if m else ""
        two = self._group(self.two_segments, path)
        if host == "github.com":
            new = re.sub(r"\.git$", "", two, count=1) if two is not None else path
        elif host == "gitlab.com" or self.self_hosted_gitlab.search(host):
            new = re.sub(r"\.git$", "", re.sub(r"/-/.*$", "", path, count=1), count=1)
        elif host == "bitbucket.org":
            new = (
                path
                if self.bitbucket_workspace.search(path)
                else (two if two is not None else path)
            )
        elif host == "huggingface.co":
            new = self.hf_tail.sub("", path, count=1)
        elif host == "arxiv.org" and self.arxiv_path.search(path):
            new = "/abs/" + self._group(self.arxiv_path, path)  # type: ignore[operator]
        else:
            new = path
        new = re.sub(r"/+$", "", new, count=1)
        if host in ("github.com", "gitlab.com", "bitbucket.org", "arxiv.org"):
            query = ""
        return "https://" + host + new + query, host

    def _classify(self, host: str, url: str) -> tuple[str, str]:
        path = self._group(self.path_of, url) or ""
        for host_re, path_re, kind, name in self.rules:
            if host_re.search(host) and path_re.search(path):
                return kind, name
        return "other", "default"

    def __call__(self, paper: dict[str, Any]) -> list[dict[str, Any]]:
        found = []
        for origin in ("abstract", "title"):
            text = paper[origin] or ""
            for m in self.url.finditer(text):
                piece_start = m.start()
                matched = self.glued_scheme.sub("\\g<1>\n\\g<2>", m.group())
                matched = matched.replace("{", "\n{").replace("](", "]\n(")
                for piece in matched.split("\n"):
                    start = piece_start
                    piece_start += len(piece)
                    after = text[start + len(piece) : start + 2 * len(piece) + 16]
                    url = piece
                    if piece[:1] in ("{", "("):
                        start, url = start + 1, piece[1:]
                    url = self._trim(self._clean(url), after)
                    url = self._clean(url)
                    if not self.whole_url.search(url):
                        continue
                    canonical, host = self._canonical(url)
                    if not self.valid_host.search(host):
                        continue
                    kind, rule = self._classify(host, canonical)
                    found.append(
                        {
                            "paper_id": paper["paper_id"],
                            "url": canonical,
                            "url_raw": url,
                            "kind": kind,
                            "host": host,
                            "origin": origin,
                            "rule": rule,
                            "start": start,
                            "end": start + len(url),
                            "curated": False,
                        }
                    )
        seen: set[str] = set()
        links = []
        rank = {"abstract": 0, "title": 1}
        for link in sorted(found, key=lambda x: (rank[x["origin"]], x["start"])):
            if link["url"] not in seen:
                seen.add(link["url"])
                links.append(link)
        return links


# --- tags --------------------------------------------------------------------------------------


class Tagger:
    """Vocabulary tags of one paper by whole-word n-gram lookup in a padded token string."""

    def __init__(self, vocabulary: dict[str, Any], params: Any) -> None:
        rows: dict[tuple[str, bool], tuple[str, str, bool]] = {}
        for topic in vocabulary.get("topics", []):
            tag, generic = str(topic["id"]), bool(topic.get("generic", False))
            for term in topic.get("terms", []) or []:
                for form in _tags._variants(str(term).lower()):
                    rows.setdefault((form, False), (tag, str(term), generic))
            for acronym in topic.get("acronyms", []) or []:
                acr = " ".join(_tags._token_split(str(acronym)))
                for form in (acr, acr + "s"):
                    rows.setdefault((form, True), (tag, str(acronym), generic))
        # the pipeline joins a hit on its key alone, so a key listed cased and uncased counts twice
        self.terms: dict[str, list[tuple[str, str]]] = defaultdict(list)
        self.keys = {False: set(), True: set()}  # type: dict[bool, set[str]]
        for (form, cased), (tag, term, _) in sorted(rows.items()):
            self.terms[form].append((tag, term))
            self.keys[cased].add(form)
        # word prefixes of the keys: a lookup stops as soon as the words so far start no key
        self.prefixes = {
            cased: {" ".join(k.split()[:n]) for k in keys for n in range(1, k.count(" ") + 2)}
            for cased, keys in self.keys.items()
        }
        self.generic = {tag for tag, _, generic in rows.values() if generic}
        topic_ids = {str(t["id"]) for t in vocabulary.get("topics", []) or []}
        self.categories = {
            str(c): str(t)
            for c, t in (vocabulary.get("arxiv_categories") or {}).items()
            if str(t) in topic_ids
        }
        self.boundary = re.compile(_tags._BOUNDARY)
        self.non_word = re.compile(_tags._NON_WORD_OR_MARK)
        self.params = params
        self.strict = max(params.min_score, params.title_weight)

    def _tokens(self, text: str, *, lower: bool) -> list[str]:
        if lower:
            text = text.lower()
        text = self.non_word.sub(" ", self.boundary.sub(f" {_tags._MARK} ", text))
        return text.split()

    def _hits(self, text: str) -> list[str]:
        hits = []
        for cased in (False, True):
            tokens = self._tokens(text, lower=not cased)
            keys, prefixes = self.keys[cased], self.prefixes[cased]
            for i, token in enumerate(tokens):
                key = token
                j = i + 1
                while key in prefixes:
                    if key in keys:
                        hits.append(key)
                    if j == len(tokens):
                        break
                    key = key + " " + tokens[j]
                    j += 1
        return hits

    def __call__(self, paper: dict[str, Any]) -> list[dict[str, Any]]:
        weighted: list[tuple[str, str, float, bool]] = []
        for field, weight in (
            ("title", self.params.title_weight),
            ("abstract", self.params.abstract_weight),
        ):
            for key in self._hits(paper[field] or ""):
                for tag, term in self.terms[key]:
                    weighted.append((tag, term, float(weight), False))
        for category in sorted(set(paper["categories"])):
            tag = self.categories.get(category)
            if tag is not None:
                weighted.append(
                    (tag, f"arXiv {category}", float(self.params.category_weight), True)
                )
        scores: dict[str, float] = defaultdict(float)
        counts: dict[tuple[str, str, bool], int] = defaultdict(int)
        for tag, term, w, from_category in weighted:
            scores[tag] += w
            counts[(tag, term, from_category)] += 1
        tags = []
        for tag in sorted(scores):
            threshold = self.strict if tag in self.generic else self.params.min_score
            if scores[tag] < threshold:
                continue
            evidence = min(((fc, -n, term) for (t, term, fc), n in counts.items() if t == tag))[2]
            tags.append(
                {
                    "paper_id": paper["paper_id"],
                    "tag": tag,
                    "score": scores[tag],
                    "evidence": evidence,
                }
            )
        return tags


# --- the run -----------------------------------------------------------------------------------


_STRINGS = pa.list_(pa.string())
PAPERS_SCHEMA = pa.schema(
    [
        ("paper_id", pa.string()), ("arxiv_id", pa.string()), ("title", pa.string()),
        ("title_raw", pa.string()), ("abstract", pa.string()), ("abstract_raw", pa.string()),
        ("title_key", pa.string()), ("authors", _STRINGS),
        ("published_at", pa.timestamp("us", "UTC")), ("listing_dates", _STRINGS),
        ("sources", _STRINGS), ("doi", pa.string()), ("categories", _STRINGS),
        ("comments", pa.string()), ("license", pa.string()),
        ("links", pa.list_(pa.struct([("url", pa.string()), ("kind", pa.string()),
                                      ("origin", pa.string())]))),
        ("tags", _STRINGS),
    ]
)  # fmt: skip


def run(raw_dir: Path, out_dir: Path, params_path: Path) -> tuple[dict[str, float], dict[str, int]]:
    """Build raw_dir into out_dir; (seconds per stage, counts)."""
    timings: dict[str, float] = {}
    t = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal t
        now = time.perf_counter()
        timings[name] = now - t
        t = now

    params = load_params(params_path)
    vocabulary = load_vocabulary(resolve_vocabulary(params, params_path))
    records, rejects = read_folder(raw_dir, params)
    lap("parse")
    latex = Latex()
    norm = params.normalize
    kept = []
    for r in records:
        normalize_record(r, latex, norm.title_id_prefix, norm.title_id_hex_chars)
        if r["title_key"] == "":
            reason = (
                f"title is empty after normalisation (title_raw: {(r['title_raw'] or 'null')[:80]})"
            )
            rejects.append(
                _reject(r["source_file"], r["record_index"], "normalize", reason, r["raw"])
            )
        else:
            kept.append(r)
    resolve_identity(kept, norm.abstract_agreement)
    papers = merge_duplicates(kept, tuple(norm.source_precedence))
    lap("normalize")
    miner = LinkMiner(params.links)
    links = []
    for paper in papers:
        mined = miner(paper)
        paper["links"] = [
            {"url": x["url"], "kind": x["kind"], "origin": x["origin"]} for x in mined
        ]
        links += mined
    lap("links")
    tagger = Tagger(vocabulary, params.tags)
    tags = []
    for paper in papers:
        found = tagger(paper)
        paper["tags"] = [x["tag"] for x in sorted(found, key=lambda x: (-x["score"], x["tag"]))]
        tags += found
    lap("tags")
    out_dir.mkdir(parents=True, exist_ok=True)
    provenance = [
        {k: r[k] for k in ("paper_id", "source_file", "source", "record_index", "line")}
        for r in sorted(kept, key=lambda r: (r["source_file"], r["record_index"]))
    ]
    tables = {
        "papers": papers,
        "links": links,
        "tags": tags,
        "provenance": provenance,
        "rejected": rejects,
    }
    for name, rows in tables.items():
        pd.DataFrame(rows).to_parquet(
            out_dir / f"{name}.parquet",
            compression="zstd",
            index=False,
            schema=PAPERS_SCHEMA if name == "papers" else None,
        )
    lap("write")
    counts = {name: len(rows) for name, rows in tables.items()}
    counts["raw_records"] = len(records) + sum(
        1 for r in rejects if r["stage"] in ("read", "parse")
    )
    return timings, counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("raw_dir", type=Path)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--params", type=Path, default=ROOT / "params.yaml")
    args = parser.parse_args(argv)
    timings, counts = run(args.raw_dir, args.out_dir, args.params)
    print(json.dumps({"seconds": timings, "counts": counts}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
