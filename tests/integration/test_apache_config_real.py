"""The Apache adapter against the real /usr/sbin/apache2, on a Bitnami-shaped tree in a temp dir.

The tree is tests/data/apache with /opt/bitnami moved to the temp dir and ports 80/443 moved to free
loopback ports; `bin/httpd` and `bin/apachectl` are wrappers that add -d/-f, as a Bitnami binary
knows its config. Timings are printed (run with -s to see them).
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bncert_tui.core.webserver.apache import ApacheServer
from bncert_tui.core.webserver.base import Site
from bncert_tui.sandbox.ports import free_ports
from bncert_tui.sandbox.tls import write_self_signed

APACHE2 = Path("/usr/sbin/apache2")
MODULES = Path("/usr/lib/apache2/modules")
DATA = Path(__file__).resolve().parent.parent / "data" / "apache" / "conf"
TOKEN = "tok-9f2c"
TOKEN_BODY = "tok-9f2c.key-authorization"

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not APACHE2.exists() or not MODULES.is_dir(), reason="needs apache2"),
]






@dataclass
class Stack:
    base: Path
    root: Path  # ServerRoot = base/apache
    http: int
    https: int
    site: Site
    old_der: bytes
    new_der: bytes

    def argv(self, *extra: str) -> list[str]:
        return [
            str(APACHE2),
            "-d",
            str(self.root),
            "-f",
            str(self.root / "conf" / "httpd.conf"),
            *extra,
        ]

    def error_log(self) -> str:
        log = self.root / "logs" / "error_log"
        return log.read_text(errors="replace")[-3000:] if log.exists() else ""


def build_stack(base: Path) -> Stack:
    http, https = free_ports(2)
    root = base / "apache"
    for src in sorted(DATA.rglob("*")):
        if not src.is_file():
            continue
        text = src.read_text().replace("/opt/bitnami", str(base))
        text = text.replace("Listen 80\n", f"Listen 127.0.0.1:{http}\n")
        text = text.replace("Listen 443\n", f"Listen 127.0.0.1:{https}\n")
        text = re.sub(r"(?<=:)80\b", str(http), re.sub(r"(?<=:)443\b", str(https), text))
        if os.geteuid() != 0:
            text = re.sub(r"^(User|Group) .*\n", "", text, flags=re.M)
        dest = root / "conf" / src.relative_to(DATA)
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(text)
    for d in ("logs", "var/run", "htdocs", "bin"):
        (root / d).mkdir(parents=True, exist_ok=True)
    (root / "modules").symlink_to(MODULES)
    (root / "conf" / "mime.types").write_text("text/html html\n")
    (root / "htdocs" / "index.html").write_text("bitnami default\n")
    (base / "wordpress").mkdir()
    (base / "wordpress" / "index.html").write_text("wordpress\n")
    challenge_dir = base / "apps" / "letsencrypt" / ".well-known" / "acme-challenge"
    challenge_dir.mkdir(parents=True)
    (challenge_dir / TOKEN).write_text(TOKEN_BODY)
    wrapper = f'#!/bin/sh\nexec {APACHE2} -d "{root}" -f "{root}/conf/httpd.conf" "$@"\n'
    for name in ("httpd", "apachectl"):
        (root / "bin" / name).write_text(wrapper)
        (root / "bin" / name).chmod(0o755)
    certs = root / "conf" / "bitnami" / "certs"
    old_der = write_self_signed(["example.com"], certs / "server.crt", certs / "server.key")
    live = base / "letsencrypt" / "certificates"
    new_der = write_self_signed(
        ["example.test", "www.example.test"], live / "example.test.crt", live / "example.test.key"
    )
    site = Site(
        name="example.test",
        domains=("example.test", "www.example.test"),
        webroot=base / "apps" / "letsencrypt",
        https_port=https,
        cert_file=live / "example.test.crt",
        key_file=live / "example.test.key",
        https_redirect=True,
        www_redirect="to-www",
    )
    return Stack(base, root, http, https, site, old_der, new_der)


@pytest.fixture
def stack() -> Iterator[Stack]:
    base = Path(tempfile.mkdtemp(prefix="bncert-apache-"))
    base.chmod(0o755)  # workers run as `daemon` and must traverse to the docroot and webroot
    try:
        yield build_stack(base)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"apache2 exited with {proc.returncode}"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise AssertionError(f"port {port} did not open")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Graceful stop (SIGWINCH), then SIGTERM, then SIGKILL, each with a bounded wait."""
    for sig in (signal.SIGWINCH, signal.SIGTERM, signal.SIGKILL):
        if proc.poll() is not None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(timeout=5)
            return
        except subprocess.TimeoutExpired:
            continue


def http_get(port: int, host: str, path: str) -> tuple[int, str | None, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path, headers={"Host": host})
        resp = conn.getresponse()
        return resp.status, resp.getheader("Location"), resp.read().decode(errors="replace")
    finally:
        conn.close()


def https_get(port: int, host: str, path: str) -> tuple[int, str | None, str, bytes]:
    """GET over TLS with SNI `host`; returns status, Location, body and the served cert (DER)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname=host) as tls,
    ):
        der = tls.getpeercert(binary_form=True) or b""
        tls.sendall(request)
        data = b""
        while chunk := tls.recv(65536):
            data += chunk
    head, _, body = data.decode(errors="replace").partition("\r\n\r\n")
    status = int(head.split()[1])
    location = re.search(r"^Location: (.*?)\r?$", head, re.M | re.I)
    return status, location.group(1) if location else None, body, der


def test_render_then_reload_serves_redirects_challenge_and_new_cert(stack: Stack) -> None:
    timings: dict[str, float] = {}
    server = ApacheServer(stack.base)
    info = server.inspect()
    assert re.fullmatch(r"2\.4\.\d+", info.version)
    assert (info.ports.http, info.ports.https) == (stack.http, stack.https)
    assert len(info.config_files) == 8

    t = time.monotonic()
    proc = subprocess.Popen(
        stack.argv("-DFOREGROUND"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_port(stack.http, proc)
        wait_port(stack.https, proc)
        deadline = time.monotonic() + 5
        while not server.is_running():  # httpd binds its ports before it writes the PidFile
            assert time.monotonic() < deadline, "PidFile never appeared"
            time.sleep(0.01)
        timings["start"] = time.monotonic() - t
        assert https_get(stack.https, "www.example.test", "/")[3] == stack.old_der
        assert http_get(stack.http, "example.test", "/a?b=1")[0] != 301

        files = {p: p.read_text() for p in info.config_files}
        t = time.monotonic()
        changed = server.render(files, [stack.site])
        timings["render"] = time.monotonic() - t
        for path, text in changed.items():
            path.write_text(text)
        assert server.render({p: p.read_text() for p in info.config_files}, [stack.site]) == {}

        direct = subprocess.run(stack.argv("-t"), capture_output=True, text=True, timeout=30)
        assert direct.returncode == 0, direct.stderr
        t = time.monotonic()
        test = server.config_test()
        timings["config_test"] = time.monotonic() - t
        assert test.ok and "Syntax OK" in test.output, test.output

        pid_file = stack.root / "var" / "run" / "httpd.pid"
        generation = pid_file.stat().st_mtime_ns
        t = time.monotonic()
        reloaded = server.reload()
        timings["reload"] = time.monotonic() - t
        assert reloaded.ok and "Not seen" not in reloaded.output, reloaded.output
        assert pid_file.stat().st_mtime_ns != generation  # httpd re-read its config before return
        assert pid_file.read_text().strip() == str(proc.pid)
        # no retry: reload() returns once the new config serves
        status, location, _ = http_get(stack.http, "example.test", "/a?b=1")
        assert (status, location) == (301, f"https://www.example.test:{stack.https}/a?b=1"), (
            stack.error_log()
        )
        status, location, _ = http_get(stack.http, "www.example.test", "/p")
        assert (status, location) == (301, f"https://www.example.test:{stack.https}/p")
        for host in ("example.test", "www.example.test"):
            status, location, body = http_get(
                stack.http, host, f"/.well-known/acme-challenge/{TOKEN}"
            )
            assert (status, location, body) == (200, None, TOKEN_BODY), stack.error_log()
        status, location, body, der = https_get(stack.https, "example.test", "/x?y=2")
        assert (status, location) == (301, f"https://www.example.test:{stack.https}/x?y=2")
        assert der == stack.new_der
        status, _, body, der = https_get(
            stack.https, "example.test", f"/.well-known/acme-challenge/{TOKEN}"
        )
        assert (status, body) == (200, TOKEN_BODY)
        assert https_get(stack.https, "www.example.test", "/")[3] == stack.new_der
        assert http_get(stack.http, "status.localhost", "/server-status")[0] == 200

        # uninstall: strip our blocks, reload, no more redirect (the cert paths stay repointed)
        current = {p: p.read_text() for p in info.config_files}
        for path, text in server.render(current, []).items():
            path.write_text(text)
        assert server.config_test().ok
        t = time.monotonic()
        assert server.reload().ok
        timings["reload_2"] = time.monotonic() - t
        assert http_get(stack.http, "example.test", "/a?b=1")[0] != 301
        assert https_get(stack.https, "www.example.test", "/")[3] == stack.new_der
    finally:
        t = time.monotonic()
        stop(proc)
        timings["stop"] = time.monotonic() - t
    assert proc.returncode is not None
    assert not server.is_running()
    print("apache timings (s): " + ", ".join(f"{k}={v:.3f}" for k, v in timings.items()))


def test_config_test_reports_a_broken_edit(stack: Stack) -> None:
    server = ApacheServer(stack.base)
    assert server.config_test().ok
    vhost = stack.root / "conf" / "vhosts" / "wordpress-https-vhost.conf"
    vhost.write_text(vhost.read_text().replace("SSLEngine on", "SSLEngin on"))
    result = server.config_test()
    assert not result.ok and "SSLEngin" in result.output and str(vhost) in result.output
