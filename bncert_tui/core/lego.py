"""lego: what the binary on this machine can do, the argv for each capability level, and a runner that
streams every output line to the caller and to a log file as it comes.

Debian's build prints `lego version dev`, so capabilities are read from the help text, not the version.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal

from bncert_tui.core.errors import StackError

LETS_ENCRYPT = "https://acme-v02.api.letsencrypt.org/directory"
LETS_ENCRYPT_STAGING = "https://acme-staging-v02.api.letsencrypt.org/directory"
SUBSCRIBER_AGREEMENT = "https://letsencrypt.org/repository/"

AriMode = Literal["none", "opt-in", "default"]


@dataclass(frozen=True)
class LegoCapabilities:
    """What one lego binary supports, read from its help text."""

    major: int = 4  # 5 when `run` does both obtain and renew
    user_agent: bool = True  # --user-agent (4.8+)
    no_random_sleep: bool = True  # renew --no-random-sleep (4.8+)
    ari: AriMode = "none"  # --ari-enable (4.12-4.19) / on by default with --ari-disable (4.20+)
    dynamic: bool = False  # renew --dynamic (4.25+)
    version: str = "unknown"

    @property
    def level(self) -> str:
        """A short name for the argv variant chosen for this lego."""
        if self.major >= 5:
            return "lego5"
        if self.dynamic:
            return "lego4-dynamic"
        if self.ari == "default":
            return "lego4-ari"
        return "lego4-days"

    def describe(self) -> str:
        parts = [f"lego {self.version}", self.level]
        if self.ari != "none":
            parts.append(f"ARI {self.ari}")
        if not self.no_random_sleep:
            parts.append("no --no-random-sleep (older than 4.8)")
        return ", ".join(parts)


_VERSION = re.compile(r"lego version (\S+)")


def parse_capabilities(global_help: str, renew_help: str, run_help: str, version_text: str = "") -> LegoCapabilities:
    """Pure: read capabilities out of `lego --help`, `lego renew --help`, `lego run --help`."""
    match = _VERSION.search(version_text) or _VERSION.search(global_help)
    version = match.group(1) if match else "unknown"
    major = 5 if ("--renew-days" in run_help or "--deploy-hook" in run_help) else 4
    if "--ari-disable" in renew_help or "--ari-disable" in run_help:
        ari: AriMode = "default"
    elif "--ari-enable" in renew_help:
        ari = "opt-in"
    else:
        ari = "none"
    return LegoCapabilities(
        major=major,
        user_agent="--user-agent" in global_help or "--user-agent" in run_help,
        no_random_sleep="--no-random-sleep" in renew_help or "--no-random-sleep" in run_help,
        ari=ari,
        dynamic="--dynamic" in renew_help or major >= 5,
        version=version,
    )


def find_lego(installdir: Path, explicit: str | None) -> Path:
    """--lego PATH, else DIR/letsencrypt/lego (where Bitnami puts it), else lego on PATH."""
    candidates: list[Path] = []
    if explicit:
        candidates.append(Path(explicit))
    else:
        candidates.append(installdir / "letsencrypt" / "lego")
        found = shutil.which("lego")
        if found:
            candidates.append(Path(found))
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return path.absolute()
    where = explicit or f"{installdir / 'letsencrypt' / 'lego'} or on PATH"
    raise StackError(f"lego not found or not executable: {where}",
                     hint="Install it (apt-get install lego) or pass --lego /path/to/lego.")


def detect_capabilities(lego: Path) -> LegoCapabilities:
    def help_of(*args: str) -> str:
        try:
            proc = subprocess.run([str(lego), *args], capture_output=True, text=True, timeout=20,
                                  stdin=subprocess.DEVNULL, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise StackError(f"Could not run {lego}: {exc}", hint="Check the lego binary.") from None
        return proc.stdout + proc.stderr

    global_help = help_of("--help")
    if "lego" not in global_help.lower():
        raise StackError(f"{lego} does not look like lego", global_help[:300])
    return parse_capabilities(global_help, help_of("renew", "--help"), help_of("run", "--help"),
                              help_of("--version"))


@dataclass(frozen=True)
class LegoRequest:
    """Everything lego needs for one certificate."""

    server: str
    email: str
    path: Path  # lego's --path (DIR/letsencrypt)
    webroot: Path
    domains: tuple[str, ...]
    user_agent: str
    http_timeout: int = 30


def _global_args(caps: LegoCapabilities, req: LegoRequest) -> list[str]:
    argv = ["--server", req.server, "--accept-tos", "--email", req.email, "--path", str(req.path),
            "--http", "--http.webroot", str(req.webroot), "--http-timeout", str(req.http_timeout)]
    if caps.user_agent:
        argv += ["--user-agent", req.user_agent]
    for domain in req.domains:
        argv += ["-d", domain]
    return argv


def obtain_argv(lego: Path, caps: LegoCapabilities, req: LegoRequest) -> list[str]:
    """First issuance (or an expansion to more names): `run`."""
    return [str(lego), *_global_args(caps, req), "run"]


def renew_argv(lego: Path, caps: LegoCapabilities, req: LegoRequest, *, days: int | None,
               random_sleep: bool, force: bool = False) -> list[str]:
    """Renewal argv for each lego generation (one pure function, unit-tested per variant).

    - 4.8-4.19: `renew --days N`, N computed from the certificate's real lifetime (the caller's policy);
      4.12-4.19 also `--ari-enable`.
    - 4.20-4.24: ARI is on by default: `renew --days N` stays as the backstop.
    - 4.25+: `renew --dynamic` (1/3 of lifetime left, 1/2 for short-lived), ARI on.
    - 5.x: `run` obtains or renews; `--renew-days` replaces `--days` when a fixed number is needed.
    `force` renews now whatever the window says. The web server reload is done by bncert-tui itself after
    comparing serials, so no hook (and no shell) is involved.
    """
    argv = [str(lego), *_global_args(caps, req)]
    sleep_flag = [] if random_sleep or not caps.no_random_sleep else ["--no-random-sleep"]
    if caps.major >= 5:
        argv.append("run")
        if force:
            argv += ["--renew-force"]
        elif days is not None and not caps.dynamic:
            argv += ["--renew-days", str(days)]
        return argv + sleep_flag
    argv.append("renew")
    if force:
        argv += ["--days", "-1" if caps.dynamic else "100000"]
    elif caps.dynamic:
        argv.append("--dynamic")
    elif days is not None:
        argv += ["--days", str(days)]
    if caps.ari == "opt-in":
        argv.append("--ari-enable")
    return argv + sleep_flag


@dataclass
class LegoResult:
    returncode: int
    lines: list[str] = field(default_factory=list)
    cancelled: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.cancelled

    def tail(self, n: int = 12) -> str:
        return "\n".join(self.lines[-n:])


class ProcessSlot:
    """Holds the running child so a signal handler or the UI can stop it from another thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[str] | None = None
        self.cancelled = False

    def set(self, proc: subprocess.Popen[str] | None) -> None:
        with self._lock:
            self._proc = proc
            if proc is not None and self.cancelled:
                proc.terminate()

    def cancel(self) -> None:
        with self._lock:
            self.cancelled = True
            if self._proc is not None and self._proc.poll() is None:
                self._proc.terminate()


def run_streaming(argv: list[str], env: dict[str, str], on_line: Callable[[str], None],
                  log: IO[str] | None = None, slot: ProcessSlot | None = None,
                  cwd: Path | None = None) -> LegoResult:
    """Run lego (argv list, no shell) and hand every output line to `on_line` and `log` as it arrives.

    stderr is merged into stdout: lego logs on stderr one write() per line, unbuffered, so lines arrive
    live through the pipe without a pty.
    """
    result = LegoResult(returncode=-1)
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, text=True, bufsize=1, env=env,
                                cwd=cwd, errors="replace")
    except OSError as exc:
        line = f"could not start {argv[0]}: {exc}"
        on_line(line)
        result.lines.append(line)
        result.returncode = 127
        return result
    if slot is not None:
        slot.set(proc)
    try:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.rstrip("\n")
            result.lines.append(line)
            if log is not None:
                log.write(line + "\n")
                log.flush()
            on_line(line)
        result.returncode = proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if slot is not None:
            result.cancelled = slot.cancelled
            slot.set(None)
    return result


def check_ca_certificates(env: dict[str, str]) -> None:
    """lego panics (rc 2) on a missing LEGO_CA_CERTIFICATES file: say it clearly before it does."""
    value = env.get("LEGO_CA_CERTIFICATES", "")
    for part in filter(None, value.split(":")):
        if not Path(part).is_file():
            raise StackError(f"LEGO_CA_CERTIFICATES names a file that does not exist: {part}",
                             hint="Fix or unset LEGO_CA_CERTIFICATES.")
