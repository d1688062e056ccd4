"""Backups and rollback. Every file is copied before its first change in a run (a checkpoint); a failure
restores them all in reverse order. The manifest is on disk before the first change, so a crash between
two files is undone by the next run. The very first copy of each file ever touched is also kept as its
original, which is what `revert` puts back.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from bncert_tui.core.errors import ApplyError
from bncert_tui.core.fileops import atomic_write, resolve_inside, write_error
from bncert_tui.core.processes import process_alive

MANIFEST = "manifest.json"


@dataclass
class Saved:
    path: str
    existed: bool
    backup: str  # file name inside the checkpoint dir ("" when the file did not exist)
    mode: int = 0o600
    uid: int = -1
    gid: int = -1


def _copy_out(path: Path, dest_dir: Path, index: int) -> Saved:
    if not path.exists():
        return Saved(str(path), False, "")
    st = path.stat()
    name = f"{index:03d}-{path.name}"
    dest = dest_dir / name
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out, path.open("rb") as src:
        shutil.copyfileobj(src, out)
        out.flush()
        os.fsync(out.fileno())
    return Saved(str(path), True, name, st.st_mode & 0o7777, st.st_uid, st.st_gid)


def _same(saved: Saved, target: Path, data: bytes) -> bool:
    try:
        st = target.stat()
        return (st.st_mode & 0o7777) == saved.mode and target.read_bytes() == data
    except OSError:
        return False


def _put_back(saved: Saved, src_dir: Path) -> bool:
    """Make the file what it was; True if that changed anything. An unchanged file is not rewritten
    (its mtime stays, and a read-only or full file system does not stop the rest of a rollback)."""
    target = Path(saved.path)
    if not saved.existed:
        if not target.exists() and not target.is_symlink():
            return False
        _keep_after(saved, target, src_dir)
        with contextlib.suppress(FileNotFoundError):
            target.unlink()
        return True
    data = (src_dir / saved.backup).read_bytes()
    if _same(saved, target, data):
        return False
    _keep_after(saved, target, src_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(target, data, mode=saved.mode)
    if saved.uid != -1 and os.geteuid() == 0:
        os.chown(target.resolve(), saved.uid, saved.gid)
    return True


def _keep_after(saved: Saved, target: Path, src_dir: Path) -> None:
    """What a failed run produced (a new certificate, say) stays in the checkpoint dir as `*.after`,
    so nothing is ever lost, not even by a rollback."""
    with contextlib.suppress(OSError):
        if target.is_file():
            dest = src_dir / f"{saved.backup or f'new-{target.name}'}.after"
            fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(target.read_bytes())


def _restore_all(items: list[Saved], src_dir: Path) -> tuple[list[Path], list[str]]:
    """Put every file back, last changed first; one failure does not stop the others."""
    changed: list[Path] = []
    failures: list[str] = []
    for item in reversed(items):
        try:
            if _put_back(item, src_dir):
                changed.append(Path(item.path))
        except OSError as exc:
            failures.append(f"{item.path}: {exc.strerror or exc} (its backup: {src_dir / item.backup})")
    return changed, failures


def _write_manifest(directory: Path, payload: dict[str, object]) -> None:
    atomic_write(directory / MANIFEST, json.dumps(payload, indent=1).encode(), mode=0o600)


class Originals:
    """The state of each file before this tool first touched it: what `revert` restores."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _load(self) -> list[Saved]:
        try:
            raw = json.loads((self.directory / MANIFEST).read_text())
        except FileNotFoundError:
            return []
        return [Saved(**item) for item in raw["files"]]

    def files(self) -> list[Saved]:
        return self._load()

    def keep(self, path: Path) -> None:
        saved = self._load()
        if any(item.path == str(path) for item in saved):
            return
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        saved.append(_copy_out(path, self.directory, len(saved)))
        _write_manifest(self.directory, {"files": [asdict(s) for s in saved]})

    def restore_all(self) -> list[Path]:
        """Put every original back (newest first); files that did not exist are removed."""
        restored = []
        for saved in reversed(self._load()):
            _put_back(saved, self.directory)
            restored.append(Path(saved.path))
        return restored

    def forget(self) -> None:
        """After a revert the originals are the live files again: start afresh next time."""
        manifest = self.directory / MANIFEST
        if manifest.exists():
            stamp = time.strftime("%Y%m%d-%H%M%S")
            os.replace(self.directory, self.directory.with_name(f"reverted-{stamp}-{secrets.token_hex(3)}"))


class Checkpoint:
    """The files one run may change; `restore()` undoes them, `commit()` keeps the run's changes."""

    def __init__(self, backups: Path, root: Path, title: str, originals: Originals | None = None) -> None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        self.directory = backups / f"{stamp}-{secrets.token_hex(3)}"
        self.root = root
        self.title = title
        self.originals = originals
        self.saved: list[Saved] = []
        self.status = "open"
        self.directory.mkdir(parents=True, mode=0o700)
        self._flush()

    def _flush(self) -> None:
        _write_manifest(self.directory, {"title": self.title, "status": self.status,
                                         "pid": os.getpid(), "files": [asdict(s) for s in self.saved]})

    def protect(self, path: Path, *, keep_original: bool = True) -> None:
        """Back the file up (once per run) before anything changes it."""
        if any(item.path == str(path) for item in self.saved):
            return
        try:
            if keep_original and self.originals is not None:
                self.originals.keep(path)
            self.saved.append(_copy_out(path, self.directory, len(self.saved)))
            self._flush()
        except OSError as exc:
            error = write_error(self.directory, exc)
            error.title = f"Cannot back up {path} to {self.directory}: {error.title.split(': ', 1)[-1]}"
            raise error from None

    def write_text(self, path: Path, text: str) -> None:
        """Change a config file: inside the install dir only, backed up first, written atomically."""
        real = resolve_inside(path, self.root)
        self.protect(path)
        try:
            atomic_write(real, text.encode())
        except OSError as exc:
            raise write_error(path, exc) from None

    @property
    def paths(self) -> list[Path]:
        return [Path(item.path) for item in self.saved]

    def restore(self) -> list[Path]:
        """Put every file back as it was, last changed first; return the files that had changed.

        A file that cannot be put back leaves the checkpoint "open", so the next run tries again
        (and ApplyError names the file and its backup)."""
        changed, failures = _restore_all(self.saved, self.directory)
        self.status = "open" if failures else "rolled-back"
        with contextlib.suppress(OSError):
            self._flush()
        if failures:
            raise ApplyError("Rollback incomplete: some files could not be put back",
                             "\n".join(failures),
                             "Fix the cause; the next run of bncert-tui puts them back (or copy the "
                             "backups named above by hand).")
        return changed

    def commit(self) -> None:
        self.status = "committed"
        self._flush()



def recover_open_checkpoints(backups: Path) -> list[Path]:
    """Undo a run that died mid-way (its manifest still says "open" and its PID is gone)."""
    restored: list[Path] = []
    if not backups.is_dir():
        return restored
    for directory in sorted(backups.iterdir(), reverse=True):
        manifest = directory / MANIFEST
        if directory.name == "original" or not manifest.is_file():
            continue
        try:
            data = json.loads(manifest.read_text())
        except (OSError, ValueError):
            continue
        if data.get("status") != "open" or _alive(int(data.get("pid", 0))):
            continue
        changed, failures = _restore_all([Saved(**raw) for raw in data.get("files", [])], directory)
        if failures:
            raise ApplyError(f"Cannot undo the interrupted run recorded in {directory}",
                             "\n".join(failures), "Fix the cause (disk full? read-only?), then run again.")
        restored.extend(changed)
        data["status"] = "recovered"
        _write_manifest(directory, data)
    return restored


def _alive(pid: int) -> bool:
    return pid != os.getpid() and process_alive(pid)
