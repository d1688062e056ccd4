"""Processes, from /proc and kill(0): whether a PID is alive (locks, checkpoints, pid files), and the
workers of a web server's master (a graceful reload is asynchronous: a caller that checks the result,
the served certificate, must wait until old workers stop accepting)."""

from __future__ import annotations

import os
import time
from pathlib import Path


def process_alive(pid: int) -> bool:
    """True when `pid` names a live process (also one owned by another user)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def children(master: int) -> dict[int, str]:
    """{pid: process title} of the master's live children."""
    found: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[1]) != master or fields[0] in ("Z", "X"):
                continue
            title = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, ValueError, IndexError):
            continue
        found[int(entry)] = title.strip()
    return found


def wait_for_new_workers(master: int, old: set[int], timeout: float = 5.0,
                         retired_marker: str = "shutting down") -> bool:
    """Wait until new workers run and none of the old ones still accepts connections (gone, or
    titled as shutting down: nginx closes its listening sockets right after renaming it)."""
    deadline = time.monotonic() + timeout
    while True:
        current = children(master)
        fresh = [pid for pid in current if pid not in old]
        accepting_old = [pid for pid, title in current.items() if pid in old and retired_marker not in title]
        if fresh and not accepting_old:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
