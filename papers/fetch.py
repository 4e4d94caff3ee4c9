"""Fetch raw listings (HF daily papers, arXiv Atom API, arXiv OAI-PMH) and save them as received."""

from __future__ import annotations

import email.utils
import hashlib
import json
import logging
import math
import os
import re
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Literal, Self

import httpx
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as defused_fromstring

from papers.errors import PapersError

# The real services. Only users reach them (the CLI passes them in); tests pass a local server.
HF_BASE_URL = "https://huggingface.co"
ARXIV_API_BASE_URL = "https://export.arxiv.org"
ARXIV_OAI_BASE_URL = "https://oaipmh.arxiv.org"

# arXiv's terms of use ask for at most one request every three seconds, for the API and OAI-PMH
# alike. The arXiv functions pass this as a floor to Fetcher.get, and Fetcher applies it to any
# *.arxiv.org host by itself, so a policy with a smaller min_interval_s can never break the rule.
ARXIV_MIN_INTERVAL_S = 3.0

HF_DIR = "hf_daily_papers"
ATOM_DIR = "arxiv_atom"
OAI_DIR = "arxiv_oai"

_ATOM = "{http://www.w3.org/2005/Atom}"
_OPENSEARCH = "{http://a9.com/-/spec/opensearch/1.1/}"
_OAI = "{http://www.openarchives.org/OAI/2.0/}"
_SLUG_MAX = 40
_SNIPPET = 200

log = logging.getLogger(__name__)

SaveStatus = Literal["new", "unchanged", "kept-different"]


@dataclass(frozen=True)
class FetchPolicy:
    """How patiently and how politely to fetch."""

    retries: int = 4  # attempts after the first: 429, 5xx, timeouts, connection errors, bad bodies
    backoff_s: float = (
        1.0  # backoff_s * 2**attempt, or Retry-After when given; capped at max_backoff_s
    )
    max_backoff_s: float = 60.0
    timeout_s: float = 30.0
    min_interval_s: float = 0.0  # between requests to the same host; arXiv hosts get at least 3 s
    user_agent: str = "papers-pipeline/0.1 (+https://example.invalid)"
    # A body past this is refused (a gzip bomb: httpx inflates Content-Encoding while reading).
    max_body_bytes: int = 256 << 20

    def __post_init__(self) -> None:
        if self.retries < 0:
            raise PapersError(f"fetch retries must be 0 or more, not {self.retries}")
        for name in ("backoff_s", "max_backoff_s", "min_interval_s"):
            if getattr(self, name) < 0:
                raise PapersError(f"fetch {name} must be 0 or more, not {getattr(self, name)}")
        if self.timeout_s <= 0:
            raise PapersError(f"fetch timeout_s must be positive, not {self.timeout_s}")
        if self.max_body_bytes <= 0:
            raise PapersError(f"fetch max_body_bytes must be positive, not {self.max_body_bytes}")


@dataclass(frozen=True)
class Saved:
    """Where a response body ended up.

    status "kept-different": an earlier, different copy exists at the plain name and was NOT
    overwritten; this body was saved beside it as <name>.<sha8>.<ext> (that is `path`).
    """

    path: Path
    status: SaveStatus
    sha256: str
    bytes: int


class IncompleteBodyError(Exception):
    """A 2xx body that fails its check (cut off, or not the format asked for): worth a retry."""


class Fetcher:
    """One HTTP client with per-host rate limiting and retries; not thread-safe.

    `sleep` and `clock` are injectable so tests can run the backoff and rate-limit schedule
    without waiting; `transport` lets a caller swap the network layer.
    """

    def __init__(
        self,
        policy: FetchPolicy,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.policy = policy
        self._sleep = sleep
        self._clock = clock
        self._client = httpx.Client(
            headers={"User-Agent": policy.user_agent},
            timeout=httpx.Timeout(policy.timeout_s),
            # arXiv answers http:// with a redirect to https://
            follow_redirects=True,
            transport=transport,
        )
        self._last: dict[str, float] = {}  # host -> clock() when its last request finished
        self._floors: dict[str, float] = {}  # host -> the largest min interval ever asked for it

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def get(
        self,
        url: str,
        params: Mapping[str, str] | None = None,
        *,
        check: Callable[[bytes], None] | None = None,
        min_interval_s: float = 0.0,
    ) -> bytes:
        """GET url and return the body, retrying what may pass and failing on what will not.

        Retried: 429, 5xx, timeouts, connection errors, and 2xx bodies that `check` rejects by
        raising IncompleteBodyError. Other statuses raise PapersError at once ("HTTP 404 for <url>:
        <body start>"); so does running out of attempts ("gave up on <url> after 5 attempts:
        HTTP 503"). `min_interval_s` raises the host's spacing for this and later requests.
        """
        try:
            request = self._client.build_request("GET", url, params=params)
        except httpx.InvalidURL as exc:
            raise PapersError(f"cannot fetch {url!r}: {exc}") from exc
        shown = str(request.url)
        host = request.url.netloc.decode("ascii")
        interval = self._interval(host, request.url.host, min_interval_s)
        attempts = self.policy.retries + 1
        for attempt in range(attempts):
            self._wait_turn(host, interval)
            retry_after: float | None = None
            try:
                response = self._client.send(request, stream=True)
                try:
                    body = self._body(response, shown)
                finally:
                    response.close()
            except (httpx.UnsupportedProtocol, httpx.TooManyRedirects) as exc:
                raise PapersError(f"cannot fetch {shown}: {exc}") from exc
            except httpx.TimeoutException as exc:
                problem = f"timed out after {self.policy.timeout_s:g} s ({type(exc).__name__})"
            except httpx.RequestError as exc:
                # connection refused or reset, a body cut short of its Content-Length, bad gzip
                problem = f"{type(exc).__name__}: {exc}"
            else:
                status = response.status_code
                if response.is_success:
                    if check is None:
                        return body
                    try:
                        check(body)
                    except IncompleteBodyError as exc:
                        problem = f"incomplete body ({exc})"
                    else:
                        return body
                elif status == httpx.codes.TOO_MANY_REQUESTS or status >= 500:
                    problem = f"HTTP {status}"
                    retry_after = _retry_after_s(response.headers.get("Retry-After"))
                else:
                    raise PapersError(f"HTTP {status} for {shown}: {_snippet(body)}")
            finally:
                self._last[host] = self._clock()
            if attempt == attempts - 1:
                noun = "attempt" if attempts == 1 else "attempts"
                raise PapersError(f"gave up on {shown} after {attempts} {noun}: {problem}")
            delay = retry_after if retry_after is not None else self.policy.backoff_s * 2**attempt
            delay = min(delay, self.policy.max_backoff_s)
            log.warning(
                "%s: %s; retry %d of %d in %.1f s", shown, problem, attempt + 1, attempts - 1, delay
            )
            self._sleep(delay)
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    def _body(self, response: httpx.Response, shown: str) -> bytes:
        """The (decoded) body, read in chunks and refused past policy.max_body_bytes."""
        limit = self.policy.max_body_bytes
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > limit:
                msg = (
                    f"refusing the response from {shown}: its body is over {limit:,} bytes "
                    "(FetchPolicy.max_body_bytes)"
                )
                raise PapersError(msg)
            chunks.append(chunk)
        return b"".join(chunks)

    def _interval(self, host: str, hostname: str, min_interval_s: float) -> float:
        floor = max(self._floors.get(host, 0.0), min_interval_s)
        if hostname == "arxiv.org" or hostname.endswith(".arxiv.org"):
            floor = max(floor, ARXIV_MIN_INTERVAL_S)
        self._floors[host] = floor
        return max(self.policy.min_interval_s, floor)

    def _wait_turn(self, host: str, interval: float) -> None:
        last = self._last.get(host)
        if last is None or interval <= 0:
            return
        wait = interval - (self._clock() - last)
        if wait > 0:
            self._sleep(wait)


def _retry_after_s(value: str | None) -> float | None:
    """Retry-After as seconds: a number, or an HTTP date; None when absent or unreadable."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _snippet(body: bytes) -> str:
    text = " ".join(body.decode("utf-8", errors="replace").split())
    return text[:_SNIPPET] if text else "(empty body)"


def _sha8(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]


def _slug(text: str) -> str:
    """A short, file-name-safe slug; a hash suffix keeps cut-off or empty slugs distinct."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    if slug and len(slug) <= _SLUG_MAX:
        return slug
    return "-".join(p for p in (slug[:_SLUG_MAX].rstrip("-"), _sha8(text)) if p)


# A saved file's name: letters, digits, dot, dash and underscore, not starting with a dot (a
# dotfile is not an input), at most _NAME_MAX characters. Folder names are our constants.
_SAFE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")
_NAME_MAX = 120


def raw_path(raw_dir: Path, folder: str, name: str) -> Path:
    """raw_dir/folder/name for a file name built from network or user input, made safe.

    Anything outside [A-Za-z0-9._-] (a slash, "..", NUL, a drive or an absolute path), a leading
    dot and an over-long name are replaced by a slug plus a hash of the original, so the file
    always lands directly in raw_dir/folder, whatever the id, date, set or query said.
    """
    if not (_SAFE_NAME.fullmatch(name) and len(name) <= _NAME_MAX and ".." not in name):
        stem, dot, suffix = name.rpartition(".")
        ext = f".{suffix}" if dot and re.fullmatch(r"[a-z0-9]{1,8}", suffix) else ""
        base = stem if ext else name
        slug = re.sub(r"[^A-Za-z0-9_-]+", "-", base).strip("-")[:_SLUG_MAX].strip("-")
        name = f"{slug or 'file'}-{_sha8(name)}{ext}"
    target = raw_dir / folder / name
    # belt and braces: the name above cannot climb, and a symlinked folder is not followed out
    resolved, root = target.resolve(), raw_dir.resolve()
    if not resolved.is_relative_to(root) or resolved.parent != (root / folder).resolve():
        raise PapersError(f"refusing to save {name!r} outside {raw_dir / folder}")
    return target


def save_response(body: bytes, path: Path) -> Saved:
    """Save body at path atomically, never overwriting a different existing file.

    Same bytes already there: "unchanged". Different bytes there: the old file stays and the
    body goes beside it as <stem>.<sha8><suffix> ("kept-different"), so a source that rewrites
    history is noticed instead of silently erasing what an earlier run saw.
    """
    digest = hashlib.sha256(body).hexdigest()
    path.parent.mkdir(parents=True, exist_ok=True)
    target: Path = path
    status: SaveStatus = "new"
    if path.exists():
        if _sha256_file(path) == digest:
            return Saved(path, "unchanged", digest, len(body))
        target = path.with_name(f"{path.stem}.{digest[:8]}{path.suffix}")
        status = "kept-different"
        if target.exists():
            if _sha256_file(target) == digest:
                return Saved(target, status, digest, len(body))
            raise PapersError(f"refusing to overwrite {target}: it holds different bytes")
    if not _write_new(body, target):
        # another writer created the file between our check and our write: judge again
        return save_response(body, path)
    return Saved(target, status, digest, len(body))


def _sha256_file(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _write_new(body: bytes, target: Path) -> bool:
    """Write body to a fsynced temp file, then publish it as target; False if target appeared.

    The temp file is a dotfile beside target (same file system, and io.list_inputs skips
    dotfiles, so a crash never leaves a half-file that looks like an input). Publishing uses a
    hard link, which is atomic and fails if target exists, so two overlapping runs cannot
    overwrite each other; where hard links are unsupported, check-then-os.replace is used.
    """
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(body)
            handle.flush()
            os.fchmod(handle.fileno(), 0o644)  # mkstemp makes 0600; raw data is shared
            os.fsync(handle.fileno())
        try:
            os.link(tmp, target)
        except FileExistsError:
            return False
        except OSError:
            if target.exists():
                return False
            os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    dir_fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return True


def _check_json(body: bytes) -> None:
    try:
        json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise IncompleteBodyError(f"not valid JSON: {exc}") from exc


def _parse_xml(body: bytes, root_tag: str, what: str) -> ET.Element:
    # defusedxml, as the readers parse the saved file: a body declaring entities is refused here
    # already, not saved to fail later.
    try:
        root = defused_fromstring(body)
    except ET.ParseError as exc:
        raise IncompleteBodyError(f"not well-formed XML: {exc}") from exc
    except DefusedXmlException as exc:
        raise IncompleteBodyError(f"XML refused ({type(exc).__name__}): {exc}") from exc
    if root.tag != root_tag:
        raise IncompleteBodyError(f"expected {what}, got <{root.tag}>")
    return root


def _check_atom(body: bytes) -> None:
    _parse_xml(body, f"{_ATOM}feed", "an Atom feed")


def _check_oai(body: bytes) -> None:
    _parse_xml(body, f"{_OAI}OAI-PMH", "an OAI-PMH response")


def fetch_hf_daily(fetcher: Fetcher, base_url: str, day: date, raw_dir: Path) -> Saved:
    """GET {base_url}/api/daily_papers?date=YYYY-MM-DD into raw_dir/hf_daily_papers/YYYY-MM-DD.json.

    A body that is not JSON (cut off, or a proxy's HTML page) is retried like a 503.
    """
    body = fetcher.get(
        f"{base_url.rstrip('/')}/api/daily_papers",
        {"date": day.isoformat()},
        check=_check_json,
    )
    return save_response(body, raw_path(raw_dir, HF_DIR, f"{day.isoformat()}.json"))


def fetch_hf_range(
    fetcher: Fetcher, base_url: str, since: date, until: date, raw_dir: Path
) -> list[Saved]:
    """Every day from since to until, both included, in date order."""
    if since > until:
        raise PapersError(f"since ({since}) is after until ({until})")
    days = (since + timedelta(days=n) for n in range((until - since).days + 1))
    return [fetch_hf_daily(fetcher, base_url, day, raw_dir) for day in days]


def fetch_arxiv_atom(
    fetcher: Fetcher,
    base_url: str,
    raw_dir: Path,
    *,
    ids: Sequence[str] = (),
    query: str | None = None,
    page_size: int = 100,
    max_results: int | None = None,
) -> list[Saved]:
    """Page through {base_url}/api/query by id_list or search_query, one file per page.

    Pages of page_size run until the feed's opensearch:totalResults (or max_results) is
    reached or a page has no <entry> (arXiv sometimes answers an empty page with
    totalResults 0 mid-way; stopping there is safer than looping). Files are
    raw_dir/arxiv_atom/<name>-<start>.xml, <name> being a slug of the query or "ids-<sha8>".
    Requests are at least ARXIV_MIN_INTERVAL_S apart whatever the policy says.
    """
    if ids and query:
        raise PapersError("give arXiv ids or a search query, not both")
    if page_size < 1:
        raise PapersError(f"page_size must be at least 1, not {page_size}")
    selector: dict[str, str]
    if ids:
        joined = ",".join(ids)
        selector, name = {"id_list": joined}, f"ids-{_sha8(joined)}"
    elif query:
        selector, name = {"search_query": query}, _slug(query)
    else:
        raise PapersError("give arXiv ids or a search query")
    url = f"{base_url.rstrip('/')}/api/query"
    saved: list[Saved] = []
    limit = max_results
    start = 0
    while limit is None or start < limit:
        # only a caller's max_results shortens a page: arXiv's total can grow between pages
        size = page_size if max_results is None else min(page_size, max_results - start)
        page_params = {**selector, "start": str(start), "max_results": str(size)}
        body = fetcher.get(url, page_params, check=_check_atom, min_interval_s=ARXIV_MIN_INTERVAL_S)
        saved.append(save_response(body, raw_path(raw_dir, ATOM_DIR, f"{name}-{start}.xml")))
        root = _parse_xml(body, f"{_ATOM}feed", "an Atom feed")
        if root.find(f"{_ATOM}entry") is None:
            break
        total = _int_or_none(root.findtext(f"{_OPENSEARCH}totalResults"))
        if total is not None:
            limit = total if max_results is None else min(total, max_results)
        start += size
    return saved


def _int_or_none(text: str | None) -> int | None:
    try:
        return int(text.strip()) if text is not None else None
    except ValueError:
        return None


def harvest_arxiv_oai(
    fetcher: Fetcher,
    base_url: str,
    raw_dir: Path,
    *,
    set_spec: str | None = None,
    from_date: date | None = None,
    until_date: date | None = None,
) -> list[Saved]:
    """ListRecords (metadataPrefix=arXiv) from {base_url}/oai, following resumption tokens.

    Files are raw_dir/arxiv_oai/<set or all>-<from or earliest>-<page:04d>.xml, pages from 1.
    OAI-PMH reports errors inside a 200 body: noRecordsMatch means nothing to harvest (nothing
    is saved, [] is returned); any other error code is a PapersError. Requests are at least
    ARXIV_MIN_INTERVAL_S apart whatever the policy says.
    """
    url = f"{base_url.rstrip('/')}/oai"
    params = {"verb": "ListRecords", "metadataPrefix": "arXiv"}
    if set_spec:
        params["set"] = set_spec
    if from_date:
        params["from"] = from_date.isoformat()
    if until_date:
        params["until"] = until_date.isoformat()
    prefix = f"{_slug(set_spec) if set_spec else 'all'}-{from_date or 'earliest'}"
    saved: list[Saved] = []
    seen: set[str] = set()
    while True:
        body = fetcher.get(url, params, check=_check_oai, min_interval_s=ARXIV_MIN_INTERVAL_S)
        root = _parse_xml(body, f"{_OAI}OAI-PMH", "an OAI-PMH response")
        error = root.find(f"{_OAI}error")
        if error is not None:
            code = error.get("code", "unknown")
            if code == "noRecordsMatch" and not saved:
                return saved
            message = " ".join((error.text or "").split())
            raise PapersError(f"OAI-PMH error {code} from {url}: {message}")
        page = len(saved) + 1
        saved.append(save_response(body, raw_path(raw_dir, OAI_DIR, f"{prefix}-{page:04d}.xml")))
        token = (root.findtext(f"{_OAI}ListRecords/{_OAI}resumptionToken") or "").strip()
        if not token:
            return saved
        if token in seen:
            # a server stuck on one token would otherwise be harvested forever
            raise PapersError(f"OAI-PMH server at {url} repeated resumption token {token!r}")
        seen.add(token)
        # the protocol forbids other arguments next to a resumptionToken
        params = {"verb": "ListRecords", "resumptionToken": token}
