"""The fetch-listings flow and `papers fetch hf`, against a local HTTP server on 127.0.0.1."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from papers.cli import app

BODY = b'[{"paper": {"id": "2501.00001", "title": "A Paper", "summary": "Text."}}]'


class Handler(BaseHTTPRequestHandler):
    requests: list[str] = []

    def do_GET(self) -> None:
        Handler.requests.append(self.path)
        if self.path.startswith("/api/daily_papers?date=2025-01-0"):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            self.wfile.write(BODY)
        else:
            body = b'{"error": "Sorry, we can\'t find the page you are looking for."}'
            self.send_response(404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # quiet test output
        return


@pytest.fixture
def server() -> Iterator[str]:
    Handler.requests = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_cli_fetch_hf_range(server: str, tmp_path: Path) -> None:
    runner = CliRunner()
    args = [
        "fetch",
        "hf",
        "--since",
        "2025-01-01",
        "--until",
        "2025-01-02",
        "--raw",
        str(tmp_path),
        "--base-url",
        server,
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.stderr
    for day in ("2025-01-01", "2025-01-02"):
        assert (tmp_path / "hf_daily_papers" / f"{day}.json").read_bytes() == BODY
    assert result.stdout.count("new") == 2
    again = runner.invoke(app, args)
    assert again.stdout.count("unchanged") == 2


def test_cli_fetch_hf_404_is_one_line(server: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["fetch", "hf", "--date", "2024-12-31", "--raw", str(tmp_path), "--base-url", server]
    )
    assert result.exit_code == 1
    assert result.stderr.startswith("error: HTTP 404")
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "hf_daily_papers").exists() or not any(
        (tmp_path / "hf_daily_papers").iterdir()
    )


def test_fetch_listings_flow(prefect_harness: None, server: str, tmp_path: Path) -> None:
    from flows.fetch import fetch_listings

    saved = fetch_listings(raw_dir=str(tmp_path), day="2025-01-03", hf_base_url=server)
    assert [s["status"] for s in saved] == ["new"]
    assert (tmp_path / "hf_daily_papers" / "2025-01-03.json").read_bytes() == BODY
    assert Handler.requests == ["/api/daily_papers?date=2025-01-03"]
