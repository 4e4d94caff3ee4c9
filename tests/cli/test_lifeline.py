"""Tests for papers.cli.lifeline: the temporary Prefect server started early, tied to the run."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import pytest

from papers.cli import lifeline


def test_nothing_is_started_when_an_api_url_is_set() -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:9/api"}):
        assert lifeline.start_temporary_server() is None
    with lifeline.serving(None) as url:
        assert url is None


def test_the_server_serves_the_block_then_stops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.settings import PREFECT_API_URL

    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect"))
    server = lifeline.start_temporary_server()
    assert server is not None
    process = server.process
    assert process is not None
    with server.serving() as url:
        assert url == server.api_url
        assert PREFECT_API_URL.value() == url  # the run's Prefect client talks to it
        with urllib.request.urlopen(f"{url}/health", timeout=5) as answer:
            assert answer.status == 200
    assert server.process is None
    assert process.poll() is not None  # stopped, not left running
    with pytest.raises((urllib.error.URLError, OSError)):
        urllib.request.urlopen(f"{url}/health", timeout=2)


def test_a_server_that_cannot_start_is_a_readable_error(monkeypatch: pytest.MonkeyPatch) -> None:
    server = lifeline.start_temporary_server()
    assert server is not None
    server.stop()  # as if it had died: every relaunch is stopped too
    monkeypatch.setattr(lifeline.TemporaryServer, "_launch", lambda self: None)
    with pytest.raises(RuntimeError, match="did not start within 1 s"):
        server.wait_ready(timeout=1)
