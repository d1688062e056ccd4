"""Child processes the sandbox starts: started with argv lists, stopped by PID with a signal
ladder, and their descendants (nginx/apache workers) cleaned up even if the master was killed."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

#: Every process the sandbox started and has not yet stopped, by PID (for leak checks).
_LIVE: dict[int, ManagedProcess] = {}


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, ppid) from /proc/PID/stat, or None if the process is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw.rsplit(")", 1)[1].split()  # comm may hold spaces and parentheses
    return fields[0], int(fields[1])


def pid_alive(pid: int) -> bool:
    """True if `pid` exists and is not a zombie (a dead child waiting to be reaped)."""
    st = _stat(pid)
    return st is not None and st[0] not in ("Z", "X")


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return "?"


def descendants(pid: int) -> set[int]:
    """Live (non-zombie) descendants of `pid`, from one scan of /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        st = _stat(int(entry))
        if st is not None and st[0] not in ("Z", "X"):
            children.setdefault(st[1], []).append(int(entry))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def live_processes() -> dict[int, str]:
    """PID -> command line of sandbox processes (and their descendants) still running."""
    out: dict[int, str] = {}
    for pid in list(_LIVE):
        for p in {pid} | descendants(pid):
            if pid_alive(p):
                out[p] = cmdline(p)
    return out


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


class ManagedProcess:
    """One long-running child (pebble, challtestsrv, nginx, apache2), its output in a log file."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        log_file: Path,
        *,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = argv
        self.log_file = log_file
        self.env = env
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None
        self._log_offset = 0  # log_tail() shows only the current run's output

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def start(self) -> None:
        """Popen the argv directly (no shell, so the PID is the server's own)."""
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError(f"{self.name} already running (pid {self.proc.pid})")
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            self._log_offset = log.tell()
            self.proc = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=self.env, cwd=self.cwd,
            )
        _LIVE[self.proc.pid] = self

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def exit_reason(self) -> str | None:
        """Text saying why the process is gone (with its log tail), or None while it runs."""
        if self.proc is None or self.proc.poll() is None:
            return None
        return f"{self.name} exited with code {self.proc.returncode}:\n{self.log_tail()}"

    def log_tail(self, lines: int = 20) -> str:
        try:
            with self.log_file.open("rb") as fh:
                fh.seek(self._log_offset)
                text = fh.read().decode(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, ladder: Sequence[tuple[int, float]] = ((signal.SIGTERM, 5.0),)) -> None:
        """Send each (signal, wait seconds) in turn until the process exits, then SIGKILL.

        Workers seen before stopping that outlive their master are killed by PID too.
        """
        proc = self.proc
        if proc is None:
            return
        kids = descendants(proc.pid)
        try:
            for sig, wait in ladder:
                if proc.poll() is not None:
                    break
                _signal(proc.pid, sig)
                try:
                    proc.wait(timeout=wait)
                except subprocess.TimeoutExpired:
                    continue
            if proc.poll() is None:
                _signal(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        finally:
            _LIVE.pop(proc.pid, None)
            kill_pids(kids)


def kill_pids(pids: set[int], grace: float = 2.0) -> None:
    """SIGTERM the given PIDs (ours), wait up to `grace`, then SIGKILL what is left."""
    pids = {p for p in pids if pid_alive(p)}
    for p in pids:
        _signal(p, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while pids and time.monotonic() < deadline:
        time.sleep(0.02)
        pids = {p for p in pids if pid_alive(p)}
    for p in pids:
        _signal(p, signal.SIGKILL)
