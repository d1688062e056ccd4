"""Execute a Plan: challenge path, pre-flight, lego, config, reload, self-check, cron, state.

Any failure (or a cancel) restores every file of the checkpoint, reloads, and raises ApplyError naming
the cause and what to do. The web server keeps running throughout (HTTP-01 through its webroot).

Test hook: BNCERT_TUI_TEST_PAUSE_AT=<point>[,<point>...] makes execute announce
"test-pause: <point>" and wait (BNCERT_TUI_TEST_PAUSE_SECONDS, default 60, or until cancelled) at the
start of that step (a key of events.APPLY_STEPS), or at "configure:<n>" after the n-th config file of
the configure step is written. The fault tests use it to send a signal, or SIGKILL, at an exact point.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bncert_tui.core.certs import CertInfo, read_cert, served_cert
from bncert_tui.core.checkpoint import Checkpoint, Originals, recover_open_checkpoints
from bncert_tui.core.cronfile import CronFile
from bncert_tui.core.errors import ApplyError, BncertError
from bncert_tui.core.events import Cancelled, Reporter
from bncert_tui.core.fileops import atomic_write, open_private, write_error
from bncert_tui.core.legacy import read_crontab
from bncert_tui.core.legacy_text import strip_cron_text
from bncert_tui.core.lego import ProcessSlot, obtain_argv, run_streaming
from bncert_tui.core.lock import RunLock
from bncert_tui.core.machine import machine_fingerprint
from bncert_tui.core.plan import Plan
from bncert_tui.core.preflight import check_challenge_path
from bncert_tui.core.state import ManagedCert, RunRecord, save_state
from bncert_tui.core.webserver.base import WebServer


@dataclass
class ApplyResult:
    plan: Plan
    certificate: CertInfo | None
    cert_action: str
    changed_files: list[Path] = field(default_factory=list)
    backup_dir: Path | None = None
    backed_up: list[Path] = field(default_factory=list)  # every file copied before the run touched it
    log_path: Path | None = None
    cron_changed: bool = False
    rolled_back: list[Path] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        plan = self.plan
        return {
            "ok": True,
            "done": plan.changes(),
            "certificate": {"name": plan.site.name, "file": str(plan.site.cert_file),
                            "key": str(plan.site.key_file), "action": self.cert_action,
                            **(self.certificate.to_dict() if self.certificate else {})},
            "schedule": {**plan.schedule.to_dict(), "cron": plan.cron_line,
                         "description": plan.schedule.describe(), "cron_file": str(plan.options.cron_file),
                         "changed": self.cron_changed},
            "changed_files": [str(p) for p in self.changed_files],
            "backups": str(self.backup_dir) if self.backup_dir else None,
            "backed_up": [str(p) for p in self.backed_up],
            "log": str(self.log_path) if self.log_path else None,
        }


def now_iso() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def open_log(plan: Plan, kind: str) -> tuple[Path, object]:
    """A 0600 log in the 0700 logs dir, never opened through a symlink."""
    logs = plan.options.paths.logs
    logs.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = logs / f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}.log"
    return path, os.fdopen(open_private(path), "a", encoding="utf-8")


def _log(log: object, text: str) -> None:
    """Logging never turns a failure (disk full) into another one."""
    with contextlib.suppress(OSError, ValueError):
        log.write(text)  # type: ignore[attr-defined]
        log.flush()  # type: ignore[attr-defined]


def _test_pause(point: str, slot: ProcessSlot, reporter: Reporter) -> None:
    """The test hook described in the module docstring; a no-op unless the variable names `point`."""
    if point not in os.environ.get("BNCERT_TUI_TEST_PAUSE_AT", "").split(","):
        return
    reporter.line(f"test-pause: {point}")
    deadline = time.monotonic() + float(os.environ.get("BNCERT_TUI_TEST_PAUSE_SECONDS", "60"))
    while not slot.cancelled and time.monotonic() < deadline:
        time.sleep(0.02)


def test_and_reload(web: WebServer, what: str) -> None:
    test = web.config_test()
    if not test.ok:
        raise ApplyError(f"The {web.kind} configuration test failed after {what}",
                         test.output.strip()[-1500:],
                         "The previous configuration was restored. Check the lines named above.")
    reload = web.reload()
    if not reload.ok:
        raise ApplyError(f"{web.kind} failed to reload after {what}", reload.output.strip()[-1500:],
                         f"The previous configuration was restored. Check that {web.kind} is running.")


def wait_for_serial(port: int, domains: list[str], serial: str, timeout: float = 8) -> list[str]:
    """A graceful reload is asynchronous: poll until every name is served with `serial`."""
    deadline = time.monotonic() + timeout
    problems: list[str] = []
    while True:
        problems = []
        for domain in domains:
            try:
                served = served_cert(port, domain)
            except OSError as exc:
                problems.append(f"{domain}: TLS connection to port {port} failed ({exc})")
                continue
            if served.serial != serial:
                problems.append(f"{domain}: port {port} serves serial {served.serial}, expected {serial}")
        if not problems or time.monotonic() > deadline:
            return problems
        time.sleep(0.2)


def execute(plan: Plan, reporter: Reporter, slot: ProcessSlot | None = None) -> ApplyResult:
    """Run the plan under the lock; on any failure roll back and raise ApplyError."""
    paths = plan.options.paths
    paths.ensure()
    slot = slot or ProcessSlot()
    with RunLock(paths.lock_file, "apply") as lock:
        if lock.stale:
            reporter.line(f"Took over the lock of PID {lock.stale.get('pid')} "
                          f"({lock.stale.get('command')}), which is no longer running.")
        recovered = recover_open_checkpoints(paths.backups)
        if recovered:
            paths.clear_challenge_files()
            raise ApplyError(f"Restored {len(recovered)} file(s) left by an interrupted run; the plan "
                             "was made before that", ", ".join(str(p) for p in recovered),
                             "Run the same command again (nothing else was changed).")
        try:
            checkpoint = Checkpoint(paths.backups, plan.options.installdir, f"apply {plan.site.name}",
                                    Originals(paths.originals))
            log_path, log = open_log(plan, "apply")
        except OSError as exc:
            error = write_error(paths.backups, exc)
            error.hint = f"Nothing was changed. {error.hint}"
            raise error from None
        result = ApplyResult(plan=plan, certificate=None, cert_action=plan.cert_action,
                             backup_dir=checkpoint.directory, log_path=log_path)
        current = ""
        try:
            current = _begin("checkpoint", slot, reporter)
            for path in sorted({*plan.challenge_files, *plan.final_files}):
                checkpoint.protect(path)
            for suffix in (".crt", ".key", ".issuer.crt", ".json"):
                checkpoint.protect(paths.lego_path / "certificates" / f"{plan.site.name}{suffix}",
                                   keep_original=False)
            checkpoint.protect(plan.options.cron_file)
            for crontab in plan.legacy_cron_files:  # bncert-tool's line: replaced, kept for revert
                checkpoint.protect(crontab)
            checkpoint.protect(paths.state_file, keep_original=False)
            reporter.step(current, "done", str(checkpoint.directory))

            current = _begin("challenge", slot, reporter)
            if plan.challenge_files:
                for path, text in plan.challenge_files.items():
                    checkpoint.write_text(path, text)
                test_and_reload(plan.web, "adding the challenge location")
                reporter.step(current, "done", f"{len(plan.challenge_files)} file(s)")
            else:
                reporter.step(current, "skipped", "already served")

            current = _begin("preflight", slot, reporter)
            probes = check_challenge_path(plan.site.webroot, plan.http_port, plan.domains)
            for probe in probes:
                reporter.line(f"pre-flight {probe.domain}: {probe.detail}")
            failed = [p for p in probes if not p.ok]
            if failed:
                raise ApplyError(
                    "The challenge path is not reachable: " + "; ".join(f"{p.domain}: {p.detail}"
                                                                         for p in failed),
                    hint=f"Make sure port {plan.http_port} serves these domains on this machine and "
                         "nothing in front of it redirects /.well-known/acme-challenge/. No request "
                         "was sent to the CA.")
            reporter.step(current, "done", f"{len(probes)} domain(s) OK")

            current = "lego"
            _test_pause(current, slot, reporter)
            _check_cancel(slot)
            if plan.cert_action == "keep":
                reporter.step(current, "skipped", plan.cert_reason)
            else:
                reporter.step(current, "running", plan.cert_reason)
                argv = obtain_argv(plan.lego, plan.caps, plan.request)
                _log(log, "$ " + " ".join(argv) + "\n")
                lego_result = run_streaming(argv, plan.options.env(), reporter.line, log, slot)  # type: ignore[arg-type]
                if lego_result.cancelled or slot.cancelled:
                    raise Cancelled("cancelled while lego was running")
                if not lego_result.ok:
                    raise ApplyError(_lego_title(lego_result.returncode), lego_result.tail(),
                                     _lego_hint(lego_result.lines, lego_result.returncode))
                reporter.step(current, "done")
            assert plan.site.cert_file is not None  # a full site, not the challenge-only stage
            result.certificate = read_cert(plan.site.cert_file)
            if result.certificate is None:
                raise ApplyError(f"No readable certificate at {plan.site.cert_file} after lego ran",
                                 hint="Check the lego data directory and its permissions.")

            current = _begin("configure", slot, reporter)
            for number, (path, text) in enumerate(plan.final_files.items(), 1):
                checkpoint.write_text(path, text)
                _test_pause(f"configure:{number}", slot, reporter)
            result.changed_files = sorted(plan.final_files)
            result.backed_up = checkpoint.paths
            reporter.step(current, "done", f"{len(plan.final_files)} file(s) changed")

            current = _begin("reload", slot, reporter)
            if plan.final_files or plan.challenge_files or plan.cert_action != "keep":
                test_and_reload(plan.web, "configuring HTTPS")
                reporter.step(current, "done")
            else:
                reporter.step(current, "skipped", "nothing changed")

            current = _begin("verify", slot, reporter)
            problems = wait_for_serial(plan.https_port, plan.domains, result.certificate.serial)
            if problems:
                raise ApplyError("HTTPS does not serve the new certificate", "\n".join(problems),
                                 "Another server block may answer for these names; check the config.")
            reporter.step(current, "done", f"serial {result.certificate.serial}")

            current = _begin("cron", slot, reporter)
            result.cron_changed = CronFile(plan.options.cron_file).write_entry(
                plan.site.name, plan.schedule, plan.cron_argv, plan.cron_user)
            for crontab in plan.legacy_cron_files:
                atomic_write(crontab, strip_cron_text(read_crontab(crontab)).encode("utf-8", "surrogateescape"))
                reporter.line(f"Removed bncert-tool's renewal line from {crontab}")
                result.cron_changed = True
            reporter.step(current, "done" if result.cron_changed else "skipped",
                          plan.cron_line if result.cron_changed else "entry already in place")

            current = _begin("state", slot, reporter)
            _record(plan, result)
            reporter.step(current, "done")
        except BaseException as exc:
            reporter.step(current or "checkpoint", "failed", _short(exc))
            result.rolled_back = _rollback(plan, checkpoint, reporter)
            _log(log, f"FAILED at {current}: {exc}\n")
            with contextlib.suppress(OSError):
                log.close()  # type: ignore[attr-defined]
            if isinstance(exc, BncertError):
                exc.detail = (exc.detail + "\n" if exc.detail else "") + _rollback_note(result)
                raise
            if isinstance(exc, (Cancelled, KeyboardInterrupt)):
                raise
            raise ApplyError(f"Unexpected error during {current}: {exc}", _rollback_note(result),
                             f"See the log {log_path}.") from exc
        checkpoint.commit()
        _log(log, "done\n")
        with contextlib.suppress(OSError):
            log.close()  # type: ignore[attr-defined]
        return result


def _check_cancel(slot: ProcessSlot) -> None:
    if slot.cancelled:
        raise Cancelled("cancelled")


def _begin(step: str, slot: ProcessSlot, reporter: Reporter) -> str:
    """Start a step: the test pause point, a cancel check (signals land between steps), "running"."""
    _test_pause(step, slot, reporter)
    _check_cancel(slot)
    reporter.step(step, "running")
    return step


def _short(exc: BaseException) -> str:
    return exc.title if isinstance(exc, BncertError) else (str(exc) or type(exc).__name__)


def _rollback(plan: Plan, checkpoint: Checkpoint, reporter: Reporter) -> list[Path]:
    """Restore every file, remove stray challenge files, and reload when a file the server reads had
    changed, so it serves what it served before. Never raises: it runs while handling a failure."""
    restored: list[Path] = []
    try:
        restored = checkpoint.restore()
    except ApplyError as exc:
        reporter.line(f"WARNING: {exc}")
    except OSError as exc:
        reporter.line(f"WARNING: rollback could not finish: {exc}; the next run completes it")
    with contextlib.suppress(OSError):
        plan.options.paths.clear_challenge_files()
    if restored and plan.web.is_running():
        test = plan.web.config_test()
        if test.ok:
            reload = plan.web.reload()
            if not reload.ok:
                reporter.line(f"WARNING: {plan.web.kind} did not reload after the rollback: "
                              + reload.output.strip()[-400:])
        else:
            reporter.line("WARNING: the restored configuration does not pass the config test:")
            reporter.line(test.output.strip()[-800:])
    reporter.line(f"Rolled back: {len(restored)} changed file(s) restored from {checkpoint.directory}")
    return restored


def _rollback_note(result: ApplyResult) -> str:
    n = len(result.rolled_back)
    return f"Rolled back: {n} file(s) restored from {result.backup_dir}; the server serves what it served before."


def _lego_title(returncode: int) -> str:
    if returncode < 0:
        return f"lego was killed by signal {-returncode} before it obtained the certificate"
    if returncode == 127:
        return "lego could not be started"
    return "lego could not obtain the certificate"


def _lego_hint(lines: list[str], returncode: int = 1) -> str:
    if returncode < 0:
        return ("Something outside bncert-tui stopped lego (out of memory? an admin?). Nothing was "
                "changed; run again.")
    text = "\n".join(lines[-30:])
    if "connection refused" in text and "get directory" in text:
        return "The CA is unreachable. Check the --server URL and this machine's outbound HTTPS."
    if "x509" in text or "certificate signed by unknown authority" in text:
        return "The CA's TLS certificate is not trusted (for a private CA set LEGO_CA_CERTIFICATES)."
    if "rateLimited" in text:
        return "Let's Encrypt's rate limit was hit. Wait as the message says, or use --staging to test."
    if "badNonce" in text or "serverInternal" in text:
        return "The CA returned errors (see above). It may be busy: wait a few minutes and run again."
    if ("unauthorized" in text or "connection" in text or "NXDOMAIN" in text or "no such host" in text
            or "SERVFAIL" in text or "DNS problem" in text or "could not resolve" in text):
        return ("The CA could not fetch the challenge: check that DNS for each domain points to this "
                "machine and port 80 is open to the Internet.")
    return "Read lego's output above; fix the cause and run again (nothing was changed)."


def _record(plan: Plan, result: ApplyResult) -> None:
    state = plan.state
    previous = state.certificates.get(plan.site.name)
    stamp = now_iso()
    outcome = "kept" if plan.cert_action == "keep" else "issued"
    last_run = previous.last_run if previous and plan.cert_action == "keep" else RunRecord(
        time=stamp, outcome=outcome, message=plan.cert_reason)
    lego_env = {k: v for k, v in plan.options.extra_env.items() if k.startswith("LEGO_")}
    cert = ManagedCert(
        name=plan.site.name, domains=list(plan.domains), email=plan.email, server=plan.options.server,
        https_redirect=plan.site.https_redirect, www_redirect=plan.site.www_redirect,
        schedule=plan.schedule.to_dict(),
        machine=previous.machine if previous and not plan.schedule_is_new else machine_fingerprint(),
        lego_env=lego_env, cron_argv=plan.cron_argv,
        created=previous.created if previous else stamp,
        updated=stamp if (previous is None or _differs(previous, plan)) else previous.updated,
        last_run=last_run, last_failure=previous.last_failure if previous else "")
    state.certificates[plan.site.name] = cert
    state.web_server = plan.stack.kind
    save_state(plan.options.paths.state_file, state)


def _differs(previous: ManagedCert, plan: Plan) -> bool:
    return (previous.domains != list(plan.domains) or previous.email != plan.email
            or previous.https_redirect != plan.site.https_redirect
            or previous.www_redirect != plan.site.www_redirect
            or previous.schedule != plan.schedule.to_dict() or plan.cert_action != "keep")
