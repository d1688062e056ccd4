"""The global options every command shares. Kept light (no cryptography, no crontab parsing) so the
CLI and the wizard can build them before anything heavy is imported."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bncert_tui.core.paths import ToolPaths

if TYPE_CHECKING:
    from bncert_tui.core.legacy import LegacyFindings

SPOOL_DIR = Path("/var/spool/cron/crontabs")  # user crontabs (Debian)
CRON_D_DIR = Path("/etc/cron.d")


@dataclass(frozen=True)
class GlobalOptions:
    installdir: Path
    server: str
    cron_file: Path
    lego: str | None = None
    extra_env: dict[str, str] = field(default_factory=dict)  # LEGO_CA_CERTIFICATES etc.
    crontab_dir: Path = SPOOL_DIR  # where bncert-tool's renewal line may live (user crontabs)
    cron_d_dir: Path = CRON_D_DIR

    @property
    def paths(self) -> ToolPaths:
        return ToolPaths(self.installdir)

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.extra_env)
        return env

    def cli_args(self) -> list[str]:
        """The global options as absolute-path argv, for the cron entry."""
        argv = ["--installdir", str(self.installdir), "--server", self.server,
                "--cron-file", str(self.cron_file.absolute())]
        if self.lego:
            argv += ["--lego", str(Path(self.lego).absolute())]
        if self.crontab_dir != SPOOL_DIR:
            argv += ["--crontab-dir", str(self.crontab_dir.absolute())]
        if self.cron_d_dir != CRON_D_DIR:
            argv += ["--cron-d-dir", str(self.cron_d_dir.absolute())]
        return argv

    def legacy(self) -> LegacyFindings:
        """What bncert-tool left on this machine (its cron line, config edits, lego data)."""
        from bncert_tui.core.legacy import crontab_sources, detect

        return detect(self.installdir, crontab_sources(self.installdir, self.crontab_dir, self.cron_d_dir))
