"""`status`: each certificate's health in plain words, with a verdict monitoring can act on."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bncert_tui.core import renewal_policy
from bncert_tui.core.certs import read_cert
from bncert_tui.core.cronfile import CronFile
from bncert_tui.core.plan import GlobalOptions
from bncert_tui.core.schedule import RenewalSchedule
from bncert_tui.core.state import load_state


@dataclass
class CertStatus:
    name: str
    domains: list[str]
    verdict: str  # OK | renewal overdue | failing | expired | cron entry missing | cron entry broken | missing
    detail: str
    not_after: str = ""
    days_left: float | None = None
    window: str = ""
    schedule: str = ""
    cron_line: str = ""
    last_run: dict[str, object] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.verdict == "OK"


@dataclass
class StatusReport:
    installdir: str
    certificates: list[CertStatus]

    @property
    def healthy(self) -> bool:
        return all(c.ok for c in self.certificates)

    def to_dict(self) -> dict[str, object]:
        return {"installdir": self.installdir, "healthy": self.healthy,
                "certificates": [c.__dict__ for c in self.certificates]}


def _cron_problem(line_command: str) -> str:
    try:
        words = shlex.split(line_command)
    except ValueError:
        return "the cron entry cannot be parsed"
    program = next((w for w in words if w.startswith("/")), "")
    if program and not Path(program).exists():
        return f"the cron entry runs {program}, which no longer exists"
    return ""


def collect_status(options: GlobalOptions, now: datetime | None = None) -> StatusReport:
    now = now or datetime.now(UTC)
    paths = options.paths
    state = load_state(paths.state_file)
    cron = CronFile(options.cron_file)
    items = []
    for name, cert in sorted(state.certificates.items()):
        info = read_cert(paths.cert_file(name))
        entry = cron.get(name)
        schedule = RenewalSchedule.from_dict(cert.schedule) if cert.schedule else None
        status = CertStatus(name=name, domains=cert.domains, verdict="OK", detail="",
                            schedule=schedule.describe() if schedule else "",
                            cron_line=entry.line if entry else "",
                            last_run=cert.last_run.__dict__ if cert.last_run else {})
        if info is None:
            status.verdict, status.detail = "missing", f"no certificate at {paths.cert_file(name)}"
            items.append(status)
            continue
        status.not_after = info.not_after.isoformat()
        status.days_left = round(info.days_left(now), 1)
        status.window = renewal_policy.window_position(info.not_before, info.not_after, now)
        failing = cert.last_run is not None and cert.last_run.outcome == "failed"
        if info.not_after <= now:
            status.verdict, status.detail = "expired", f"expired on {info.not_after:%Y-%m-%d}"
        elif entry is None:
            status.verdict, status.detail = "cron entry missing", f"no entry for {name} in {options.cron_file}"
        elif problem := _cron_problem(entry.command):
            status.verdict, status.detail = "cron entry broken", problem
        elif failing:
            assert cert.last_run is not None
            status.verdict, status.detail = "failing", f"last run {cert.last_run.time}: {cert.last_run.message}"
        elif status.window.startswith("overdue"):
            status.verdict, status.detail = "renewal overdue", status.window
        else:
            status.detail = status.window
        items.append(status)
    return StatusReport(str(options.installdir), items)


def format_status(report: StatusReport) -> str:
    if not report.certificates:
        return f"No certificate managed by bncert-tui in {report.installdir}."
    lines = []
    for c in report.certificates:
        lines.append(f"{c.name} [{c.verdict}]")
        lines.append(f"  names:     {', '.join(c.domains)}")
        if c.not_after:
            lines.append(f"  expires:   {c.not_after} ({c.days_left} days left)")
        lines.append(f"  window:    {c.window or '-'}")
        lines.append(f"  schedule:  {c.schedule or '-'}")
        if c.last_run:
            lines.append(f"  last run:  {c.last_run.get('time')} {c.last_run.get('outcome')} "
                         f"{c.last_run.get('message', '')}")
        if c.detail and c.verdict != "OK":
            lines.append(f"  problem:   {c.detail}")
    return "\n".join(lines)
