"""The nginx adapter: read a Bitnami nginx tree, render our fenced edits, test and reload.

Which server block gets a site's redirects and certificate is decided the way nginx itself picks one
for a request (per listen address:port: exact name, wildcards, regex, then default_server, then the
first block), so the edits land in the blocks that really answer for the site's names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from bncert_tui.core.errors import StackError
from bncert_tui.core.processes import children, process_alive, wait_for_new_workers
from bncert_tui.core.webserver.base import (
    CHALLENGE_PATH,
    CHALLENGE_TAG,
    CommandResult,
    Ports,
    ServerBlock,
    Site,
    StackInfo,
    begin_marker,
    end_marker,
    redirect_targets,
    run_command,
)
from bncert_tui.core.webserver.nginx_servers import (
    HttpServer,
    Universe,
    http_servers,
    preferred_port,
    select_server,
    universes,
)
from bncert_tui.core.webserver.nginx_syntax import (
    ConfigTree,
    DictSource,
    Directive,
    DiskSource,
    Token,
    load_tree,
    quote,
    strip_fences,
)

_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
_HOSTNAME = re.compile(rf"(?=.{{1,253}}$)({_LABEL}\.)+[a-z]([a-z0-9-]*[a-z0-9])?")
_DOMAIN = re.compile(r"[a-z0-9.-]+")
_CHALLENGE_RE = CHALLENGE_PATH.lstrip("/").replace(".", r"\.")
_NO_HTTPS_HINT = (
    "Add an HTTPS server block (listen <port> ssl), e.g. Bitnami's default-https-server-block.conf "
    "in nginx/conf/server_blocks/, then run this tool again."
)

Lines = list[tuple[int, str]]  # (nesting depth inside the server block, line text)


def _domain_regex(host: str) -> str:
    if not _DOMAIN.fullmatch(host):
        raise StackError(f"Invalid domain {host!r}", "Only a-z, 0-9, '.' and '-' are allowed.")
    return host.replace(".", r"\.")


def _redirect_lines(site: Site, combos: dict[tuple[bool, int], list[str]]) -> Lines:
    """`set` + one `if` per redirect; the `$host$uri` test lets the challenge path through.

    A block that answers on more than one scheme/port (e.g. `listen 80; listen 443 ssl;`) tests
    `$scheme://$host:$server_port$uri` instead, so an HTTPS request is never sent to HTTPS again.
    """
    single = len(combos) == 1
    var = "$bncert_host_uri" if single else "$bncert_url"
    lines: Lines = []
    for (tls, port), hosts in sorted(combos.items()):
        for host, target in redirect_targets(site, tls, port):
            if host not in hosts:
                continue
            head = _domain_regex(host)
            if not single:
                head = f"{'https' if tls else 'http'}://{head}:{port}"
            test = f'"^{head}/(?!{_CHALLENGE_RE})"'
            lines.append((0, f"if ({var} ~ {test}) {{ return 301 {target}$request_uri; }}"))
    if lines:
        value = '"$host$uri"' if single else '"$scheme://$host:$server_port$uri"'
        lines.insert(0, (0, f"set {var} {value};"))
    return lines


def _challenge_lines(webroot: Path) -> Lines:
    return [
        (0, f"location ^~ {CHALLENGE_PATH} {{"),
        (1, f"root {quote(str(webroot))};"),
        (1, "default_type text/plain;"),
        (1, "try_files $uri =404;"),
        (0, "}"),
    ]


@dataclass
class _Spot:
    """Where fenced blocks go in one server block: text[start:end] becomes lead + chunks + tail."""

    end: int
    lead: str
    tail: str
    chunks: list[str] = field(default_factory=list)


class _Edits:
    """Insertions after `server {` lines and argument replacements, applied by offset at the end."""

    def __init__(self, texts: dict[Path, str]) -> None:
        self.texts = texts
        self.spots: dict[tuple[Path, int], _Spot] = {}
        self.args: dict[tuple[Path, int], tuple[Token, str, str]] = {}

    def add_block(self, srv: HttpServer, tag: str, body: Lines) -> None:
        d = srv.directive
        text = self.texts[d.file]
        eol = text.find("\n", d.open_brace)
        line_end = "\r\n" if eol > 0 and text[eol - 1] == "\r" else "\n"
        after = d.open_brace + 1
        rest = text[after : len(text) if eol < 0 else eol].strip()
        inner = _inner_indent(text, d, after if rest else eol + 1)
        if rest and not rest.startswith("#"):  # `server { listen 80; ...}` on one line: open it up
            start, end = after, len(text) - len(text[after:].lstrip(" \t"))
            lead, tail = line_end, inner
        elif eol < 0:
            start = end = len(text)
            lead, tail = line_end, ""
        else:
            start = end = eol + 1
            lead, tail = "", ""
        unit = "\t" if "\t" in inner else "    "
        lines = [(0, begin_marker(tag)), *body, (0, end_marker(tag))]
        spot = self.spots.setdefault((d.file, start), _Spot(end, lead, tail))
        spot.chunks.append("".join(f"{inner}{unit * n}{line}{line_end}" for n, line in lines))

    def set_arg(self, d: Directive, value: str, owner: str) -> None:
        """Repoint the first argument of `d`; two sites wanting different values is an error."""
        key = (d.file, d.args[0].start)
        previous = self.args.get(key)
        if previous is not None and previous[1] != value:
            raise StackError(
                f"Sites {previous[2]} and {owner} need different certificates in one place",
                f"{d.file}:{d.line}: {d.name} serves both; nginx uses one certificate per "
                "server block.",
                "Give each site its own server block with its server_name, or put all the domains "
                "in one certificate.",
            )
        self.args[key] = (d.args[0], value, owner)

    def apply(self) -> dict[Path, str]:
        changes: dict[Path, list[tuple[int, int, str]]] = {}
        for (path, start), spot in self.spots.items():
            new = spot.lead + "".join(spot.chunks) + spot.tail
            changes.setdefault(path, []).append((start, spot.end, new))
        for (path, _), (tok, value, _owner) in self.args.items():
            if tok.value != value:
                changes.setdefault(path, []).append((tok.start, tok.end, quote(value)))
        out = dict(self.texts)
        for path, edits in changes.items():
            text = out[path]
            for start, end, replacement in sorted(edits, key=lambda e: e[0], reverse=True):
                text = text[:start] + replacement + text[end:]
            out[path] = text
        return out


def _inner_indent(text: str, d: Directive, offset: int) -> str:
    """The indentation of the block's first own line, else the `server` line's plus one level."""
    for child in d.block or []:
        if child.start >= offset:
            line_start = text.rfind("\n", 0, child.start) + 1
            indent = text[line_start : child.start]
            if not indent.strip(" \t"):
                return indent
            break
    line_start = text.rfind("\n", 0, d.start) + 1
    outer = re.match(r"[ \t]*", text[line_start:])
    base = outer.group() if outer else ""
    return base + ("\t" if "\t" in base else "    ")


class NginxServer:
    """A Bitnami nginx: binary DIR/nginx/sbin/nginx, main config DIR/nginx/conf/nginx.conf."""

    kind: Literal["nginx", "apache"] = "nginx"

    def __init__(self, installdir: Path) -> None:
        self.installdir = installdir
        self.prefix = installdir / "nginx"
        self.binary = self.prefix / "sbin" / "nginx"
        self.main_config = self.prefix / "conf" / "nginx.conf"

    def _load(self) -> ConfigTree:
        if not self.main_config.is_file():
            raise StackError(
                f"nginx config not found: {self.main_config}",
                hint="Check --installdir: it is the Bitnami directory (default /opt/bitnami).",
            )
        return load_tree(self.main_config, DiskSource())

    def inspect(self) -> StackInfo:
        """Read the config tree from disk: files, ports, server names, server blocks."""
        tree = self._load()
        servers = http_servers(tree)
        result = run_command([str(self.binary), "-v"], timeout=15)
        found = re.search(r"nginx version: nginx/(\S+)", result.output) if result.ok else None
        blocks = [
            ServerBlock(
                file=s.directive.file,
                line=s.directive.line,
                ports=tuple(dict.fromkeys(listen.port for listen in s.listens)),
                tls=any(s.is_tls(listen) for listen in s.listens),
                names=tuple(s.names),
                default=any(listen.default for listen in s.listens),
            )
            for s in servers
        ]
        plain = [listen for s in servers for listen in s.listens if not s.is_tls(listen)]
        secure = [listen for s in servers for listen in s.listens if s.is_tls(listen)]
        names = dict.fromkeys(n.lower() for s in servers for n in s.names)
        return StackInfo(
            kind="nginx",
            version=found.group(1) if found else "unknown",
            main_config=self.main_config,
            config_files=list(tree.files),
            ports=Ports(preferred_port(plain), preferred_port(secure)),
            server_names=[n for n in names if n != "localhost" and _HOSTNAME.fullmatch(n)],
            blocks=blocks,
        )

    def render(self, files: dict[Path, str], sites: list[Site]) -> dict[Path, str]:
        """Pure: strip our old blocks, then add the challenge location and each site's block."""
        if self.main_config not in files:
            raise StackError(f"render() needs the text of {self.main_config}")
        stripped = {path: strip_fences(text, path) for path, text in files.items()}
        new = stripped
        if sites:
            servers = http_servers(load_tree(self.main_config, DictSource(stripped)))
            edits = _Edits(stripped)
            for srv in servers:
                if any(not srv.is_tls(listen) for listen in srv.listens):
                    _check_no_challenge_location(srv)
                    edits.add_block(srv, CHALLENGE_TAG, _challenge_lines(sites[0].webroot))
            groups = universes(servers)
            for site in sites:
                if not site.challenge_only:
                    _add_site(site, servers, groups, edits)
            new = edits.apply()
        return {path: text for path, text in new.items() if text != files[path]}

    def config_test(self) -> CommandResult:
        return run_command([str(self.binary), "-t"])

    def reload(self) -> CommandResult:
        """`nginx -s reload`: the master re-reads the config; old workers finish their requests.

        The signal returns at once; this waits (up to 5 s) until the new workers run and the old ones
        stopped accepting, so whatever the caller checks next is served by the new configuration.
        """
        master = self._master_pid()
        old = set(children(master)) if master else set()
        result = run_command([str(self.binary), "-s", "reload"])
        if result.ok and master and not wait_for_new_workers(master, old):
            result = CommandResult(result.argv, result.returncode,
                                   result.output + "\nnew workers not seen within 5 s")
        return result

    def _master_pid(self) -> int | None:
        try:
            pid = int(self.pid_file().read_text(encoding="ascii").strip())
        except (OSError, ValueError):
            return None
        return pid if pid > 0 else None

    def pid_file(self) -> Path:
        """The main-context `pid` (relative to the prefix DIR/nginx/), else nginx's default."""
        default = self.prefix / "logs" / "nginx.pid"
        try:
            tree = self._load()
        except StackError:
            return default
        for node in tree.nodes:
            if node.name == "pid" and node.directive.args:
                value = Path(node.directive.args[0].value)
                return value if value.is_absolute() else self.prefix / value
        return default

    def is_running(self) -> bool:
        pid = self._master_pid()
        return pid is not None and process_alive(pid)


def _check_no_challenge_location(srv: HttpServer) -> None:
    for loc in srv.locations:
        values = loc.values
        if values and values[-1] == CHALLENGE_PATH and (len(values) == 1 or values[0] == "^~"):
            raise StackError(
                f"A location for {CHALLENGE_PATH} already exists in {loc.file}:{loc.line}",
                "Adding ours next to it would make nginx fail with 'duplicate location'.",
                "Remove that location block (this tool adds its own), then run it again.",
            )


Served = dict[int, dict[tuple[bool, int], list[str]]]  # server index -> (tls, port) -> hosts


Groups = dict[tuple[str, int], Universe]  # listen address:port -> the blocks listening there


def _serving(site: Site, servers: list[HttpServer], groups: Groups) -> Served:
    """Which block answers each of the site's hosts on each address:port once our edits are in.

    Our `server_name` line can make a block win on its other ports too (say `listen 80
    default_server; listen 443 ssl;` next to another 443 default), so select again with the names
    we add until nothing moves: the redirects then match what nginx will really do.
    """
    extra: dict[int, list[str]] = {}
    for _ in range(8):
        served: Served = {}
        for (_addr, port), members in groups.items():
            tls = any(servers[i].is_tls(listen) for i, listen in members)
            for host in site.domains:
                idx = select_server(members, servers, host, extra)
                hosts = served.setdefault(idx, {}).setdefault((tls, port), [])
                if host not in hosts:
                    hosts.append(host)
        names = {
            idx: [d for d in site.domains if any(d in hosts for hosts in combos.values())]
            for idx, combos in served.items()
        }
        if names == extra:
            return served
        extra = names
    raise StackError(
        f"Cannot tell which nginx server block serves {site.name}",
        "Its names move between server blocks that listen on the same ports.",
        "Give the site's names a server block of their own (server_name), then run this again.",
    )


def _add_site(site: Site, servers: list[HttpServer], groups: Groups, edits: _Edits) -> None:
    """Fenced block (names, missing cert lines, redirects) in every block that serves the site."""
    tls_ports = {
        port
        for (_addr, port), members in groups.items()
        if any(servers[i].is_tls(listen) for i, listen in members)
    }
    if site.https_port not in tls_ports:
        raise StackError(
            f"No HTTPS server block listens on port {site.https_port} for {site.name}",
            "nginx needs a server block with `listen ... ssl` to serve the certificate.",
            _NO_HTTPS_HINT,
        )
    served = _serving(site, servers, groups)
    for idx in sorted(served):
        srv, combos = servers[idx], served[idx]
        own = {n.lower() for n in srv.names}
        here = [d for d in site.domains if any(d in hosts for hosts in combos.values())]
        body: Lines = []
        names = [d for d in here if d not in own]
        if names:
            body.append((0, f"server_name {' '.join(names)};"))
        if any(tls for tls, _ in combos):
            body.extend(_cert_lines(site, srv, edits))
        body.extend(_redirect_lines(site, combos))
        if body:
            edits.add_block(srv, site.name.replace("\n", " "), body)


def _cert_lines(site: Site, srv: HttpServer, edits: _Edits) -> Lines:
    """Repoint the block's own ssl_certificate(_key) lines; add the ones it inherits from http{}."""
    if site.cert_file is None or site.key_file is None:
        raise StackError(f"Site {site.name} has a certificate but no key file")
    lines: Lines = []
    for name, directives, path in (
        ("ssl_certificate", srv.certs, site.cert_file),
        ("ssl_certificate_key", srv.keys, site.key_file),
    ):
        for d in directives:
            edits.set_arg(d, str(path), site.name)
        if not directives:
            lines.append((0, f"{name} {quote(str(path))};"))
    return lines
