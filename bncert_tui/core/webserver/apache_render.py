"""Pure rendering of the Apache edits: which vhosts serve a site, and the lines they get.

Edits go in fenced blocks right after each `<VirtualHost ...>` line, so removing them gives back the
user's bytes; only the certificate paths of the TLS vhosts that serve a site are replaced in place.
Which vhost serves a site is decided the way httpd picks one, so redirects land where requests go.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from bncert_tui.core.errors import InputError, StackError
from bncert_tui.core.webserver.apache_syntax import Arg, physical_lines
from bncert_tui.core.webserver.apache_tree import ApacheConfig, VirtualHost
from bncert_tui.core.webserver.base import (
    CHALLENGE_PATH,
    CHALLENGE_TAG,
    Site,
    begin_marker,
    end_marker,
    redirect_targets,
)

_CERT_DIRECTIVES = (("SSLCertificateFile", "cert_file"), ("SSLCertificateKeyFile", "key_file"))


def _name_matches(pattern: str, host: str) -> bool:
    """ServerName/ServerAlias matching: case-insensitive, `*` and `?` wildcards only."""
    regex = re.escape(pattern.lower()).replace(r"\*", ".*").replace(r"\?", ".")
    return re.fullmatch(regex, host.lower()) is not None


def select_vhost(candidates: list[VirtualHost], host: str, port: int) -> VirtualHost:
    """The vhost httpd gives a request for `host` on `port`: first name match, else the first
    `_default_`/`*` one, else the first one listed for the port."""
    for vhost in candidates:
        if any(_name_matches(name, host) for name in vhost.names):
            return vhost
    return next((v for v in candidates if v.default_on(port)), candidates[0])


@dataclass
class Served:
    """A vhost that answers for some of a site's domains, and on which port for which domains."""

    vhost: VirtualHost
    domains_by_port: dict[int, list[str]] = field(default_factory=dict)

    @property
    def domains(self) -> list[str]:
        return list(dict.fromkeys(d for ds in self.domains_by_port.values() for d in ds))


def served_vhosts(config: ApacheConfig, site: Site) -> list[Served]:
    """Every vhost that serves one of the site's domains on one of its ports, in config order."""
    by_port: dict[int, list[VirtualHost]] = {}
    for vhost in config.vhosts:
        for port in vhost.ports(config.listen_ports):
            by_port.setdefault(port, []).append(vhost)
    served: dict[int, Served] = {}
    for port, candidates in by_port.items():
        for host in site.domains:
            vhost = select_vhost(candidates, host, port)
            entry = served.setdefault(vhost.order, Served(vhost))
            entry.domains_by_port.setdefault(port, []).append(host)
    return [served[k] for k in sorted(served)]


class _Edits:
    """Replacements per file as (start, end) -> text, applied back to front."""

    def __init__(self) -> None:
        self.by_file: dict[Path, dict[tuple[int, int], str]] = {}

    def put(self, file: Path, start: int, end: int, text: str) -> None:
        spans = self.by_file.setdefault(file, {})
        if spans.get((start, end), text) != text:
            raise StackError(
                f"Two sites want different values at {file} offset {start}",
                hint="A file included from two VirtualHosts cannot point to two certificates; "
                "give each site its own VirtualHost.",
            )
        spans[(start, end)] = text

    def apply(self, texts: dict[Path, str]) -> dict[Path, str]:
        out = dict(texts)
        for file, spans in self.by_file.items():
            text = out[file]
            for (start, end), new in sorted(spans.items(), reverse=True):
                text = text[:start] + new + text[end:]
            out[file] = text
        return out


def _safe_path(path: Path, what: str) -> str:
    text = str(path)
    if '"' in text or "\\" in text or any(ord(c) < 32 for c in text):
        raise InputError(
            f"The {what} path {text!r} cannot be written into an Apache config",
            hint="Use a path without quotes, backslashes or control characters.",
        )
    return text


def _requote(arg: Arg, value: str) -> str:
    """The new argument written like the old one: same quotes, bare only when that stays valid."""
    if arg.quote:
        return f"{arg.quote}{value}{arg.quote}"
    return f'"{value}"' if any(c.isspace() for c in value) else value


def challenge_lines(webroot: Path) -> list[str]:
    target = _safe_path(webroot, "webroot").rstrip("/") + CHALLENGE_PATH
    return [
        f'Alias {CHALLENGE_PATH} "{target}"',
        f'<Directory "{target}">',
        "  Options None",
        "  AllowOverride None",
        "  ForceType text/plain",
        "  Require all granted",
        "</Directory>",
    ]


def redirect_lines(site: Site, served: Served) -> list[str]:
    """RewriteEngine + one Cond/Cond/Rule triple per redirect the vhost must send, [] when none.

    A vhost on several ports whose redirects differ by port gets a SERVER_PORT condition too.
    """
    per_port = {
        port: [(h, t) for h, t in redirect_targets(site, served.vhost.tls, port) if h in domains]
        for port, domains in served.domains_by_port.items()
    }
    same = len({tuple(pairs) for pairs in per_port.values()}) <= 1
    groups = [(None, next(iter(per_port.values()), []))] if same else list(per_port.items())
    skip = "^" + CHALLENGE_PATH.replace(".", r"\.")
    lines: list[str] = []
    for port, pairs in groups:
        for host, target in pairs:
            lines.append(f"RewriteCond %{{REQUEST_URI}} !{skip}")
            if port is not None:
                lines.append(f"RewriteCond %{{SERVER_PORT}} ={port}")
            escaped = host.replace(".", r"\.")
            lines.append(f"RewriteCond %{{HTTP_HOST}} ^{escaped}(:[0-9]+)?$ [NC]")
            lines.append(f"RewriteRule ^ {target}%{{REQUEST_URI}} [R=301,L]")
    return ["RewriteEngine On", *lines] if lines else []


def _cert_lines(site: Site, vhost: VirtualHost, edits: _Edits) -> list[str]:
    """Repoint the vhost's certificate directives in place; returns lines for the missing ones."""
    missing: list[str] = []
    for name, attr in _CERT_DIRECTIVES:
        value = _safe_path(getattr(site, attr), "certificate")
        found = [(p, d) for p, d in vhost.find(name.lower()) if d.args]
        for file, directive in found:
            arg = directive.args[0]
            edits.put(file, arg.start, arg.end, _requote(arg, value))
        if not found:
            missing.append(f'{name} "{value}"')
    return missing


def _fenced(tag: str, body: list[str], indent: str, newline: str) -> str:
    lines = [begin_marker(tag), *body, end_marker(tag)]
    return "".join(f"{indent}{line}{newline}" for line in lines)


def _body_indent(text: str, vhost: VirtualHost) -> str:
    section = vhost.section
    stop = section.close_start if section.close_start >= 0 else len(text)
    for line in physical_lines(text[section.end : stop]):
        if line.strip():
            return line[: len(line) - len(line.lstrip(" \t"))]
    return section.indent + "  "


def _no_tls_error(config: ApacheConfig, site: Site) -> StackError:
    tls_ports = sorted({p for v in config.vhosts if v.tls for p in v.ports(config.listen_ports)})
    if tls_ports:
        ports = ", ".join(map(str, tls_ports))
        detail = f"Its VirtualHosts with SSLEngine on use port(s) {ports}, not {site.https_port}."
    else:
        detail = "No VirtualHost in the Apache config has SSLEngine on."
    return StackError(
        f"No Apache HTTPS VirtualHost serves {site.name} on port {site.https_port}",
        detail,
        "Add a <VirtualHost _default_:443> with SSLEngine on (Bitnami ships it in "
        "apache/conf/bitnami/bitnami-ssl.conf, included from bitnami.conf), or choose the HTTPS "
        "port it uses, then run again.",
    )


def render_config(
    config: ApacheConfig, texts: dict[Path, str], sites: list[Site]
) -> dict[Path, str]:
    """Pure: the new text of every file (`texts` has our blocks stripped already)."""
    if not sites:
        return texts
    edits = _Edits()
    blocks: dict[int, list[tuple[str, list[str]]]] = {v.order: [] for v in config.vhosts}
    blocks_challenge = (CHALLENGE_TAG, challenge_lines(sites[0].webroot))
    tls_owner: dict[int, str] = {}
    for site in sites:
        if site.challenge_only:
            continue
        served = served_vhosts(config, site)
        if not any(s.vhost.tls and site.https_port in s.domains_by_port for s in served):
            raise _no_tls_error(config, site)
        for entry in served:
            vhost = entry.vhost
            body = [f"ServerAlias {' '.join(entry.domains)}"]
            if vhost.tls:
                owner = tls_owner.setdefault(vhost.order, site.name)
                if owner != site.name:
                    raise StackError(
                        f"{site.name} and {owner} would share one HTTPS VirtualHost "
                        f"({vhost.file}:{vhost.section.line})",
                        hint="A VirtualHost has one certificate: add a VirtualHost with its own "
                        "ServerName for the second site, or put all domains in one certificate.",
                    )
                body += _cert_lines(site, vhost, edits)
            body += redirect_lines(site, entry)
            blocks[vhost.order].append((site.name, body))
    for vhost in config.vhosts:
        text = texts[vhost.file]
        indent = _body_indent(text, vhost)
        end = vhost.section.end
        newline = "\r\n" if text[end - 2 : end] == "\r\n" else "\n"
        insert = "".join(
            _fenced(tag, body, indent, newline)
            for tag, body in [blocks_challenge, *blocks[vhost.order]]
        )
        edits.put(vhost.file, end, end, insert)
    return edits.apply(texts)
