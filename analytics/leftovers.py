"""Files a killed or finished process left behind beside the database, and their removal.

Why a sweep at all: every write here goes to a temporary name first and is renamed into
place (backups, restores, kept originals), so a kill -9 never damages a real file, but it
does leave the temporary one behind. The Data page stashes each upload under
uploads/pending/session-<pid>-*/ while its session shows it; a session that ends (the tab
closed, the server stopped) never comes back to remove it. Nobody would ever clean these
by hand, so the dashboard sweeps at start and after each import, and every backup sweeps
its own folder first.

Never a file another live process is writing: each temporary name carries the writer's
process id (`.<name>.partial-<pid>-<token>`, `.<name>.restore-<pid>-<token>`,
`session-<pid>-<token>`), and only a gone process's files are removed at once. A name of
this process made before it started (the same pid after a restart), or one untouched for
longer than its age limit, is stale too: a writer that is still busy keeps touching it.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

# When this process started (module import): files of our own pid older than this were
# made by an earlier process that had the same pid.
PROCESS_STARTED = time.time()
# A temporary file of a live process untouched this long is abandoned (a busy copy writes
# to it all the time; a pid can also be reused by an unrelated process).
PARTIAL_MAX_AGE = 6 * 3600.0
# A stashed upload untouched this long belongs to a session that has gone: the Data page
# touches its stash on every rerun, and writes it again when it is missing.
STASH_MAX_AGE = 3600.0

PARTIAL_RE = re.compile(r"^\..+\.(?:partial|restore)-(?P<pid>\d+)-[0-9a-f]+(?:\.wal)?$")
SESSION_RE = re.compile(r"^session-(?:(?P<pid>\d+)-)?[\w]+$")


@dataclass
class Swept:
    """What one sweep removed (paths), for the log and for tests."""

    removed: list[Path] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.removed)


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists (signal 0 checks without sending anything)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, but belongs to someone else
        return True
    return True


def _newest_mtime(path: Path) -> float:
    """The latest modification time of a file, or of anything in a folder."""
    try:
        newest = path.stat().st_mtime
    except OSError:
        return 0.0
    if path.is_dir():
        for child in path.rglob("*"):
            try:
                newest = max(newest, child.stat().st_mtime)
            except OSError:
                continue
    return newest


def is_abandoned(path: Path, pid: int | None, max_age: float, now: float | None = None) -> bool:
    """Whether `path`, written by process `pid` (None: unknown), can go.

    Gone writer: yes. This process: only what predates its start. Another live process:
    only when untouched for `max_age` seconds. Unknown writer: by age alone.
    """
    now = time.time() if now is None else now
    newest = _newest_mtime(path)
    if pid is not None and pid != os.getpid() and not pid_alive(pid):
        return True
    if pid == os.getpid() and newest < PROCESS_STARTED:
        return True
    return now - newest > max_age


def _remove(path: Path, swept: Swept) -> None:
    try:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
    except FileNotFoundError:
        return
    except OSError as exc:  # a file we may not delete is left, and said so in the log
        log.warning("could not remove leftover %s: %s", path, exc)
        return
    swept.removed.append(path)


def sweep_partials(folder: Path, swept: Swept | None = None) -> Swept:
    """Remove abandoned `.…partial-…` and `.…restore-…` files (and their .wal) in `folder`."""
    swept = swept if swept is not None else Swept()
    if not folder.is_dir():
        return swept
    for path in folder.iterdir():
        found = PARTIAL_RE.match(path.name)
        if found and path.is_file() and is_abandoned(path, int(found["pid"]), PARTIAL_MAX_AGE):
            _remove(path, swept)
    return swept


def sweep_pending(pending: Path, swept: Swept | None = None, keep: Path | None = None) -> Swept:
    """Remove the stash folders of sessions that are gone (see STASH_MAX_AGE); `keep` is
    the calling session's own folder, which is never removed."""
    swept = swept if swept is not None else Swept()
    if not pending.is_dir():
        return swept
    for path in pending.iterdir():
        if keep is not None and path.resolve() == keep.resolve():
            continue
        found = SESSION_RE.match(path.name)
        if not found or not path.is_dir():
            continue
        pid = int(found["pid"]) if found["pid"] else None
        if is_abandoned(path, pid, STASH_MAX_AGE):
            _remove(path, swept)
    return swept


def sweep(data_dir: Path | str, *, keep_session: Path | None = None) -> Swept:
    """Everything abandoned beside one database: restore temporaries in the data folder,
    partial backups, partial kept originals, and stashed uploads of gone sessions."""
    data_dir = Path(data_dir)
    swept = Swept()
    sweep_partials(data_dir, swept)
    sweep_partials(data_dir / "backups", swept)
    uploads = data_dir / "uploads"
    if uploads.is_dir():
        for folder in [uploads, *(p for p in uploads.rglob("*") if p.is_dir())]:
            if "pending" in folder.relative_to(uploads).parts[:1]:
                continue
            sweep_partials(folder, swept)
        sweep_pending(uploads / "pending", swept, keep=keep_session)
    if swept:
        log.info("removed %d leftover file(s) under %s", len(swept.removed), data_dir)
    return swept
