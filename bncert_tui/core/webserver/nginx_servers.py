"""nginx server blocks as nginx sees them: listen sockets, names, and which block answers a host.

nginx picks the server block for a request among the blocks listening on the connection's
address:port: the exact server_name, else the longest `*.` wildcard, else the longest `.*` wildcard,
else the first matching regex, else the default_server, else the first block. The adapter edits the
blocks this emulation picks, so redirects and certificates land where the requests really go.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bncert_tui.core.webserver.nginx_syntax import ConfigTree, Directive, Node


@dataclass(frozen=True)
class Listen:
    addr: str  # "*" for any IPv4 address, "[::]" for any IPv6 address
    port: int
    ssl: bool
    default: bool


def parse_listen(args: list[str]) -> Listen | None:
    """`listen` arguments -> address, port and flags; None for unix sockets, QUIC and junk."""
    if not args or args[0].startswith("unix:") or "quic" in args[1:]:
        return None
    spec, addr, port = args[0], "*", "80"
    if spec.isdigit():
        port = spec
    elif spec.startswith("["):
        close = spec.find("]")
        addr, rest = spec[: close + 1], spec[close + 1 :]
        port = rest[1:] if rest.startswith(":") else port
    elif ":" in spec:
        addr, port = spec.rsplit(":", 1)
    else:
        addr = spec
    if not port.isdigit():
        return None
    addr = "*" if addr in ("*", "0.0.0.0") else addr.lower()  # noqa: S104 - parsing, not binding
    params = set(args[1:])
    return Listen(addr, int(port), "ssl" in params, bool(params & {"default_server", "default"}))


@dataclass(eq=False)
class HttpServer:
    """A `server` block of the http context, with what selection and editing need."""

    directive: Directive
    listens: list[Listen]
    names: list[str]  # the user's server_name values (ours excluded)
    ssl_on: bool = False
    certs: list[Directive] = field(default_factory=list)
    keys: list[Directive] = field(default_factory=list)
    locations: list[Directive] = field(default_factory=list)

    def is_tls(self, listen: Listen) -> bool:
        return listen.ssl or self.ssl_on

    @property
    def where(self) -> str:
        return f"{self.directive.file}:{self.directive.line}"


def _http_server(node: Node) -> HttpServer:
    srv = HttpServer(node.directive, [], [])
    has_listen = False
    for child in node.block or []:
        d = child.directive
        if d.name == "listen":
            has_listen = True
            listen = parse_listen(d.values)
            if listen is not None:
                srv.listens.append(listen)
        elif d.name == "server_name" and not d.fenced:
            srv.names.extend(d.values)
        elif d.name == "ssl" and d.values == ["on"]:
            srv.ssl_on = True
        elif d.name == "ssl_certificate" and d.args:
            srv.certs.append(d)
        elif d.name == "ssl_certificate_key" and d.args:
            srv.keys.append(d)
        elif d.name == "location":
            srv.locations.append(d)
    if not has_listen:
        srv.listens.append(Listen("*", 80, False, False))
    return srv


def http_servers(tree: ConfigTree) -> list[HttpServer]:
    """Every server block inside http{}, in config order (a file included twice counts once)."""
    seen: set[tuple[Path, int]] = set()
    servers: list[HttpServer] = []
    for http in tree.nodes:
        if http.name != "http" or http.block is None:
            continue
        for node in http.block:
            key = (node.directive.file, node.directive.start)
            if node.name == "server" and node.block is not None and key not in seen:
                seen.add(key)
                servers.append(_http_server(node))
    return servers


Universe = list[tuple[int, Listen]]  # (server index, its listen) for one address:port


def universes(servers: list[HttpServer]) -> dict[tuple[str, int], Universe]:
    """Group server blocks by listen address:port: nginx chooses among these per connection."""
    out: dict[tuple[str, int], Universe] = {}
    for idx, srv in enumerate(servers):
        for listen in srv.listens:
            members = out.setdefault((listen.addr, listen.port), [])
            if all(i != idx for i, _ in members):
                members.append((idx, listen))
    return out


def _regex_search(pattern: str, host: str) -> bool:
    try:  # PCRE's (?<name>...) is (?P<name>...) in Python
        return re.search(re.sub(r"\(\?<(?=[A-Za-z_])", "(?P<", pattern), host) is not None
    except re.error:
        return False


def _name_rank(name: str, host: str) -> tuple[int, int] | None:
    """How well server_name `name` matches `host`.

    Exact 3, `*.x`/`.x` 2, `x.*` 1, `~regex` 0; among wildcards the longer wins.
    """
    if name.startswith("~"):
        return (0, 0) if _regex_search(name[1:], host) else None
    name = name.lower()
    if name.startswith("*.") and host.endswith(name[1:]):
        return (2, len(name))
    if name.startswith(".") and (host == name[1:] or host.endswith(name)):
        return (2, len(name))
    if name.endswith(".*") and host.startswith(name[:-1]):
        return (1, len(name))
    return (3, 0) if name == host else None


def select_server(
    members: Universe,
    servers: list[HttpServer],
    host: str,
    extra: dict[int, list[str]] | None = None,
) -> int:
    """The index of the server block nginx uses for `host` among the blocks of one address:port.

    `extra` holds the names about to be added to some blocks (by server index): they count too.
    """
    best: tuple[int, int] | None = None
    chosen: int | None = None
    for idx, _ in members:
        for name in [*servers[idx].names, *(extra or {}).get(idx, [])]:
            rank = _name_rank(name, host)
            if rank is not None and (best is None or rank > best):
                best, chosen = rank, idx
    if chosen is not None:
        return chosen
    return next((idx for idx, listen in members if listen.default), members[0][0])


def preferred_port(listens: list[Listen]) -> int | None:
    """The port marked default_server, else the most common one (first seen on a tie)."""
    for listen in listens:
        if listen.default:
            return listen.port
    common = Counter(listen.port for listen in listens).most_common(1)
    return common[0][0] if common else None
