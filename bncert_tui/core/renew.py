"""`renew`: what the cron entry runs, four times a day at the certificate's own random time.

Per certificate: notice a cloned VM (draw a fresh slot first), decide with the renewal window and the
failure backoff whether to contact the CA at all, run lego with flags chosen for the lego present, and
reload the web server only when the served certificate actually changed, after a config test.
Every run is recorded in the state and appended to a size-bounded log.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bncert_tui import USER_AGENT
from bncert_tui.core import renewal_policy
from bncert_tui.core.certs import read_cert
from bncert_tui.core.cronfile import CronFile
from bncert_tui.core.errors import BncertError, InputError
from bncert_tui.core.events import Cancelled
from bncert_tui.core.lego import (
    LegoRequest,
    ProcessSlot,
    detect_capabilities,
    find_lego,
    obtain_argv,
    renew_argv,
    run_streaming,
)
from bncert_tui.core.lock import RunLock
from bncert_tui.core.machine import machine_fingerprint
from bncert_tui.core.plan import GlobalOptions, renew_argv_for_cron
from bncert_tui.core.schedule import RenewalSchedule
from bncert_tui.core.state import ManagedCert, RunRecord, load_state, save_state
from bncert_tui.core.webserver import detect_web_server

LOG_LIMIT = 1_000_000  # bytes; one rotated copy is kept


@dataclass
class RenewOutcome:
    name: str
    outcome: str  # renewed | not-due | failed | skipped-backoff | rescheduled+...
    message: str = ""
    serial: str = ""
    next_due: str = ""
    lines: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "outcome": self.outcome, "message": self.message,
                "serial": self.serial, "next_due": self.next_due}


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def append_log(path: Path, text: str) -> None:
    """Append to the renewal log, rotating it to `.1` past LOG_LIMIT so it never grows unbounded."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        if path.stat().st_size > LOG_LIMIT:
            os.replace(path, path.with_name(path.name + ".1"))
    except FileNotFoundError:
        pass
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as fh:
        fh.write(text if text.endswith("\n") else text + "\n")


def renew_all(options: GlobalOptions, *, only: str | None = None, force: bool = False,
              interactive: bool = False, on_line: Callable[[str], None] | None = None,
              slot: ProcessSlot | None = None) -> list[RenewOutcome]:
    paths = options.paths
    paths.ensure()
    slot = slot or ProcessSlot()
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
            outcome = _renew_one(options, cert, force=force, interactive=interactive,
                                 on_line=on_line, slot=slot)
            outcomes.append(outcome)
            save_state(paths.state_file, state)
        return outcomes


def _log(options: GlobalOptions, name: str, text: str) -> None:
    append_log(options.paths.renewal_log, f"{now_utc().isoformat()} {name}: {text}")


def _reschedule_if_cloned(options: GlobalOptions, cert: ManagedCert) -> str:
    """A VM cloned from an image made after the tool ran shares its slot with every other clone."""
    here = machine_fingerprint()
    if not cert.machine or cert.machine == here:
        if not cert.machine:
            cert.machine = here
        return ""
    schedule = RenewalSchedule.draw()
    argv = cert.cron_argv or renew_argv_for_cron(options, cert.name)
    CronFile(options.cron_file).write_entry(cert.name, schedule, argv)
    cert.schedule = schedule.to_dict()
    cert.machine = here
    message = (f"this machine differs from the one the schedule was drawn on (a clone?): new renewal "
               f"time {schedule.describe()}")
    _log(options, cert.name, message)
    return message


def _renew_one(options: GlobalOptions, cert: ManagedCert, *, force: bool, interactive: bool,
               on_line: Callable[[str], None] | None, slot: ProcessSlot) -> RenewOutcome:
    paths = options.paths
    note = _reschedule_if_cloned(options, cert)
    now = now_utc()
    info = read_cert(paths.cert_file(cert.name))
    result = RenewOutcome(cert.name, "not-due", note)
    try:
        if info is not None:
            result.next_due = renewal_policy.renew_at(info.not_before, info.not_after).isoformat()
        last_failure = datetime.fromisoformat(cert.last_failure) if cert.last_failure else None
        due = info is None or renewal_policy.is_due(info.not_before, info.not_after, now)
        lego = find_lego(options.installdir, options.lego)
        caps = detect_capabilities(lego)
        if not force and not due and caps.ari == "none":
            result.message = _join(note, f"not due before {result.next_due}")
            return _record(options, cert, result, now)
        if not force and info is not None and not renewal_policy.may_attempt(
                now, last_failure, info.not_before, info.not_after):
            result.outcome = "skipped-backoff"
            result.message = _join(note, f"last attempt failed at {cert.last_failure}; "
                                         "retrying at most once a day while time is left")
            return _record(options, cert, result, now)
        env = {**options.env(), **{k: v for k, v in cert.lego_env.items() if k not in os.environ}}
        request = LegoRequest(server=cert.server, email=cert.email, path=paths.lego_path,
                              webroot=paths.webroot, domains=tuple(cert.domains), user_agent=USER_AGENT)
        days = renewal_policy.days_argument(info.not_before, info.not_after, now) if info else None
        if info is None:
            argv = obtain_argv(lego, caps, request)
        else:
            argv = renew_argv(lego, caps, request, days=days, random_sleep=not (interactive or force),
                              force=force)
        log_path = paths.logs / "lego-renew.log"
        sink = on_line or (lambda _line: None)
        with log_path.open("a", encoding="utf-8") as log:
            log.write(f"--- {now.isoformat()} {' '.join(argv)}\n")
            run = run_streaming(argv, env, sink, log, slot)
            if not run.ok and not run.cancelled and "not registered" in run.tail(30):
                log.write("--- account missing for this email: registering with `run`\n")
                run = run_streaming(obtain_argv(lego, caps, request), env, sink, log, slot)
        result.lines = run.lines[-10:]
        if run.cancelled:
            raise Cancelled("cancelled while lego was running")
        after = read_cert(paths.cert_file(cert.name))
        if not run.ok:
            cert.last_failure = now.isoformat()
            result.outcome = "failed"
            result.message = _join(note, f"lego exited with {run.returncode}: "
                                         f"{run.lines[-1] if run.lines else ''}")
            return _record(options, cert, result, now)
        if after is not None and (info is None or after.serial != info.serial):
            _reload_after_renewal(options, cert)
            cert.last_failure = ""
            result.outcome, result.serial = "renewed", after.serial
            result.next_due = renewal_policy.renew_at(after.not_before, after.not_after).isoformat()
            result.message = _join(note, f"new certificate valid until {after.not_after:%Y-%m-%d}")
        else:
            result.message = _join(note, f"lego found nothing to renew (next window {result.next_due})")
        return _record(options, cert, result, now)
    except BncertError as exc:
        cert.last_failure = now.isoformat()
        result.outcome, result.message = "failed", _join(note, str(exc).replace("\n", " / "))
        return _record(options, cert, result, now)


def _reload_after_renewal(options: GlobalOptions, cert: ManagedCert) -> None:
    """Config test, then graceful reload; a failing test leaves the running server untouched."""
    web = detect_web_server(options.installdir)
    test = web.config_test()
    if not test.ok:
        raise BncertError(f"renewed, but the {web.kind} config test fails; not reloaded",
                          test.output.strip()[-500:], "Fix the configuration, then reload by hand.")
    reload = web.reload()
    if not reload.ok:
        raise BncertError(f"renewed, but {web.kind} failed to reload", reload.output.strip()[-500:])


def _record(options: GlobalOptions, cert: ManagedCert, result: RenewOutcome, now: datetime) -> RenewOutcome:
    cert.last_run = RunRecord(time=now.isoformat(), outcome=result.outcome, message=result.message,
                              last_lines=result.lines[-5:], next_due=result.next_due)
    _log(options, cert.name, f"{result.outcome}: {result.message}")
    return result


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


