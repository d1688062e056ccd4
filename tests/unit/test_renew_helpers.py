"""renew's pieces that need no CA: the bounded logs, the random-sleep choice, the clone reschedule,
the lost-account move and the backoff message; and the CLI flags that reach them."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from bncert_tui.cli import build_parser
from bncert_tui.core import renew
from bncert_tui.core.cronfile import CronFile
from bncert_tui.core.machine import machine_fingerprint
from bncert_tui.core.plan import GlobalOptions, renew_argv_for_cron
from bncert_tui.core.schedule import RenewalSchedule
from bncert_tui.core.state import ManagedCert, RunRecord


def test_log_is_rotated_past_its_limit(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "renewals.log"
    for i in range(7):  # 48-byte lines: rotated at the 4th and the 7th
        renew.append_log(log, f"line {i} " + "x" * 40, limit=100)
    rotated = log.with_name("renewals.log.1")
    assert rotated.exists()
    assert log.stat().st_size <= 100 + 50 and rotated.stat().st_size <= 100 + 50
    # Only one old copy: the oldest lines are gone, the newest kept.
    text = rotated.read_text() + log.read_text()
    assert "line 0" not in text and "line 3" in rotated.read_text() and log.read_text().startswith("line 6")
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert stat.S_IMODE(log.parent.stat().st_mode) == 0o700
    renew.rotate_if_large(tmp_path / "absent.log")  # no file: nothing to do, no error


def test_log_stays_bounded_over_many_runs(tmp_path: Path) -> None:
    log = tmp_path / "renewals.log"
    for i in range(2000):
        renew.append_log(log, f"2026-01-01T00:00:00+00:00 example.com: not-due: run {i}", limit=4096)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["renewals.log", "renewals.log.1"]
    assert sum(p.stat().st_size for p in tmp_path.iterdir()) < 2 * 4096 + 200
    assert log.read_text().splitlines()[-1].endswith("run 1999")


@pytest.mark.parametrize(("interactive", "force", "flag", "env", "sleeps"), [
    (False, False, False, "", True),  # cron: keep lego's random sleep
    (True, False, False, "", False),  # a terminal
    (False, True, False, "", False),  # --force / the wizard's "renew now"
    (False, False, True, "", False),  # --no-random-sleep
    (False, False, False, "1", False),  # BNCERT_TUI_NO_RANDOM_SLEEP=1 (tests running the cron line)
])
def test_random_sleep_only_for_unattended_runs(monkeypatch: pytest.MonkeyPatch, interactive: bool,
                                               force: bool, flag: bool, env: str, sleeps: bool) -> None:
    monkeypatch.delenv(renew.NO_RANDOM_SLEEP_ENV, raising=False)
    if env:
        monkeypatch.setenv(renew.NO_RANDOM_SLEEP_ENV, env)
    assert renew.random_sleep_wanted(interactive=interactive, force=force, no_random_sleep=flag) is sleeps


def managed(options: GlobalOptions, schedule: RenewalSchedule, machine: str) -> ManagedCert:
    return ManagedCert(name="example.com", domains=["example.com"], email="a@example.com",
                       server=options.server, https_redirect=True, www_redirect="none",
                       schedule=schedule.to_dict(), machine=machine,
                       cron_argv=renew_argv_for_cron(options, "example.com"))


def test_clone_gets_a_fresh_slot_and_its_own_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    options = GlobalOptions(installdir=tmp_path, server="https://ca.test/dir", cron_file=tmp_path / "crontab")
    old = RenewalSchedule(minute=17, second=42, hour_offset=3)
    monkeypatch.setenv("BNCERT_TUI_MACHINE_ID", "image")
    image = machine_fingerprint()
    cert = managed(options, old, image)
    cron = CronFile(options.cron_file)
    cron.write_entry("other.com", RenewalSchedule(minute=5, second=5, hour_offset=5), ["/bin/true"])
    cron.write_entry("example.com", old, cert.cron_argv, user="bitnami")
    before = options.cron_file.read_text()

    assert renew._reschedule_if_cloned(options, cert) == ""  # same machine
    assert options.cron_file.read_text() == before

    monkeypatch.setenv("BNCERT_TUI_MACHINE_ID", "clone")
    draws = iter([old, RenewalSchedule(minute=33, second=3, hour_offset=0)])
    monkeypatch.setattr(RenewalSchedule, "draw", classmethod(lambda cls, rng=None: next(draws)))
    message = renew._reschedule_if_cloned(options, cert)
    assert "a clone?" in message and "00:33:03" in message  # the shared slot is never drawn again
    entry = cron.get("example.com")
    assert entry is not None and entry.schedule == RenewalSchedule(minute=33, second=3, hour_offset=0)
    assert entry.user == "bitnami"  # the entry's user is kept
    assert cron.get("other.com") is not None and cron.get("other.com").line in before  # type: ignore[union-attr]
    assert cert.schedule == {"minute": 33, "second": 3, "hour_offset": 0}
    assert cert.machine == machine_fingerprint() != image
    assert "example.com: this machine differs" in options.paths.renewal_log.read_text()
    assert renew._reschedule_if_cloned(options, cert) == ""  # settled


def test_first_run_remembers_the_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    options = GlobalOptions(installdir=tmp_path, server="https://ca.test/dir", cron_file=tmp_path / "crontab")
    monkeypatch.setenv("BNCERT_TUI_MACHINE_ID", "vm")
    cert = managed(options, RenewalSchedule(minute=1, second=1, hour_offset=0), "")
    assert renew._reschedule_if_cloned(options, cert) == ""
    assert cert.machine == machine_fingerprint()
    assert not options.cron_file.exists()


def test_machine_fingerprint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BNCERT_TUI_MACHINE_ID", raising=False)
    real = machine_fingerprint()
    assert real == machine_fingerprint() and len(real) == 16
    monkeypatch.setenv("BNCERT_TUI_MACHINE_ID", "a")
    a = machine_fingerprint()
    monkeypatch.setenv("BNCERT_TUI_MACHINE_ID", "b")
    assert len({real, a, machine_fingerprint()}) == 3


def test_forgotten_account_is_moved_aside(tmp_path: Path) -> None:
    accounts = tmp_path / "accounts"
    mine = accounts / "127.0.0.1_14000" / "a@example.com"
    other = accounts / "127.0.0.1_14000" / "b@example.com"
    for directory in (mine, other):
        (directory / "keys").mkdir(parents=True)
        (directory / "account.json").write_text("{}")
    moved = renew._set_account_aside(tmp_path, "https://127.0.0.1:14000/dir", "a@example.com")
    assert moved is not None and moved.parent == mine.parent and moved.name.startswith("a@example.com.lost-")
    assert (moved / "account.json").exists() and not mine.exists() and other.exists()
    assert renew._set_account_aside(tmp_path, "https://127.0.0.1:14000/dir", "a@example.com") is None
    assert renew._set_account_aside(tmp_path, "https://acme-v02.api.letsencrypt.org/directory",
                                    "b@example.com") is None


def test_backoff_message_keeps_the_reason(tmp_path: Path) -> None:
    options = GlobalOptions(installdir=tmp_path, server="https://ca.test/dir", cron_file=tmp_path / "crontab")
    cert = managed(options, RenewalSchedule(minute=1, second=1, hour_offset=0), "m")
    cert.last_failure = "2026-01-01T00:00:00+00:00"
    cert.last_run = RunRecord(time=cert.last_failure, outcome="failed", message="lego exited with 1: refused")
    first = renew._backoff_message(cert)
    assert "2026-01-01T00:00:00+00:00" in first and "refused" in first
    cert.last_run = RunRecord(time="later", outcome="skipped-backoff", message=first)
    assert renew._backoff_message(cert) == first


def test_cli_flags() -> None:
    parser = build_parser()
    args = parser.parse_args(["renew", "--no-random-sleep", "--cert", "example.com"])
    assert args.no_random_sleep is True and args.cert == "example.com"
    assert parser.parse_args(["renew"]).no_random_sleep is False
    removed = parser.parse_args(["remove", "--cert", "example.com", "--json"])
    assert (removed.command, removed.cert, removed.json) == ("remove", "example.com", True)
    with pytest.raises(SystemExit):
        parser.parse_args(["remove"])  # --cert is required
