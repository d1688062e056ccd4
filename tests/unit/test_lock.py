"""The run lock, with real processes: a live holder is named, a dead one's lock is taken over."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from bncert_tui.core.lock import LockBusy, RunLock

HOLDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from bncert_tui.core.lock import RunLock
    lock = RunLock(Path(sys.argv[1]), "apply")
    lock.acquire()
    print("locked", flush=True)
    time.sleep(60)
""")


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the lock (killed by PID at the end)."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path / "private" / "lock")],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)


def test_second_run_names_the_holder(tmp_path: Path, holder: subprocess.Popen[str]) -> None:
    with pytest.raises(LockBusy) as busy:
        RunLock(tmp_path / "private" / "lock", "renew").acquire()
    assert f"PID {holder.pid} (apply, since " in busy.value.title
    assert "Wait for it to finish" in busy.value.hint
    assert busy.value.exit_code == 1


def test_dead_holder_is_taken_over(tmp_path: Path, holder: subprocess.Popen[str]) -> None:
    path = tmp_path / "private" / "lock"
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=10)
    assert json.loads(path.read_text())["pid"] == holder.pid  # what a crash leaves behind
    lock = RunLock(path, "apply")
    lock.acquire()
    try:
        assert lock.stale.get("pid") == holder.pid
        assert json.loads(path.read_text())["pid"] == os.getpid()
    finally:
        lock.release()
    assert path.read_text() == "", "a released lock names nobody"


def test_lock_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "private" / "lock"
    with RunLock(path, "apply"):
        assert path.stat().st_mode & 0o777 == 0o600
        assert path.parent.stat().st_mode & 0o777 == 0o700
    with RunLock(path, "apply") as again:  # released: a following run gets it at once
        assert again.stale == {}


def test_never_follows_a_symlink(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    (tmp_path / "private").mkdir()
    (tmp_path / "private" / "lock").symlink_to(victim)
    with pytest.raises(LockBusy) as refused:
        RunLock(tmp_path / "private" / "lock", "apply").acquire()
    assert "symlink" in refused.value.hint
    assert victim.read_text() == "precious\n"
