"""The whole engine against the real sandbox (real lego, pebble, nginx and Apache), through the CLI."""

from __future__ import annotations

import os
import stat
import time

import pytest

from bncert_tui.sandbox import Sandbox, http_get, served_certificate, verify_https
from tests.integration.cli_helpers import (
    apply,
    challenge_files,
    config_snapshot,
    parse_json,
    run_cli,
    workers,
)

pytestmark = pytest.mark.integration


@pytest.fixture(params=["nginx", "apache"])
def box(request: pytest.FixtureRequest) -> Sandbox:
    return request.getfixturevalue(f"{request.param}_sandbox")  # type: ignore[no-any-return]


def original_serial(box: Sandbox) -> int:
    return served_certificate(box.https_port, "example.test").serial_number


def test_apply_reapply_then_revert(box: Sandbox) -> None:
    before = config_snapshot(box)
    old_serial = original_serial(box)
    proc = apply(box, "example.test")
    assert proc.returncode == 0, proc.stderr
    result = parse_json(proc)
    assert result["ok"] is True
    assert result["certificate"]["names"] == ["example.test"]
    assert any(p.endswith("wordpress-https-server-block.conf") or p.endswith("wordpress-https-vhost.conf")
               for p in result["backed_up"])

    # Served over TLS, chaining to pebble's root and covering the name.
    cert = verify_https(box.https_port, "example.test", box.root_pem())
    assert format(cert.serial_number, "x") == result["certificate"]["serial"]
    # HTTP -> HTTPS, 301, path and query kept; the challenge path is never redirected.
    status, headers, _ = http_get(box.http_port, "example.test", "/a/b?x=1&y=2")
    assert status == 301
    assert headers["location"] == f"https://example.test:{box.https_port}/a/b?x=1&y=2"
    status, _, _ = http_get(box.http_port, "example.test", "/.well-known/acme-challenge/none")
    assert status == 404
    # The renewal entry, and private files 0600 in 0700 dirs.
    cron = box.cron_file.read_text()
    assert "renew --cert example.test" in cron and "# bncert-tui:example.test" in cron
    private = box.installdir / "bncert-tui" / "private"
    assert stat.S_IMODE(private.stat().st_mode) == 0o700
    assert stat.S_IMODE((private / "state.json").stat().st_mode) == 0o600
    key = box.installdir / "letsencrypt" / "certificates" / "example.test.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert challenge_files(box) == []

    # Same answers again: no byte changes, no new order, no reload.
    after_first = config_snapshot(box)
    state_first = (private / "state.json").read_bytes()
    pids = workers(box)
    again = apply(box, "example.test")
    assert again.returncode == 0, again.stderr
    assert parse_json(again)["certificate"]["action"] == "keep"
    assert config_snapshot(box) == after_first
    assert (private / "state.json").read_bytes() == state_first
    assert workers(box) == pids

    # Revert: every file byte-identical to before the first apply, old certificate served.
    reverted = run_cli(box, "revert", *box.global_args())
    assert reverted.returncode == 0, reverted.stderr
    assert config_snapshot(box) == before
    deadline = time.monotonic() + 5
    while original_serial(box) != old_serial and time.monotonic() < deadline:
        time.sleep(0.2)
    assert original_serial(box) == old_serial, box.stack.log_file.read_text()[-3000:]
    assert key.exists(), "revert never deletes a certificate"


def test_expand_then_change_redirects(box: Sandbox) -> None:
    assert apply(box, "example.test").returncode == 0
    proc = apply(box, "example.test", "www.example.test")
    assert proc.returncode == 0, proc.stderr
    result = parse_json(proc)
    assert sorted(result["certificate"]["names"]) == ["example.test", "www.example.test"]
    assert result["certificate"]["name"] == "example.test"  # the same certificate, expanded
    serial = result["certificate"]["serial"]
    verify_https(box.https_port, "www.example.test", box.root_pem())
    # bncert-tool's default with both forms: non-www -> www, over HTTPS too.
    status, headers, _ = http_get(box.https_port, "example.test", "/p?q=1", tls=True, root_pem=box.root_pem())
    assert (status, headers["location"]) == (301, f"https://www.example.test:{box.https_port}/p?q=1")

    before = config_snapshot(box)
    changed = apply(box, "example.test", "www.example.test", extra=("--www-redirect", "none"))
    assert changed.returncode == 0, changed.stderr
    result = parse_json(changed)
    assert result["certificate"]["serial"] == serial  # only the redirects changed
    after = config_snapshot(box)
    assert after["<cron>"] == before["<cron>"]
    status, headers, _ = http_get(box.https_port, "example.test", "/p", tls=True, root_pem=box.root_pem())
    assert status != 301
    status, headers, _ = http_get(box.http_port, "example.test", "/p")
    assert (status, headers["location"]) == (301, f"https://example.test:{box.https_port}/p")

    # --new-schedule draws another time and changes nothing else.
    redrawn = apply(box, "example.test", "www.example.test", extra=("--www-redirect", "none", "--new-schedule"))
    assert redrawn.returncode == 0, redrawn.stderr
    final = config_snapshot(box)
    assert final.pop("<cron>") != after.pop("<cron>")
    assert final == after


def test_renew_reloads_only_when_renewed(box: Sandbox) -> None:
    assert apply(box, "example.test").returncode == 0
    first = served_certificate(box.https_port, "example.test").serial_number
    pids = workers(box)
    not_due = run_cli(box, "renew", *box.global_args(), "--json")
    assert not_due.returncode == 0, not_due.stderr
    assert parse_json(not_due)["certificates"][0]["outcome"] == "not-due"
    assert workers(box) == pids, "no reload when nothing was renewed"

    forced = run_cli(box, "renew", *box.global_args(), "--force", "--json")
    assert forced.returncode == 0, forced.stderr
    outcome = parse_json(forced)["certificates"][0]
    assert outcome["outcome"] == "renewed"
    deadline = time.monotonic() + 5
    while served_certificate(box.https_port, "example.test").serial_number == first:
        assert time.monotonic() < deadline, "the renewed certificate is not served"
        time.sleep(0.2)
    assert format(served_certificate(box.https_port, "example.test").serial_number, "x") == outcome["serial"]
    log = box.installdir / "bncert-tui" / "private" / "logs" / "renewals.log"
    assert "not-due" in log.read_text() and "renewed" in log.read_text()


@pytest.mark.parametrize(("args", "message"), [
    (["--domain", "*.example.test"], "wildcard"),
    (["--domain", "exa_mple.test"], "underscore"),
    (["--domain", "example.test;rm"], "example.test;rm"),
    (["--domain", "127.0.0.1"], "IP address"),
    (["--domain", "example.test", "--email", "not-an-email"], "Invalid email"),
])
def test_bad_input_touches_nothing(box: Sandbox, args: list[str], message: str) -> None:
    before = config_snapshot(box)
    full = ["apply", *box.global_args(), "--accept-tos", *args]
    if "--email" not in args:
        full += ["--email", "admin@example.org"]
    proc = run_cli(box, *full)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert config_snapshot(box) == before
    assert not (box.installdir / "bncert-tui").exists()


def test_missing_tos_is_bad_input(box: Sandbox) -> None:
    before = config_snapshot(box)
    proc = run_cli(box, "apply", *box.global_args(), "--domain", "example.test", "--email", "a@example.org")
    assert proc.returncode == 2 and "Subscriber Agreement" in proc.stderr
    assert config_snapshot(box) == before


def test_ca_down_rolls_back(box: Sandbox) -> None:
    from bncert_tui.sandbox import free_port

    before = config_snapshot(box)
    old = original_serial(box)
    args = [a if a != box.lab.directory_url else f"https://127.0.0.1:{free_port()}/dir"
            for a in box.global_args()]
    proc = run_cli(box, "apply", *args, "--domain", "example.test", "--email", "a@example.org", "--accept-tos")
    assert proc.returncode == 1
    assert "lego could not obtain the certificate" in proc.stderr
    assert "CA is unreachable" in proc.stderr
    assert "Rolled back" in proc.stderr
    assert config_snapshot(box) == before
    assert original_serial(box) == old
    assert challenge_files(box) == []


def blocked_host_config(box: Sandbox) -> None:
    """A site whose own config answers every request itself: the challenge can never be served."""
    if box.kind == "nginx":
        path = box.installdir / "nginx" / "conf" / "server_blocks" / "blocked.conf"
        path.write_text(f"server {{\n    listen 127.0.0.1:{box.http_port};\n    server_name blocked.test;\n"
                        "    return 404;\n}\n")
    else:
        path = box.installdir / "apache" / "conf" / "vhosts" / "blocked-vhost.conf"
        path.write_text(f"<VirtualHost 127.0.0.1:{box.http_port}>\n  ServerName blocked.test\n"
                        "  RewriteEngine On\n  RewriteRule ^ - [F]\n</VirtualHost>\n")
    assert box.stack.reload().returncode == 0
    time.sleep(0.5)  # a graceful reload takes effect asynchronously


def test_challenge_unreachable_changes_nothing(box: Sandbox) -> None:
    blocked_host_config(box)
    before = config_snapshot(box)
    old = original_serial(box)
    proc = run_cli(box, "apply", *box.global_args(), "--domain", "blocked.test", "--email", "a@example.org",
                   "--accept-tos")
    assert proc.returncode == 1
    assert "challenge path is not reachable" in proc.stderr and "blocked.test" in proc.stderr
    assert "No request was sent to the CA" in proc.stderr
    assert config_snapshot(box) == before
    assert original_serial(box) == old
    assert not (box.installdir / "letsencrypt" / "accounts").exists(), "the CA was contacted"
    assert challenge_files(box) == []
    assert http_get(box.http_port, "localhost", "/")[0] in (200, 404)


def test_dry_run_changes_nothing(box: Sandbox) -> None:
    before = config_snapshot(box)
    proc = apply(box, "example.test", extra=("--dry-run",))
    assert proc.returncode == 0, proc.stderr
    plan = parse_json(proc)
    assert plan["dry_run"] is True and plan["domains"] == ["example.test"]
    assert "BEGIN bncert-tui" in proc.stderr  # the diff of each file is shown
    assert config_snapshot(box) == before
    assert not os.path.exists(box.cron_file)


def test_signal_during_revert_puts_everything_back(nginx_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    """A SIGTERM landing while revert runs (simulated at the config test: the real handler raises
    SignalInterrupt there) leaves the applied configuration in place, still served."""
    from bncert_tui.cli import SignalInterrupt
    from bncert_tui.core import revert as revert_module
    from bncert_tui.core.webserver import detect_web_server

    box = nginx_sandbox
    assert apply(box, "example.test").returncode == 0
    applied = config_snapshot(box)
    serial = served_certificate(box.https_port, "example.test").serial_number

    class SignalledServer:
        def __init__(self, real: object) -> None:
            self.real = real

        def __getattr__(self, name: str) -> object:
            return getattr(self.real, name)

        def config_test(self) -> object:
            raise SignalInterrupt(15)

    monkeypatch.setattr(revert_module, "detect_web_server",
                        lambda installdir: SignalledServer(detect_web_server(installdir)))
    options = argparse_options(box)
    with pytest.raises(SignalInterrupt):
        revert_module.revert(options)
    assert config_snapshot(box) == applied
    assert served_certificate(box.https_port, "example.test").serial_number == serial
    monkeypatch.undo()
    assert run_cli(box, "revert", *box.global_args()).returncode == 0  # the lock was released


def argparse_options(box: Sandbox):  # type: ignore[no-untyped-def]
    from bncert_tui.cli import build_parser, global_options

    return global_options(build_parser().parse_args(["status", *box.global_args()]))
