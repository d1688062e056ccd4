"""Turn answers into a complete, reviewable plan before anything is touched.

The wizard shows a Plan in its review screen and the `apply` command prints it; both then hand the very
same Plan to the executor. Building a plan reads files and runs the config test, but writes nothing.
"""

from __future__ import annotations

import difflib
import os
import pwd
import random
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bncert_tui import USER_AGENT
from bncert_tui.core import renewal_policy
from bncert_tui.core.certs import CertInfo, read_cert
from bncert_tui.core.cronfile import CronFile, render_entry
from bncert_tui.core.errors import InputError, StackError
from bncert_tui.core.legacy import LegacyFindings, takeover_files
from bncert_tui.core.lego import (
    LegoCapabilities,
    LegoRequest,
    check_ca_certificates,
    detect_capabilities,
    find_lego,
)
from bncert_tui.core.options import GlobalOptions
from bncert_tui.core.paths import ToolPaths
from bncert_tui.core.schedule import RenewalSchedule
from bncert_tui.core.state import ManagedCert, State, load_state
from bncert_tui.core.validation import (
    choose_server_name,
    missing_counterparts,
    normalize_domains,
    normalize_email,
)
from bncert_tui.core.webserver import detect_web_server
from bncert_tui.core.webserver.base import (
    CHALLENGE_TAG,
    Site,
    StackInfo,
    WebServer,
    WwwRedirect,
    begin_marker,
)


@dataclass(frozen=True)
class Answers:
    """What the user chose: the same for `apply` flags, bncert-tool options and the wizard."""

    domains: list[str]
    email: str
    accept_tos: bool
    https_redirect: bool = True
    www_redirect: WwwRedirect | None = None  # None: bncert-tool's default (to-www when both forms given)
    new_schedule: bool = False


@dataclass
class FileChange:
    path: Path
    before: str
    after: str

    def diff(self) -> str:
        return "".join(difflib.unified_diff(self.before.splitlines(keepends=True),
                                            self.after.splitlines(keepends=True),
                                            f"{self.path} (now)", f"{self.path} (after)"))


@dataclass
class Plan:
    options: GlobalOptions
    web: WebServer
    stack: StackInfo
    site: Site
    email: str
    domains: list[str]
    lego: Path
    caps: LegoCapabilities
    request: LegoRequest
    cert_action: str  # "obtain" | "keep"
    cert_reason: str
    existing: CertInfo | None
    schedule: RenewalSchedule
    schedule_is_new: bool
    cron_argv: list[str]
    cron_line: str
    cron_user: str
    challenge_files: dict[Path, str]  # stage 1: challenge location only
    final_files: dict[Path, str]  # stage 2: certificate, redirects, names
    originals: dict[Path, str]
    state: State
    suggestions: list[str]
    server_name: str
    legacy: LegacyFindings | None = None  # set when bncert-tool's setup is taken over

    @property
    def legacy_cron_files(self) -> list[Path]:
        return self.legacy.cron_files if self.legacy and self.legacy.found() else []

    @property
    def http_port(self) -> int:
        return self.stack.ports.http or 80

    @property
    def https_port(self) -> int:
        return self.site.https_port

    def file_changes(self) -> list[FileChange]:
        return [FileChange(p, self.originals.get(p, ""), text) for p, text in sorted(self.final_files.items())]

    def changes(self) -> list[str]:
        """The numbered list of what will happen, as bncert-tool shows it, but complete."""
        site = self.site
        items = [f"Back up every file it changes to {self.options.paths.backups}"]
        if self.legacy and self.legacy.found():
            items.append("Take over from bncert-tool: " + "; ".join(self.legacy.describe()))
            for line in self.legacy.cron_lines:
                items.append(f"Replace bncert-tool's renewal line in {line.source} (line {line.line_no}) by "
                             f"this tool's entry: {line.line.strip()}")
        if self.challenge_files or self.final_files:
            items.append(f"Serve {site.webroot}/.well-known/acme-challenge/ on the HTTP port "
                         f"{self.http_port} (the web server keeps running: no downtime)")
        items.append(f"Check that each domain's challenge path is reachable on port {self.http_port}")
        if self.cert_action == "keep":
            items.append(f"Keep the existing certificate for {', '.join(self.domains)} ({self.cert_reason})")
        else:
            items.append(f"Obtain a certificate for {', '.join(self.domains)} from {self.options.server} "
                         f"with {self.lego} ({self.cert_reason})")
        items.append(f"Configure {self.stack.kind} to use {site.cert_file} and {site.key_file}")
        items.append(f"Configure the server name: {', '.join(self.domains)}")
        first = self.domains[0]
        if site.https_redirect:
            items.append(f"Redirect HTTP to HTTPS (301), e.g. http://{first}/a?b=1 -> "
                         f"{self._example(first)}/a?b=1")
        if site.www_redirect == "to-www":
            nonwww = next((d for d in self.domains if not d.startswith("www.")), first)
            items.append(f"Redirect non-www to www, e.g. https://{nonwww}/a -> {self._example(nonwww)}/a")
        elif site.www_redirect == "to-nonwww":
            www = next((d for d in self.domains if d.startswith("www.")), first)
            items.append(f"Redirect www to non-www, e.g. https://{www}/a -> {self._example(www)}/a")
        items.append(f"Test the configuration ({self.stack.kind} -t), then reload gracefully")
        items.append(f"Install the renewal entry in {self.options.cron_file}: {self.schedule.describe()}")
        items.append("Check that the HTTPS port serves the new certificate for each domain")
        return items

    def with_schedule(self, schedule: RenewalSchedule) -> Plan:
        """The same plan with another renewal time (the wizard's "draw another time" key)."""
        from dataclasses import replace

        return replace(self, schedule=schedule, schedule_is_new=True,
                       cron_line=render_entry(self.site.name, schedule, self.cron_argv, self.cron_user))

    def _example(self, host: str) -> str:
        from bncert_tui.core.webserver.base import canonical_host

        canon = canonical_host(self.site, host)
        port = "" if self.https_port == 443 else f":{self.https_port}"
        return f"https://{canon}{port}"

    def to_dict(self) -> dict[str, object]:
        return {
            "web_server": self.stack.kind, "installdir": str(self.options.installdir),
            "domains": self.domains, "certificate": str(self.site.cert_file),
            "cert_action": self.cert_action, "cert_reason": self.cert_reason,
            "https_redirect": self.site.https_redirect, "www_redirect": self.site.www_redirect,
            "ports": {"http": self.http_port, "https": self.https_port},
            "schedule": {**self.schedule.to_dict(), "cron": self.cron_line,
                         "description": self.schedule.describe(), "new": self.schedule_is_new},
            "files": [str(p) for p in sorted(self.final_files)],
            "lego": {"path": str(self.lego), "variant": self.caps.level},
            "changes": self.changes(),
        }


def default_www_redirect(domains: list[str]) -> WwwRedirect:
    """bncert-tool: non-www to www is on when both forms of a name are given."""
    for name in domains:
        if not name.startswith("www.") and f"www.{name}" in domains:
            return "to-www"
    return "none"


def _cert_name(domains: list[str], state: State, legacy: LegacyFindings | None = None) -> tuple[str, list[str]]:
    """Reuse the name of a managed certificate (or of bncert-tool's) that shares a domain, so adding a
    name expands it and taking over keeps the existing certificate."""
    known = [(name, cert.domains) for name, cert in state.certificates.items()]
    if legacy is not None:
        known += [(cert.name, list(cert.names)) for cert in legacy.certificates]
    for name, names in known:
        if name in domains or set(names) & set(domains):
            ordered = [name] + [d for d in domains if d != name] if name in domains else domains
            return (name if name in domains else domains[0]), ordered
    return domains[0], domains


def _legacy_email(legacy: LegacyFindings) -> str:
    """Taking over: the account bncert-tool registered, so no new email is needed."""
    if legacy.accounts:
        return legacy.accounts[0]
    return next((line.email for line in legacy.cron_lines if line.email), "")


def current_user() -> str:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return "root"


def renew_argv_for_cron(options: GlobalOptions, name: str) -> list[str]:
    """`python -m bncert_tui renew --cert NAME` with the same global options, all absolute."""
    return [sys.executable, "-m", "bncert_tui", "renew", "--cert", name, *options.cli_args()]


def site_for(cert: ManagedCert, paths: ToolPaths, https_port: int) -> Site:
    return Site(name=cert.name, domains=tuple(cert.domains), webroot=paths.webroot,
                https_port=https_port, cert_file=paths.cert_file(cert.name),
                key_file=paths.key_file(cert.name), https_redirect=cert.https_redirect,
                www_redirect=cert.www_redirect)  # type: ignore[arg-type]


def read_config(web: WebServer, stack: StackInfo) -> dict[Path, str]:
    files = {}
    for path in stack.config_files:
        try:
            files[path] = path.read_text()
        except OSError as exc:
            raise StackError(f"Cannot read {path}: {exc}") from None
    return files


def build_plan(options: GlobalOptions, answers: Answers, *, rng: random.Random | None = None,
               state: State | None = None) -> Plan:
    """Validate everything and compute every change; raises InputError/StackError, touches nothing."""
    if not answers.accept_tos:
        raise InputError("The Let's Encrypt Subscriber Agreement was not accepted",
                         hint="Read https://letsencrypt.org/repository/ and pass --accept-tos.")
    legacy = options.legacy()
    domains = normalize_domains(answers.domains)
    email = normalize_email(answers.email or _legacy_email(legacy))
    www = answers.www_redirect or default_www_redirect(domains)
    if www not in ("to-www", "to-nonwww", "none"):
        raise InputError(f"Invalid www redirection {www!r}: use to-www, to-nonwww or none")
    paths = options.paths
    state = state if state is not None else load_state(paths.state_file)
    name, domains = _cert_name(domains, state, legacy)

    web = detect_web_server(options.installdir)
    stack = web.inspect()
    if not stack.ports.https:
        raise StackError(f"No HTTPS server found in the {stack.kind} configuration",
                         hint="Add an HTTPS server block/virtual host (Bitnami ships one) and run again.")
    test = web.config_test()
    if not test.ok:
        raise StackError(f"The {stack.kind} configuration test fails before any change",
                         test.output.strip()[-1500:], "Fix the configuration first; nothing was changed.")
    if not web.is_running():
        raise StackError(f"{stack.kind} is not running", hint="Start it (e.g. /opt/bitnami/ctlscript.sh "
                         "start) so the site keeps serving and the challenge can be answered.")
    lego = find_lego(options.installdir, options.lego)
    env = options.env()
    check_ca_certificates(env)
    caps = detect_capabilities(lego)

    site = Site(name=name, domains=tuple(domains), webroot=paths.webroot, https_port=stack.ports.https,
                cert_file=paths.cert_file(name), key_file=paths.key_file(name),
                https_redirect=answers.https_redirect, www_redirect=www)
    others = [site_for(c, paths, stack.ports.https) for n, c in sorted(state.certificates.items())
              if n != name]
    originals = read_config(web, stack)
    challenge_site = Site(name=name, domains=site.domains, webroot=paths.webroot,
                          https_port=stack.ports.https)
    # Stage 1 (challenge location only) is needed only when the config does not serve it yet; on a
    # re-run the live config keeps its redirects untouched until the final stage.
    serving_challenge = any(begin_marker(CHALLENGE_TAG) in text for text in originals.values())
    challenge_files = {} if serving_challenge else web.render(originals, [*others, challenge_site])
    taking_over = legacy.found()
    final_files = (takeover_files(web, originals, legacy, [*others, site]) if taking_over
                   else web.render(originals, [*others, site]))
    for path in [*challenge_files, *final_files]:
        if options.installdir.resolve() not in path.resolve().parents:
            raise StackError(f"The change would touch {path}, outside {options.installdir}",
                             hint="Keep the web server configuration under the install dir.")

    existing = read_cert(paths.cert_file(name)) if paths.key_file(name).exists() else None
    managed = state.certificates.get(name)
    cert_action, reason = _cert_decision(existing, domains, managed, options.server)

    schedule_is_new = True
    schedule = RenewalSchedule.draw(rng)
    if managed and managed.schedule and not answers.new_schedule:
        schedule = RenewalSchedule.from_dict(managed.schedule)
        schedule_is_new = False
    else:
        entry = CronFile(options.cron_file).get(name)
        if entry and entry.schedule and not answers.new_schedule:
            schedule, schedule_is_new = entry.schedule, False
    cron_argv = renew_argv_for_cron(options, name)
    user = current_user()
    request = LegoRequest(server=options.server, email=email, path=paths.lego_path,
                          webroot=paths.webroot, domains=tuple(domains), user_agent=USER_AGENT)
    return Plan(options=options, web=web, stack=stack, site=site, email=email, domains=domains,
                lego=lego, caps=caps, request=request, cert_action=cert_action, cert_reason=reason,
                existing=existing, schedule=schedule, schedule_is_new=schedule_is_new,
                cron_argv=cron_argv, cron_line=render_entry(name, schedule, cron_argv, user),
                cron_user=user, challenge_files=challenge_files, final_files=final_files,
                originals=originals, state=state, suggestions=missing_counterparts(domains),
                server_name=choose_server_name(domains, www), legacy=legacy if taking_over else None)


def _cert_decision(existing: CertInfo | None, domains: list[str], managed: ManagedCert | None,
                   server: str) -> tuple[str, str]:
    """Keep a valid certificate for the same names (Let's Encrypt allows 5 per name set a week)."""
    if existing is None:
        return "obtain", "no certificate yet"
    if set(existing.names) != set(domains):
        return "obtain", f"the names change (now {', '.join(existing.names)})"
    if managed is not None and managed.server != server:
        return "obtain", f"the CA changes (was {managed.server})"
    now = datetime.now(UTC)
    if renewal_policy.is_due(existing.not_before, existing.not_after, now):
        return "obtain", f"the certificate is due for renewal ({existing.days_left(now):.0f} days left)"
    return "keep", f"valid until {existing.not_after:%Y-%m-%d}, not due"
