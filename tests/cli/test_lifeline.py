"""papers/cli/lifeline.py: the run's own temporary Prefect server."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from papers.cli import lifeline

linux_only = pytest.mark.skipif(
    not Path("/proc/self/stat").exists(), reason="needs /proc and prctl (Linux)"
)


def alive(pid: int) -> bool:
    """Running, not an exited (zombie) process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return text[text.rindex(")") + 2] != "Z"


@linux_only
def test_launched_server_answers_and_is_what_prefect_uses() -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(restore_defaults={PREFECT_API_URL}):  # no test harness's server
        launched_server_is_used()


def launched_server_is_used() -> None:
    from prefect.settings import PREFECT_API_URL, PREFECT_FLOWS_HEARTBEAT_FREQUENCY

    server = lifeline.launch()
    assert server is not None
    ran: list[str] = []

    def meanwhile() -> None:
        time.sleep(0.3)
        ran.append(threading.current_thread().name)
        raise RuntimeError("the run meets this again and reports it")

    try:
        with lifeline.serving(server, meanwhile) as url:
            # the warm-up ran in a thread of its own while the server booted, ended before the
            # run goes on, and its error did not stop the run
            assert ran == ["warm-up"]
            assert url == server.api_url
            assert PREFECT_API_URL.value() == url
            # nothing reads heartbeats on a server that dies with the run
            assert PREFECT_FLOWS_HEARTBEAT_FREQUENCY.value() is None
            with urllib.request.urlopen(f"{url}/health", timeout=10) as answer:
                assert answer.status == 200
        assert not PREFECT_API_URL.value()
    finally:
        server.stop()
    assert server.process is None


def test_the_server_runs_without_what_a_one_run_server_has_no_use_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED", raising=False)
    monkeypatch.delenv("PREFECT_SERVER_REGISTER_BLOCKS_ON_START", raising=False)
    monkeypatch.delenv("PREFECT_SERVER_MEMOIZE_BLOCK_AUTO_REGISTRATION", raising=False)
    monkeypatch.setenv("PREFECT_SERVER_SERVICES_EVENT_PERSISTER_ENABLED", "true")  # a user's
    env = lifeline._server_env()
    assert env["PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED"] == "false"
    assert env["PREFECT_SERVER_REGISTER_BLOCKS_ON_START"] == "false"
    assert env["PREFECT_SERVER_MEMOIZE_BLOCK_AUTO_REGISTRATION"] == "false"
    assert env["PREFECT_SERVER_SERVICES_EVENT_PERSISTER_ENABLED"] == "true"
    assert "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_ENABLED" not in env  # the stage table's


def test_a_configured_api_url_wins() -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:9/api"}):
        assert lifeline.launch() is None


@linux_only
def test_an_api_url_found_late_stops_the_launched_server_unused() -> None:
    from prefect.settings import (
        PREFECT_API_URL,
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
        temporary_settings,
    )

    server = lifeline.TemporaryServer()
    assert server.process is not None
    pid = server.process.pid
    ran: list[bool] = []
    with (
        temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:9/api"}),
        lifeline.serving(server, lambda: ran.append(True)) as url,
    ):
        assert url == "http://127.0.0.1:9/api"
        assert ran == []  # no wait for a server: nothing to do meanwhile
        assert PREFECT_FLOWS_HEARTBEAT_FREQUENCY.value() is not None  # the user's server's
        assert server.process is None
        assert not alive(pid)


@linux_only
def test_the_server_dies_when_its_parent_is_sigkilled(tmp_path: Path) -> None:
    code = (
        "import time; from papers.cli import lifeline; s = lifeline.launch(); "
        "print(s.process.pid, flush=True); time.sleep(300)"
    )
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    with subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env, cwd=tmp_path
    ) as parent:
        try:
            assert parent.stdout is not None
            child = int(parent.stdout.readline())
            assert alive(child)
            parent.send_signal(signal.SIGKILL)
            parent.wait(timeout=30)
            deadline = time.monotonic() + 30
            while alive(child) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert not alive(child)
        finally:
            with contextlib.suppress(ProcessLookupError):
                parent.kill()
