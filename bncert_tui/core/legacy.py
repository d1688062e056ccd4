"""Find what Bitnami's bncert-tool left on a machine, say it in plain words, and neutralise its config
edits so our own render can take over without duplicates.

bncert-tool writes (see shared/research/bncert-behaviour.md): one `# bncert-autorenew` cron line (root's
or bitnami's crontab), lego data in DIR/letsencrypt (the same --path this tool uses, so the certificate
and account are reused as they are), `<conf>/<first-domain>.crt|key` symlinks with every certificate
directive repointed to them, nginx `conf/bitnami/bncert.conf` (`location ^~ /.well-known`), Apache
`# BEGIN: <what>` fences, and the challenge dir DIR/apps/letsencrypt. Only `detect` and
`crontab_sources` read files; everything else is pure.
"""

from __future__ import annotations

import contextlib
import os
import pwd
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

from bncert_tui.core.certs import read_cert
from bncert_tui.core.legacy_text import (
    CRON_TAG,
    FENCE_HTTPS,
    NGINX_TAKEN_OVER,
    PROXY_FENCES,
    REPLACED_FENCES,
    ApacheFence,
    CertDirective,
    LegacyCronLine,
    cert_directives,
    find_apache_fences,
    find_cron_lines,
    nginx_conf_is_active,
    strip_apache_fences,
    strip_cron_text,
)
from bncert_tui.core.options import CRON_D_DIR, SPOOL_DIR
from bncert_tui.core.webserver.base import Site, WebServer

__all__ = [
    "CRON_TAG",
    "ApacheFence",
    "CertDirective",
    "LegacyCert",
    "LegacyCronLine",
    "LegacyFindings",
    "Symlink",
    "crontab_sources",
    "detect",
    "read_crontab",
    "strip_config",
    "strip_cron_text",
    "takeover_files",
]

MIDNIGHT_WHY = (
    "`0 0 * * *` is bncert-tool's schedule from before 2022: every VM that ran it renews at the same "
    "moment, 00:00 (UTC on most cloud VMs). In 2022 that sent Let's Encrypt about 170,000 requests in "
    "the first 30 seconds after midnight UTC (go-acme/lego#1656); at such a peak requests are refused and "
    "renewals fail."
)


class Symlink(NamedTuple):
    """A link bncert-tool made to its lego data (`<conf>/<domain>.crt` -> DIR/letsencrypt/...)."""

    link: Path
    target: Path  # as resolved against the link's directory (not followed further)


@dataclass(frozen=True)
class LegacyCert:
    """A certificate in bncert-tool's lego data (DIR/letsencrypt/certificates/<name>.crt)."""

    name: str
    file: Path
    names: tuple[str, ...]
    not_after: datetime | None
    serial: str | None


@dataclass
class LegacyFindings:
    """Everything bncert-tool left behind. `found()` says whether anything is still active."""

    installdir: Path
    cron_lines: list[LegacyCronLine] = field(default_factory=list)
    lego_path: Path | None = None  # bncert's lego binary, DIR/letsencrypt/lego
    accounts: list[str] = field(default_factory=list)  # account e-mails in DIR/letsencrypt/accounts
    certificates: list[LegacyCert] = field(default_factory=list)
    apache_fences: list[ApacheFence] = field(default_factory=list)
    nginx_bncert_conf: Path | None = None  # only while it still holds a directive
    symlinks: list[Symlink] = field(default_factory=list)
    cert_directives: list[CertDirective] = field(default_factory=list)  # those naming a symlink
    challenge_dir: Path | None = None  # DIR/apps/letsencrypt (lego --http.webroot)

    @property
    def cron_files(self) -> list[Path]:
        """The crontabs holding its lines: each is rewritten with `strip_cron_text` on take-over."""
        return list(dict.fromkeys(line.source for line in self.cron_lines))

    @property
    def replaced_fences(self) -> list[ApacheFence]:
        """The fences a take-over removes (challenge include, redirects)."""
        return [f for f in self.apache_fences if f.what in REPLACED_FENCES]

    def found(self) -> bool:
        """Something of bncert-tool's is still in charge: its cron line, its challenge location or its
        redirects. False again after a take-over. Certificate directives through its symlinks do not
        count: the symlinks lead to the very file lego renews in place, so they keep working (the
        render repoints only the blocks that serve the site); lego data and challenge dir stay too."""
        return bool(self.cron_lines or self.replaced_fences or self.nginx_bncert_conf)

    def _rel(self, path: Path) -> str:
        """Paths under the install dir relative to it, to keep the sentences short."""
        return str(path.relative_to(self.installdir)) if self.installdir in path.parents else str(path)

    def describe(self) -> list[str]:
        """Plain sentences for `status` and the wizard's start screen."""
        if not (self.found() or self.certificates or self.symlinks or self.challenge_dir):
            return []
        where_note = f"(paths relative to {self.installdir})"
        out = [f"bncert-tool (Bitnami's HTTPS configuration tool) has configured this machine {where_note}."
               if self.found() else f"bncert-tool was used on this machine before; what it left is unused "
               f"now {where_note}:"]
        for line in self.cron_lines:
            where = (f"{line.source}, line {line.line_no}, as {line.user}" if line.system_format
                     else f"{line.user}'s crontab ({line.source}), line {line.line_no}")
            names = ", ".join(line.domains) or "its certificate"
            after = f", then runs `{line.reload_command}` even when nothing was renewed" \
                if line.reload_command else ""
            out.append(f"Its renewal job ({where}) runs lego {line.run_time} for {names}{after}.")
            if line.old_midnight:
                out.append(MIDNIGHT_WHY)
            elif line.user_agent:
                out.append(f"That time was drawn at random by bncert-tool ({line.user_agent}) and changes "
                           "every time it is re-run.")
        if len(self.cron_lines) > 1:
            out.append(f"There are {len(self.cron_lines)} such lines: each one renews on its own.")
        for cert in self.certificates:
            until = f"valid until {cert.not_after:%Y-%m-%d %H:%M} UTC" if cert.not_after else "unreadable"
            out.append(f"Certificate {cert.name} ({', '.join(cert.names) or '?'}) in "
                       f"{self._rel(cert.file.parent)}, "
                       f"{until}: it is reused, no new order while it is valid and not due.")
        if self.accounts:
            out.append(f"Let's Encrypt account(s): {', '.join(self.accounts)}.")
        for what in dict.fromkeys(f.what for f in self.apache_fences):
            files = sorted({self._rel(f.file) for f in self.apache_fences if f.what == what})
            note = " (a 302 temporary redirect)" if what == FENCE_HTTPS else ""
            fate = ("kept: it lets the challenge through a ProxyPass" if what in PROXY_FENCES
                    else "replaced by this tool's own block")
            out.append(f"Apache block \"{what}\"{note} in {', '.join(files)}: {fate}.")
        if self.nginx_bncert_conf:
            out.append(f"{self._rel(self.nginx_bncert_conf)} serves /.well-known from "
                       f"{self._rel(self.challenge_dir) if self.challenge_dir else '?'} in every server "
                       "block: replaced by this tool's challenge location.")
        if self.cert_directives:
            files = sorted({self._rel(d.file) for d in self.cert_directives})
            out.append(f"{len(self.cert_directives)} certificate directive(s) in {', '.join(files)} go "
                       "through its symlinks: those of the site are repointed to the certificate files "
                       "themselves; any other keeps working (the symlinks lead to the same, renewed, file).")
        if self.symlinks:
            links = ", ".join(f"{self._rel(s.link)} -> {self._rel(s.target)}" for s in self.symlinks)
            out.append(f"Symlinks {links}: kept as they are.")
        if self.found():
            out.append("Taking over keeps the certificate and account, replaces the renewal job with one "
                       "at a random time of this machine's own, and keeps every other crontab line as it "
                       "is; `revert` puts bncert-tool's setup back exactly.")
        return out


def crontab_sources(installdir: Path, spool: Path = SPOOL_DIR,
                    cron_d: Path = CRON_D_DIR) -> list[tuple[Path, str | None]]:
    """The crontabs bncert-tool may have used: (file, user) for the user crontabs of root, bitnami and
    the install dir's owner in `spool`; (file, None) for every file in `cron_d` (user column).

    Only existing files are listed. Tests pass their own directories: the real ones are never read.
    """
    users = ["root", "bitnami"]
    with contextlib.suppress(KeyError, OSError):
        users.append(pwd.getpwuid(installdir.stat().st_uid).pw_name)
    sources: list[tuple[Path, str | None]] = []
    for user in dict.fromkeys(users):
        path = spool / user
        if path.is_file():
            sources.append((path, user))
    if cron_d.is_dir():
        for path in sorted(cron_d.iterdir()):
            if path.is_file() and not path.name.startswith("."):
                sources.append((path, None))
    return sources


def read_crontab(path: Path) -> str:
    """A crontab's text; surrogateescape so foreign bytes go back out unchanged."""
    return path.read_bytes().decode("utf-8", "surrogateescape")


def _read(path: Path) -> str | None:
    try:
        return read_crontab(path)
    except OSError:
        return None


def _server_dirs(installdir: Path) -> list[tuple[str, Path]]:
    found = [("nginx", installdir / "nginx" / "conf")]
    found += [("apache", installdir / name / "conf") for name in ("apache", "apache2")]
    return [(kind, conf) for kind, conf in found if conf.is_dir()]


def _symlinks(installdir: Path) -> list[Symlink]:
    """Links under a conf dir (`<conf>/*.crt|key`, `bitnami/certs/*`) that point into DIR/letsencrypt."""
    lego = (installdir / "letsencrypt").absolute()
    links = []
    for _kind, conf in _server_dirs(installdir):
        for folder in (conf, conf / "bitnami" / "certs"):
            if not folder.is_dir():
                continue
            for path in sorted(folder.iterdir()):
                if not path.is_symlink() or path.suffix not in (".crt", ".key", ".pem"):
                    continue
                target = Path(os.path.normpath(path.parent / os.readlink(path)))
                if lego == target or lego in target.parents:
                    links.append(Symlink(path, target))
    return links


def _lego_data(installdir: Path) -> tuple[list[str], list[LegacyCert]]:
    base = installdir / "letsencrypt"
    accounts = sorted({p.parent.name for p in base.glob("accounts/*/*/account.json")})
    certs = []
    for crt in sorted(base.glob("certificates/*.crt")):
        if crt.name.endswith(".issuer.crt"):
            continue
        info = read_cert(crt)
        certs.append(LegacyCert(crt.name[: -len(".crt")], crt, info.names if info else (),
                                info.not_after if info else None, info.serial if info else None))
    return accounts, certs


def detect(installdir: Path, sources: list[tuple[Path, str | None]]) -> LegacyFindings:
    """Read the crontabs in `sources` and the install dir; never writes anything."""
    findings = LegacyFindings(installdir=installdir)
    for path, user in sources:
        text = _read(path)
        if text is not None:
            findings.cron_lines += find_cron_lines(text, path, user)
    lego = installdir / "letsencrypt" / "lego"
    findings.lego_path = lego if lego.is_file() else None
    findings.accounts, findings.certificates = _lego_data(installdir)
    findings.symlinks = _symlinks(installdir)
    linked = {str(s.link) for s in findings.symlinks}
    for kind, conf in _server_dirs(installdir):
        base = conf if kind == "nginx" else conf.parent  # relative paths: nginx prefix/conf, ServerRoot
        for path in sorted(conf.rglob("*.conf")):
            text = _read(path)
            if text is None:
                continue
            if kind == "apache":
                findings.apache_fences += find_apache_fences(text, path)
            findings.cert_directives += [
                d for d in cert_directives(text, path, kind)
                if os.path.normpath(base / d.value) in linked]
    bncert_conf = installdir / "nginx" / "conf" / "bitnami" / "bncert.conf"
    text = _read(bncert_conf) if bncert_conf.is_file() else None
    findings.nginx_bncert_conf = bncert_conf if text is not None and nginx_conf_is_active(text) else None
    challenge = installdir / "apps" / "letsencrypt"
    findings.challenge_dir = challenge if challenge.is_dir() else None
    return findings


def strip_config(files: dict[Path, str], findings: LegacyFindings, *,
                 keep_proxy_exclusions: bool = True) -> dict[Path, str]:
    """bncert-tool's config edits neutralised, so our render takes over without duplicates.

    Removes its Apache challenge-include and redirect fences (the `ProxyPass /.well-known !` ones stay
    unless `keep_proxy_exclusions=False`), and turns nginx `bitnami/bncert.conf` into a comment. The
    certificate directives stay: the render repoints them. Returns only changed files; idempotent.
    """
    whats = REPLACED_FENCES if keep_proxy_exclusions else REPLACED_FENCES | PROXY_FENCES
    out: dict[Path, str] = {}
    for path, text in files.items():
        if findings.nginx_bncert_conf is not None and path == findings.nginx_bncert_conf:
            new = NGINX_TAKEN_OVER if nginx_conf_is_active(text) else text
        else:
            new = strip_apache_fences(text, path, whats)
        if new != text:
            out[path] = new
    return out


def takeover_files(web: WebServer, files: dict[Path, str], findings: LegacyFindings,
                   sites: list[Site]) -> dict[Path, str]:
    """Pure: strip_config, then the adapter's render on the result; every file that differs from
    `files` (stripped-only files included, which `render` alone would not return)."""
    stripped = strip_config(files, findings)
    rendered = web.render({**files, **stripped}, sites)
    merged = {**stripped, **rendered}
    return {path: text for path, text in merged.items() if text != files[path]}
