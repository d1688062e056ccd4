"""Apache adapter for Bitnami stacks: inspect the config, render the edits, config test, reload.

Parsing is in apache_syntax (text) and apache_tree (includes, vhosts); the edits in apache_render.
"""

from __future__ import annotations

import os
import re
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from bncert_tui.core.errors import StackError
from bncert_tui.core.processes import children, process_alive, wait_for_new_workers
from bncert_tui.core.webserver.apache_render import render_config
from bncert_tui.core.webserver.apache_syntax import strip_fences
from bncert_tui.core.webserver.apache_tree import (
    DEFAULT_HOSTS,
    ApacheConfig,
    DictSource,
    DiskSource,
    Listen,
    VirtualHost,
    load_config,
)
from bncert_tui.core.webserver.base import (
    CommandResult,
    Ports,
    ServerBlock,
    Site,
    StackInfo,
    run_command,
)

#: Longest wait after `-k graceful` for httpd to re-read its config (it takes ~0.02 s when healthy).
RELOAD_WAIT = 3.0
_HOSTNAME = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+")
_NOT_PUBLIC = (".localhost", ".localdomain", ".local", ".internal")
#: Where to probe a Listen that binds every address.
_LOOPBACK = {"": "127.0.0.1", "*": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}  # noqa: S104


def _norm(path: Path) -> Path:
    return Path(os.path.normpath(path))


def _vhost_port(vhost: VirtualHost) -> int | None:
    """The port a vhost stands for: its `_default_`/`*` address's port first."""
    explicit = [(h, p) for h, p in vhost.addresses if p is not None]
    ports = [p for h, p in explicit if h in DEFAULT_HOSTS] or [p for _h, p in explicit]
    return ports[0] if ports else None


def stack_ports(config: ApacheConfig) -> Ports:
    """HTTP/HTTPS ports from the vhosts (a default one first), else from the Listen lines."""

    def from_vhosts(tls: bool) -> int | None:
        vhosts = [v for v in config.vhosts if v.tls == tls]
        ordered = [v for v in vhosts if v.default_on()] + [v for v in vhosts if not v.default_on()]
        return next((p for p in map(_vhost_port, ordered) if p is not None), None)

    def first_listen(ok: Callable[[Listen], bool]) -> int | None:
        return next((x.port for x in config.listens if ok(x)), None)

    tls_ports = {p for v in config.vhosts if v.tls for p in v.ports(config.listen_ports)}
    https = from_vhosts(True)
    if https is None:
        https = first_listen(lambda x: x.protocol == "https" or (not x.protocol and x.port == 443))
    http = from_vhosts(False)
    if http is None:
        http = first_listen(
            lambda x: x.protocol != "https" and x.port not in tls_ports and x.port != https
        )
    return Ports(http, https)


def looks_public(name: str) -> bool:
    """A name a certificate could be issued for: dotted hostname, no wildcard, not local, no IP."""
    name = name.lower().rstrip(".")
    if not _HOSTNAME.fullmatch(name) or name.replace(".", "").isdigit():
        return False
    return name != "localhost" and not name.endswith(_NOT_PUBLIC)


def _mtime(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None


def _read_pid(path: Path) -> int | None:
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() and int(text) > 0 else None


def _answers(address: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(address, timeout=0.5):
            return True
    except OSError:
        return False


class ApacheServer:
    """The Apache of a Bitnami install dir (`DIR/apache`, or `DIR/apache2` on older stacks).

    The binaries are called without -d/-f: on a Bitnami stack they know their config.
    """

    kind: Literal["nginx", "apache"] = "apache"

    def __init__(self, installdir: Path) -> None:
        self.installdir = installdir
        self.reload_wait = RELOAD_WAIT

    @property
    def apache_dir(self) -> Path:
        for name in ("apache", "apache2"):
            candidate = self.installdir / name
            if (candidate / "conf" / "httpd.conf").exists() or (candidate / "bin").is_dir():
                return candidate
        return self.installdir / "apache"

    @property
    def main_config(self) -> Path:
        return self.apache_dir / "conf" / "httpd.conf"

    def _binary(self, first: str, second: str) -> Path:
        preferred = self.apache_dir / "bin" / first
        return preferred if preferred.exists() else self.apache_dir / "bin" / second

    def _load(self) -> ApacheConfig:
        if not self.main_config.is_file():
            raise StackError(
                f"No Apache config at {self.main_config}",
                hint="Pass --installdir with your Bitnami directory (default /opt/bitnami).",
            )
        return load_config(self.main_config, self.apache_dir, DiskSource())

    def version(self) -> str:
        """From `httpd -v` ("Server version: Apache/2.4.57 (Unix)" -> "2.4.57"), else "unknown"."""
        result = run_command([str(self._binary("httpd", "apachectl")), "-v"], timeout=15)
        match = re.search(r"Apache/(\S+)", result.output)
        return match.group(1) if match else "unknown"

    def inspect(self) -> StackInfo:
        config = self._load()
        blocks = [
            ServerBlock(
                v.file, v.section.line, v.ports(config.listen_ports), v.tls, v.names, v.default_on()
            )
            for v in config.vhosts
        ]
        names = [n for b in blocks for n in b.names if looks_public(n)]
        return StackInfo(
            kind="apache",
            version=self.version(),
            main_config=_norm(self.main_config),
            config_files=config.files,
            ports=stack_ports(config),
            server_names=list(dict.fromkeys(n.lower() for n in names)),
            blocks=blocks,
        )

    def render(self, files: dict[Path, str], sites: list[Site]) -> dict[Path, str]:
        """Strip our blocks, add the challenge block to every vhost and each site's block to the
        vhosts that serve it. Returns only the files whose text changed."""
        originals = {_norm(p): p for p in files}
        stripped = {_norm(p): strip_fences(t, p) for p, t in files.items()}
        for name in ("apache", "apache2"):
            apache_dir = self.installdir / name
            main = _norm(apache_dir / "conf" / "httpd.conf")
            if main in stripped:
                break
        else:
            raise StackError(
                f"httpd.conf of {self.installdir} is not among the files to render",
                hint="Pass the text of every file inspect() lists.",
            )
        config = load_config(main, apache_dir, DictSource(stripped))
        new = render_config(config, stripped, sites)
        return {originals[p]: t for p, t in new.items() if t != files[originals[p]]}

    def config_test(self) -> CommandResult:
        return run_command([str(self._binary("apachectl", "httpd")), "-t"])

    def _runtime(self) -> tuple[Path, tuple[str, int] | None]:
        """PidFile (default logs/httpd.pid under ServerRoot) and an address to probe."""
        try:
            config = self._load()
        except StackError:
            return self.apache_dir / "logs" / "httpd.pid", None
        pid_file = config.pid_file or config.server_root / "logs" / "httpd.pid"
        if not config.listens:
            return pid_file, None
        first = config.listens[0]
        host = _LOOPBACK.get(first.host, first.host)
        return pid_file, (host, first.port)

    def is_running(self) -> bool:
        pid = _read_pid(self._runtime()[0])
        return pid is not None and process_alive(pid)

    def reload(self) -> CommandResult:
        """`apachectl -k graceful`, then wait (<= 3 s) until httpd has re-read its config (it
        rewrites its PidFile then) and the first Listen address answers: `-k graceful` returns at
        once.

        If that is not seen in time the command's result is returned with a note appended: the
        caller's own HTTP check decides.
        """
        pid_file, probe = self._runtime()
        before = _mtime(pid_file)
        master = _read_pid(pid_file)
        old_workers = set(children(master)) if master else set()
        result = run_command([str(self._binary("apachectl", "httpd")), "-k", "graceful"])
        if not result.ok:
            return result
        deadline = time.monotonic() + self.reload_wait
        while True:
            pid = _read_pid(pid_file)
            if (
                _mtime(pid_file) not in (None, before)
                and pid is not None
                and process_alive(pid)
                and (probe is None or _answers(probe))
            ):
                # Old-generation children may still take a request or two: wait until they are gone
                # (Apache does not retitle them, so no marker), within what is left of the wait.
                if old_workers:
                    left = max(0.5, deadline - time.monotonic())
                    wait_for_new_workers(pid, old_workers, timeout=left, retired_marker="\0")
                return result
            if time.monotonic() >= deadline:
                note = (
                    f"\nNot seen within {self.reload_wait:g} s that Apache re-read its config "
                    f"({pid_file} unchanged or not answering)."
                )
                return CommandResult(result.argv, result.returncode, result.output + note)
            time.sleep(0.02)
