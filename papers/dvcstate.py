"""DVC's own state after a killed `dvc` command: what `papers recover` repairs besides the folder.

DVC writes two files in place (open for writing, then dump), not by temp file and rename, so a
`dvc repro` killed inside either write leaves it cut short, and every later `dvc repro` refuses
to run until someone mends it:

- `dvc.lock` (the outputs' hashes, in git): DVC's own loader says whether it is still readable.
  An unreadable one is kept aside in `.dvc/tmp` and put back as the last commit has it (removed
  when git has none), so the next `dvc repro` runs or commits what changed since.
- `.dvc/tmp/rwlock` (which stage outputs running commands read and write): an unreadable one
  ("Unable to read RWLock-file ... JSON structure is corrupted") is removed. DVC reads a missing
  one as "no locks held", and already skips a readable one's entries of processes that ended.

Both under the locks DVC itself takes (the project's lock, and the lock table's guard), so a
repair never races a running dvc command.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from papers import io
from papers.errors import PapersError
from papers.history import git_file


def dvc_root(start: Path) -> Path | None:
    """The DVC project `start` is in (the nearest folder holding `.dvc`), or None."""
    here = start.resolve()
    return next((d for d in (here, *here.parents) if (d / ".dvc").is_dir()), None)


def _unreadable(path: Path) -> bool:
    """Whether DVC would refuse `path` as corrupted JSON (a missing file is fine)."""
    try:
        json.loads(path.read_bytes())
    except FileNotFoundError:
        return False
    except ValueError:  # JSONDecodeError and UnicodeDecodeError alike
        return True
    return False


@contextmanager
def _dvc_locks(root: Path, *names: str) -> Iterator[None]:
    """Hold the DVC project's locks `names` (in .dvc/tmp) as DVC takes them; PapersError when a
    running dvc command holds one."""
    from dvc.lock import LockError, make_lock  # type: ignore[import-untyped]
    from dvc.repo import Repo  # type: ignore[import-untyped]

    tmp = root / ".dvc" / "tmp"
    tmp.mkdir(exist_ok=True)
    with Repo(str(root)) as repo:  # its config says which lock kind the project uses
        hardlink = bool(repo.config["core"].get("hardlink_lock", False))
    with ExitStack() as held:
        try:
            for name in names:
                held.enter_context(
                    make_lock(str(tmp / name), tmp_dir=str(tmp), hardlink_lock=hardlink)
                )
        except LockError as exc:
            raise PapersError(
                f"a running dvc command holds {root}'s lock: "
                "run `papers recover` again when it has ended"
            ) from exc
        yield


def _repair(
    root: Path, broken: Callable[[], bool], fix: Callable[[], str], *locks: str
) -> list[str]:
    """fix() under DVC's locks when broken() holds before and after taking them; its line."""
    if not broken():
        return []
    with _dvc_locks(root, *locks):
        return [fix()] if broken() else []  # another recover may have been first


def _lockfile_broken(root: Path) -> bool:
    """Whether DVC's own loader refuses root's dvc.lock (a missing one is fine)."""
    if not (root / "dvc.lock").is_file():
        return False
    from dvc.dvcfile import LOCK_FILE, Lockfile  # type: ignore[import-untyped]
    from dvc.exceptions import DvcException  # type: ignore[import-untyped]
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        try:
            Lockfile(repo, str(root / LOCK_FILE)).load()
        except DvcException:
            return True
    return False


def recover_lockfile(root: Path) -> list[str]:
    """Put back DVC project `root`'s dvc.lock as git's last commit has it when a killed command
    left it unreadable (removed when git has none). Returns what was done, one line each."""
    path = root / "dvc.lock"

    def fix() -> str:
        size = path.stat().st_size
        committed = git_file(root, "HEAD", "./dvc.lock")
        kept = root / ".dvc" / "tmp" / "dvc.lock.unreadable"  # nothing lost, should it matter
        kept.write_bytes(path.read_bytes())
        cut = (
            f"dvc.lock: unreadable ({size} bytes: a dvc command was killed while writing it; "
            f"kept as {kept.relative_to(root)})"
        )
        if committed is not None:
            io.write_text(committed, path)
            return (
                f"{cut}; put back as the last commit has it: `dvc repro` redoes what changed since"
            )
        path.unlink()
        return f"{cut}; removed (git has none), so `dvc repro` runs every stage"

    return _repair(root, lambda: _lockfile_broken(root), fix, "lock")


def recover_rwlock(root: Path) -> list[str]:
    """Remove DVC project `root`'s lock table when a killed command left it unreadable.

    Returns what was done, one line each (nothing when the file is absent or readable). Raises
    PapersError when a running dvc command holds the project's lock: nothing is touched then.
    """
    path = root / ".dvc" / "tmp" / "rwlock"

    def fix() -> str:
        size = path.stat().st_size
        path.unlink()
        return (
            f"{path.relative_to(root)}: removed DVC's lock table ({size} bytes, not JSON: a dvc "
            "command was killed while writing it); DVC reads a missing one as no locks held"
        )

    return _repair(root, lambda: _unreadable(path), fix, "lock", "rwlock.lock")


def recover(root: Path) -> list[str]:
    """Both repairs, dvc.lock first (DVC reads its lock table only once it can load the project)."""
    return recover_lockfile(root) + recover_rwlock(root)
