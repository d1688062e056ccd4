"""A Bitnami-like nginx or Apache stack run in the foreground on loopback ports, owned by PID."""

from __future__ import annotations

import http.client
import signal
import subprocess
import time
from pathlib import Path
from types import TracebackType

from .ports import free_port, port_is_free, tcp_open, wait_until
from .procs import ManagedProcess
from .tree import APACHE_BIN, NGINX_BIN, Kind, build_tree

START_TIMEOUT = 15.0


class BitnamiStack:
    """DIR/nginx or DIR/apache, built from the templates and run by the real Debian binary."""

    def __init__(
        self, kind: Kind, installdir: Path, *, http_port: int, https_port: int | None = None
    ) -> None:
        if kind not in ("nginx", "apache"):
            raise ValueError(f"kind must be 'nginx' or 'apache', not {kind!r}")
        self.kind: Kind = kind
        self.installdir = Path(installdir).absolute()
        self.http_port = http_port
        self.https_port = https_port if https_port is not None else free_port()
        self.start_seconds = 0.0
        self._proc: ManagedProcess | None = None

    # -- paths a tool would use on a real VM -----------------------------------------------------

    @property
    def server_dir(self) -> Path:
        return self.installdir / self.kind

    @property
    def conf_dir(self) -> Path:
        return self.server_dir / "conf"

    @property
    def main_config(self) -> Path:
        return self.conf_dir / ("nginx.conf" if self.kind == "nginx" else "httpd.conf")

    @property
    def control(self) -> Path:
        """The wrapper a Bitnami tool runs: sbin/nginx or bin/apachectl."""
        return self.server_dir / ("sbin/nginx" if self.kind == "nginx" else "bin/apachectl")

    @property
    def docroot(self) -> Path:
        return self.installdir / "wordpress"

    @property
    def server_cert(self) -> Path:
        return self.conf_dir / "bitnami/certs/server.crt"

    @property
    def log_file(self) -> Path:
        """Console output (stdout+stderr) of the foreground server."""
        return self.server_dir / "logs/console.log"

    @property
    def built(self) -> bool:
        return self.main_config.exists()

    @property
    def pid(self) -> int | None:
        if self._proc is None or not self._proc.running():
            return None
        return self._proc.pid

    # -- life cycle --------------------------------------------------------------------------

    def build(self) -> None:
        """Write the tree; refuses (FileExistsError) if DIR/<kind> already exists."""
        build_tree(self.kind, self.installdir, self.http_port, self.https_port)

    def _argv(self) -> list[str]:
        if self.kind == "nginx":
            return [NGINX_BIN, "-p", f"{self.server_dir}/", "-c", str(self.main_config),
                    "-g", "daemon off;"]
        return [APACHE_BIN, "-d", str(self.server_dir), "-f", str(self.main_config), "-DFOREGROUND"]

    def start(self) -> None:
        """Start in the foreground and return once both ports accept TCP."""
        if not self.built:
            raise RuntimeError(f"{self.installdir}: tree not built (call build() first)")
        if self.pid is not None:
            return
        busy = [p for p in (self.http_port, self.https_port) if not port_is_free(p)]
        if busy:
            raise RuntimeError(f"{self.kind}: port(s) {busy} already in use on 127.0.0.1 "
                               "(another stack on the same ACME lab still running?)")
        t0 = time.monotonic()
        self._proc = ManagedProcess(self.kind, self._argv(), self.log_file, cwd=self.server_dir)
        self._proc.start()
        proc = self._proc
        up = wait_until(lambda: tcp_open(self.http_port) and tcp_open(self.https_port),
                        START_TIMEOUT, abort=proc.exit_reason)
        # The master listens before its workers exist: wait for a real answer too.
        up = up and wait_until(self._answers_http, START_TIMEOUT, abort=proc.exit_reason)
        if not up:
            tail = proc.log_tail()
            self.stop()
            raise RuntimeError(f"{self.kind} not listening after {START_TIMEOUT:.0f} s:\n{tail}")
        self.start_seconds = time.monotonic() - t0

    def _answers_http(self) -> bool:
        conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=2)
        try:
            conn.request("HEAD", "/", headers={"Host": "localhost", "User-Agent": "sandbox-start"})
            return conn.getresponse().status > 0
        except (OSError, http.client.HTTPException):
            return False
        finally:
            conn.close()

    def stop(self, *, graceful: bool = True) -> None:
        """Stop by PID: graceful (nginx SIGQUIT, apache SIGWINCH), then SIGTERM, then SIGKILL.

        Apache's graceful stop takes about 1 s (its parent polls once a second); fixtures pass
        graceful=False (SIGTERM first, ~0.05 s) where the connections do not matter.
        """
        if self._proc is None:
            return
        ladder: list[tuple[int, float]] = [(signal.SIGTERM, 5.0)]
        if graceful:
            ladder.insert(0, (signal.SIGQUIT if self.kind == "nginx" else signal.SIGWINCH, 10.0))
        self._proc.stop(ladder)
        self._proc = None

    def is_serving(self) -> bool:
        return self.pid is not None and tcp_open(self.http_port) and tcp_open(self.https_port)

    def control_command(self, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        """Run the wrapper (sbin/nginx or bin/apachectl) like a tool on a VM would."""
        return subprocess.run([str(self.control), *args], capture_output=True, text=True,
                              timeout=timeout, check=False, stdin=subprocess.DEVNULL)

    def config_test(self) -> subprocess.CompletedProcess[str]:
        return self.control_command("-t")

    def reload(self) -> subprocess.CompletedProcess[str]:
        """Graceful reload through the wrapper, then wait (<= 5 s) until the old workers stopped
        accepting, so the next request is served by the new configuration."""
        from bncert_tui.core.processes import children, wait_for_new_workers

        master = self.pid
        old = set(children(master)) if master else set()
        done = self.control_command(*(("-s", "reload") if self.kind == "nginx" else ("-k", "graceful")))
        if done.returncode == 0 and master and old:
            wait_for_new_workers(master, old, retired_marker="shutting down" if self.kind == "nginx" else "\0")
        return done

    def __enter__(self) -> BitnamiStack:
        if not self.built:
            self.build()
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
