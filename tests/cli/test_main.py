"""papers/cli/__init__.py: the console script's entry (main) and its quick exit."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# A module-level object whose finalizer speaks when the interpreter tears the module down.
TEARDOWN = """
import sys
class Loud:
    def __del__(self):
        sys.stderr.write("torn down\\n")
loud = Loud()
"""


def run_python(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *argv], check=False, capture_output=True, text=True, timeout=120
    )


def run_code(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run_python("-c", textwrap.dedent(code), *args)


def test_main_runs_the_app_with_its_status_and_output() -> None:
    # its errors: tests/cli/test_commands.py::test_module_entry_point_prints_no_traceback
    ok = run_python("-m", "papers", "--help")
    assert ok.returncode == 0, ok.stderr
    assert "Usage: papers" in ok.stdout


def test_quick_exit_runs_the_exit_hooks_flushes_and_skips_the_teardown(tmp_path: Path) -> None:
    marker = tmp_path / "hook"
    quick = run_code(
        TEARDOWN
        + """
import atexit, logging
atexit.register(lambda: open(sys.argv[1], "w").write("ran"))
logging.basicConfig(stream=sys.stderr)
logging.getLogger("x").warning("logged")
print("buffered", end="")
from papers.cli import quick_exit
quick_exit(3)
""",
        str(marker),
    )
    assert quick.returncode == 3
    assert marker.read_text() == "ran"
    assert quick.stdout == "buffered"
    assert "logged" in quick.stderr
    assert "torn down" not in quick.stderr
    # the control: an ordinary exit does tear the module down (so the check above can fail)
    ordinary = run_code(TEARDOWN + "sys.exit(3)")
    assert ordinary.returncode == 3
    assert "torn down" in ordinary.stderr


@pytest.mark.parametrize(
    ("code", "status", "stderr"),
    [("None", 0, ""), ("0", 0, ""), ("256 + 7", 7, ""), ("'it broke'", 1, "it broke\n")],
)
def test_quick_exit_gives_the_status_sys_exit_gives(code: str, status: int, stderr: str) -> None:
    for ending in (f"from papers.cli import quick_exit; quick_exit({code})", f"sys.exit({code})"):
        done = run_code(f"import sys\n{ending}")
        assert (done.returncode, done.stderr) == (status, stderr), ending


def test_quick_exit_waits_for_a_running_thread_as_an_ordinary_exit_does(tmp_path: Path) -> None:
    marker = tmp_path / "thread"
    done = run_code(
        """
import sys, threading, time
def work():
    time.sleep(0.5)
    open(sys.argv[1], "w").write("finished")
threading.Thread(target=work).start()
from papers.cli import quick_exit
quick_exit(2)
""",
        str(marker),
    )
    assert done.returncode == 2
    assert marker.read_text() == "finished"
