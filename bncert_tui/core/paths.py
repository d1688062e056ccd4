"""Where everything lives. All the tool writes stays under the install dir, except the cron file."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

from bncert_tui.core.errors import InputError

DEFAULT_INSTALLDIR = Path("/opt/bitnami")
DEFAULT_CRON_FILE = Path("/etc/cron.d/bncert-tui")


@dataclass(frozen=True)
class ToolPaths:
    """The tool's own tree: DIR/bncert-tui/{webroot (0755, served), state, backups, logs (0700)}."""

    installdir: Path

    @property
    def home(self) -> Path:
        return self.installdir / "bncert-tui"

    @property
    def webroot(self) -> Path:
        return self.home / "webroot"

    @property
    def private(self) -> Path:
        return self.home / "private"

    @property
    def state_file(self) -> Path:
        return self.private / "state.json"

    @property
    def lock_file(self) -> Path:
        return self.private / "lock"

    @property
    def backups(self) -> Path:
        return self.private / "backups"

    @property
    def originals(self) -> Path:
        return self.backups / "original"

    @property
    def logs(self) -> Path:
        return self.private / "logs"

    @property
    def renewal_log(self) -> Path:
        return self.logs / "renewals.log"

    @property
    def lego_path(self) -> Path:
        return self.installdir / "letsencrypt"

    def cert_file(self, name: str) -> Path:
        return self.lego_path / "certificates" / f"{name}.crt"

    def key_file(self, name: str) -> Path:
        return self.lego_path / "certificates" / f"{name}.key"

    @property
    def challenge_dir(self) -> Path:
        return self.webroot / ".well-known" / "acme-challenge"

    def clear_challenge_files(self) -> None:
        """Remove what lego (killed before its own cleanup) or a pre-flight left in the challenge dir."""
        if self.challenge_dir.is_dir() and not self.challenge_dir.is_symlink():
            for stray in self.challenge_dir.iterdir():
                if stray.is_file() or stray.is_symlink():
                    with contextlib.suppress(FileNotFoundError):
                        stray.unlink()

    def ensure(self) -> None:
        """Create the tree: the webroot must be traversable by the server's workers; the rest is 0700."""
        for path, mode in ((self.home, 0o755), (self.webroot, 0o755), (self.private, 0o700),
                           (self.backups, 0o700), (self.originals, 0o700), (self.logs, 0o700)):
            path.mkdir(parents=True, exist_ok=True)
            if path.is_symlink():
                raise InputError(f"{path} is a symlink; refusing to write through it")
            os.chmod(path, mode)
        challenge = self.webroot / ".well-known" / "acme-challenge"
        challenge.mkdir(parents=True, exist_ok=True)
        os.chmod(self.webroot / ".well-known", 0o755)
        os.chmod(challenge, 0o755)


_UNSAFE = "%\n\r\"'\\;{}$`"


def check_safe(what: str, value: str) -> str:
    """A value that ends up in config or cron files (paths, the CA URL): no character a shell, cron
    or a config parser would read as syntax, no whitespace, no control character."""
    bad = sorted({ch for ch in value if ch in _UNSAFE or ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F})
    if bad:
        raise InputError(f"Unsupported {what} {value!r}: it contains {', '.join(repr(c) for c in bad)}, "
                         "unsafe in config and cron files")
    return value


def check_server_url(raw: str) -> str:
    """The ACME directory URL: https://host[:port]/path, nothing else."""
    check_safe("ACME server URL", raw)
    if not raw.startswith("https://") or len(raw) <= len("https://"):
        raise InputError(f"Unsupported ACME server URL {raw!r}: it must start with https://",
                         hint="e.g. https://acme-staging-v02.api.letsencrypt.org/directory")
    return raw


def check_installdir(raw: str | Path) -> Path:
    """An absolute, existing directory whose path cron and configs can carry safely."""
    path = Path(raw).expanduser().absolute()
    text = str(path)
    if any(ch in text for ch in "%\n\r\"'\\;{}$`") or any(ord(ch) < 0x20 for ch in text):
        raise InputError(f"Unsupported install dir {text!r}: it contains characters that are unsafe in "
                         "config and cron files")
    if not path.is_dir():
        raise InputError(f"Install dir {text} does not exist",
                         hint="Pass --installdir with the Bitnami directory (default /opt/bitnami).")
    return path
