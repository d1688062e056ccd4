"""Atomic writes that keep owner and mode, and refuse to write through a symlink out of the install dir."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path

from bncert_tui.core.errors import ApplyError

#: errno -> (cause, next step), for the write failures a user can fix.
_WRITE_FAILURES = {
    errno.ENOSPC: ("the disk is full", "Free some space on that file system, then run again."),
    errno.EDQUOT: ("the disk quota is exceeded", "Free some space or raise the quota, then run again."),
    errno.EROFS: ("the file system is read-only", "Remount it read-write, then run again."),
    errno.EBUSY: ("the file is a mount point (a read-only bind mount?)",
                  "Unmount it or edit the file where it really lives, then run again."),
    errno.EPERM: ("the file is protected (immutable attribute?)",
                  "Check `lsattr` and remove the immutable flag (chattr -i), then run again."),
    errno.EACCES: ("permission denied", "Run as root (sudo), then run again."),
}


def write_error(path: Path, exc: OSError) -> ApplyError:
    """An OSError from writing `path` as an error that names the cause and the next step."""
    cause, hint = _WRITE_FAILURES.get(exc.errno or 0, (exc.strerror or str(exc), "Fix that, then run again."))
    return ApplyError(f"Cannot write {path}: {cause}", f"[Errno {exc.errno}] {exc.strerror}", hint)


def resolve_inside(path: Path, root: Path) -> Path:
    """The real file a write to `path` lands on; it must stay under `root` (symlinks included)."""
    real = path.resolve() if path.exists() or path.is_symlink() else path.parent.resolve() / path.name
    root_real = root.resolve()
    if real != root_real and root_real not in real.parents:
        raise ApplyError(f"Refusing to write {path}: it resolves to {real}, outside {root}",
                         hint="Replace the symlink with a regular file inside the install dir.")
    return real


def atomic_write(path: Path, data: bytes, mode: int | None = None) -> None:
    """temp file in the same dir + fsync + rename: readers see the old or the new file, never half.

    An existing file's mode and owner are kept; a new file gets `mode` (default 0600). A symlink is
    written through (its target is replaced), never replaced by a regular file.
    """
    if path.is_symlink():
        path = path.resolve()
    try:
        st = os.stat(path)
        keep_mode, uid, gid = st.st_mode & 0o7777, st.st_uid, st.st_gid
    except FileNotFoundError:
        keep_mode, uid, gid = (0o600 if mode is None else mode), -1, -1
    if mode is not None:
        keep_mode = mode
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, keep_mode)
        if uid != -1 and os.geteuid() == 0:
            os.chown(tmp, uid, gid)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def open_private(path: Path, flags: int = os.O_WRONLY | os.O_CREAT | os.O_APPEND) -> int:
    """Open a file of ours 0600, never through a symlink (O_NOFOLLOW: ELOOP instead)."""
    return os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
