"""Our renewal entries in a cron.d file (system format, user column), one line per certificate.

python-crontab rewrites every line it loads (it moves env lines to the top, strips quotes from
MAILTO="...", collapses spacing, turns `0 0 * * *` into `@daily`), so the file surgery is done here,
line by line, and python-crontab only renders our own line. Lines that are not ours stay
byte-identical. Our lines end with the comment `# bncert-tui:<cert name>`; cron hands that comment
to the shell, which ignores it.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from crontab import CronTab

from bncert_tui.core.fileops import atomic_write
from bncert_tui.core.schedule import RenewalSchedule

TAG_PREFIX = "bncert-tui:"
NEW_FILE_MODE = 0o644  # cron ignores cron.d files that are group or world writable
_TAG_RE = re.compile(r"\s#\s*" + re.escape(TAG_PREFIX) + r"(?P<name>\S+)\s*$")
_SLEEP_RE = re.compile(r"^sleep (?P<second>\d+) && (?P<rest>.+)$")
_LINE_RE = re.compile(r"[^\n]*\n|[^\n]+$")
# cron turns an unescaped % into a newline; the others would end or break the line.
_FORBIDDEN = {"%": "'%' (cron turns it into a newline)", "\n": "a newline",
              "\r": "a carriage return", "\0": "a NUL byte"}


@dataclass(frozen=True)
class CronEntry:
    cert_name: str
    schedule: RenewalSchedule | None  # None when the line was edited into a shape we do not write
    command: str  # the command field as cron runs it, "sleep 42 && ..."
    line: str  # the line as found, without its newline
    user: str


def _reject_forbidden(what: str, value: str) -> None:
    for char, label in _FORBIDDEN.items():
        if char in value:
            raise ValueError(f"{what} {value!r} contains {label}")


def _check_word(what: str, value: str) -> None:
    if not value or any(c.isspace() for c in value):
        raise ValueError(f"{what} {value!r} must be non-empty and contain no whitespace")
    _reject_forbidden(what, value)


def entry_command(schedule: RenewalSchedule, argv: list[str]) -> str:
    """"sleep <second> && <argv, shell-quoted>": the sleep keeps runs off the top of the minute."""
    if not argv:
        raise ValueError("the cron command needs at least one argument")
    for arg in argv:
        _reject_forbidden("cron command argument", arg)
    return f"sleep {schedule.second} && {shlex.join(argv)}"


def render_entry(cert_name: str, schedule: RenewalSchedule, argv: list[str],
                 user: str = "root") -> str:
    """The exact line `write_entry` writes (without the newline), to show before writing."""
    _check_word("certificate name", cert_name)
    _check_word("cron user", user)
    command = entry_command(schedule, argv)
    job = CronTab(user=False).new(command=command, comment=TAG_PREFIX + cert_name, user=user)
    job.setall(schedule.cron_time())
    line = str(job.render())
    parsed = parse_line(line)
    if parsed is None or (parsed.cert_name, parsed.schedule, parsed.command, parsed.user) != (
            cert_name, schedule, command, user):
        raise RuntimeError(f"python-crontab rendered an entry that does not parse back: {line!r}")
    return line


def parse_line(line: str) -> CronEntry | None:
    """Our entry on this line (any certificate); None for foreign lines, comments, env lines."""
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return None
    tag = _TAG_RE.search(line)
    if tag is None:
        return None
    fields = line[: tag.start()].split(None, 6)
    user, command = (fields[5], fields[6]) if len(fields) == 7 else ("", "")
    return CronEntry(cert_name=tag.group("name"), schedule=_parse_schedule(fields, command),
                     command=command, line=line, user=user)


def _parse_schedule(fields: list[str], command: str) -> RenewalSchedule | None:
    """Minute, four hours 6 h apart and `sleep N` back into a schedule; None if not that shape."""
    sleep = _SLEEP_RE.match(command)
    if len(fields) != 7 or fields[2:5] != ["*", "*", "*"] or sleep is None:
        return None
    hours = fields[1].split(",")
    if not fields[0].isdigit() or not all(h.isdigit() for h in hours):
        return None
    try:
        schedule = RenewalSchedule(minute=int(fields[0]), second=int(sleep.group("second")),
                                   hour_offset=int(hours[0]))
    except ValueError:
        return None
    return schedule if tuple(int(h) for h in hours) == schedule.hours else None


def _splice(text: str, cert_name: str, new_line: str | None) -> str:
    """`text` with this certificate's lines replaced by `new_line` (or dropped), rest untouched."""
    out: list[str] = []
    placed = False
    for raw in _LINE_RE.findall(text):
        entry = parse_line(raw.removesuffix("\n"))
        if entry is None or entry.cert_name != cert_name:
            out.append(raw)
        elif new_line is not None and not placed:
            out.append(new_line + "\n")
            placed = True
    if new_line is not None and not placed:
        if out and not out[-1].endswith("\n"):
            out[-1] += "\n"  # cron ignores an unterminated last line; ours must not join it
        out.append(new_line + "\n")
    return "".join(out)


class CronFile:
    """A cron.d file holding our entries next to anything else the admin put there."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _read(self) -> str | None:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        # surrogateescape: foreign lines in any encoding come back out byte for byte
        return data.decode("utf-8", "surrogateescape")

    def entries(self) -> list[CronEntry]:
        """Our entries, in file order; a missing file has none."""
        text = self._read() or ""
        found = (parse_line(raw.removesuffix("\n")) for raw in _LINE_RE.findall(text))
        return [entry for entry in found if entry is not None]

    def get(self, cert_name: str) -> CronEntry | None:
        return next((e for e in self.entries() if e.cert_name == cert_name), None)

    def planned_text(self, cert_name: str, schedule: RenewalSchedule, argv: list[str],
                     user: str = "root") -> str:
        """The whole file as `write_entry` would leave it; nothing is written."""
        line = render_entry(cert_name, schedule, argv, user)
        return _splice(self._read() or "", cert_name, line)

    def write_entry(self, cert_name: str, schedule: RenewalSchedule, argv: list[str],
                    user: str = "root") -> bool:
        """Insert or replace this certificate's entry; False (file untouched) if already so."""
        current = self._read()
        new = _splice(current or "", cert_name, render_entry(cert_name, schedule, argv, user))
        if current is not None and new == current:
            return False
        self._write(new, exists=current is not None)
        return True

    def remove_entry(self, cert_name: str) -> bool:
        """Drop this certificate's entries; a file left empty is deleted. False if none."""
        current = self._read()
        if current is None:
            return False
        new = _splice(current, cert_name, None)
        if new == current:
            return False
        if new:
            self._write(new, exists=True)
        else:
            self.path.unlink()
        return True

    def _write(self, text: str, exists: bool) -> None:
        # Keep an existing file's owner and mode, minus group/world write, which would make cron
        # ignore the whole file.
        mode = (os.stat(self.path).st_mode & 0o7777 & ~0o022) if exists else NEW_FILE_MODE
        atomic_write(self.path, text.encode("utf-8", "surrogateescape"), mode=mode)
