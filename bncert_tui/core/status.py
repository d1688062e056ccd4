"""`status`: each certificate's health in plain words, with a verdict monitoring can act on.

`assess` decides the verdict from plain data (no I/O, no clock), so every path is unit-tested;
`collect_status` gathers that data from the certificate files, the cron file and the state.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bncert_tui.core import renewal_policy
from bncert_tui.core.certs import CertInfo, read_cert
from bncert_tui.core.cronfile import CronEntry, CronFile
from bncert_tui.core.options import GlobalOptions
from bncert_tui.core.schedule import RenewalSchedule
from bncert_tui.core.state import ManagedCert, RunRecord, load_state

OK = "OK"
OVERDUE = "renewal overdue"
FAILING = "failing"
EXPIRED = "expired"
CRON_MISSING = "cron entry missing"
CRON_BROKEN = "cron entry broken"
MISSING = "certificate missing"
#: Every verdict, most urgent first (the order `assess` checks them in).
VERDICTS = (MISSING, EXPIRED, CRON_MISSING, CRON_BROKEN, FAILING, OVERDUE, OK)
CRON_PATH = "/usr/bin:/bin"  # Debian cron's PATH for cron.d entries


@dataclass
class CertStatus:
    name: str
    domains: list[str]
    verdict: str  # one of VERDICTS
    detail: str
    not_after: str = ""
    days_left: float | None = None
    window: str = ""
    schedule: str = ""
    cron_line: str = ""
    last_run: dict[str, object] = field(default_factory=dict)
    next_run: str = ""
    next_due: str = ""

    @property
    def ok(self) -> bool:
        return self.verdict == OK

    def to_dict(self) -> dict[str, object]:
        return {**self.__dict__, "attention": not self.ok}


@dataclass
class StatusReport:
    installdir: str
    certificates: list[CertStatus]
    legacy: list[str] = field(default_factory=list)  # bncert-tool's setup still in charge, in plain words

    @property
    def healthy(self) -> bool:
        """A bncert-tool setup still in charge needs attention too: it is the one to take over."""
        return all(c.ok for c in self.certificates) and not self.legacy

    def to_dict(self) -> dict[str, object]:
        return {"installdir": self.installdir, "healthy": self.healthy,
                "attention": [c.name for c in self.certificates if not c.ok]
                + (["bncert-tool"] if self.legacy else []),
                "certificates": [c.to_dict() for c in self.certificates],
                "bncert_tool": {"found": bool(self.legacy), "details": self.legacy,
                                "take_over": TAKE_OVER_HINT if self.legacy else ""}}


def assess(info: CertInfo | None, now: datetime, *, cron_present: bool, cron_problem: str = "",
           last_run: RunRecord | None = None, last_failure: str = "") -> tuple[str, str]:
    """(verdict, detail) for one certificate, most urgent problem first.

    Failing means the last attempt to renew (or to serve the renewed certificate) failed and no run
    succeeded since: a failure older than the certificate on disk belongs to an earlier one.
    """
    if info is None:
        return MISSING, "no certificate file"
    if info.not_after <= now:
        return EXPIRED, f"expired on {info.not_after:%Y-%m-%d %H:%M} UTC"
    if not cron_present:
        return CRON_MISSING, "no renewal entry in the cron file: it will not be renewed"
    if cron_problem:
        return CRON_BROKEN, cron_problem
    window = renewal_policy.window_position(info.not_before, info.not_after, now)
    failed_last = last_run is not None and last_run.outcome == "failed"
    backing_off = last_run is not None and last_run.outcome == "skipped-backoff"
    failure_is_current = bool(last_failure) and datetime.fromisoformat(last_failure) >= info.not_before
    if failed_last or (backing_off and failure_is_current):
        assert last_run is not None
        if backing_off:
            return FAILING, last_run.message
        return FAILING, f"last attempt {last_run.time} failed: {last_run.message}"
    if window == "overdue":
        return OVERDUE, f"in its renewal window since {_window_start(info)}, not renewed yet"
    return OK, window


def _window_start(info: CertInfo) -> str:
    return f"{renewal_policy.renew_at(info.not_before, info.not_after):%Y-%m-%d %H:%M} UTC"


def cron_problem(entry: CronEntry, cron_file: Path, installdir: Path) -> str:
    """Why cron would not renew this certificate with this entry, or "" when it would."""
    try:
        if os.stat(cron_file).st_mode & 0o022:
            return f"cron ignores {cron_file}: it is group- or world-writable (chmod 644 it)"
    except OSError:
        pass
    try:
        words = shlex.split(entry.command)
    except ValueError:
        return "the cron entry cannot be parsed"
    if "&&" in words:
        words = words[len(words) - words[::-1].index("&&"):]
    if not words:
        return "the cron entry runs nothing"
    program = words[0]
    found = program if "/" in program else shutil.which(program, path=CRON_PATH)
    if found is None or not os.path.isfile(found):
        return f"the cron entry runs {program}, which no longer exists"
    if not os.access(found, os.X_OK):
        return f"the cron entry runs {program}, which is not executable"
    if words[1:3] == ["-m", "bncert_tui"] and not _imports_bncert_tui(found):
        return f"the cron entry runs {program} -m bncert_tui, but bncert_tui is no longer installed there"
    if "--installdir" in words:
        value = words[words.index("--installdir") + 1:][:1]
        if value and Path(value[0]) != installdir:
            return f"the cron entry renews certificates in {value[0]}, not in {installdir}"
    return ""


def _imports_bncert_tui(python: str) -> bool:
    """True when that interpreter can still import this tool (the venv may have been removed)."""
    if os.path.realpath(python) == os.path.realpath(sys.executable):
        return True
    try:
        proc = subprocess.run([python, "-c", "import importlib.util, sys; "
                               "sys.exit(importlib.util.find_spec('bncert_tui') is None)"],
                              capture_output=True, timeout=20, stdin=subprocess.DEVNULL, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0


def _describe_cert(cert: ManagedCert, info: CertInfo | None, entry: CronEntry | None,
                   now: datetime) -> CertStatus:
    status = CertStatus(name=cert.name, domains=cert.domains, verdict=OK, detail="",
                        cron_line=entry.line if entry else "",
                        last_run=dict(cert.last_run.__dict__) if cert.last_run else {})
    try:
        schedule = RenewalSchedule.from_dict(cert.schedule) if cert.schedule else entry and entry.schedule
    except ValueError:
        schedule = entry.schedule if entry else None
    if schedule:
        status.schedule = schedule.describe()
        status.next_run = schedule.next_runs(1, now.astimezone())[0].isoformat()
    if info is not None:
        status.not_after = info.not_after.isoformat()
        status.days_left = round(info.days_left(now), 1)
        status.window = renewal_policy.window_position(info.not_before, info.not_after, now.astimezone())
        status.next_due = renewal_policy.renew_at(info.not_before, info.not_after).isoformat()
    return status


def collect_status(options: GlobalOptions, now: datetime | None = None) -> StatusReport:
    now = now or datetime.now(UTC)
    paths = options.paths
    state = load_state(paths.state_file)
    cron = CronFile(options.cron_file)
    entries = {e.cert_name: e for e in cron.entries()}
    items = []
    for name, cert in sorted(state.certificates.items()):
        info = read_cert(paths.cert_file(name))
        entry = entries.get(name)
        status = _describe_cert(cert, info, entry, now)
        problem = cron_problem(entry, options.cron_file, options.installdir) if entry else ""
        status.verdict, status.detail = assess(info, now, cron_present=entry is not None,
                                               cron_problem=problem, last_run=cert.last_run,
                                               last_failure=cert.last_failure)
        if status.verdict == MISSING:
            status.detail = f"no certificate at {paths.cert_file(name)}"
        elif status.verdict == CRON_MISSING:
            status.detail = f"no entry for {name} in {options.cron_file}: it will not be renewed"
        items.append(status)
    legacy = options.legacy()
    return StatusReport(str(options.installdir), items, legacy.describe() if legacy.found() else [])


TAKE_OVER_HINT = ("Take it over: run `bncert-tui` (the wizard) or `bncert-tui apply --domain ... --accept-tos`; "
                  "its certificate and account are reused (no new order) and `revert` puts its setup back.")


def format_status(report: StatusReport) -> str:
    lines = []
    if report.legacy:
        lines.append("bncert-tool's setup was found [needs attention]")
        lines += [f"  - {line}" for line in report.legacy]
        lines.append(f"  {TAKE_OVER_HINT}")
    if not report.certificates:
        lines.append(f"No certificate managed by bncert-tui in {report.installdir}.")
        return "\n".join(lines)
    for c in report.certificates:
        lines.append(f"{c.name} [{c.verdict}]")
        lines.append(f"  names:     {', '.join(c.domains)}")
        if c.not_after:
            lines.append(f"  expires:   {c.not_after} ({c.days_left} days left)")
        lines.append(f"  window:    {c.window or '-'}")
        lines.append(f"  schedule:  {c.schedule or '-'}" + (f" (next {c.next_run})" if c.next_run else ""))
        if c.last_run:
            lines.append(f"  last run:  {c.last_run.get('time')} {c.last_run.get('outcome')} "
                         f"{c.last_run.get('message', '')}".rstrip())
        if c.detail and not c.ok:
            lines.append(f"  problem:   {c.detail}")
    return "\n".join(lines)
