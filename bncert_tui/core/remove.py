"""`remove --cert NAME`: stop managing one certificate and leave every other site as it is.

Drops the certificate's cron entry and state, and takes its names, redirects and fenced blocks out of
the web server config by rendering the config again with the remaining sites only. Certificate files
are kept (nothing is ever deleted). Every file is checkpointed first; a failing config test, reload or
a remaining site no longer served with its certificate restores them all.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from bncert_tui.core.certs import read_cert, served_cert
from bncert_tui.core.checkpoint import Checkpoint, Originals, recover_open_checkpoints
from bncert_tui.core.cronfile import CronFile
from bncert_tui.core.errors import ApplyError, InputError
from bncert_tui.core.lock import RunLock
from bncert_tui.core.options import GlobalOptions
from bncert_tui.core.plan import read_config, site_for
from bncert_tui.core.renew import append_log, now_utc
from bncert_tui.core.state import load_state, save_state
from bncert_tui.core.webserver import detect_web_server
from bncert_tui.core.webserver.base import Site, WebServer

SERVE_TIMEOUT = 8.0


@dataclass
class RemoveResult:
    name: str
    changed_files: list[Path] = field(default_factory=list)
    cron_removed: bool = False
    kept_files: list[Path] = field(default_factory=list)  # the certificate's files, left on disk
    still_used_by: list[Path] = field(default_factory=list)  # config files that still name them
    backup_dir: Path | None = None

    def to_dict(self) -> dict[str, object]:
        return {"ok": True, "removed": self.name, "changed_files": [str(p) for p in self.changed_files],
                "cron_removed": self.cron_removed, "kept_files": [str(p) for p in self.kept_files],
                "still_used_by": [str(p) for p in self.still_used_by],
                "backups": str(self.backup_dir) if self.backup_dir else None}


def remove_certificate(options: GlobalOptions, name: str) -> RemoveResult:
    """Forget certificate `name`: config without its site, its cron entry and state dropped."""
    paths = options.paths
    state = load_state(paths.state_file)
    if name not in state.certificates:
        raise InputError(f"No managed certificate named {name!r}",
                         hint="Known: " + (", ".join(sorted(state.certificates)) or "none"))
    paths.ensure()
    with RunLock(paths.lock_file, "remove"):
        recover_open_checkpoints(paths.backups)
        state = load_state(paths.state_file)  # again, under the lock
        if name not in state.certificates:
            raise InputError(f"No managed certificate named {name!r}")
        web = detect_web_server(options.installdir)
        stack = web.inspect()
        port = stack.ports.https or 443
        remaining = [site_for(c, paths, port) for n, c in sorted(state.certificates.items()) if n != name]
        files = read_config(web, stack)
        new_files = web.render(files, remaining)
        result = RemoveResult(name)
        checkpoint = Checkpoint(paths.backups, options.installdir, f"remove {name}",
                                Originals(paths.originals))
        result.backup_dir = checkpoint.directory
        try:
            for path in sorted(new_files):
                checkpoint.protect(path)
            checkpoint.protect(options.cron_file)
            checkpoint.protect(paths.state_file, keep_original=False)
            for path, text in sorted(new_files.items()):
                checkpoint.write_text(path, text)
            result.changed_files = sorted(new_files)
            if new_files:
                _test_and_reload(web)
                _check_served(port, remaining)
            result.cron_removed = CronFile(options.cron_file).remove_entry(name)
            del state.certificates[name]
            save_state(paths.state_file, state)
        except BaseException:
            checkpoint.restore()
            if new_files and web.config_test().ok:
                web.reload()
            raise
        checkpoint.commit()
    result.kept_files = [p for p in (paths.cert_file(name), paths.key_file(name)) if p.exists()]
    cert_text = str(paths.cert_file(name))
    result.still_used_by = sorted(p for p in files if cert_text in new_files.get(p, files[p]))
    note = f"; still named in {', '.join(map(str, result.still_used_by))}" if result.still_used_by else ""
    append_log(paths.renewal_log, f"{now_utc().isoformat()} {name}: removed (cron entry, state and "
                                  f"config blocks; certificate files kept){note}")
    return result


def _test_and_reload(web: WebServer) -> None:
    kind = web.kind
    test = web.config_test()
    if not test.ok:
        raise ApplyError(f"The {kind} configuration test fails without this site; nothing was changed",
                         test.output.strip()[-1500:], "Fix the lines named above, then run remove again.")
    done = web.reload()
    if not done.ok:
        raise ApplyError(f"{kind} failed to reload; nothing was changed", done.output.strip()[-1500:])


def _check_served(port: int, sites: list[Site]) -> None:
    """Every remaining site must still be served with its own certificate after the reload."""
    deadline = time.monotonic() + SERVE_TIMEOUT
    for site in sites:
        info = read_cert(site.cert_file) if site.cert_file else None
        if info is None:
            continue
        while True:
            try:
                served = served_cert(port, site.domains[0]).serial
            except OSError:
                break  # not reachable on loopback: nothing to compare here
            if served == info.serial:
                break
            if time.monotonic() > deadline:
                raise ApplyError(f"After the reload {site.domains[0]} is served with serial {served}, "
                                 f"not its certificate {info.serial}; nothing was changed",
                                 hint="Another server block may now answer for it; check the config.")
            time.sleep(0.2)
