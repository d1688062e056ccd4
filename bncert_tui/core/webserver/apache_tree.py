"""The Apache config as httpd reads it: files in Include order, VirtualHosts, Listen, PidFile.

Includes resolve against a source: the disk for inspect(), a dict of texts for the pure render().
`<IfModule>`, `<IfDefine>` and the other `<If...>` sections are read as if their condition held.
"""

from __future__ import annotations

import fnmatch
import glob
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from bncert_tui.core.errors import StackError
from bncert_tui.core.webserver.apache_syntax import Directive, Node, Section, parse

#: Sections read as if their condition held: their content is live config.
TRANSPARENT = frozenset({"ifmodule", "ifdefine", "ifversion", "iffile", "ifdirective", "ifsection"})
DEFAULT_HOSTS = ("_default_", "*")
_WILDCARD = re.compile(r"[*?\[]")
_VAR = re.compile(r"\$\{([A-Za-z0-9_:.-]+)\}")


def has_wildcard(path: str) -> bool:
    return bool(_WILDCARD.search(path))


def _sorted_paths(paths: list[Path]) -> list[Path]:
    """Apache sorts directory by directory; sorting by path parts gives the same order."""
    return sorted(set(paths), key=lambda p: p.parts)


class ConfigSource(Protocol):
    """Where config text comes from: the disk (inspect) or a dict of texts (render, pure)."""

    def read(self, path: Path) -> str: ...

    def expand(self, pattern: Path) -> list[Path]:
        """Files an Include of `pattern` reads, in Apache's order (directories recursively)."""
        ...


class DiskSource:
    def read(self, path: Path) -> str:
        try:
            return path.read_text(encoding="utf-8", errors="surrogateescape")
        except OSError as exc:
            raise StackError(f"Cannot read {path}", str(exc)) from exc

    def expand(self, pattern: Path) -> list[Path]:
        text = str(pattern)
        tops = glob.glob(text) if has_wildcard(text) else [text] if os.path.exists(text) else []
        found: list[Path] = []
        for top in tops:
            if os.path.isdir(top):
                for dirpath, _dirs, names in os.walk(top):
                    found.extend(Path(dirpath, n) for n in names)
            else:
                found.append(Path(top))
        return _sorted_paths(found)


class DictSource:
    """Resolve includes against the keys of a dict of texts, so rendering never reads the disk."""

    def __init__(self, texts: dict[Path, str]) -> None:
        self.texts = {Path(os.path.normpath(p)): t for p, t in texts.items()}

    def read(self, path: Path) -> str:
        try:
            return self.texts[path]
        except KeyError:
            raise StackError(
                f"Config file {path} is included but was not passed in",
                hint="Inspect the stack again and pass the text of every file it lists.",
            ) from None

    def expand(self, pattern: Path) -> list[Path]:
        parts = pattern.parts

        def part_matches(name: str, pat: str) -> bool:
            if not has_wildcard(pat):
                return name == pat
            return fnmatch.fnmatchcase(name, pat) and not (
                name.startswith(".") and not pat.startswith(".")
            )

        return _sorted_paths(
            [
                p
                for p in self.texts
                if len(p.parts) >= len(parts) and all(map(part_matches, p.parts, parts))
            ]
        )


def substitute(value: str, defines: dict[str, str]) -> str:
    """Replace `${NAME}` set by `Define`; unknown names stay as written (httpd warns, goes on)."""
    return _VAR.sub(lambda m: defines.get(m.group(1), m.group(0)), value)


def parse_address(text: str) -> tuple[str, int | None]:
    """`host:port`, `[v6]:port`, `host`, `*:*` -> (host, port); None means any port."""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    elif ":" in text:  # bare IPv6 address
        host, port = text, ""
    elif text.isdigit():  # Listen 80
        host, port = "", text
    else:
        host, port = text, ""
    return host, int(port) if port.isdigit() else None


@dataclass
class VirtualHost:
    """A <VirtualHost> with the directives that apply to it directly (through If* and Include)."""

    file: Path
    section: Section
    order: int
    addresses: tuple[tuple[str, int | None], ...]
    directives: list[tuple[Path, Directive]] = field(default_factory=list)

    def find(self, key: str) -> list[tuple[Path, Directive]]:
        return [(p, d) for p, d in self.directives if d.key == key]

    @property
    def tls(self) -> bool:
        engine = self.find("sslengine")
        return bool(engine) and [v.lower() for v in engine[-1][1].values[:1]] == ["on"]

    @property
    def names(self) -> tuple[str, ...]:
        """ServerName (host part only, last one wins) then every ServerAlias value."""
        names: list[str] = []
        server_name = self.find("servername")
        if server_name and server_name[-1][1].values:
            value = server_name[-1][1].values[0].split("://", 1)[-1]
            names.append(parse_address(value)[0] if not value.startswith("[") else value)
        for _path, d in self.find("serveralias"):
            names.extend(d.values)
        return tuple(names)

    def default_on(self, port: int | None = None) -> bool:
        """An address `_default_` or `*` (on `port`, if given) catches names nobody else claims."""
        return any(
            host in DEFAULT_HOSTS and (port is None or p in (None, port))
            for host, p in self.addresses
        )

    def ports(self, listen_ports: list[int]) -> tuple[int, ...]:
        """Ports it answers on; an address without a port answers on every Listen port."""
        found: list[int] = []
        for _host, port in self.addresses:
            for p in [port] if port is not None else listen_ports:
                if p not in found:
                    found.append(p)
        return tuple(found)


@dataclass(frozen=True)
class Listen:
    host: str
    port: int
    protocol: str  # "" when not given


@dataclass
class ApacheConfig:
    main: Path
    server_root: Path
    files: list[Path] = field(default_factory=list)  # in include order, no duplicates
    vhosts: list[VirtualHost] = field(default_factory=list)
    listens: list[Listen] = field(default_factory=list)
    pid_file: Path | None = None

    @property
    def listen_ports(self) -> list[int]:
        return list(dict.fromkeys(x.port for x in self.listens))


class _Walker:
    """Reads the tree from the main file the way httpd does: in order, following every Include."""

    def __init__(self, source: ConfigSource, config: ApacheConfig) -> None:
        self.source = source
        self.config = config
        self.defines: dict[str, str] = {}
        self.stack: list[Path] = []

    def file(self, path: Path, vhost: VirtualHost | None, opaque: bool) -> None:
        if path in self.stack:
            raise StackError(f"{path} includes itself", " -> ".join(map(str, [*self.stack, path])))
        if path not in self.config.files:
            self.config.files.append(path)
        nodes = parse(self.source.read(path), path)
        self.stack.append(path)
        self.nodes(path, nodes, vhost, opaque)
        self.stack.pop()

    def nodes(self, path: Path, nodes: list[Node], vhost: VirtualHost | None, opaque: bool) -> None:
        for node in nodes:
            if isinstance(node, Directive):
                self.directive(path, node, vhost, opaque)
            elif node.key in TRANSPARENT:
                self.nodes(path, node.children, vhost, opaque)
            elif node.key == "virtualhost" and vhost is None and not opaque:
                addresses = tuple(parse_address(a.value) for a in node.args)
                found = VirtualHost(path, node, len(self.config.vhosts), addresses)
                self.config.vhosts.append(found)
                self.nodes(path, node.children, found, False)
            elif node.key != "macro":  # a Macro body is a template, not config
                self.nodes(path, node.children, vhost, True)

    def directive(self, path: Path, d: Directive, vhost: VirtualHost | None, opaque: bool) -> None:
        values = [substitute(v, self.defines) for v in d.values]
        if d.key in ("include", "includeoptional"):
            for included in self.include(path, d, values):
                self.file(included, vhost, opaque)
        elif opaque:
            return
        elif vhost is not None:
            vhost.directives.append((path, d))
        elif d.key == "define" and values:
            self.defines[values[0]] = values[1] if len(values) > 1 else ""
        elif d.key == "serverroot" and values:
            self.config.server_root = Path(values[0])
        elif d.key == "pidfile" and values:
            self.config.pid_file = self.config.server_root / values[0]
        elif d.key == "listen" and values:
            host, port = parse_address(values[0])
            if port is not None:
                proto = values[1].lower() if len(values) > 1 else ""
                self.config.listens.append(Listen(host, port, proto))

    def include(self, path: Path, d: Directive, values: list[str]) -> list[Path]:
        if not values:
            raise StackError(f"Apache config error at {path}:{d.line}", f"{d.name} needs a path")
        pattern = Path(os.path.normpath(self.config.server_root / values[0]))
        found = self.source.expand(pattern)
        # httpd also fails on an Include wildcard that matches nothing; `apachectl -t` says so.
        if found or d.key == "includeoptional" or has_wildcard(values[0]):
            return found
        raise StackError(
            f"Included file not found: {pattern}",
            f"{path}:{d.line}: {d.name} {values[0]}",
            "Fix the Include line or create the file, check with apachectl -t, then run again.",
        )


def load_config(main: Path, server_root: Path, source: ConfigSource) -> ApacheConfig:
    """Walk the whole tree from `main`; `server_root` is the default until a ServerRoot line."""
    config = ApacheConfig(main, server_root)
    _Walker(source, config).file(Path(os.path.normpath(main)), None, False)
    return config
