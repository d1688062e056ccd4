"""Pure text work on what bncert-tool left behind: its cron lines and its Apache `# BEGIN: x` fences.

No file I/O here, so every rule is unit-tested on strings. `legacy.py` reads the files and builds the
findings; the lead's plan/apply use `strip_cron_text` and `strip_apache_fences` (via
`legacy.strip_config`) to neutralise bncert-tool's edits before our own render takes over.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

#: The comment bncert-tool puts at the end of its one cron line (InstallBuilder cron entry id).
CRON_TAG = "bncert-autorenew"
_TAG_RE = re.compile(r"(?:^|\s)#\s*" + re.escape(CRON_TAG) + r"\s*$")
_LINE_RE = re.compile(r"[^\n]*\n|[^\n]+$")

#: Fences bncert-tool writes in Apache vhost files, always as "  # BEGIN: <what>" / "  # END: <what>".
FENCE_LETSENCRYPT = "Configuration for letsencrypt"
FENCE_HTTPS = "Enable HTTP to HTTPS redirection"
FENCE_TO_WWW = "Enable non-www to www redirection"
FENCE_TO_NONWWW = "Enable www to non-www redirection"
FENCE_PROXY = "Support domain renewal when using mod_proxy without Location"
FENCE_PROXY_LOCATION = "Support domain renewal when using mod_proxy within Location"
#: Replaced by our render (challenge Alias, redirects): removed on take-over.
REPLACED_FENCES = frozenset({FENCE_LETSENCRYPT, FENCE_HTTPS, FENCE_TO_WWW, FENCE_TO_NONWWW})
#: `ProxyPass /.well-known !`: our render has no equivalent, and on a ProxyPass app our challenge Alias
#: only works with it (mod_proxy maps URLs before mod_alias), so these are kept by default.
PROXY_FENCES = frozenset({FENCE_PROXY, FENCE_PROXY_LOCATION})
KNOWN_FENCES = REPLACED_FENCES | PROXY_FENCES

_BEGIN_RE = re.compile(r"^[ \t]*# BEGIN: (?P<what>.*?)[ \t]*\r?\n?$")
_END_RE = re.compile(r"^[ \t]*# END: (?P<what>.*?)[ \t]*\r?\n?$")


class ApacheFence(NamedTuple):
    """One bncert-tool block in an Apache file: lines start_line..end_line (1-based, inclusive)."""

    file: Path
    start_line: int
    end_line: int
    what: str


@dataclass(frozen=True)
class LegacyCronLine:
    """One active `# bncert-autorenew` line, parsed enough to describe and replace it."""

    source: Path  # the crontab file it is in
    user: str  # crontab owner (spool file name) or the user column (cron.d)
    line: str  # as found, without its newline
    line_no: int  # 1-based
    schedule: str  # the time fields, e.g. "0 0 * * *" or "@daily"
    old_midnight: bool  # runs at 00:00: the pre-2022 schedule every bncert VM shared
    user_agent: str | None  # "bitnami-bncert/1.1.0" on the randomised (post-2022) line
    domains: list[str] = field(default_factory=list)
    email: str | None = None
    lego: str | None = None  # the lego binary it runs
    lego_path: str | None = None  # lego --path (certificates and accounts)
    webroot: str | None = None  # lego --http.webroot (bncert's challenge dir)
    reload_command: str | None = None  # what runs after `&&` (every day: lego exits 0 when not due)
    system_format: bool = False  # cron.d / /etc/crontab line with a user column

    @property
    def run_time(self) -> str:
        """'every day at 00:43' for the shapes bncert-tool writes, else the raw schedule."""
        fields = self.schedule.split()
        if self.schedule in ("@daily", "@midnight"):
            return "every day at 00:00"
        if len(fields) == 5 and fields[2:] == ["*", "*", "*"] and all(f.isdigit() for f in fields[:2]):
            return f"every day at {int(fields[1]):02d}:{int(fields[0]):02d}"
        return f"on the cron schedule `{self.schedule}`"


def is_bncert_cron_line(line: str) -> bool:
    """An active (not commented-out) crontab line that ends with bncert-tool's tag."""
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#") and _TAG_RE.search(line.rstrip("\r\n")) is not None


def _option(args: list[str], *names: str) -> list[str]:
    """Values of `--name=value` and `--name value` (any of `names`), in order."""
    values: list[str] = []
    for i, arg in enumerate(args):
        for name in names:
            if arg.startswith(name + "="):
                values.append(arg[len(name) + 1 :])
            elif arg == name and i + 1 < len(args):
                values.append(args[i + 1])
    return values


def parse_cron_line(line: str, source: Path, user: str | None, line_no: int) -> LegacyCronLine | None:
    """bncert-tool's line from a crontab; `user` None means system format (a user column).

    Returns None for anything else (foreign lines, comments, env lines, a commented-out tag line).
    """
    line = line.rstrip("\r\n")
    if not is_bncert_cron_line(line):
        return None
    tag = _TAG_RE.search(line)
    body = line[: tag.start()] if tag else line
    if body.lstrip().startswith("@"):
        fields = body.split(None, 1)
        schedule, rest = fields[0], fields[1] if len(fields) > 1 else ""
    else:
        fields = body.split(None, 5)
        if len(fields) < 6:
            return None
        schedule, rest = " ".join(fields[:5]), fields[5]
    owner = user or ""
    if user is None:
        parts = rest.split(None, 1)
        owner, rest = (parts[0], parts[1]) if len(parts) == 2 else ("", "")
    try:
        tokens = shlex.split(rest)
    except ValueError:
        tokens = rest.split()
    split = tokens.index("&&") if "&&" in tokens else len(tokens)
    lego_at = next((i for i, t in enumerate(tokens[:split]) if Path(t).name == "lego"), None)
    args = tokens[lego_at + 1 : split] if lego_at is not None else tokens[:split]
    after = [t for t in tokens[split + 1 :] if t != "sudo"]
    time_fields = schedule.split()
    midnight = schedule in ("@daily", "@midnight") or (
        len(time_fields) == 5 and time_fields[0].isdigit() and time_fields[1].isdigit()
        and int(time_fields[0]) == 0 and int(time_fields[1]) == 0)
    agents = _option(args, "--user-agent")
    emails = _option(args, "--email", "-m")
    paths = _option(args, "--path")
    webroots = _option(args, "--http.webroot")
    return LegacyCronLine(
        source=source, user=owner, line=line, line_no=line_no, schedule=schedule, old_midnight=midnight,
        user_agent=agents[0] if agents else None, domains=_option(args, "--domains", "-d"),
        email=emails[0] if emails else None, lego=tokens[lego_at] if lego_at is not None else None,
        lego_path=paths[0] if paths else None, webroot=webroots[0] if webroots else None,
        reload_command=shlex.join(after) if after else None, system_format=user is None)


def find_cron_lines(text: str, source: Path, user: str | None) -> list[LegacyCronLine]:
    """Every bncert-tool line of one crontab's text (`user` None: system format with a user column)."""
    found = []
    for number, raw in enumerate(_LINE_RE.findall(text), start=1):
        parsed = parse_cron_line(raw, source, user, number)
        if parsed is not None:
            found.append(parsed)
    return found


def strip_cron_text(text: str) -> str:
    """The crontab without bncert-tool's active lines; every other byte (newlines included) stays.

    A line the admin commented out is left alone: it does not run, and it is theirs now.
    """
    return "".join(raw for raw in _LINE_RE.findall(text) if not is_bncert_cron_line(raw))


def find_apache_fences(text: str, file: Path) -> list[ApacheFence]:
    """bncert-tool's `# BEGIN: <what>` .. `# END: <what>` blocks (known `what`s only, END required).

    WordPress's own `# BEGIN WordPress` (no colon) and our `# BEGIN bncert-tui: ...` never match.
    """
    fences: list[ApacheFence] = []
    open_what: str | None = None
    open_line = 0
    for number, raw in enumerate(_LINE_RE.findall(text), start=1):
        begin = _BEGIN_RE.match(raw)
        if begin and begin.group("what") in KNOWN_FENCES:
            open_what, open_line = begin.group("what"), number
            continue
        end = _END_RE.match(raw)
        if end and open_what is not None and end.group("what") == open_what:
            fences.append(ApacheFence(file, open_line, number, open_what))
            open_what = None
    return fences


def strip_apache_fences(text: str, file: Path, whats: frozenset[str] = REPLACED_FENCES) -> str:
    """The text without the bncert-tool fences named in `whats` (markers included); rest byte-identical."""
    drop: set[int] = set()
    for fence in find_apache_fences(text, file):
        if fence.what in whats:
            drop.update(range(fence.start_line, fence.end_line + 1))
    if not drop:
        return text
    return "".join(raw for n, raw in enumerate(_LINE_RE.findall(text), start=1) if n not in drop)


#: What `conf/bitnami/bncert.conf` becomes on take-over (kept as a file, so revert restores it).
NGINX_TAKEN_OVER = (
    "# bncert-tool's `location ^~ /.well-known` was here; bncert-tui serves the ACME challenge from its\n"
    "# own fenced blocks now. `bncert-tui revert` puts the old file back.\n"
)


def nginx_conf_is_active(text: str) -> bool:
    """True if the file holds any directive (not only comments and blank lines)."""
    return any(line.strip() and not line.lstrip().startswith("#") for line in text.splitlines())


_NGINX_CERT_RE = re.compile(r"^[ \t]*(ssl_certificate(?:_key)?)[ \t]+(\"[^\"]*\"|'[^']*'|[^\s;]+)", re.M)
_APACHE_CERT_RE = re.compile(
    r"^[ \t]*(SSLCertificate(?:Key)?File)[ \t]+(\"[^\"]*\"|'[^']*'|\S+)", re.M | re.I)


class CertDirective(NamedTuple):
    """A certificate directive in a config file and the path it names (as written, unquoted)."""

    file: Path
    line: int
    name: str
    value: str


def cert_directives(text: str, file: Path, kind: str) -> list[CertDirective]:
    """`ssl_certificate(_key)` (nginx) or `SSLCertificate(Key)File` (Apache) lines, comments skipped."""
    regex = _NGINX_CERT_RE if kind == "nginx" else _APACHE_CERT_RE
    found = []
    for match in regex.finditer(text):
        value = match.group(2)
        if value[:1] in "\"'":
            value = value[1:-1]
        found.append(CertDirective(file, text.count("\n", 0, match.start()) + 1, match.group(1), value))
    return found
