"""`revert`: every file this tool changed goes back to exactly what it was before the first apply."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bncert_tui.core.checkpoint import Checkpoint, Originals, recover_open_checkpoints
from bncert_tui.core.errors import ApplyError, InputError
from bncert_tui.core.lock import RunLock
from bncert_tui.core.options import GlobalOptions
from bncert_tui.core.state import State, save_state
from bncert_tui.core.webserver import detect_web_server


def revert(options: GlobalOptions) -> list[Path]:
    """Restore the originals, test and reload; if the restored config fails its test, undo the revert.

    Certificates and lego's account are kept (nothing is ever lost); the state forgets them.
    """
    paths = options.paths
    originals = Originals(paths.originals)
    if not originals.files():
        raise InputError("Nothing to revert: this tool has not changed any file here",
                         hint=f"(looked in {paths.originals})")
    with RunLock(paths.lock_file, "revert"):
        recover_open_checkpoints(paths.backups)
        web = detect_web_server(options.installdir)
        checkpoint = Checkpoint(paths.backups, options.installdir, "revert")
        for saved in originals.files():
            checkpoint.protect(Path(saved.path), keep_original=False)
        checkpoint.protect(paths.state_file, keep_original=False)
        try:
            restored = originals.restore_all()
            test = web.config_test()
            reload = web.reload() if test.ok else None
        except BaseException:  # a signal or an I/O error half-way: the files go back as they were
            checkpoint.restore()
            web.reload()
            raise
        if not test.ok or (reload is not None and not reload.ok):
            checkpoint.restore()
            web.reload()
            output = test.output if not test.ok else (reload.output if reload else "")
            raise ApplyError("The original configuration no longer passes the config test; revert undone",
                             output.strip()[-1000:], "Fix the reported problem, then run revert again.")
        save_state(paths.state_file, State())
        checkpoint.commit()
        originals.forget()
        return restored


def recover_interrupted(options: GlobalOptions, say: Callable[[str], None]) -> list[Path]:
    """Undo what a run killed mid-way (SIGKILL, power loss) left behind, before anything is planned:
    restore its files from the open checkpoint, remove stray challenge files, and reload the server
    so it serves what the files say. Does nothing (and creates nothing) on a clean install dir."""
    paths = options.paths
    if not paths.backups.is_dir():
        return []
    with RunLock(paths.lock_file, "recover") as lock:
        restored = recover_open_checkpoints(paths.backups)
        if lock.stale:
            say(f"Took over the lock of PID {lock.stale.get('pid')} ({lock.stale.get('command')}), "
                "which is no longer running.")
        if not restored:
            return []
        say(f"Restored {len(restored)} file(s) left by an interrupted run: "
            + ", ".join(str(p) for p in restored))
        paths.clear_challenge_files()
        web = detect_web_server(options.installdir)
        if web.is_running():
            test = web.config_test()
            if test.ok:
                web.reload()
            else:
                say("WARNING: the restored configuration does not pass the config test:")
                say(test.output.strip()[-800:])
        return restored
