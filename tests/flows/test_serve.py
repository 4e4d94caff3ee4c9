"""`papers serve` against a real Prefect server: the deployment, its schedule, a triggered run.

A temporary `prefect server start` (own PREFECT_HOME, free port), a local HTTP server standing in
for the HF API, `papers serve` as a subprocess; the run builds into a temporary folder. Then
prefect.yaml is deployed to a process work pool on the same server. Slow (about a minute).
"""

from __future__ import annotations

import datetime as dt
import http.server
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from papers.config import load_params
from tests.conftest import read_table

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
HF_DAY = (REPO / "tests" / "fixtures" / "fetch" / "hf-2025-01-21.json").read_bytes()
SEED = REPO / "data" / "raw" / "hf_papers_page" / "daily-papers.txt"
DEPLOYMENT = "daily/curated-papers"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop a process started in its own session, and everything it started."""
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def wait_for(what: str, ready: Any, timeout: float, proc: subprocess.Popen[bytes]) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{what}: process exited with {proc.returncode}")
        value = ready()
        if value:
            return value
        time.sleep(0.5)
    pytest.fail(f"{what}: not ready after {timeout} s")


class HFDaily(http.server.BaseHTTPRequestHandler):
    requests: list[str] = []

    def do_GET(self) -> None:
        HFDaily.requests.append(self.path)
        ok = self.path == "/api/daily_papers?date=2025-01-21"
        body = HF_DAY if ok else b'{"error": "no listing"}'
        self.send_response(200 if ok else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def hf_server() -> Iterator[str]:
    HFDaily.requests = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), HFDaily)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def prefect_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A real `prefect server start` on a free port with its own home; its env for clients."""
    home = tmp_path / "prefect-home"
    home.mkdir()
    port = free_port()
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_RUNNER_POLL_FREQUENCY": "1",
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "DO_NOT_TRACK": "1",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    log = (tmp_path / "server.log").open("wb")
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "prefect"), "server", "start", "--host", "127.0.0.1",
         "--port", str(port), "--no-ui"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:

        def healthy() -> bool:
            try:
                with urllib.request.urlopen(f"{env['PREFECT_API_URL']}/health", timeout=2) as r:
                    return bool(r.status == 200)
            except OSError:
                return False

        wait_for("prefect server", healthy, 120, server)
        yield env
    finally:
        stop(server)
        log.close()


def read_deployment(env: dict[str, str]) -> Any:
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with (
        temporary_settings({PREFECT_API_URL: env["PREFECT_API_URL"]}),
        get_client(sync_client=True) as client,
    ):
        try:
            return client.read_deployment_by_name(DEPLOYMENT)
        except ObjectNotFound:
            return None


def trigger_and_wait(
    env: dict[str, str], scheduled: dt.datetime | None = None, **parameters: Any
) -> Any:
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: env["PREFECT_API_URL"]}):
        return run_deployment(
            DEPLOYMENT, scheduled_time=scheduled, parameters=parameters or None, timeout=300,
            poll_interval=2, as_subflow=False,
        )  # fmt: skip


def test_serve_registers_the_schedule_and_runs_the_daily_flow(
    tmp_path: Path, prefect_env: dict[str, str], hf_server: str
) -> None:
    raw = tmp_path / "raw"
    (raw / "hf_papers_page").mkdir(parents=True)
    shutil.copy(SEED, raw / "hf_papers_page" / SEED.name)
    out, reports = tmp_path / "out", tmp_path / "reports"
    work = tmp_path / "cwd"  # the served process runs from elsewhere than the repo
    work.mkdir()
    serve_log = (tmp_path / "serve.log").open("wb")
    serve = subprocess.Popen(
        [str(Path(sys.executable).parent / "papers"), "serve", "--raw", str(raw), "--out",
         str(out), "--reports", str(reports), "--cache-dir", str(tmp_path / "cache"),
         "--params", str(REPO / "params.yaml"), "--hf-base-url", hf_server],
        cwd=work, env=prefect_env, stdout=serve_log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        deployment = wait_for("papers serve", lambda: read_deployment(prefect_env), 120, serve)
        params = load_params(REPO / "params.yaml")
        [schedule] = deployment.schedules
        assert schedule.schedule.cron == params.schedule.cron == "30 6 * * *"
        assert schedule.schedule.timezone == params.schedule.timezone == "UTC"
        assert schedule.active
        assert deployment.parameters["hf_base_url"] == hf_server
        assert deployment.parameters["out_dir"] == str(out)
        assert deployment.parameters["days_back"] == 1

        # a run scheduled for 2025-01-22 06:30 UTC fetches the listing of the day before
        run = trigger_and_wait(prefect_env, dt.datetime(2025, 1, 22, 6, 30, tzinfo=dt.UTC))
        assert run.state.is_completed(), (run.state, (tmp_path / "serve.log").read_text())
        assert HFDaily.requests == ["/api/daily_papers?date=2025-01-21"]
        assert (raw / "hf_daily_papers" / "2025-01-21.json").read_bytes() == HF_DAY
        papers = read_table(out, "papers")
        assert papers.height == 58  # the 57 seed papers and the fetched one
        assert "2501.08325" in papers["paper_id"].to_list()
        assert (reports / "validation.json").is_file()
    finally:
        stop(serve)
        serve_log.close()

    # prefect.yaml declares the same deployment for a process work pool
    def prefect(*args: str) -> str:
        proc = subprocess.run(
            [str(Path(sys.executable).parent / "prefect"), "--no-prompt", *args],
            cwd=REPO, env=prefect_env, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout

    prefect("work-pool", "create", "papers", "--type", "process")
    prefect("deploy", "--all")
    deployed = read_deployment(prefect_env)
    assert deployed.work_pool_name == "papers"
    [schedule] = deployed.schedules
    assert (schedule.schedule.cron, schedule.schedule.timezone) == ("30 6 * * *", "UTC")
    assert deployed.parameters["raw_dir"] == "data/raw"

    # a process worker runs it from the repo folder (the pull step); outputs go to tmp_path
    worker_log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(
        [str(Path(sys.executable).parent / "prefect"), "worker", "start", "--pool", "papers"],
        cwd=work, env=prefect_env, stdout=worker_log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        pooled = tmp_path / "out-pool"
        run = trigger_and_wait(
            prefect_env, raw_dir=str(raw), out_dir=str(pooled), reports_dir=str(reports),
            cache_dir=None, hf_base_url=hf_server, day="2025-01-21",
        )  # fmt: skip
        assert run.state.is_completed(), (run.state, (tmp_path / "worker.log").read_text())
        assert read_table(pooled, "papers").height == 58
    finally:
        stop(worker)
        worker_log.close()
