"""The one small interface both web servers share, and the pure data it works on.

An adapter reads the config tree as text and returns new text for the files that must change; it never
writes files itself. The executor backs files up, writes them atomically, runs the config test and
reloads, so rollback lives in one place for both servers.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

WwwRedirect = Literal["to-www", "to-nonwww", "none"]

#: Marker used on every line block this tool adds to a config file.
MARK = "bncert-tui"


@dataclass(frozen=True)
class Site:
    """One certificate's worth of HTTPS configuration, as the config should end up.

    `cert_file`/`key_file` None means "challenge only": add the ACME challenge location and touch
    nothing else (used before the certificate exists).
    """

    name: str  # certificate name = first domain (lego names its files after it)
    domains: tuple[str, ...]  # validated, punycode, lowercase
    webroot: Path  # lego --http.webroot; challenge files at webroot/.well-known/acme-challenge/
    https_port: int
    cert_file: Path | None = None
    key_file: Path | None = None
    https_redirect: bool = True
    www_redirect: WwwRedirect = "none"

    @property
    def challenge_only(self) -> bool:
        return self.cert_file is None


@dataclass(frozen=True)
class ServerBlock:
    """A server block (nginx) or VirtualHost (Apache) as found in the config."""

    file: Path
    line: int  # 1-based line of the opening `server {` / `<VirtualHost`
    ports: tuple[int, ...]
    tls: bool
    names: tuple[str, ...]  # server names as written by the user (not ours)
    default: bool  # nginx default_server / Apache _default_ address


@dataclass(frozen=True)
class CommandResult:
    argv: list[str]
    returncode: int
    output: str  # stdout and stderr together

    @property
    def ok(self) -> bool:
        return self.returncode == 0


@dataclass
class Ports:
    http: int | None
    https: int | None


@dataclass
class StackInfo:
    kind: Literal["nginx", "apache"]
    version: str
    main_config: Path
    config_files: list[Path] = field(default_factory=list)
    ports: Ports = field(default_factory=lambda: Ports(None, None))
    server_names: list[str] = field(default_factory=list)
    blocks: list[ServerBlock] = field(default_factory=list)


def run_command(argv: list[str], timeout: float = 60) -> CommandResult:
    """Run a control command (argv list, no shell) and keep its combined output."""
    try:
        proc = subprocess.run(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as exc:
        return CommandResult(argv, 127, str(exc))
    except PermissionError as exc:
        return CommandResult(argv, 126, str(exc))
    except subprocess.TimeoutExpired as exc:
        out = exc.output if isinstance(exc.output, str) else ""
        return CommandResult(argv, 124, out + f"\ntimed out after {timeout:.0f} s")
    return CommandResult(argv, proc.returncode, proc.stdout)


class WebServer(Protocol):
    """What the executor needs from a web server. Implementations: NginxServer, ApacheServer."""

    kind: Literal["nginx", "apache"]
    installdir: Path

    def inspect(self) -> StackInfo:
        """Read the config tree: files, ports, server names, server blocks."""
        ...

    def render(self, files: dict[Path, str], sites: list[Site]) -> dict[Path, str]:
        """Pure: given the current text of every config file and the sites wanted, return the new
        text of each file that must change (files that stay the same are left out).

        Applying the same sites again returns {} (idempotent). Lines outside this tool's marked
        blocks are kept byte for byte, except certificate directives it repoints.
        """
        ...

    def config_test(self) -> CommandResult:
        ...

    def reload(self) -> CommandResult:
        """Graceful reload; the server keeps serving."""
        ...

    def is_running(self) -> bool:
        ...


def canonical_host(site: Site, host: str) -> str:
    """The host a request for `host` should end up on, after the www redirection the user chose.

    Only redirects to a name the certificate covers, so the redirect never lands on a TLS error.
    """
    if site.www_redirect == "to-www" and not host.startswith("www.") and f"www.{host}" in site.domains:
        return f"www.{host}"
    if site.www_redirect == "to-nonwww" and host.startswith("www.") and host[4:] in site.domains:
        return host[4:]
    return host


def _origin(scheme: str, host: str, port: int) -> str:
    default = 443 if scheme == "https" else 80
    return f"{scheme}://{host}" if port == default else f"{scheme}://{host}:{port}"


def redirect_targets(site: Site, tls: bool, port: int) -> list[tuple[str, str]]:
    """(host, target origin) pairs a server block on `port` must 301-redirect, in domain order.

    The target origin has no path: the adapter appends the request's path and query. HTTP blocks send
    everything to HTTPS when asked (on the HTTPS port, omitted when 443); both send the www/non-www
    counterpart to its canonical name. `/.well-known/acme-challenge/` is never redirected (adapters).
    """
    rules: list[tuple[str, str]] = []
    if site.challenge_only:
        return rules
    for host in site.domains:
        canon = canonical_host(site, host)
        if tls:
            if canon != host:
                rules.append((host, _origin("https", canon, site.https_port)))
        elif site.https_redirect:
            rules.append((host, _origin("https", canon, site.https_port)))
        elif canon != host:
            rules.append((host, _origin("http", canon, port)))
    return rules


def begin_marker(tag: str) -> str:
    return f"# BEGIN {MARK}: {tag}"


def end_marker(tag: str) -> str:
    return f"# END {MARK}: {tag}"


CHALLENGE_TAG = "acme-challenge"
CHALLENGE_PATH = "/.well-known/acme-challenge/"
