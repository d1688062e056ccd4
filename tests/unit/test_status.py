"""Status verdicts from plain data, the cron entry checks, and a whole report from files on disk."""

from __future__ import annotations

import json
import os
import stat
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bncert_tui.core.certs import CertInfo
from bncert_tui.core.cronfile import CronEntry, CronFile, parse_line
from bncert_tui.core.plan import GlobalOptions, renew_argv_for_cron
from bncert_tui.core.schedule import RenewalSchedule
from bncert_tui.core.state import ManagedCert, RunRecord, State, save_state
from bncert_tui.core.status import (
    CRON_BROKEN,
    CRON_MISSING,
    EXPIRED,
    FAILING,
    MISSING,
    OK,
    OVERDUE,
    assess,
    collect_status,
    cron_problem,
    format_status,
)

NB = datetime(2026, 1, 1, tzinfo=UTC)
D = timedelta(days=1)


def info(days: float = 90, start: datetime = NB) -> CertInfo:
    return CertInfo(names=("example.com",), serial="1", not_before=start,
                    not_after=start + timedelta(days=days), issuer="test")


def run(outcome: str, at: datetime, message: str = "msg") -> RunRecord:
    return RunRecord(time=at.isoformat(), outcome=outcome, message=message)


@pytest.mark.parametrize(("day", "verdict"), [(1, OK), (59, OK), (60.5, OK), (61.5, OVERDUE),
                                              (89.9, OVERDUE), (90, EXPIRED), (120, EXPIRED)])
def test_window_verdicts_for_a_90_day_certificate(day: float, verdict: str) -> None:
    assert assess(info(), NB + day * D, cron_present=True)[0] == verdict


@pytest.mark.parametrize(("lifetime", "overdue_day"), [(45, 31.1), (6, 4.1)])
def test_overdue_follows_each_lifetime(lifetime: float, overdue_day: float) -> None:
    cert = info(lifetime)
    assert assess(cert, NB + (overdue_day - 0.2) * D, cron_present=True)[0] == OK
    verdict, detail = assess(cert, NB + overdue_day * D, cron_present=True)
    assert verdict == OVERDUE and "renewal window since" in detail


def test_missing_certificate_and_cron_problems_come_first() -> None:
    assert assess(None, NB, cron_present=True)[0] == MISSING
    # Expired beats everything else: it is what users notice.
    assert assess(info(), NB + 91 * D, cron_present=False)[0] == EXPIRED
    assert assess(info(), NB + 10 * D, cron_present=False)[0] == CRON_MISSING
    verdict, detail = assess(info(), NB + 10 * D, cron_present=True,
                             cron_problem="the cron entry runs /gone/python, which no longer exists",
                             last_run=run("failed", NB + 9 * D))
    assert (verdict, detail) == (CRON_BROKEN, "the cron entry runs /gone/python, which no longer exists")


def test_failing_paths() -> None:
    now = NB + 65 * D
    failed = run("failed", now - D, "lego exited with 1: connection refused")
    verdict, detail = assess(info(), now, cron_present=True, last_run=failed,
                             last_failure=failed.time)
    assert verdict == FAILING and "connection refused" in detail
    # Backing off after that failure: still failing, with the failure's time.
    skipped = run("skipped-backoff", now, f"the last attempt, at {failed.time}, failed (connection refused)")
    verdict, detail = assess(info(), now, cron_present=True, last_run=skipped, last_failure=failed.time)
    assert verdict == FAILING and detail == skipped.message
    # A failure from before the current certificate was issued is history, not a problem.
    old = (NB - 3 * D).isoformat()
    assert assess(info(), NB + 10 * D, cron_present=True, last_run=run("skipped-backoff", NB + 10 * D),
                  last_failure=old)[0] == OK
    # A later success clears it (renew clears last_failure too).
    renewed = info(start=now - D)
    assert assess(renewed, now, cron_present=True, last_run=run("renewed", now))[0] == OK
    # A reload that failed after a renewal (no order failure recorded) is still failing.
    assert assess(info(), NB + 10 * D, cron_present=True, last_run=run("failed", NB + 10 * D))[0] == FAILING


def test_not_due_is_ok_with_the_window_as_detail() -> None:
    verdict, detail = assess(info(), NB + 10 * D, cron_present=True, last_run=run("not-due", NB + 10 * D))
    assert verdict == OK and detail == "not due (renews from 2026-03-02)"


# --- the cron entry ------------------------------------------------------------------------------
def entry_for(tmp_path: Path, argv: list[str], name: str = "example.com") -> CronEntry:
    cron = CronFile(tmp_path / "crontab")
    cron.write_entry(name, RenewalSchedule(minute=7, second=8, hour_offset=1), argv)
    found = cron.get(name)
    assert found is not None
    return found


def test_cron_problem_none_for_our_own_entry(tmp_path: Path) -> None:
    options = GlobalOptions(installdir=tmp_path, server="https://ca.test/dir", cron_file=tmp_path / "crontab")
    entry = entry_for(tmp_path, renew_argv_for_cron(options, "example.com"))
    assert cron_problem(entry, options.cron_file, tmp_path) == ""


def test_cron_problem_program_gone_or_not_executable(tmp_path: Path) -> None:
    gone = entry_for(tmp_path, [str(tmp_path / "venv/bin/python"), "-m", "bncert_tui", "renew"])
    assert "venv/bin/python, which no longer exists" in cron_problem(gone, tmp_path / "crontab", tmp_path)
    script = tmp_path / "bncert-tui"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o644)
    plain = entry_for(tmp_path, [str(script), "renew"])
    assert "not executable" in cron_problem(plain, tmp_path / "crontab", tmp_path)
    missing = entry_for(tmp_path, ["no-such-program-bncert", "renew"])
    assert "no-such-program-bncert, which no longer exists" in cron_problem(
        missing, tmp_path / "crontab", tmp_path)


def test_cron_problem_module_no_longer_installed(tmp_path: Path) -> None:
    python = tmp_path / "python3"
    python.write_text("#!/bin/sh\nexit 1\n")  # an interpreter without bncert_tui
    python.chmod(0o755)
    entry = entry_for(tmp_path, [str(python), "-m", "bncert_tui", "renew"])
    assert "bncert_tui is no longer installed" in cron_problem(entry, tmp_path / "crontab", tmp_path)
    python.write_text("#!/bin/sh\nexit 0\n")
    assert cron_problem(entry, tmp_path / "crontab", tmp_path) == ""


def test_cron_problem_other_installdir_and_writable_file(tmp_path: Path) -> None:
    entry = entry_for(tmp_path, [sys.executable, "-m", "bncert_tui", "renew", "--installdir", "/opt/other"])
    assert "in /opt/other, not in" in cron_problem(entry, tmp_path / "crontab", tmp_path)
    own = entry_for(tmp_path, [sys.executable, "-m", "bncert_tui", "renew", "--installdir", str(tmp_path)])
    assert cron_problem(own, tmp_path / "crontab", tmp_path) == ""
    os.chmod(tmp_path / "crontab", 0o666)
    assert "group- or world-writable" in cron_problem(own, tmp_path / "crontab", tmp_path)


def test_cron_problem_hand_edited_line(tmp_path: Path) -> None:
    line = parse_line("7 1,7,13,19 * * * root sleep 8 && 'unterminated # bncert-tui:example.com")
    assert line is not None
    assert cron_problem(line, tmp_path / "none", tmp_path) == "the cron entry cannot be parsed"


# --- a whole report from files -------------------------------------------------------------------
def write_cert(path: Path, not_before: datetime, not_after: datetime, name: str) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .sign(key, hashes.SHA256()))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def test_collect_status_reports_each_certificate(tmp_path: Path) -> None:
    options = GlobalOptions(installdir=tmp_path, server="https://ca.test/dir", cron_file=tmp_path / "crontab")
    paths = options.paths
    now = datetime.now(UTC)
    schedule = RenewalSchedule(minute=17, second=42, hour_offset=3)
    certs = {}
    for name, age in (("ok.test", 10), ("overdue.test", 70), ("nocron.test", 5), ("failing.test", 65)):
        write_cert(paths.cert_file(name), now - age * D, now + (90 - age) * D, name)
        certs[name] = ManagedCert(name=name, domains=[name], email="a@b.test", server=options.server,
                                  https_redirect=True, www_redirect="none", schedule=schedule.to_dict())
        if name != "nocron.test":
            CronFile(options.cron_file).write_entry(name, schedule, renew_argv_for_cron(options, name))
    certs["failing.test"].last_run = RunRecord(time=now.isoformat(), outcome="failed",
                                               message="lego exited with 1: connection refused")
    certs["failing.test"].last_failure = now.isoformat()
    certs["gone.test"] = ManagedCert(name="gone.test", domains=["gone.test"], email="a@b.test",
                                     server=options.server, https_redirect=True, www_redirect="none",
                                     schedule=schedule.to_dict())
    paths.private.mkdir(parents=True)
    save_state(paths.state_file, State(certificates=certs))

    report = collect_status(options, now)
    verdicts = {c.name: c.verdict for c in report.certificates}
    assert verdicts == {"failing.test": FAILING, "gone.test": MISSING, "nocron.test": CRON_MISSING,
                        "ok.test": OK, "overdue.test": OVERDUE}
    assert not report.healthy
    data = json.loads(json.dumps(report.to_dict()))
    assert sorted(data["attention"]) == ["failing.test", "gone.test", "nocron.test", "overdue.test"]
    ok = next(c for c in data["certificates"] if c["name"] == "ok.test")
    assert ok["attention"] is False and ok["days_left"] == pytest.approx(80, abs=0.1)
    assert ok["schedule"].startswith("every day at 03:17:42") and ok["next_run"]
    assert ok["window"].startswith("not due (renews from")
    assert "# bncert-tui:ok.test" in ok["cron_line"]
    text = format_status(report)
    assert "failing.test [failing]" in text and "connection refused" in text
    assert "nocron.test [cron entry missing]" in text

    # Monitoring: healthy once only the OK certificate is left.
    save_state(paths.state_file, State(certificates={"ok.test": certs["ok.test"]}))
    assert collect_status(options, now).healthy
    assert stat.S_IMODE(paths.state_file.stat().st_mode) == 0o600
