"""Renewal on the real sandbox: the exact cron line, short-lived pebble certificates, a CA that goes
down and comes back (with a new root and no accounts), a cloned VM, and two certificates on one VM.

The cron command is run as cron would: `/bin/sh -c` with cron's bare environment (no
LEGO_CA_CERTIFICATES: renew must take it from the state). The only change to the line is `sleep N`
-> `sleep 0`, and BNCERT_TUI_NO_RANDOM_SLEEP=1 is set in the environment, because a cron run keeps
lego's random 0-8 min sleep before a renewal.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bncert_tui.core import renewal_policy
from bncert_tui.core.certs import CertInfo, read_cert
from bncert_tui.core.cronfile import CronFile
from bncert_tui.sandbox import AcmeLab, Sandbox, served_certificate, verify_https
from bncert_tui.sandbox import ca as ca_module
from tests.integration.cli_helpers import apply, parse_json, run_cli, workers

pytestmark = pytest.mark.integration

VALIDITY = 24  # seconds: pebble's certificateValidityPeriod; due after 12 s


def cron_env(**extra: str) -> dict[str, str]:
    """What Debian's cron gives a cron.d command, plus the test's switches."""
    return {"PATH": "/usr/bin:/bin", "HOME": "/root", "SHELL": "/bin/sh", "LOGNAME": "root",
            "BNCERT_TUI_NO_RANDOM_SLEEP": "1", **extra}


def run_cron_line(box: Sandbox, name: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The command field of the certificate's cron entry, with only `sleep N` turned into `sleep 0`."""
    entry = CronFile(box.cron_file).get(name)
    assert entry is not None, box.cron_file.read_text() if box.cron_file.exists() else "no cron file"
    command, count = re.subn(r"^sleep \d+ && ", "sleep 0 && ", entry.command)
    assert count == 1, entry.command
    return subprocess.run(["/bin/sh", "-c", command], env=cron_env(**env), capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL, check=False)


def state(box: Sandbox) -> dict[str, Any]:
    path = box.installdir / "bncert-tui" / "private" / "state.json"
    return dict(json.loads(path.read_text()))


def last_run(box: Sandbox, name: str) -> dict[str, Any]:
    return dict(state(box)["certificates"][name]["last_run"])


def disk_cert(box: Sandbox, name: str) -> CertInfo:
    info = read_cert(box.installdir / "letsencrypt" / "certificates" / f"{name}.crt")
    assert info is not None
    return info


def served_serial(box: Sandbox, name: str) -> str:
    return format(served_certificate(box.https_port, name).serial_number, "x")


def renewal_log(box: Sandbox) -> str:
    return (box.installdir / "bncert-tui" / "private" / "logs" / "renewals.log").read_text()


def lego_runs(box: Sandbox) -> int:
    """How many lego commands renew has started (each one is logged with a `--- <time> argv` line)."""
    path = box.installdir / "bncert-tui" / "private" / "logs" / "lego-renew.log"
    if not path.exists():
        return 0
    return sum(1 for line in path.read_text().splitlines() if re.match(r"--- \d{4}-", line))


def status(box: Sandbox) -> tuple[int, dict[str, Any]]:
    proc = run_cli(box, "status", *box.global_args(), "--json")
    return proc.returncode, dict(json.loads(proc.stdout))


def wait_until(instant: datetime) -> None:
    delay = (instant - datetime.now(UTC)).total_seconds()
    if delay > 0:
        time.sleep(delay)


def test_cron_line_renews_when_due_and_reloads_only_then(make_sandbox: Callable[..., Sandbox]) -> None:
    box = make_sandbox("nginx", validity_seconds=VALIDITY, authz_reuse=100)
    assert apply(box, "example.test").returncode == 0
    first = disk_cert(box, "example.test")
    assert served_serial(box, "example.test") == first.serial

    # Not due yet: lego is not even started, and the server is not reloaded.
    pids = workers(box)
    proc = run_cron_line(box, "example.test")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert last_run(box, "example.test")["outcome"] == "not-due"
    assert datetime.now(UTC) < renewal_policy.renew_at(first.not_before, first.not_after), "too slow"
    assert lego_runs(box) == 0
    assert workers(box) == pids, "reloaded although nothing was due"
    code, report = status(box)
    assert code == 0 and report["certificates"][0]["verdict"] == "OK", report

    # In the window (half of the lifetime left): renewed, reloaded, new serial served.
    wait_until(renewal_policy.renew_at(first.not_before, first.not_after))
    proc = run_cron_line(box, "example.test")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run = last_run(box, "example.test")
    assert run["outcome"] == "renewed", run
    second = disk_cert(box, "example.test")
    assert second.serial != first.serial and second.not_after > first.not_after
    assert served_serial(box, "example.test") == second.serial  # renew waits until it is served
    assert workers(box) != pids
    assert run["next_due"] == renewal_policy.renew_at(second.not_before, second.not_after).isoformat()
    assert "renewed: new certificate valid until" in renewal_log(box)
    assert " renew " in (box.installdir / "bncert-tui/private/logs/lego-renew.log").read_text()
    code, report = status(box)
    assert code == 0 and report["certificates"][0]["last_run"]["outcome"] == "renewed", report


def test_failed_reload_is_caught_up_by_the_next_run(nginx_sandbox: Sandbox) -> None:
    """Renewed but not reloaded (the config test failed): status says failing, and the next run
    notices the older certificate on the HTTPS port and reloads once the config is fixed."""
    box = nginx_sandbox
    assert apply(box, "example.test").returncode == 0
    old = served_serial(box, "example.test")
    broken = box.installdir / "nginx" / "conf" / "server_blocks" / "zz-broken.conf"
    broken.write_text("this is not nginx syntax;\n")
    forced = run_cli(box, "renew", *box.global_args(), "--force", "--json")
    assert forced.returncode == 1, forced.stdout + forced.stderr
    outcome = parse_json(forced)["certificates"][0]
    assert outcome["outcome"] == "failed" and "config test fails" in outcome["message"], outcome
    new = disk_cert(box, "example.test").serial
    assert new != old and served_serial(box, "example.test") == old
    assert state(box)["certificates"]["example.test"]["last_failure"] == "", "an order that worked"
    code, report = status(box)
    assert code == 1 and report["certificates"][0]["verdict"] == "failing", report

    broken.unlink()
    pids = workers(box)
    proc = run_cron_line(box, "example.test")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run = last_run(box, "example.test")
    assert run["outcome"] == "reloaded" and "older certificate" in run["message"], run
    assert served_serial(box, "example.test") == new
    assert workers(box) != pids
    code, report = status(box)
    assert code == 0, report
    # And once serving the newest, a run reloads nothing.
    pids = workers(box)
    assert run_cron_line(box, "example.test").returncode == 0
    assert last_run(box, "example.test")["outcome"] == "not-due"
    assert workers(box) == pids


@pytest.fixture
def same_port_restart(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[AcmeLab], None]]:
    """Restart a lab on its old ports (its directory URL is in the state and the cron line)."""

    def restart(lab: AcmeLab) -> None:
        config = json.loads((lab.workdir / "pebble-config.json").read_text())["pebble"]
        tls_port = int(config["tlsPort"])
        ports = [lab.acme_port, lab.mgmt_port, lab.dns_port, lab.dns_mgmt_port, tls_port]
        real = ca_module.free_port

        def again(**kwargs: Any) -> int:
            return ports.pop(0) if ports else real(**kwargs)

        monkeypatch.setattr(ca_module, "free_port", again)
        url = lab.directory_url
        lab.start()
        assert lab.directory_url == url, "pebble came back on another port"

    yield restart


def test_backoff_while_the_ca_is_down_then_recovery(make_sandbox: Callable[..., Sandbox],
                                                     same_port_restart: Callable[[AcmeLab], None]) -> None:
    # 30 s: due after 15 s, "urgent" (every run may retry) after 25 s.
    box = make_sandbox("apache", validity_seconds=30, authz_reuse=100)
    assert apply(box, "example.test").returncode == 0
    first = disk_cert(box, "example.test")
    lifetime = first.not_after - first.not_before
    wait_until(renewal_policy.renew_at(first.not_before, first.not_after))

    box.lab.stop()
    proc = run_cron_line(box, "example.test")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    run = last_run(box, "example.test")
    assert run["outcome"] == "failed" and run["last_lines"], run
    assert "example.test: failed: lego exited with 1" in renewal_log(box)
    assert "    | " in renewal_log(box), "lego's last lines are logged"
    failed_at = state(box)["certificates"]["example.test"]["last_failure"]
    assert failed_at
    code, report = status(box)
    assert code == 1 and report["certificates"][0]["verdict"] == "failing", report
    assert report["attention"] == ["example.test"]

    # Again at the next scheduled run: more than 1/6 of the lifetime is left, so the CA is left alone.
    started = lego_runs(box)
    assert first.not_after - datetime.now(UTC) > lifetime / 6, "too slow: already in the urgent part"
    proc = run_cron_line(box, "example.test")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert last_run(box, "example.test")["outcome"] == "skipped-backoff"
    assert lego_runs(box) == started, "lego was started during the backoff"
    code, report = status(box)
    assert code == 1 and report["certificates"][0]["verdict"] == "failing", "still failing while backing off"

    # The CA is back (pebble: a new root, and the old account is gone). Under 1/6 of the lifetime
    # left, every scheduled run may try: it registers a new account and renews.
    same_port_restart(box.lab)
    wait_until(first.not_after - lifetime / 6)
    proc = run_cron_line(box, "example.test")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run = last_run(box, "example.test")
    assert run["outcome"] == "renewed" and "registered a new one" in run["message"], run
    renewed = disk_cert(box, "example.test")
    verify_https(box.https_port, "example.test", box.root_pem())  # chains to the new root
    assert served_serial(box, "example.test") == renewed.serial != first.serial
    assert state(box)["certificates"]["example.test"]["last_failure"] == ""
    lost = list((box.installdir / "letsencrypt" / "accounts").glob("*/*.lost-*"))
    assert len(lost) == 1, "the forgotten account is kept aside, not deleted"
    code, report = status(box)
    assert code == 0, report


def test_clone_draws_a_fresh_slot_first(nginx_sandbox: Sandbox) -> None:
    box = nginx_sandbox
    proc = run_cli(box, "apply", *box.global_args(), "--email", "admin@example.org", "--accept-tos",
                   "--domain", "example.test", env={**box.env(), "BNCERT_TUI_MACHINE_ID": "image-vm"})
    assert proc.returncode == 0, proc.stderr
    line = CronFile(box.cron_file).get("example.test")
    assert line is not None and line.schedule is not None
    drawn = state(box)["certificates"]["example.test"]
    assert drawn["schedule"] == line.schedule.to_dict()

    # The same machine: nothing moves.
    assert run_cron_line(box, "example.test", BNCERT_TUI_MACHINE_ID="image-vm").returncode == 0
    assert CronFile(box.cron_file).get("example.test") == line

    # A clone of that image: its own slot, in the cron file and the state, said in the log.
    pids = workers(box)
    proc = run_cron_line(box, "example.test", BNCERT_TUI_MACHINE_ID="clone-1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    moved = CronFile(box.cron_file).get("example.test")
    assert moved is not None and moved.schedule is not None
    assert moved.schedule != line.schedule
    assert moved.command.split(" && ", 1)[1] == line.command.split(" && ", 1)[1]  # same command
    after = state(box)["certificates"]["example.test"]
    assert after["schedule"] == moved.schedule.to_dict()
    assert after["machine"] != drawn["machine"]
    assert "a clone?" in renewal_log(box) and moved.schedule.describe() in renewal_log(box)
    assert "a clone?" in after["last_run"]["message"]
    assert after["last_run"]["outcome"] == "not-due"
    assert workers(box) == pids
    # Next run on the clone: settled.
    assert run_cron_line(box, "example.test", BNCERT_TUI_MACHINE_ID="clone-1").returncode == 0
    assert CronFile(box.cron_file).get("example.test") == moved
    assert len(re.findall(r"example\.test: this machine differs", renewal_log(box))) == 1


def add_second_site(box: Sandbox, name: str) -> Path:
    """A server block / virtual host of its own for `name` on the HTTPS port (Bitnami's self-signed
    certificate until the tool points it at its own), so two certificates can be served."""
    if box.kind == "nginx":
        conf = box.installdir / "nginx" / "conf"
        path = conf / "server_blocks" / "second-https-server-block.conf"
        path.write_text(f"server {{\n    listen 127.0.0.1:{box.https_port} ssl;\n    server_name {name};\n"
                        f"    ssl_certificate {conf}/bitnami/certs/server.crt;\n"
                        f"    ssl_certificate_key {conf}/bitnami/certs/server.key;\n"
                        f"    root {box.installdir}/wordpress;\n}}\n")
    else:
        conf = box.installdir / "apache" / "conf"
        # Before Bitnami's vhost, whose `ServerAlias *` would otherwise answer for every name.
        path = conf / "vhosts" / "second-https-vhost.conf"
        path.write_text(f"<VirtualHost 127.0.0.1:{box.https_port}>\n  ServerName {name}\n  SSLEngine on\n"
                        f'  SSLCertificateFile "{conf}/bitnami/certs/server.crt"\n'
                        f'  SSLCertificateKeyFile "{conf}/bitnami/certs/server.key"\n'
                        f"  DocumentRoot {box.installdir}/wordpress\n</VirtualHost>\n")
    assert box.stack.reload().returncode == 0
    return path


@pytest.fixture(params=["nginx", "apache"])
def box(request: pytest.FixtureRequest) -> Sandbox:
    sandbox: Sandbox = request.getfixturevalue(f"{request.param}_sandbox")
    return sandbox


def test_two_certificates_then_remove_one(box: Sandbox) -> None:
    add_second_site(box, "second.test")
    assert apply(box, "example.test").returncode == 0
    proc = apply(box, "second.test")
    assert proc.returncode == 0, proc.stderr
    entries = {e.cert_name: e for e in CronFile(box.cron_file).entries()}
    assert sorted(entries) == ["example.test", "second.test"]
    assert entries["example.test"].line != entries["second.test"].line
    first, second = disk_cert(box, "example.test"), disk_cert(box, "second.test")
    assert served_serial(box, "example.test") == first.serial
    assert served_serial(box, "second.test") == second.serial
    code, report = status(box)
    assert code == 0 and [c["name"] for c in report["certificates"]] == ["example.test", "second.test"]

    pids = workers(box)
    removed = run_cli(box, "remove", "--cert", "second.test", *box.global_args(), "--json")
    assert removed.returncode == 0, removed.stdout + removed.stderr
    result = parse_json(removed)
    assert result["cron_removed"] is True and result["changed_files"], result
    # The other certificate's entry is byte-identical; its site is served as before.
    assert [e.line for e in CronFile(box.cron_file).entries()] == [entries["example.test"].line]
    assert list(state(box)["certificates"]) == ["example.test"]
    assert served_serial(box, "example.test") == first.serial
    assert workers(box) != pids  # reloaded without the removed site's names and redirects
    config = "".join(p.read_text() for p in (box.installdir / box.kind / "conf").rglob("*.conf"))
    assert "bncert-tui: second.test" not in config
    assert "bncert-tui: example.test" in config
    # The certificate files stay; the config is what applying example.test alone would produce.
    assert all(Path(p).exists() for p in result["kept_files"]) and len(result["kept_files"]) == 2
    dry = apply(box, "example.test", extra=("--dry-run",))
    assert dry.returncode == 0, dry.stderr
    assert parse_json(dry)["files"] == [], "the remaining site's config was changed"
    code, report = status(box)
    assert code == 0 and [c["name"] for c in report["certificates"]] == ["example.test"]
    assert "removed" in renewal_log(box)
    # Removing it again is bad input and changes nothing.
    again = run_cli(box, "remove", "--cert", "second.test", *box.global_args())
    assert again.returncode == 2 and "No managed certificate" in again.stderr
