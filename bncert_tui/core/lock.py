"""One run at a time: an flock on DIR/bncert-tui/private/lock. The kernel drops it when the holder
dies (even by SIGKILL), so a stale lock (dead PID) is taken over safely; the file says who holds it."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from pathlib import Path
from types import TracebackType

from bncert_tui.core.errors import BncertError
from bncert_tui.core.fileops import open_private
from bncert_tui.core.processes import process_alive


class LockBusy(BncertError):
    exit_code = 1


class RunLock:
    def __init__(self, path: Path, command: str) -> None:
        self.path = path
        self.command = command
        self._fd: int | None = None
        #: Who held the lock before us and died without releasing it (for a note), else {}.
        self.stale: dict[str, object] = {}

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = open_private(self.path, os.O_RDWR | os.O_CREAT)
        except OSError as exc:  # ELOOP: a symlink planted where the lock goes
            raise LockBusy(f"Cannot open the lock file {self.path}: {exc.strerror}",
                           hint="Remove it if it is a symlink or not a regular file, then run again.") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = self.holder()
            os.close(fd)
            who = f"PID {holder.get('pid')} ({holder.get('command')}, since {holder.get('since')})" \
                if holder else "another process"
            raise LockBusy(f"Another bncert-tui run is in progress: {who}",
                           hint="Wait for it to finish, then run again.") from None
        previous = self.holder()
        if previous.get("pid") and not _alive(previous["pid"]):
            self.stale = previous
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "command": self.command,
                                  "since": time.strftime("%Y-%m-%d %H:%M:%S")}).encode(), 0)
        self._fd = fd

    def holder(self) -> dict[str, object]:
        """What the lock file says (pid, command, since); {} when empty or unreadable."""
        try:
            fd = open_private(self.path, os.O_RDONLY)
        except OSError:
            return {}
        try:
            raw = os.read(fd, 4096).decode(errors="replace")
        finally:
            os.close(fd)
        try:
            data = json.loads(raw or "{}")
        except ValueError:
            return {}
        return dict(data) if isinstance(data, dict) else {}

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def _alive(pid: object) -> bool:
    return isinstance(pid, int) and process_alive(pid)
