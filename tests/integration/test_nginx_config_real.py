"""The nginx adapter against the real /usr/sbin/nginx: rendered Bitnami configs pass `nginx -t`,
and a running nginx answers with the redirects, the challenge files and the new certificate.

Each test builds a self-contained nginx tree in its own temp dir (paths rewritten from /opt/bitnami,
free loopback ports, self-signed certs) and stops the nginx it starts by PID.
"""

from __future__ import annotations

import re
import shlex
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bncert_tui.core.webserver.base import Site
from bncert_tui.core.webserver.nginx import NginxServer
from bncert_tui.sandbox.ports import free_ports
from bncert_tui.sandbox.tls import write_self_signed

NGINX = Path("/usr/sbin/nginx")
DATA = Path(__file__).resolve().parent.parent / "data" / "nginx" / "conf"
WORDPRESS = ("wordpress-server-block.conf", "wordpress-https-server-block.conf")
PLAIN = ("default-https-server-block.conf",)
TOKEN = "tok-Abc_123"

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not NGINX.exists(), reason="needs /usr/sbin/nginx"),
]






@dataclass
class Stack:
    base: Path  # the "installdir" (stands for /opt/bitnami)
    http: int
    https: int
    webroot: Path
    cert: Path
    key: Path
    cert_der: bytes

    @property
    def prefix(self) -> Path:
        return self.base / "nginx"

    @property
    def main(self) -> Path:
        return self.base / "nginx" / "conf" / "nginx.conf"

    @property
    def server(self) -> NginxServer:
        return NginxServer(self.base)

    def site(self, **kw: object) -> Site:
        args: dict[object, object] = {
            "name": "example.test",
            "domains": ("example.test", "www.example.test"),
            "webroot": self.webroot,
            "https_port": self.https,
            "cert_file": self.cert,
            "key_file": self.key,
        }
        args.update(kw)
        return Site(**args)  # type: ignore[arg-type]


def build_stack(base: Path, server_blocks: tuple[str, ...]) -> Stack:
    """Copy the reference Bitnami config into base/nginx/conf, rewritten to run here."""
    http, https = free_ports(2)
    conf = base / "nginx" / "conf"
    names = ["nginx.conf", *(f"bitnami/{p.name}" for p in (DATA / "bitnami").glob("*.conf"))]
    names += [f"server_blocks/{n}" for n in server_blocks]
    for name in names:
        text = (DATA / name).read_text()
        text = text.replace("/opt/bitnami", str(base))
        text = re.sub(r"(?m)^user .*\n", "", text)
        text = text.replace("worker_processes  auto;", "worker_processes  1;")
        text = re.sub(r"listen(\s+)80\b", rf"listen\g<1>127.0.0.1:{http}", text)
        text = re.sub(r"listen(\s+)443\b", rf"listen\g<1>127.0.0.1:{https}", text)
        (conf / name).parent.mkdir(parents=True, exist_ok=True)
        (conf / name).write_text(text)
    for name in ("mime.types", "fastcgi_params"):
        shutil.copy(Path("/etc/nginx") / name, conf / name)
    for sub in ("logs", "tmp", "sbin", "html"):
        (base / "nginx" / sub).mkdir(parents=True, exist_ok=True)
    (base / "wordpress").mkdir()
    (base / "wordpress" / "index.html").write_text("app\n")
    for stem in ("server", "tls"):  # the certs the reference blocks point at (relative paths)
        old = conf / "bitnami" / "certs" / stem
        write_self_signed(["old.test"], old.with_suffix(".crt"), old.with_suffix(".key"))
    live = base / "lets encrypt" / "certificates"  # a space: the config must quote these paths
    cert, key = live / "example.test.crt", live / "example.test.key"
    der = write_self_signed(["example.test", "www.example.test"], cert, key)
    webroot = base / "acme root"
    (webroot / ".well-known" / "acme-challenge").mkdir(parents=True)
    (webroot / ".well-known" / "acme-challenge" / TOKEN).write_text(f"{TOKEN}.thumbprint")
    wrapper = base / "nginx" / "sbin" / "nginx"  # like the test stacks: the binary knows its prefix
    wrapper.write_text(
        "#!/bin/sh\n"
        f"exec {NGINX} -e stderr -p {shlex.quote(str(base / 'nginx'))}/ "
        f'-c {shlex.quote(str(conf / "nginx.conf"))} "$@"\n'
    )
    wrapper.chmod(0o755)
    return Stack(base, http, https, webroot, cert, key, der)


@pytest.fixture
def tmp_base() -> Iterator[Path]:
    """A 0755 temp dir: as root nginx's workers run as nobody and must traverse it."""
    base = Path(tempfile.mkdtemp(prefix="bncert-nginx-"))
    base.chmod(0o755)
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def running() -> Iterator[list[subprocess.Popen[bytes]]]:
    """nginx processes started by a test; stopped by PID (TERM, wait, KILL) whatever happens."""
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


def start(stack: Stack, procs: list[subprocess.Popen[bytes]]) -> None:
    log = (stack.base / "nginx-stderr.log").open("wb")
    proc = subprocess.Popen(
        [str(stack.prefix / "sbin" / "nginx"), "-g", "daemon off;"],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    procs.append(proc)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        assert proc.poll() is None, (stack.base / "nginx-stderr.log").read_text()
        if stack.server.is_running():
            try:
                socket.create_connection(("127.0.0.1", stack.https), timeout=0.2).close()
                return
            except OSError:
                pass
        time.sleep(0.02)
    raise AssertionError("nginx did not start within 5 s")


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    peer_der: bytes | None = None


def get(
    port: int, host: str, path: str, tls_name: str | None = None, cafile: Path | None = None
) -> Reply:
    """One HTTP/1.1 request to 127.0.0.1:port with the given Host (and SNI when tls_name)."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock: socket.socket = raw
    peer = None
    if tls_name is not None:
        ctx = ssl.create_default_context(cafile=None if cafile is None else str(cafile))
        if cafile is None:
            ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        sock = ctx.wrap_socket(raw, server_hostname=tls_name)  # verifies the cert if cafile
        peer = sock.getpeercert(binary_form=True)
    with sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return Reply(int(lines[0].split()[1]), headers, body, peer)


def write(changes: dict[Path, str]) -> None:
    for path, text in changes.items():
        path.write_text(text)


def current(server: NginxServer) -> dict[Path, str]:
    return {p: p.read_text() for p in server.inspect().config_files}


def nginx_t(stack: Stack) -> subprocess.CompletedProcess[str]:
    """`nginx -p -c -t` run directly (not through the wrapper), as the brief asks."""
    return subprocess.run(
        [NGINX, "-e", "stderr", "-t", "-p", f"{stack.prefix}/", "-c", stack.main],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def children(pid: int) -> set[int]:
    """PIDs whose parent is `pid` (nginx workers of a master), from /proc."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def reload_and_wait(server: NginxServer, master: int, timeout: float = 5) -> None:
    """`nginx -s reload` returns before the switch: wait until the old workers are gone, else an
    old worker may still answer a request (old config, old certificate)."""
    old = children(master)
    assert old
    assert server.reload().ok
    deadline = time.monotonic() + timeout
    while children(master) & old:
        assert time.monotonic() < deadline, "old nginx workers still running after reload"
        time.sleep(0.02)


def test_wordpress_stack_challenge_then_certificate(
    tmp_base: Path, running: list[subprocess.Popen[bytes]]
) -> None:
    stack = build_stack(tmp_base, WORDPRESS)
    server = stack.server
    info = server.inspect()
    assert re.fullmatch(r"\d+\.\d+\.\d+", info.version)
    assert (info.ports.http, info.ports.https) == (stack.http, stack.https)
    assert info.main_config in info.config_files
    assert server.config_test().ok
    assert not server.is_running()

    # 0. the stock config, running: Bitnami's `location ~ /\.` hides the challenge path
    start(stack, running)
    assert server.is_running()
    assert get(stack.http, "example.test", f"/.well-known/acme-challenge/{TOKEN}").status == 403

    # 1. challenge only (before the certificate exists): files served, nothing redirected
    write(server.render(current(server), [stack.site(cert_file=None, key_file=None)]))
    result = nginx_t(stack)
    assert result.returncode == 0, result.stderr
    reload_and_wait(server, running[0].pid)
    challenge = f"/.well-known/acme-challenge/{TOKEN}"
    for host in ("example.test", "www.example.test"):
        reply = get(stack.http, host, challenge)
        assert (reply.status, reply.body) == (200, f"{TOKEN}.thumbprint".encode())
    assert get(stack.http, "example.test", "/a?b=1").status != 301

    # 2. the certificate: HTTPS + to-www, applied with a graceful reload
    files = current(server)
    changes = server.render(files, [stack.site(www_redirect="to-www")])
    assert server.render({**files, **changes}, [stack.site(www_redirect="to-www")]) == {}
    write(changes)
    result = nginx_t(stack)
    assert result.returncode == 0, result.stderr
    assert server.config_test().ok
    reload_and_wait(server, running[0].pid)

    target = f"https://www.example.test:{stack.https}/a?b=1"
    for host in ("example.test", "www.example.test"):
        reply = get(stack.http, host, "/a?b=1")
        assert (reply.status, reply.headers["location"]) == (301, target)
        reply = get(stack.http, host, f"/.well-known/acme-challenge/{TOKEN}")
        assert (reply.status, reply.body) == (200, f"{TOKEN}.thumbprint".encode())
    reply = get(stack.https, "example.test", "/a?b=1", tls_name="example.test", cafile=stack.cert)
    assert (reply.status, reply.headers["location"]) == (301, target)
    assert reply.peer_der == stack.cert_der
    www = "www.example.test"
    reply = get(stack.https, www, "/index.html", tls_name=www, cafile=stack.cert)
    assert (reply.status, reply.body, reply.peer_der) == (200, b"app\n", stack.cert_der)
    assert server.is_running()


def test_plain_stack_to_nonwww_without_https_redirect(
    tmp_base: Path, running: list[subprocess.Popen[bytes]]
) -> None:
    stack = build_stack(tmp_base, PLAIN)
    server = stack.server
    site = stack.site(https_redirect=False, www_redirect="to-nonwww")
    write(server.render(current(server), [site]))
    result = nginx_t(stack)
    assert result.returncode == 0, result.stderr
    start(stack, running)

    reply = get(stack.http, "www.example.test", "/x/y?z=%20")
    assert (reply.status, reply.headers["location"]) == (301, f"http://example.test:{stack.http}/x/y?z=%20")
    assert get(stack.http, "example.test", "/x").status == 404  # no redirect to HTTPS
    reply = get(stack.http, "www.example.test", f"/.well-known/acme-challenge/{TOKEN}")
    assert reply.status == 200
    www = "www.example.test"
    reply = get(stack.https, www, "/x", tls_name=www, cafile=stack.cert)
    assert (reply.status, reply.headers["location"]) == (301, f"https://example.test:{stack.https}/x")
    assert reply.peer_der == stack.cert_der


MIXED = """\
worker_processes 1;
pid {d}/nginx/tmp/nginx.pid;
error_log {d}/nginx/logs/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {d}/nginx/tmp/body;  proxy_temp_path {d}/nginx/tmp/proxy;
    fastcgi_temp_path {d}/nginx/tmp/fastcgi;  uwsgi_temp_path {d}/nginx/tmp/uwsgi;
    scgi_temp_path {d}/nginx/tmp/scgi;
    ssl_certificate     {d}/nginx/conf/bitnami/certs/server.crt;
    ssl_certificate_key {d}/nginx/conf/bitnami/certs/server.key;
    server {{ listen 127.0.0.1:{http}; listen 127.0.0.1:{https} ssl; root {d}/wordpress;
        location ~ /\\. {{ deny all; }}
    }}
    server {{ listen 127.0.0.1:{https} ssl default_server; return 204; }}
}}
"""


def test_one_block_for_http_and_https_does_not_loop(
    tmp_base: Path, running: list[subprocess.Popen[bytes]]
) -> None:
    stack = build_stack(tmp_base, PLAIN)
    main = stack.prefix / "conf" / "nginx.conf"
    main.write_text(MIXED.format(d=tmp_base, http=stack.http, https=stack.https))
    server = stack.server
    write(server.render(current(server), [stack.site()]))
    result = nginx_t(stack)
    assert result.returncode == 0, result.stderr
    assert "ssl_certificate " in main.read_text().split("# BEGIN bncert-tui: example.test")[1]
    start(stack, running)

    reply = get(stack.http, "www.example.test", "/p?q")
    assert (reply.status, reply.headers["location"]) == (301, f"https://www.example.test:{stack.https}/p?q")
    assert get(stack.http, "example.test", f"/.well-known/acme-challenge/{TOKEN}").status == 200
    # our server_name makes the first block win on HTTPS too (over the default_server): it
    # serves the site with the new cert and does not redirect HTTPS to itself
    for host in ("example.test", "www.example.test"):
        reply = get(stack.https, host, "/index.html", tls_name=host, cafile=stack.cert)
        assert (reply.status, reply.body, reply.peer_der) == (200, b"app\n", stack.cert_der)
    reply = get(stack.https, "other.test", "/", tls_name="other.test")  # the default, untouched
    assert reply.status == 204 and reply.peer_der != stack.cert_der
