"""Plain-data stand-ins for what detection and planning return on a real VM at /opt/bitnami.

Snapshot tests, `scripts/screenshots.py` and the benches drive the real WizardApp with these injected,
so every screen can be shown deterministically without a web server, a CA or a temp path in the text.
Nothing here touches disk: the executor below only reports, as the real one would.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Literal

from bncert_tui import USER_AGENT
from bncert_tui.core.apply import ApplyResult
from bncert_tui.core.certs import CertInfo
from bncert_tui.core.cronfile import render_entry
from bncert_tui.core.errors import ApplyError
from bncert_tui.core.events import APPLY_STEPS, Reporter
from bncert_tui.core.legacy import LegacyCert, LegacyFindings
from bncert_tui.core.lego import LETS_ENCRYPT, LegoCapabilities, LegoRequest, ProcessSlot
from bncert_tui.core.overview import Overview, Problem
from bncert_tui.core.plan import Answers, GlobalOptions, Plan
from bncert_tui.core.renew import RenewOutcome
from bncert_tui.core.schedule import RenewalSchedule
from bncert_tui.core.state import State
from bncert_tui.core.status import CertStatus, StatusReport
from bncert_tui.core.validation import choose_server_name, missing_counterparts, normalize_domains
from bncert_tui.core.webserver.base import CommandResult, Ports, Site, StackInfo, WwwRedirect

INSTALLDIR = Path("/opt/bitnami")
SEED = 20240601
#: A fixed "now" in a fixed zone (UTC+1), so next runs do not depend on the machine's clock or TZ.
NOW = datetime(2026, 3, 14, 10, 30, 0, tzinfo=timezone(timedelta(hours=1), "CET"))
CAPS = LegoCapabilities(version="dev")
BLOCK = Path("/opt/bitnami/nginx/conf/server_blocks/wordpress-https-server-block.conf")
BLOCK_HTTP = Path("/opt/bitnami/nginx/conf/server_blocks/wordpress-server-block.conf")


def fixed_clock() -> datetime:
    return NOW


def fixed_monotonic() -> float:
    return 100.0


def sample_options() -> GlobalOptions:
    return GlobalOptions(installdir=INSTALLDIR, server=LETS_ENCRYPT,
                         cron_file=Path("/etc/cron.d/bncert-tui"))


def sample_stack() -> StackInfo:
    return StackInfo(kind="nginx", version="1.26.2", main_config=INSTALLDIR / "nginx/conf/nginx.conf",
                     config_files=[BLOCK_HTTP, BLOCK], ports=Ports(80, 443),
                     server_names=["www.example.com", "example.com"])


def sample_legacy() -> LegacyFindings:
    """bncert-tool's leftovers on a VM it configured: its challenge include and its certificate."""
    return LegacyFindings(INSTALLDIR, nginx_bncert_conf=INSTALLDIR / "nginx/conf/bitnami/bncert.conf",
                          certificates=[LegacyCert("example.com", INSTALLDIR / "letsencrypt/certificates/"
                                                   "example.com.crt", ("example.com", "www.example.com"),
                                                   datetime(2026, 4, 1, tzinfo=UTC), "ab12")])


def sample_overview(*, managed: bool = False, problems: bool = False, legacy: bool = False) -> Overview:
    """The Start screen's data: a fresh VM, a re-run with one managed certificate, or a VM that
    bncert-tool configured."""
    view = Overview(options=sample_options(), stack=sample_stack(), lego_path="/usr/bin/lego",
                    lego=CAPS, config_ok=not problems, running=True,
                    legacy=sample_legacy() if legacy else None)
    if problems:
        view.problems.append(Problem("The nginx configuration test fails",
                                     "nginx: [emerg] unknown directive \"ssl_certificat\" in "
                                     "wordpress-https-server-block.conf:7 — fix it, then run again."))
    if managed:
        view.status = StatusReport(str(INSTALLDIR), [CertStatus(
            name="example.com", domains=["example.com", "www.example.com"], verdict="OK",
            detail="renews from 2026-04-13", not_after="2026-05-12T09:12:00+00:00", days_left=58.9,
            window="renews from 2026-04-13",
            schedule="every day at 03:17:42, 09:17:42, 15:17:42 and 21:17:42",
            last_run={"time": "2026-03-14T08:17:42+00:00", "outcome": "not-due",
                      "message": "not due before 2026-04-13"})])
    return view


class SampleWeb:
    """Enough of a WebServer for a Plan that is only shown, never executed."""

    kind: Literal["nginx", "apache"] = "nginx"
    installdir = INSTALLDIR

    def inspect(self) -> StackInfo:
        return sample_stack()

    def render(self, files: dict[Path, str], sites: list[Site]) -> dict[Path, str]:
        return {}

    def config_test(self) -> CommandResult:
        return CommandResult(["nginx", "-t"], 0, "")

    def reload(self) -> CommandResult:
        return CommandResult(["nginx", "-s", "reload"], 0, "")

    def is_running(self) -> bool:
        return True


HTTPS_BEFORE = """server {
    listen 443 ssl default_server;
    root /opt/bitnami/wordpress;
    server_name _;
    ssl_certificate      bitnami/certs/server.crt;
    ssl_certificate_key  bitnami/certs/server.key;
    include  "/opt/bitnami/nginx/conf/bitnami/*.conf";
}
"""
HTTP_BEFORE = """server {
    listen 80 default_server;
    root /opt/bitnami/wordpress;
    server_name _;
    include  "/opt/bitnami/nginx/conf/bitnami/*.conf";
}
"""


def _after(before: str, tls: bool, domains: list[str], server_name: str) -> str:
    lines = before.splitlines(keepends=True)
    names = " ".join(domains)
    if tls:
        cert = f"{INSTALLDIR}/letsencrypt/certificates/{domains[0]}"
        lines[4] = f"    ssl_certificate      {cert}.crt;  # bncert-tui\n"
        lines[5] = f"    ssl_certificate_key  {cert}.key;  # bncert-tui\n"
        block = ["    # BEGIN bncert-tui: names\n", f"    server_name {names};\n",
                 "    # END bncert-tui: names\n"]
    else:
        block = ["    # BEGIN bncert-tui: acme-challenge\n",
                 "    location ^~ /.well-known/acme-challenge/ {\n",
                 f"        root {INSTALLDIR}/bncert-tui/webroot;\n", "    }\n",
                 "    # END bncert-tui: acme-challenge\n", "    # BEGIN bncert-tui: redirects\n",
                 f"    return 301 https://{server_name}$request_uri;\n",
                 "    # END bncert-tui: redirects\n"]
    return "".join(lines[:-1] + block + lines[-1:])


def sample_plan(options: GlobalOptions | None = None, answers: Answers | None = None,
                rng: random.Random | None = None) -> Plan:
    """A Plan as build_plan would return it for example.com on a fresh Bitnami nginx VM.

    Has build_plan's signature, so it can be injected as the wizard's planner.
    """
    options = options or sample_options()
    answers = answers or Answers(domains=["example.com", "www.example.com"], email="admin@example.com",
                                 accept_tos=True, www_redirect="to-www")
    domains = normalize_domains(answers.domains)
    www: WwwRedirect = answers.www_redirect or "none"
    name = domains[0]
    paths = options.paths
    schedule = RenewalSchedule.draw(rng if rng is not None else random.Random(SEED))
    cron_argv = ["/usr/bin/python3", "-m", "bncert_tui", "renew", "--cert", name, *options.cli_args()]
    server_name = choose_server_name(domains, www)
    site = Site(name=name, domains=tuple(domains), webroot=paths.webroot, https_port=443,
                cert_file=paths.cert_file(name), key_file=paths.key_file(name),
                https_redirect=answers.https_redirect, www_redirect=www)
    originals = {BLOCK_HTTP: HTTP_BEFORE, BLOCK: HTTPS_BEFORE}
    final = {BLOCK_HTTP: _after(HTTP_BEFORE, False, domains, server_name),
             BLOCK: _after(HTTPS_BEFORE, True, domains, server_name)}
    request = LegoRequest(server=options.server, email=answers.email, path=paths.lego_path,
                          webroot=paths.webroot, domains=tuple(domains), user_agent=USER_AGENT)
    return Plan(options=options, web=SampleWeb(), stack=sample_stack(), site=site, email=answers.email,
                domains=domains, lego=Path("/usr/bin/lego"), caps=CAPS, request=request,
                cert_action="obtain", cert_reason="no certificate yet", existing=None,
                schedule=schedule, schedule_is_new=True, cron_argv=cron_argv,
                cron_line=render_entry(name, schedule, cron_argv, "root"), cron_user="root",
                challenge_files={BLOCK_HTTP: final[BLOCK_HTTP]}, final_files=final,
                originals=originals, state=State(), suggestions=missing_counterparts(domains),
                server_name=server_name)


def sample_certificate(plan: Plan) -> CertInfo:
    start = datetime(2026, 3, 14, 9, 30, tzinfo=UTC)
    return CertInfo(names=tuple(plan.domains), serial="4f1c2a9be07d5c31", not_before=start,
                    not_after=start + timedelta(days=90), issuer="(STAGING) Pretend Pear R3")


LEGO_LINES = [
    "[INFO] [example.com, www.example.com] acme: Obtaining bundled SAN certificate",
    "[INFO] [example.com] AuthURL: https://acme-v02.api.letsencrypt.org/acme/authz-v3/1234",
    "[INFO] [example.com] acme: Could not find solver for: tls-alpn-01",
    "[INFO] [example.com] acme: use http-01 solver",
    "[INFO] [example.com] acme: Trying to solve HTTP-01",
    "[INFO] [example.com] The server validated our request",
]


class SampleExecutor:
    """Reports the apply steps like the real executor. `stop_at` blocks there until `release()`,
    so a snapshot can catch the Run screen mid-way; `fail_at` raises an ApplyError there."""

    def __init__(self, stop_at: str | None = None, fail_at: str | None = None) -> None:
        self.stop_at = stop_at
        self.fail_at = fail_at
        self.reached = threading.Event()
        self.gate = threading.Event()

    def release(self) -> None:
        self.gate.set()

    def __call__(self, plan: Plan, reporter: Reporter, slot: ProcessSlot) -> ApplyResult:
        result = ApplyResult(plan=plan, certificate=None, cert_action=plan.cert_action,
                             backup_dir=plan.options.paths.backups / "20260314-103000-apply",
                             log_path=plan.options.paths.logs / "apply-20260314-103000.log")
        for key, _title in APPLY_STEPS:
            reporter.step(key, "running")
            if key == "lego":
                for line in LEGO_LINES:
                    reporter.line(line)
            if key == self.stop_at:
                self.reached.set()
                self.gate.wait(30)
            if key == self.fail_at or slot.cancelled:
                reporter.step(key, "failed", "cancelled" if slot.cancelled else "lego exited with code 1")
                if slot.cancelled:
                    from bncert_tui.core.events import Cancelled

                    raise Cancelled("cancelled while lego was running")
                raise ApplyError("lego could not obtain the certificate",
                                 "[example.com] acme: error: 403 :: urn:ietf:params:acme:error:unauthorized"
                                 "\nRolled back: 2 file(s) restored from "
                                 f"{result.backup_dir}; the server serves what it served before.",
                                 "The CA could not fetch the challenge: check that DNS for each domain "
                                 "points to this machine and port 80 is open to the Internet.")
            detail = {"checkpoint": str(result.backup_dir), "challenge": "1 file(s)",
                      "preflight": f"{len(plan.domains)} domain(s) OK",
                      "configure": "2 file(s) changed", "verify": "serial 4f1c2a9be07d5c31",
                      "cron": plan.cron_line}.get(key, "")
            reporter.step(key, "done", detail)
        result.certificate = sample_certificate(plan)
        result.changed_files = sorted(plan.final_files)
        result.cron_changed = True
        return result


def sample_renewer(options: GlobalOptions, on_line: Callable[[str], None],
                   slot: ProcessSlot) -> list[RenewOutcome]:
    """What "Renew now" reports for the managed example.com (lego's lines, then the outcome)."""
    for line in ["[INFO] [example.com] acme: Trying renewal with 58 days remaining", *LEGO_LINES[:2],
                 "[INFO] [example.com] Server responded with a certificate."]:
        on_line(line)
    return [RenewOutcome("example.com", "renewed", "new certificate valid until 2026-06-12",
                         serial="6a0e55c1d2b3f4a5", next_due="2026-05-13T09:30:00+00:00")]


def sample_reverter(options: GlobalOptions) -> list[Path]:
    return [BLOCK_HTTP, BLOCK]
