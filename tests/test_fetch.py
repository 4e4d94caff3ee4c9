"""Fetching against a scripted local HTTP server: saving, retries, backoff, rate limits, paging."""

from __future__ import annotations

import hashlib
import http.server
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from papers import fetch
from papers.errors import PapersError
from papers.fetch import (
    Fetcher,
    FetchPolicy,
    fetch_arxiv_atom,
    fetch_hf_daily,
    fetch_hf_range,
    harvest_arxiv_oai,
    save_response,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "fetch"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
DAY = date(2025, 1, 21)


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


# --- the scripted server ----------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # real wait before answering (to trip the client's timeout)
    drop: bool = False  # close the connection without answering
    short_by: int = 0  # announce the full Content-Length, send this many bytes fewer


@dataclass(frozen=True)
class Hit:
    path: str
    query: dict[str, str]
    at: float  # the server's clock (the tests' fake clock) when the request arrived
    host: str


class ScriptedServer:
    """Per path (and optional query subset), replies in order; the last one repeats."""

    def __init__(self) -> None:
        self.scripts: list[tuple[str, dict[str, str], list[Reply]]] = []
        self.hits: list[Hit] = []
        self.clock: Callable[[], float] = time.monotonic
        self.lock = threading.Lock()
        self.url = ""

    def script(self, path: str, *replies: Reply, query: Mapping[str, str] | None = None) -> None:
        self.scripts.append((path, dict(query or {}), list(replies)))

    def next_reply(self, path: str, query: dict[str, str]) -> Reply:
        with self.lock:
            matches = [
                (want, replies)
                for p, want, replies in self.scripts
                if p == path and want.items() <= query.items()
            ]
            if not matches:
                return Reply(404, f"no script for {path}".encode())
            _, replies = max(matches, key=lambda m: len(m[0]))
            return replies.pop(0) if len(replies) > 1 else replies[0]

    def paths(self) -> list[str]:
        return [h.path for h in self.hits]


def _handler(server: ScriptedServer) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real servers do

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = dict(parse_qsl(parts.query, keep_blank_values=True))
            with server.lock:
                server.hits.append(
                    Hit(parts.path, query, server.clock(), self.headers.get("Host", ""))
                )
            reply = server.next_reply(parts.path, query)
            try:
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                if reply.drop:
                    self.close_connection = True
                    return
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                if reply.short_by:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                self.wfile.write(reply.body[: len(reply.body) - reply.short_by])
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client gave up (timeout test)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    scripted = ScriptedServer()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(scripted))
    httpd.daemon_threads = True
    scripted.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield scripted
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)
    port = httpd.server_address[1]
    assert all(h.host == f"127.0.0.1:{port}" for h in scripted.hits)


@pytest.fixture(autouse=True)
def no_real_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any connection to a host other than loopback fails the test (before any DNS lookup)."""
    real = socket.create_connection

    def guarded(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        assert address[0] in LOOPBACK, f"test tried to reach {address[0]}"
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", guarded)
    for name in (
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ):
        monkeypatch.delenv(name, raising=False)


class FakeTime:
    """A clock that only moves when slept on; records every sleep."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


@pytest.fixture
def make_fetcher(server: ScriptedServer, fake: FakeTime) -> Iterator[Callable[..., Fetcher]]:
    server.clock = fake.clock
    made: list[Fetcher] = []

    def make(**policy: Any) -> Fetcher:
        fetcher = Fetcher(FetchPolicy(**policy), sleep=fake.sleep, clock=fake.clock)
        made.append(fetcher)
        return fetcher

    yield make
    for fetcher in made:
        fetcher.close()


def files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


# --- saving -----------------------------------------------------------------------------------


def test_day_saved_byte_exact_then_unchanged_then_kept_different(
    server: ScriptedServer, make_fetcher: Callable[..., Fetcher], fake: FakeTime, tmp_path: Path
) -> None:
    first = fixture("hf-2025-01-21.json")
    later = first.replace(b'"upvotes": 28', b'"upvotes": 41')  # the same day, fetched later
    assert later != first
    server.script("/api/daily_papers", Reply(body=first), Reply(body=first), Reply(body=later))
    fetcher = make_fetcher()

    saved = fetch_hf_daily(fetcher, server.url, DAY, tmp_path)
    path = tmp_path / "hf_daily_papers" / "2025-01-21.json"
    assert (saved.path, saved.status, saved.bytes) == (path, "new", len(first))
    assert path.read_bytes() == first
    assert saved.sha256 == hashlib.sha256(first).hexdigest()

    again = fetch_hf_daily(fetcher, server.url, DAY, tmp_path)
    assert (again.path, again.status, again.sha256) == (path, "unchanged", saved.sha256)

    changed = fetch_hf_daily(fetcher, server.url, DAY, tmp_path)
    sibling = path.with_name(f"2025-01-21.{changed.sha256[:8]}.json")
    assert (changed.path, changed.status) == (sibling, "kept-different")
    assert path.read_bytes() == first  # the earlier copy is untouched
    assert sibling.read_bytes() == later
    assert files(tmp_path) == sorted(
        ["hf_daily_papers/2025-01-21.json", f"hf_daily_papers/{sibling.name}"]
    )

    assert [h.query for h in server.hits] == [{"date": "2025-01-21"}] * 3
    assert fake.sleeps == []  # no retries, no rate limit for HF by default


def test_save_response_without_hard_links(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_links(src: Any, dst: Any) -> None:
        raise PermissionError("hard links not supported here")

    monkeypatch.setattr(os, "link", no_links)
    path = tmp_path / "x" / "a.json"
    assert save_response(b"[1]", path).status == "new"
    assert save_response(b"[1]", path).status == "unchanged"
    other = save_response(b"[2]", path)
    assert other.status == "kept-different"
    assert (path.read_bytes(), other.path.read_bytes()) == (b"[1]", b"[2]")
    assert files(tmp_path) == sorted(["x/a.json", f"x/{other.path.name}"])  # no temp files left


def test_range_fetches_each_day_in_order(
    server: ScriptedServer, make_fetcher: Callable[..., Fetcher], tmp_path: Path
) -> None:
    bodies = {
        "2024-09-03": fixture("hf-2024-09-03.json"),
        "2024-09-04": b"[]",  # a day without papers
        "2024-09-05": fixture("hf-2025-07-07.json"),
    }
    for day, body in bodies.items():
        server.script("/api/daily_papers", Reply(body=body), query={"date": day})

    saved = fetch_hf_range(make_fetcher(), server.url, date(2024, 9, 3), date(2024, 9, 5), tmp_path)

    assert [h.query["date"] for h in server.hits] == list(bodies)
    assert [s.path.name for s in saved] == [f"{d}.json" for d in bodies]
    assert [s.path.read_bytes() for s in saved] == list(bodies.values())
    assert {s.status for s in saved} == {"new"}
    with pytest.raises(PapersError, match="after until"):
        fetch_hf_range(make_fetcher(), server.url, date(2024, 9, 5), date(2024, 9, 3), tmp_path)


# --- retries ----------------------------------------------------------------------------------


def test_429_honours_retry_after(
    server: ScriptedServer, make_fetcher: Callable[..., Fetcher], fake: FakeTime, tmp_path: Path
) -> None:
    body = fixture("hf-2025-01-21.json")
    server.script(
        "/api/daily_papers",
        Reply(429, b"rate limited", {"Retry-After": "7"}),
        Reply(429, b"rate limited", {"Retry-After": "1"}),
        Reply(body=body),
    )
    saved = fetch_hf_daily(make_fetcher(), server.url, DAY, tmp_path)
    assert saved.path.read_bytes() == body
    assert fake.sleeps == [7.0, 1.0]  # the server's word, not the 1 s / 2 s exponential schedule
    assert len(server.hits) == 3


def test_retry_after_is_capped(
    server: ScriptedServer, make_fetcher: Callable[..., Fetcher], fake: FakeTime, tmp_path: Path
) -> None:
    server.script(
        "/api/daily_papers", Reply(503, headers={"Retry-After": "3600"}), Reply(body=b"[]")
    )
    fetch_hf_daily(make_fetcher(max_backoff_s=60.0), server.url, DAY, tmp_path)
    assert fake.sleeps == [60.0]


def test_500s_then_success_backs_off_exponentially(
    server: ScriptedServer, make_fetcher: Callable[..., Fetcher], fake: FakeTime, tmp_path: Path
) -> None:
    body = fixture("hf-2025-07-07.json")
    server.script("/api/daily_papers", Reply(500, b"oops"), Reply(502), Reply(body=body))
    saved = fetch_hf_daily(make_fetcher(backoff_s=1.5), server.url, DAY, tmp_path)
    assert saved.path.read_bytes() == body
    assert fake.sleeps == [1.5, 3.0]


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(Reply(body=fixture("hf-2025-01-21.json")[:1500]), id="truncated-json"),
        pytest.param(Reply(body=b"<html>Bad gateway</html>"), id="not-json"),
        pytest.param(Reply(body=fixture("hf-2025-01-21.json"), short_by=100), id="short-body"),
        pytest.param(Reply(drop=True), id="dropped-connection"),
    ],
)
def test_bad_body_or_connection_is_retried(
    bad: Reply,
    server: ScriptedServer,
    make_fetcher: Callable[..., Fetcher],
    fake: FakeTime,
    tmp_path: Path,
) -> None:
    body = fixture("hf-2025-01-21.json")
    server.script("/api/daily_papers", bad, Reply(body=body))
    saved = fetch_hf_daily(make_fetcher(), server.url, DAY, tmp_path)
    assert saved.path.read_bytes() == body
    assert fake.sleeps == [1.0]
    assert len(server.hits) == 2


def test_timeout_is_retried(
    server: ScriptedServer, make_fetcher: Callable[..., Fetcher], fake: FakeTime, tmp_path: Path
) -> None:
    server.script("/api/daily_papers", Reply(body=b"[]", delay_s=0.5), Reply(body=b"[]"))
    saved = fetch_hf_daily(make_fetcher(timeout_s=0.1), server.url, DAY, tmp_path)
    assert saved.path.read_bytes() == b"[]"
    assert fake.sleeps == [1.0]


def test_404_is_a_readable_error_and_writes_nothing(
    server: ScriptedServer, make_fetcher: Callable[..., Fetcher], fake: FakeTime, tmp_path: Path
) -> None:
    server.script("/api/daily_papers", Reply(404, fixture("hf-error-404.json")))
    with pytest.raises(PapersError) as caught:
        fetch_hf_daily(make_fetcher(), server.url, DAY, tmp_path)
    assert str(caught.value) == (
        f"HTTP 404 for {server.url}/api/daily_papers?date=2025-01-21: "
        """{"error":"Sorry, we can't find the page you are looking for."}"""
    )
    assert len(server.hits) == 1  # not retried
    assert fake.sleeps == []
    assert files(tmp_path) == []


def test_error_body_is_cut_to_one_line_of_200_chars(
    server: ScriptedServer, make_fetcher: Callable[..., Fetcher]
) -> None:
    server.script("/x", Reply(400, b"line one\n  line two\n" + b"y" * 500))
    with pytest.raises(PapersError) as caught:
        make_fetcher().get(f"{server.url}/x")
    message = str(caught.value)
    assert "\n" not in message
    assert message == f"HTTP 400 for {server.url}/x: line one line two " + "y" * 182


def test_exhausted_retries(
    server: ScriptedServer, make_fetcher: Callable[..., Fetcher], fake: FakeTime, tmp_path: Path
) -> None:
    server.script("/api/daily_papers", Reply(503, b"down for maintenance"))
    with pytest.raises(PapersError) as caught:
        fetch_hf_daily(make_fetcher(max_backoff_s=5.0), server.url, DAY, tmp_path)
    assert str(caught.value) == (
        f"gave up on {server.url}/api/daily_papers?date=2025-01-21 after 5 attempts: HTTP 503"
    )
    assert len(server.hits) == 5
    assert fake.sleeps == [1.0, 2.0, 4.0, 5.0]
    assert files(tmp_path) == []


def test_exhausted_retries_on_bad_bodies_say_why(
    server: ScriptedServer, make_fetcher: Callable[..., Fetcher], tmp_path: Path
) -> None:
    server.script("/api/daily_papers", Reply(body=b'[{"paper": {"id": "2501.0'))
    with pytest.raises(PapersError, match=r"after 2 attempts: incomplete body \(not valid JSON"):
        fetch_hf_daily(make_fetcher(retries=1), server.url, DAY, tmp_path)
    assert files(tmp_path) == []


def test_min_interval_applies_per_host(
    server: ScriptedServer, make_fetcher: Callable[..., Fetcher], fake: FakeTime
) -> None:
    server.script("/x", Reply(body=b"ok"))
    fetcher = make_fetcher(min_interval_s=0.5)
    for _ in range(3):
        fetcher.get(f"{server.url}/x")
    assert fake.sleeps == [0.5, 0.5]
    assert [h.at - server.hits[0].at for h in server.hits] == [0.0, 0.5, 1.0]


def test_policy_is_checked() -> None:
    with pytest.raises(PapersError, match="retries"):
        FetchPolicy(retries=-1)


# --- arXiv ------------------------------------------------------------------------------------


def gaps(server: ScriptedServer) -> list[float]:
    return [b.at - a.at for a, b in zip(server.hits, server.hits[1:], strict=False)]


def test_atom_pages_until_total_results_three_seconds_apart(
    server: ScriptedServer, make_fetcher: Callable[..., Fetcher], fake: FakeTime, tmp_path: Path
) -> None:
    pages = {start: fixture(f"atom-page-{start}.xml") for start in (0, 100, 200)}
    for start, body in pages.items():
        server.script("/api/query", Reply(body=body), query={"start": str(start)})
    query = "all:attention OR all:mechanism"

    saved = fetch_arxiv_atom(make_fetcher(min_interval_s=0.0), server.url, tmp_path, query=query)

    assert [h.query for h in server.hits] == [
        {"search_query": query, "start": str(s), "max_results": "100"} for s in pages
    ]
    assert gaps(server) == [3.0, 3.0]  # arXiv's 3 s although the policy asked for none
    assert fake.sleeps == [3.0, 3.0]
    slug = "all-attention-or-all-mechanism"
    assert [s.path.name for s in saved] == [f"{slug}-0.xml", f"{slug}-100.xml", f"{slug}-200.xml"]
    assert [s.path.read_bytes() for s in saved] == list(pages.values())
    assert all(s.path.parent == tmp_path / "arxiv_atom" for s in saved)


def test_atom_max_results_and_a_larger_policy_interval(
    server: ScriptedServer, make_fetcher: Callable[..., Fetcher], fake: FakeTime, tmp_path: Path
) -> None:
    for start in (0, 100):
        server.script(
            "/api/query", Reply(body=fixture(f"atom-page-{start}.xml")), query={"start": str(start)}
        )

    saved = fetch_arxiv_atom(
        make_fetcher(min_interval_s=5.0), server.url, tmp_path, query="cat:cs.IR", max_results=150
    )

    assert [(h.query["start"], h.query["max_results"]) for h in server.hits] == [
        ("0", "100"),
        ("100", "50"),
    ]
    assert gaps(server) == [5.0]
    assert [s.path.name for s in saved] == ["cat-cs-ir-0.xml", "cat-cs-ir-100.xml"]


def test_atom_stops_at_a_page_without_entries(
    server: ScriptedServer, make_fetcher: Callable[..., Fetcher], tmp_path: Path
) -> None:
    server.script("/api/query", Reply(body=fixture("atom-page-0.xml")), query={"start": "0"})
    server.script("/api/query", Reply(body=fixture("atom-empty.xml")), query={"start": "100"})
    saved = fetch_arxiv_atom(make_fetcher(), server.url, tmp_path, query="all:attention")
    assert [h.query["start"] for h in server.hits] == ["0", "100"]
    assert len(saved) == 2  # the empty page is kept too: it is what arXiv said


def test_atom_by_ids_legacy_layout(
    server: ScriptedServer, make_fetcher: Callable[..., Fetcher], tmp_path: Path
) -> None:
    body = fixture("atom-legacy-ids.xml")
    server.script("/api/query", Reply(body=body))
    ids = ["2510.14968", "2510.14827"]

    saved = fetch_arxiv_atom(make_fetcher(), server.url, tmp_path, ids=ids)

    assert [h.query for h in server.hits] == [
        {"id_list": "2510.14968,2510.14827", "start": "0", "max_results": "100"}
    ]
    sha8 = hashlib.sha256(b"2510.14968,2510.14827").hexdigest()[:8]
    assert [s.path.name for s in saved] == [f"ids-{sha8}-0.xml"]
    assert saved[0].path.read_bytes() == body


def test_atom_truncated_feed_is_retried(
    server: ScriptedServer, make_fetcher: Callable[..., Fetcher], fake: FakeTime, tmp_path: Path
) -> None:
    body = fixture("atom-legacy-ids.xml")
    server.script("/api/query", Reply(body=body[:2000]), Reply(body=body))
    saved = fetch_arxiv_atom(make_fetcher(), server.url, tmp_path, ids=["2510.14968", "2510.14827"])
    assert saved[0].path.read_bytes() == body
    # the 1 s backoff, then the rest of arXiv's 3 s interval
    assert fake.sleeps == [1.0, 2.0]
    assert gaps(server) == [3.0]


def test_atom_body_declaring_entities_is_refused_and_retried(
    server: ScriptedServer, make_fetcher: Callable[..., Fetcher], fake: FakeTime, tmp_path: Path
) -> None:
    body = fixture("atom-legacy-ids.xml")
    # a billion-laughs prologue before the real feed: refused like a truncated body, then retried
    bomb = b'<?xml version="1.0"?><!DOCTYPE feed [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]>'
    hostile = bomb + body.split(b"?>", 1)[1] if body.startswith(b"<?xml") else bomb + body
    server.script("/api/query", Reply(body=hostile), Reply(body=body))
    saved = fetch_arxiv_atom(make_fetcher(), server.url, tmp_path, ids=["2510.14968", "2510.14827"])
    assert saved[0].path.read_bytes() == body
    assert fake.sleeps == [1.0, 2.0]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "give arXiv ids or a search query"),
        ({"ids": ["1"], "query": "all:x"}, "not both"),
        ({"query": "all:x", "page_size": 0}, "page_size"),
    ],
)
def test_atom_arguments_are_checked(
    kwargs: dict[str, Any], message: str, make_fetcher: Callable[..., Fetcher], tmp_path: Path
) -> None:
    with pytest.raises(PapersError, match=message):
        fetch_arxiv_atom(make_fetcher(), "http://127.0.0.1:9", tmp_path, **kwargs)


def test_oai_follows_resumption_tokens_until_the_empty_one(
    server: ScriptedServer, make_fetcher: Callable[..., Fetcher], fake: FakeTime, tmp_path: Path
) -> None:
    pages = [fixture(f"oai-page-{n}.xml") for n in (1, 2, 3)]
    server.script("/oai", Reply(body=pages[0]), query={"metadataPrefix": "arXiv"})
    server.script("/oai", Reply(body=pages[1]), query={"resumptionToken": "1114880|1001"})
    server.script("/oai", Reply(body=pages[2]), query={"resumptionToken": "1114880|2001"})

    saved = harvest_arxiv_oai(
        make_fetcher(),
        server.url,
        tmp_path,
        set_spec="cs",
        from_date=date(2024, 1, 1),
        until_date=date(2024, 1, 31),
    )

    assert [h.query for h in server.hits] == [
        {
            "verb": "ListRecords",
            "metadataPrefix": "arXiv",
            "set": "cs",
            "from": "2024-01-01",
            "until": "2024-01-31",
        },
        {"verb": "ListRecords", "resumptionToken": "1114880|1001"},
        {"verb": "ListRecords", "resumptionToken": "1114880|2001"},
    ]
    assert gaps(server) == [3.0, 3.0]
    assert fake.sleeps == [3.0, 3.0]
    assert [s.path.name for s in saved] == [f"cs-2024-01-01-{n:04d}.xml" for n in (1, 2, 3)]
    assert [s.path.read_bytes() for s in saved] == pages
    assert all(s.path.parent == tmp_path / "arxiv_oai" for s in saved)


def test_oai_without_set_or_dates(
    server: ScriptedServer, make_fetcher: Callable[..., Fetcher], tmp_path: Path
) -> None:
    server.script("/oai", Reply(body=fixture("oai-page-3.xml")))
    saved = harvest_arxiv_oai(make_fetcher(), server.url, tmp_path)
    assert server.hits[0].query == {"verb": "ListRecords", "metadataPrefix": "arXiv"}
    assert [s.path.name for s in saved] == ["all-earliest-0001.xml"]


def test_oai_no_records_saves_nothing(
    server: ScriptedServer, make_fetcher: Callable[..., Fetcher], tmp_path: Path
) -> None:
    server.script("/oai", Reply(body=fixture("oai-no-records.xml")))
    assert harvest_arxiv_oai(make_fetcher(), server.url, tmp_path, from_date=date(2030, 1, 1)) == []
    assert files(tmp_path) == []


def test_oai_error_is_a_papers_error(
    server: ScriptedServer, make_fetcher: Callable[..., Fetcher], tmp_path: Path
) -> None:
    expired = fixture("oai-no-records.xml").replace(b"noRecordsMatch", b"badResumptionToken")
    server.script("/oai", Reply(body=fixture("oai-page-1.xml")), query={"metadataPrefix": "arXiv"})
    server.script("/oai", Reply(body=expired), query={"resumptionToken": "1114880|1001"})
    with pytest.raises(
        PapersError,
        match=r"^OAI-PMH error badResumptionToken from http://127\.0\.0\.1:\d+/oai: The combination",
    ):
        harvest_arxiv_oai(make_fetcher(), server.url, tmp_path, set_spec="cs")
    assert files(tmp_path) == ["arxiv_oai/cs-earliest-0001.xml"]


def test_oai_repeated_token_stops(
    server: ScriptedServer, make_fetcher: Callable[..., Fetcher], tmp_path: Path
) -> None:
    server.script("/oai", Reply(body=fixture("oai-page-1.xml")))
    with pytest.raises(PapersError, match=r"repeated resumption token '1114880\|1001'"):
        harvest_arxiv_oai(make_fetcher(), server.url, tmp_path)
    assert len(server.hits) == 2


def test_arxiv_hosts_get_three_seconds_by_name(fake: FakeTime) -> None:
    """Without touching the network: the floor comes from the host name alone."""
    fetcher = Fetcher(FetchPolicy(min_interval_s=1.0), sleep=fake.sleep, clock=fake.clock)
    try:
        assert fetcher._interval("export.arxiv.org", "export.arxiv.org", 0.0) == 3.0
        assert fetcher._interval("oaipmh.arxiv.org", "oaipmh.arxiv.org", 0.0) == 3.0
        assert fetcher._interval("huggingface.co", "huggingface.co", 0.0) == 1.0
    finally:
        fetcher.close()
    assert fetch.ARXIV_API_BASE_URL.startswith("https://")


# --- file names from the network stay in data/raw ------------------------------------------------

HOSTILE_NAMES = [
    "../../etc/x.json",
    "/etc/passwd",
    "..",
    ".hidden.xml",
    "a\x00b.json",
    "x/../../y.xml",
    "C:\\Windows\\evil.xml",
    "q" * 5000 + ".xml",
    "\u202eslmx.exe",
    "",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_raw_path_never_leaves_its_folder(tmp_path: Path, name: str) -> None:
    raw = tmp_path / "raw"
    path = fetch.raw_path(raw, "arxiv_atom", name)
    assert path.parent == raw / "arxiv_atom"
    assert not path.name.startswith(".")
    assert len(path.name) <= 120
    for bad in ("\x00", "/", "\\", ".."):
        assert bad not in path.name
    saved = save_response(b"body", path)
    assert saved.path.resolve().is_relative_to(raw.resolve())
    assert files(tmp_path) == [f"raw/arxiv_atom/{saved.path.name}"]


def test_raw_path_keeps_safe_names_and_keeps_hostile_ones_apart(tmp_path: Path) -> None:
    assert fetch.raw_path(tmp_path, "hf", "2025-01-21.json") == tmp_path / "hf" / "2025-01-21.json"
    names = {fetch.raw_path(tmp_path, "hf", n).name for n in ("../a.json", "..a.json", "/a.json")}
    assert len(names) == 3  # a hash of the original keeps distinct inputs distinct


def test_raw_path_refuses_a_symlinked_folder_pointing_out(tmp_path: Path) -> None:
    raw, outside = tmp_path / "raw", tmp_path / "outside"
    raw.mkdir()
    outside.mkdir()
    (raw / "arxiv_oai").symlink_to(outside)
    with pytest.raises(PapersError, match="outside"):
        fetch.raw_path(raw, "arxiv_oai", "page.xml")


def test_hostile_query_set_and_date_become_safe_file_names(
    server: ScriptedServer, make_fetcher: Callable[..., Fetcher], tmp_path: Path
) -> None:
    server.script("/api/query", Reply(body=fixture("atom-empty.xml")))
    server.script("/oai", Reply(body=fixture("oai-page-3.xml")))
    raw = tmp_path / "raw"
    fetcher = make_fetcher()
    saved = fetch_arxiv_atom(fetcher, server.url, raw, query="../../../etc/passwd\x00" + "x" * 500)
    saved += fetch_arxiv_atom(fetcher, server.url, raw, ids=["../../etc/x", "/abs/1"])
    saved += harvest_arxiv_oai(fetcher, server.url, raw, set_spec="../../etc/\x00")
    for item in saved:
        assert item.path.resolve().parent in {
            (raw / "arxiv_atom").resolve(),
            (raw / "arxiv_oai").resolve(),
        }
        assert len(item.path.name) <= 120
    assert all(p.startswith("raw/") for p in files(tmp_path))


def test_a_body_over_max_body_bytes_is_refused_and_not_saved(
    server: ScriptedServer, make_fetcher: Callable[..., Fetcher], tmp_path: Path
) -> None:
    import gzip

    # a gzip bomb as Content-Encoding: 64 MiB of zeros in ~64 KB on the wire
    bomb = gzip.compress(b"\0" * (64 << 20), compresslevel=9)
    server.script("/api/daily_papers", Reply(body=bomb, headers={"Content-Encoding": "gzip"}))
    with pytest.raises(PapersError, match=r"over 1,048,576 bytes \(FetchPolicy.max_body_bytes\)"):
        fetch_hf_daily(make_fetcher(max_body_bytes=1 << 20), server.url, DAY, tmp_path)
    assert files(tmp_path) == []
    assert len(server.hits) == 1  # refused at once, not retried
