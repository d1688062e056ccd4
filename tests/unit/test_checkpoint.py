"""Backups, rollback and crash recovery, atomic writes and the install-dir fence (real files, real
processes; a SIGKILL between two writes is undone by recover_open_checkpoints)."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bncert_tui.core.checkpoint import Checkpoint, Originals, recover_open_checkpoints
from bncert_tui.core.errors import ApplyError
from bncert_tui.core.fileops import atomic_write, resolve_inside, write_error


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "bitnami"
    (root / "conf").mkdir(parents=True)
    (root / "conf" / "a.conf").write_text("a = 1\n")
    (root / "conf" / "b.conf").write_text("b = 1\n")
    (root / "conf" / "b.conf").chmod(0o640)
    return root


def backups(root: Path) -> Path:
    return root / "bncert-tui" / "private" / "backups"


def test_restore_puts_back_only_what_changed(tree: Path) -> None:
    a, b, new = tree / "conf" / "a.conf", tree / "conf" / "b.conf", tree / "conf" / "new.conf"
    cp = Checkpoint(backups(tree), tree, "test", Originals(backups(tree) / "original"))
    cp.write_text(a, "a = 2\n")
    cp.protect(b)
    cp.write_text(new, "created\n")
    b_mtime = b.stat().st_mtime_ns
    changed = cp.restore()
    assert sorted(changed) == sorted([a, new])
    assert a.read_text() == "a = 1\n" and not new.exists()
    assert b.stat().st_mtime_ns == b_mtime, "an unchanged file is not rewritten"
    assert b.stat().st_mode & 0o777 == 0o640
    # What the failed run produced is kept, so nothing is lost.
    assert sorted(p.name for p in cp.directory.glob("*.after")) == ["000-a.conf.after", "new-new.conf.after"]
    assert json.loads((cp.directory / "manifest.json").read_text())["status"] == "rolled-back"


def test_backups_are_private(tree: Path) -> None:
    cp = Checkpoint(backups(tree), tree, "test", Originals(backups(tree) / "original"))
    cp.write_text(tree / "conf" / "a.conf", "secret = 1\n")
    cp.restore()
    for path in [cp.directory, backups(tree) / "original"]:
        assert path.stat().st_mode & 0o777 == 0o700
        for item in path.iterdir():
            assert item.stat().st_mode & 0o777 == 0o600, item


def test_atomic_write_keeps_mode_and_owner(tmp_path: Path) -> None:
    path = tmp_path / "site.conf"
    path.write_text("old\n")
    path.chmod(0o640)
    if os.geteuid() == 0:
        os.chown(path, 1, 1)
    atomic_write(path, b"new\n")
    st = path.stat()
    assert path.read_text() == "new\n" and st.st_mode & 0o777 == 0o640
    if os.geteuid() == 0:
        assert (st.st_uid, st.st_gid) == (1, 1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site.conf"], "no temp file left"
    atomic_write(tmp_path / "fresh", b"x")
    assert (tmp_path / "fresh").stat().st_mode & 0o777 == 0o600


def test_atomic_write_through_a_symlink_keeps_the_link(tmp_path: Path) -> None:
    (tmp_path / "real.conf").write_text("old\n")
    (tmp_path / "link.conf").symlink_to("real.conf")
    atomic_write(tmp_path / "link.conf", b"new\n")
    assert (tmp_path / "link.conf").is_symlink() and (tmp_path / "real.conf").read_text() == "new\n"


def test_symlink_out_of_the_install_dir_is_refused(tree: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.conf"
    elsewhere.write_text("not yours\n")
    link = tree / "conf" / "link.conf"
    link.symlink_to(elsewhere)
    with pytest.raises(ApplyError) as refused:
        resolve_inside(link, tree)
    assert "outside" in refused.value.title and str(elsewhere) in refused.value.title
    cp = Checkpoint(backups(tree), tree, "test")
    with pytest.raises(ApplyError):
        cp.write_text(link, "injected\n")
    with pytest.raises(ApplyError):
        cp.write_text(tree / "conf" / ".." / ".." / "escape.conf", "x\n")
    assert elsewhere.read_text() == "not yours\n"
    assert resolve_inside(tree / "conf" / "a.conf", tree) == (tree / "conf" / "a.conf").resolve()


@pytest.mark.parametrize(("code", "words"), [
    (errno.ENOSPC, "disk is full"), (errno.EROFS, "read-only"), (errno.EBUSY, "mount point"),
    (errno.EPERM, "immutable"), (errno.EACCES, "permission denied"), (errno.EIO, "Fix that"),
])
def test_write_errors_name_cause_and_next_step(code: int, words: str) -> None:
    error = write_error(Path("/x.conf"), OSError(code, os.strerror(code)))
    assert "/x.conf" in error.title and words in str(error) and error.hint


CRASHER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from bncert_tui.core.checkpoint import Checkpoint
    root = Path(sys.argv[1])
    cp = Checkpoint(root / "bncert-tui/private/backups", root, "crash test")
    cp.write_text(root / "conf/a.conf", "a = half\\n")
    cp.protect(root / "conf/b.conf")
    print("between two files", flush=True)
    time.sleep(60)
    cp.write_text(root / "conf/b.conf", "b = never\\n")
""")


def test_sigkill_between_two_files_is_undone(tree: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", CRASHER, str(tree)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "between two files"
        assert recover_open_checkpoints(backups(tree)) == [], "a live run's checkpoint is left alone"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    assert (tree / "conf" / "a.conf").read_text() == "a = half\n"
    assert recover_open_checkpoints(backups(tree)) == [tree / "conf" / "a.conf"]
    assert (tree / "conf" / "a.conf").read_text() == "a = 1\n"
    assert (tree / "conf" / "b.conf").read_text() == "b = 1\n"
    assert recover_open_checkpoints(backups(tree)) == [], "recovered once"
    [manifest] = backups(tree).glob("*/manifest.json")
    assert json.loads(manifest.read_text())["status"] == "recovered"


def test_failed_restore_leaves_the_checkpoint_open(tree: Path) -> None:
    a = tree / "conf" / "a.conf"
    cp = Checkpoint(backups(tree), tree, "test")
    cp.write_text(a, "a = 2\n")
    (cp.directory / "000-a.conf").unlink()  # the backup is gone: restore cannot finish
    with pytest.raises(ApplyError) as failed:
        cp.restore()
    assert str(a) in failed.value.detail and "next run" in failed.value.hint
    assert json.loads((cp.directory / "manifest.json").read_text())["status"] == "open"
