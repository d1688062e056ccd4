"""The sandbox is real: the Bitnami-like trees pass the servers' own config tests, serve HTTP and
TLS, reload through the wrappers, stop cleanly; pebble issues certificates lego can fetch."""

from __future__ import annotations

import http.client
import json
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.verification import PolicyBuilder, Store

from bncert_tui.sandbox import (
    AcmeLab,
    BitnamiStack,
    Kind,
    Sandbox,
    ca,
    free_port,
    http_get,
    served_certificate,
    verify_https,
)
from bncert_tui.sandbox.ca import dns_a_lookup
from bncert_tui.sandbox.ports import port_is_free
from bncert_tui.sandbox.procs import descendants, pid_alive
from bncert_tui.sandbox.tls import make_self_signed

pytestmark = pytest.mark.integration

KINDS: list[Kind] = ["nginx", "apache"]
AS_ROOT = os.geteuid() == 0


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A 0755 temp dir outside pytest's 0700 tree (the workers run as `daemon` when root)."""
    path = Path(tempfile.mkdtemp(prefix="bncert-sandbox-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _cn(cert: x509.Certificate) -> str:
    return str(cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value)


def _fingerprint(cert: x509.Certificate) -> bytes:
    return cert.fingerprint(hashes.SHA256())


def _uid(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError(f"no Uid line for {pid}")


# -- the tree ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_tree_is_bitnami_like_and_passes_config_test(kind: Kind, open_dir: Path) -> None:
    http, https = free_port(), free_port()
    d = open_dir / "bitnami"
    stack = BitnamiStack(kind, d, http_port=http, https_port=https)
    stack.build()

    conf = d / kind / "conf"
    texts = {p: p.read_text() for p in conf.rglob("*.conf")}
    assert texts, "no config files written"
    assert not [p for p, t in texts.items() if "/opt/bitnami" in t or "#@" in t]
    assert (d / "letsencrypt").is_dir() and not any((d / "letsencrypt").iterdir())
    expected_name = "NGINX" if kind == "nginx" else "Apache"
    assert expected_name in (d / "wordpress/index.html").read_text()
    key = conf / "bitnami/certs/server.key"
    assert key.stat().st_mode & 0o777 == 0o600
    crt = x509.load_pem_x509_certificate((conf / "bitnami/certs/server.crt").read_bytes())
    assert _cn(crt) == "example.com" and crt.issuer == crt.subject
    for sub in [d, *(p for p in d.rglob("*") if p.is_dir())]:
        assert sub.stat().st_mode & 0o777 == 0o755, sub

    if kind == "nginx":
        main = texts[conf / "nginx.conf"]
        assert os.access(d / "nginx/sbin/nginx", os.X_OK)
        assert "daemon off" not in main
        assert f'pid               "{d}/nginx/tmp/nginx.pid";' in main
        assert "worker_processes  1;" in main
        user_line = "user              daemon daemon;"
        assert (f"\n{user_line}" in main) is AS_ROOT and user_line in main
        assert f"listen  127.0.0.1:{http};" in main  # the catch-all server of nginx.conf
        blocks = conf / "server_blocks"
        http_block = texts[blocks / "wordpress-server-block.conf"]
        assert f"listen 127.0.0.1:{http} default_server;" in http_block
        https_block = texts[blocks / "wordpress-https-server-block.conf"]
        assert f"listen 127.0.0.1:{https} ssl default_server;" in https_block
        assert "ssl_certificate      bitnami/certs/server.crt;" in https_block
        assert all((conf / "context.d" / c).is_dir() for c in ("main", "events", "http"))
        assert (conf / "mime.types").is_file()
        listens = [ln.strip() for t in texts.values() for ln in t.splitlines()
                   if ln.strip().startswith("listen")]
        assert listens and all("127.0.0.1:" in ln for ln in listens)
    else:
        main = texts[conf / "httpd.conf"]
        assert os.access(d / "apache/bin/httpd", os.X_OK)
        assert os.access(d / "apache/bin/apachectl", os.X_OK)
        assert f"Listen 127.0.0.1:{http}\n" in main
        assert f'PidFile "{d}/apache/var/run/httpd.pid"' in main
        assert ("\nUser daemon\n" in main) is AS_ROOT
        vhosts = main.index(f'IncludeOptional "{d}/apache/conf/vhosts/*.conf"')
        assert vhosts < main.index(f'Include "{d}/apache/conf/bitnami/bitnami.conf"')
        assert f"Listen 127.0.0.1:{https}\n" in texts[conf / "bitnami/bitnami-ssl.conf"]
        assert f"<VirtualHost 127.0.0.1:{http} _default_:{http}>" in texts[
            conf / "vhosts/wordpress-vhost.conf"]
        assert f"<VirtualHost 127.0.0.1:{https} _default_:{https}>" in texts[
            conf / "vhosts/wordpress-https-vhost.conf"]
        assert (d / "apache/htdocs/index.html").is_file()

    result = stack.config_test()
    assert result.returncode == 0, result.stderr + result.stdout
    with pytest.raises(FileExistsError):
        stack.build()


@pytest.mark.parametrize("kind", KINDS)
def test_config_test_rejects_a_broken_tree(kind: Kind, open_dir: Path) -> None:
    stack = BitnamiStack(kind, open_dir / "bitnami", http_port=free_port())
    stack.build()
    with stack.main_config.open("a") as fh:
        fh.write("\nthis_is_not_a_directive on;\n")
    result = stack.config_test()
    assert result.returncode != 0
    assert "this_is_not_a_directive" in result.stderr + result.stdout


# -- running stacks ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_stack_serves_http_and_self_signed_tls(kind: Kind, request: pytest.FixtureRequest) -> None:
    sb: Sandbox = request.getfixturevalue(f"{kind}_sandbox")
    assert sb.stack.is_serving() and sb.http_port == sb.lab.http01_port

    status, headers, body = http_get(sb.http_port, "www.example.test")
    assert status == 200
    assert (b"NGINX" if kind == "nginx" else b"Apache") in body
    assert headers["Server"].lower().startswith(kind)

    shipped = x509.load_pem_x509_certificate(sb.stack.server_cert.read_bytes())
    served = served_certificate(sb.https_port, "www.example.test")
    assert _fingerprint(served) == _fingerprint(shipped)
    assert http_get(sb.https_port, "www.example.test", tls=True)[0] == 200
    with pytest.raises(ssl.SSLCertVerificationError):  # self-signed: not trusted by the ACME root
        verify_https(sb.https_port, "example.com", sb.root_pem())

    # Real Bitnami nginx denies dot-paths in every server block: the tool must override it.
    challenge = http_get(sb.http_port, "www.example.test", "/.well-known/acme-challenge/x")[0]
    assert challenge == (403 if kind == "nginx" else 404)

    assert sb.stack.pid is not None
    workers = descendants(sb.stack.pid)
    assert workers
    if AS_ROOT:
        assert {_uid(p) for p in workers} == {pwd.getpwnam("daemon").pw_uid}


@pytest.mark.parametrize("kind", KINDS)
def test_reload_through_wrapper_keeps_serving(kind: Kind, request: pytest.FixtureRequest) -> None:
    sb: Sandbox = request.getfixturevalue(f"{kind}_sandbox")
    pid = sb.stack.pid
    make_self_signed("reloaded.example.test").write(
        sb.stack.server_cert, sb.stack.conf_dir / "bitnami/certs/server.key"
    )
    argv = ["-s", "reload"] if kind == "nginx" else ["-k", "graceful"]
    result = subprocess.run([str(sb.stack.control), *argv], capture_output=True, text=True,
                            timeout=30, check=False)
    assert result.returncode == 0, result.stderr + result.stdout

    deadline = time.monotonic() + 10
    cn = ""
    while time.monotonic() < deadline:
        assert sb.stack.is_serving()
        cn = _cn(served_certificate(sb.https_port, "www.example.test"))
        if cn == "reloaded.example.test":
            break
        time.sleep(0.05)
    assert cn == "reloaded.example.test"
    assert sb.stack.pid == pid  # reloaded in place, not restarted
    assert http_get(sb.http_port, "www.example.test")[0] == 200


@pytest.mark.parametrize("kind", KINDS)
def test_stop_leaves_no_process(kind: Kind, request: pytest.FixtureRequest) -> None:
    sb: Sandbox = request.getfixturevalue(f"{kind}_sandbox")
    assert sb.stack.pid is not None
    pids = {sb.stack.pid} | descendants(sb.stack.pid)
    assert len(pids) >= 2  # master + at least one worker
    sb.stack.stop()
    assert sb.stack.pid is None and not sb.stack.is_serving()
    assert not [p for p in pids if pid_alive(p)]
    assert port_is_free(sb.http_port) and port_is_free(sb.https_port)


def test_one_stack_per_lab(nginx_sandbox: Sandbox, acme_lab: AcmeLab) -> None:
    other = Sandbox("apache", lab=acme_lab)
    try:
        with pytest.raises(RuntimeError, match="one stack per lab"):
            other.start()
    finally:
        other.close()
    assert nginx_sandbox.stack.is_serving()


# -- the ACME lab --------------------------------------------------------------------------------


def test_acme_lab_serves_directory_root_and_dns(acme_lab: AcmeLab) -> None:
    assert acme_lab.directory_url == f"https://127.0.0.1:{acme_lab.acme_port}/dir"
    assert Path(acme_lab.env()["LEGO_CA_CERTIFICATES"]) == acme_lab.tls_ca_file
    ctx = ssl.create_default_context(cafile=str(acme_lab.tls_ca_file))
    conn = http.client.HTTPSConnection("127.0.0.1", acme_lab.acme_port, context=ctx, timeout=5)
    conn.request("GET", "/dir")
    resp = conn.getresponse()
    directory = json.loads(resp.read())
    conn.close()
    assert resp.status == 200
    assert {"newAccount", "newNonce", "newOrder"} <= set(directory)

    pem = acme_lab.root_pem()
    assert pem.startswith("-----BEGIN CERTIFICATE-----")
    root = x509.load_pem_x509_certificate(pem.encode())
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert dns_a_lookup("anything.example.test", acme_lab.dns_port) == ["127.0.0.1"]


def test_root_changes_on_restart(make_acme_lab: Callable[..., AcmeLab]) -> None:
    lab = make_acme_lab()
    first = lab.root_pem()
    lab.stop()
    assert not lab.running()
    lab.start()
    assert lab.root_pem() != first


def test_lab_retries_when_its_dns_port_is_taken(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """challtestsrv only logs a busy port and keeps running: the lab must notice and retry."""
    with socket.socket() as tcp, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        tcp.bind(("127.0.0.1", 0))
        tcp.listen()
        taken = tcp.getsockname()[1]
        udp.bind(("127.0.0.1", taken))
        handed_out: list[int] = []

        def first_dns_port_is_taken(*, udp_too: bool = False) -> int:
            if udp_too and not handed_out:
                handed_out.append(taken)
                return taken
            return free_port(udp_too=udp_too)

        monkeypatch.setattr(ca, "free_port", first_dns_port_is_taken)
        lab = AcmeLab(tmp_path / "lab")
        try:
            lab.start()
            assert handed_out == [taken] and lab.dns_port != taken and lab.running()
            assert dns_a_lookup("x.example.test", lab.dns_port) == ["127.0.0.1"]
        finally:
            lab.stop()


def test_lego_issues_a_certificate_that_chains_to_the_root(
    acme_lab: AcmeLab, tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    assert acme_lab.active_stack is None  # lego binds the HTTP-01 port itself
    domain = "app.example.test"
    lego_dir = tmp_path / "lego"
    argv = ["lego", "--server", acme_lab.directory_url, "--accept-tos", "--email",
            "test@example.com", "--path", str(lego_dir), "-d", domain, "--http",
            "--http.port", f"127.0.0.1:{acme_lab.http01_port}", "run"]
    t0 = time.monotonic()
    result = subprocess.run(argv, env={**os.environ, **acme_lab.env()}, capture_output=True,
                            text=True, timeout=120, check=False, stdin=subprocess.DEVNULL)
    record_property("issuance_seconds", round(time.monotonic() - t0, 2))
    assert result.returncode == 0, result.stderr[-2000:]

    bundle = (lego_dir / "certificates" / f"{domain}.crt").read_bytes()
    leaf, *intermediates = x509.load_pem_x509_certificates(bundle)
    root = x509.load_pem_x509_certificate(acme_lab.root_pem().encode())
    verifier = PolicyBuilder().store(Store([root])).build_server_verifier(x509.DNSName(domain))
    chain = verifier.verify(leaf, intermediates)
    assert chain[-1] == root
    lifetime = leaf.not_valid_after_utc - leaf.not_valid_before_utc
    assert abs(lifetime.total_seconds() - acme_lab.validity_seconds) < 3600

    # The probe agrees once a stack serves it: verified for the domain, rejected for another name.
    with Sandbox("nginx", lab=acme_lab) as sb:
        sb.stack.stop()
        shutil.copyfile(lego_dir / "certificates" / f"{domain}.crt", sb.stack.server_cert)
        shutil.copyfile(lego_dir / "certificates" / f"{domain}.key",
                        sb.stack.conf_dir / "bitnami/certs/server.key")
        sb.stack.start()
        verified = verify_https(sb.https_port, domain, sb.root_pem())
        assert _fingerprint(verified) == _fingerprint(leaf)
        status, _h, _b = http_get(sb.https_port, domain, tls=True, root_pem=sb.root_pem())
        assert status == 200
        with pytest.raises(ssl.SSLCertVerificationError):
            verify_https(sb.https_port, "other.example.test", sb.root_pem())


def test_sandbox_with_its_own_lab_cleans_up_everything() -> None:
    with Sandbox("nginx") as sb:
        base = sb.base
        args = sb.global_args()
        assert args == ["--installdir", str(sb.installdir), "--server", sb.lab.directory_url,
                        "--cron-file", str(sb.cron_file), "--crontab-dir", str(sb.crontab_dir),
                        "--cron-d-dir", str(sb.cron_d_dir)]
        assert sb.crontab_dir.parent == base and sb.cron_d_dir.parent == base
        assert not sb.cron_file.exists() and sb.cron_file.parent == base
        env = sb.env()
        assert Path(env["LEGO_CA_CERTIFICATES"]).is_file() and env["PATH"] == os.environ["PATH"]
        assert sb.stack.pid is not None
        pids = set(sb.lab.pids) | {sb.stack.pid} | descendants(sb.stack.pid)
        assert all(pid_alive(p) for p in pids)
    assert not [p for p in pids if pid_alive(p)]
    assert not base.exists()


def test_leak_guard_kills_and_reports_a_stray_child(tmp_path: Path) -> None:
    """Run a tiny suite under this conftest: a test that leaves `sleep` running must error."""
    repo = Path(__file__).resolve().parents[2]
    (tmp_path / "conftest.py").write_text((repo / "tests/conftest.py").read_text())
    pid_file = tmp_path / "pid"
    (tmp_path / "test_leak.py").write_text(
        "import subprocess\n"
        "def test_leaks():\n"
        "    proc = subprocess.Popen(['sleep', '60'])\n"
        f"    open({str(pid_file)!r}, 'w').write(str(proc.pid))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(repo)}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
         "--rootdir", str(tmp_path), str(tmp_path)],
        capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path, check=False,
    )
    assert result.returncode == 1, result.stdout[-2000:]
    assert "1 passed, 1 error" in result.stdout
    assert "left child processes running" in result.stdout and "sleep 60" in result.stdout
    assert not pid_alive(int(pid_file.read_text()))
