"""`renew`: what the cron entry runs, four times a day at the certificate's own random time.

Per certificate: notice a cloned VM (draw a fresh slot first), decide with the renewal window and the
failure backoff whether to contact the CA at all, run lego with flags chosen for the lego present, and
reload the web server only when a certificate was renewed (or the server still serves an older one),
after a config test. Every run is recorded in the state and appended to a size-bounded log.

Cron runs keep lego's random sleep (0-8 min, a second layer of spreading); a run by hand, `--force`,
`--no-random-sleep` or BNCERT_TUI_NO_RANDOM_SLEEP=1 in the environment (for tests that run the exact
cron line) turn it off.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from bncert_tui import USER_AGENT
from bncert_tui.core import renewal_policy
from bncert_tui.core.certs import CertInfo, read_cert, served_cert
from bncert_tui.core.cronfile import CronFile
from bncert_tui.core.errors import BncertError, InputError
from bncert_tui.core.events import Cancelled
from bncert_tui.core.lego import (
    LegoCapabilities,
    LegoRequest,
    LegoResult,
    ProcessSlot,
    detect_capabilities,
    find_lego,
    obtain_argv,
    renew_argv,
    run_streaming,
)
from bncert_tui.core.lock import RunLock
from bncert_tui.core.machine import machine_fingerprint
from bncert_tui.core.options import GlobalOptions
from bncert_tui.core.plan import current_user, renew_argv_for_cron
from bncert_tui.core.schedule import RenewalSchedule
from bncert_tui.core.state import ManagedCert, RunRecord, load_state, save_state
from bncert_tui.core.webserver import detect_web_server

LOG_LIMIT = 1_000_000  # bytes per log file; one rotated copy (`.1`) is kept
NO_RANDOM_SLEEP_ENV = "BNCERT_TUI_NO_RANDOM_SLEEP"
#: lego 4.x when the account directory is missing, and the CA's answer when it forgot the account.
ACCOUNT_MISSING = "is not registered"
ACCOUNT_UNKNOWN = "accountDoesNotExist"
SERVE_TIMEOUT = 8.0  # seconds a graceful reload may take to serve the new certificate


@dataclass
class RenewOutcome:
    name: str
    outcome: str  # renewed | reloaded | not-due | failed | skipped-backoff
    message: str = ""
    serial: str = ""
    next_due: str = ""
    lines: list[str] = field(default_factory=list)
    reloaded: bool = False

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "outcome": self.outcome, "message": self.message,
                "serial": self.serial, "next_due": self.next_due, "reloaded": self.reloaded}


class _ServeError(BncertError):
    """The certificate on disk is fine but the server does not serve it (config test/reload failed)."""


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _iso(moment: datetime) -> str:
    return moment.replace(microsecond=0).isoformat()


def rotate_if_large(path: Path, limit: int = LOG_LIMIT) -> None:
    """Move a log past `limit` bytes to `.1` (replacing the older copy), so logs stay bounded."""
    try:
        if path.stat().st_size > limit:
            os.replace(path, path.with_name(path.name + ".1"))
    except FileNotFoundError:
        pass


def append_log(path: Path, text: str, limit: int = LOG_LIMIT) -> None:
    """Append to the renewal log, rotating it first when it grew past `limit`."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    rotate_if_large(path, limit)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as fh:
        fh.write(text if text.endswith("\n") else text + "\n")


def random_sleep_wanted(*, interactive: bool, force: bool, no_random_sleep: bool) -> bool:
    """lego's random sleep spreads unattended runs; a person (or a test) should not wait for it."""
    return not (interactive or force or no_random_sleep or os.environ.get(NO_RANDOM_SLEEP_ENV))


def renew_all(options: GlobalOptions, *, only: str | None = None, force: bool = False,
              interactive: bool = False, no_random_sleep: bool = False,
              on_line: Callable[[str], None] | None = None,
              slot: ProcessSlot | None = None) -> list[RenewOutcome]:
    """Renew each managed certificate that needs it (or `only`); one outcome per certificate."""
    paths = options.paths
    paths.ensure()
    slot = slot or ProcessSlot()
    sleep = random_sleep_wanted(interactive=interactive, force=force, no_random_sleep=no_random_sleep)
    with RunLock(paths.lock_file, "renew"):
        state = load_state(paths.state_file)
        names = sorted(state.certificates)
        if only is not None:
            if only not in state.certificates:
                raise InputError(f"No managed certificate named {only!r}",
                                 hint="Known: " + (", ".join(names) or "none (run apply first)"))
            names = [only]
        outcomes = []
        for name in names:
            cert = state.certificates[name]
            try:
                outcome = _renew_one(options, cert, force=force, random_sleep=sleep,
                                     on_line=on_line, slot=slot)
            finally:
                save_state(paths.state_file, state)  # a clone's new schedule is kept even on cancel
                paths.clear_challenge_files()  # a lego stopped mid-run leaves its token behind
            outcomes.append(outcome)
        return outcomes


def _log(options: GlobalOptions, name: str, text: str) -> None:
    append_log(options.paths.renewal_log, f"{now_utc().isoformat()} {name}: {text}")


def _reschedule_if_cloned(options: GlobalOptions, cert: ManagedCert) -> str:
    """A VM cloned from an image made after the tool ran shares its slot with every other clone:
    draw a fresh one and rewrite this certificate's cron entry before anything else."""
    here = machine_fingerprint()
    if cert.machine == here:
        return ""
    if not cert.machine:
        cert.machine = here
        return ""
    try:
        old: RenewalSchedule | None = RenewalSchedule.from_dict(cert.schedule)
    except ValueError:
        old = None
    schedule = RenewalSchedule.draw()
    while schedule == old:
        schedule = RenewalSchedule.draw()
    cron = CronFile(options.cron_file)
    entry = cron.get(cert.name)
    argv = cert.cron_argv or renew_argv_for_cron(options, cert.name)
    try:
        cron.write_entry(cert.name, schedule, argv, entry.user if entry and entry.user else current_user())
    except (OSError, ValueError) as exc:
        message = f"this machine differs from the one the schedule was drawn on, but the cron entry " \
                  f"could not be rewritten ({exc}); will try again next run"
        _log(options, cert.name, message)
        return message
    cert.schedule = schedule.to_dict()
    cert.machine = here
    message = (f"this machine differs from the one the schedule was drawn on (a clone?): new renewal "
               f"time {schedule.describe()}")
    _log(options, cert.name, message)
    return message


def _renew_one(options: GlobalOptions, cert: ManagedCert, *, force: bool, random_sleep: bool,
               on_line: Callable[[str], None] | None, slot: ProcessSlot) -> RenewOutcome:
    paths = options.paths
    note = _reschedule_if_cloned(options, cert)
    now = datetime.now(UTC)  # exact: a short-lived certificate's window may start mid-second
    info = read_cert(paths.cert_file(cert.name))
    result = RenewOutcome(cert.name, "not-due", note)
    ordered = False  # only a failed order starts the backoff, not a local problem before it
    try:
        if info is not None:
            result.next_due = renewal_policy.renew_at(info.not_before, info.not_after).isoformat()
        last_failure = datetime.fromisoformat(cert.last_failure) if cert.last_failure else None
        due = info is None or renewal_policy.is_due(info.not_before, info.not_after, now)
        lego = find_lego(options.installdir, options.lego)
        caps = detect_capabilities(lego)
        if not force and not due and caps.ari == "none":
            assert info is not None
            result.message = _join(note, f"not due before {result.next_due}",
                                   _reload_if_stale(options, cert, info, result))
            return _record(options, cert, result, now)
        if not force and info is not None and not renewal_policy.may_attempt(
                now, last_failure, info.not_before, info.not_after):
            result.outcome = "skipped-backoff"
            result.message = _join(note, _backoff_message(cert))
            return _record(options, cert, result, now)
        ordered = True
        run, fallback = _run_lego(options, cert, lego, caps, info, now, force=force,
                                  random_sleep=random_sleep, on_line=on_line, slot=slot)
        result.lines = run.lines[-10:]
        if run.cancelled:
            _log(options, cert.name, "cancelled while lego was running")
            raise Cancelled("cancelled while lego was running")
        if not run.ok:
            cert.last_failure = _iso(now)
            result.outcome = "failed"
            result.message = _join(note, fallback, f"lego exited with {run.returncode}: "
                                                   f"{run.lines[-1] if run.lines else ''}")
            return _record(options, cert, result, now)
        after = read_cert(paths.cert_file(cert.name))
        if after is not None and (info is None or after.serial != info.serial):
            cert.last_failure = ""
            result.outcome, result.serial = "renewed", after.serial
            result.next_due = renewal_policy.renew_at(after.not_before, after.not_after).isoformat()
            result.message = _join(note, fallback, f"new certificate valid until "
                                                   f"{after.not_after:%Y-%m-%d %H:%M:%S} UTC")
            _reload_and_verify(options, cert, after)
            result.reloaded = True
        else:
            assert info is not None
            result.message = _join(note, f"lego found nothing to renew (next window {result.next_due})",
                                   _reload_if_stale(options, cert, info, result))
        return _record(options, cert, result, now)
    except _ServeError as exc:
        # The order succeeded (no backoff): the next run sees the stale served certificate and reloads.
        result.outcome = "failed"
        result.message = _join(result.message or note, str(exc).replace("\n", " / "))
        return _record(options, cert, result, now)
    except BncertError as exc:
        if ordered:
            cert.last_failure = _iso(now)
        result.outcome, result.message = "failed", _join(note, str(exc).replace("\n", " / "))
        return _record(options, cert, result, now)


def _backoff_message(cert: ManagedCert) -> str:
    """Why the CA was left alone, keeping the failure's reason visible run after run."""
    previous = cert.last_run
    if previous is not None and previous.outcome == "skipped-backoff":
        return previous.message
    reason = previous.message if previous is not None and previous.outcome == "failed" else "see renewals.log"
    return (f"the last attempt, at {cert.last_failure}, failed ({reason}); the CA is asked again once a "
            "day while more than 1/6 of the lifetime is left")


def _run_lego(options: GlobalOptions, cert: ManagedCert, lego: Path, caps: LegoCapabilities,
              info: CertInfo | None, now: datetime, *, force: bool, random_sleep: bool,
              on_line: Callable[[str], None] | None, slot: ProcessSlot) -> tuple[LegoResult, str]:
    """renew (or run when there is no certificate); when the account is gone, register again with run."""
    paths = options.paths
    env = {**options.env(), **{k: v for k, v in cert.lego_env.items() if k not in os.environ}}
    request = LegoRequest(server=cert.server, email=cert.email, path=paths.lego_path,
                          webroot=paths.webroot, domains=tuple(cert.domains), user_agent=USER_AGENT)
    if info is None:
        argv = obtain_argv(lego, caps, request)
    else:
        days = renewal_policy.days_argument(info.not_before, info.not_after, now)
        argv = renew_argv(lego, caps, request, days=days, random_sleep=random_sleep, force=force)
    sink = on_line or (lambda _line: None)
    log_path = paths.logs / "lego-renew.log"
    rotate_if_large(log_path)
    fallback = ""
    with log_path.open("a", encoding="utf-8") as log:
        log.write(f"--- {_iso(now)} {' '.join(argv)}\n")
        run = run_streaming(argv, env, sink, log, slot)
        tail = run.tail(30)
        if not run.ok and not run.cancelled and (ACCOUNT_MISSING in tail or ACCOUNT_UNKNOWN in tail):
            fallback = "the CA no longer knows the ACME account: registered a new one"
            if ACCOUNT_UNKNOWN in tail:
                moved = _set_account_aside(paths.lego_path, cert.server, cert.email)
                if moved is not None:
                    fallback += f" (old account kept in {moved})"
            else:
                fallback = "no ACME account on disk: registered a new one"
            log.write(f"--- {fallback}; obtaining with `run`\n")
            sink(fallback)
            run = run_streaming(obtain_argv(lego, caps, request), env, sink, log, slot)
    return run, fallback


def _set_account_aside(lego_path: Path, server: str, email: str) -> Path | None:
    """lego keeps using an account the CA forgot (even `run` fails): move it aside, never delete it."""
    host = urlsplit(server).netloc.replace(":", "_")
    account = lego_path / "accounts" / host / email
    if not host or not email or not account.is_dir():
        return None
    target = account.with_name(f"{email}.lost-{time.strftime('%Y%m%d-%H%M%S')}")
    os.replace(account, target)
    return target


def _https_port(options: GlobalOptions) -> tuple[int | None, str]:
    web = detect_web_server(options.installdir)
    return web.inspect().ports.https, web.kind


def _reload_if_stale(options: GlobalOptions, cert: ManagedCert, info: CertInfo,
                     result: RenewOutcome) -> str:
    """If the server still serves an older certificate for these names (a reload failed after an
    earlier renewal), reload now, after a config test. Returns what was done, for the message."""
    port, _kind = _https_port(options)
    if not port:
        return ""
    name = cert.domains[0]
    try:
        served = served_cert(port, name)
    except OSError as exc:
        return f"could not check the certificate served on port {port} ({exc})"
    if served.serial == info.serial or name not in served.names or served.not_after > info.not_after:
        return ""
    _reload_and_verify(options, cert, info)
    result.outcome, result.reloaded = "reloaded", True
    return (f"port {port} still served the older certificate {served.serial}: reloaded, now serving "
            f"{info.serial}")


def _reload_and_verify(options: GlobalOptions, cert: ManagedCert, info: CertInfo) -> None:
    """Config test, then graceful reload, then wait until the new serial is served.

    A failing test leaves the running server untouched (it keeps serving the old certificate).
    """
    web = detect_web_server(options.installdir)
    test = web.config_test()
    if not test.ok:
        raise _ServeError(f"the {web.kind} config test fails; not reloaded",
                          test.output.strip()[-500:], "Fix the configuration; the next run reloads.")
    reload = web.reload()
    if not reload.ok:
        raise _ServeError(f"{web.kind} failed to reload", reload.output.strip()[-500:],
                          "Check that the web server is running; the next run reloads.")
    port = web.inspect().ports.https
    if not port:
        return
    name = cert.domains[0]
    deadline = time.monotonic() + SERVE_TIMEOUT
    while True:
        try:
            served = served_cert(port, name).serial
        except OSError:
            return  # not reachable on loopback (listens elsewhere): nothing more to check here
        if served == info.serial:
            return
        if time.monotonic() > deadline:
            raise _ServeError(f"reloaded, but port {port} still serves serial {served} for {name}, "
                              f"not {info.serial}")
        time.sleep(0.2)


def _record(options: GlobalOptions, cert: ManagedCert, result: RenewOutcome, now: datetime) -> RenewOutcome:
    """Keep the run in the state and append it, with lego's last lines, to renewals.log."""
    cert.last_run = RunRecord(time=_iso(now), outcome=result.outcome, message=result.message,
                              last_lines=result.lines[-5:], next_due=result.next_due)
    text = f"{result.outcome}: {result.message}"
    if result.next_due:
        text += f" [next due {result.next_due}]"
    text += "".join(f"\n    | {line}" for line in result.lines[-5:])
    _log(options, cert.name, text)
    return result


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)

