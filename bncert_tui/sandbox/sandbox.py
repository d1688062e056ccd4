"""The whole sandbox: an ACME lab plus a Bitnami-like stack in one throw-away directory.

The tool under test only gets what a real VM would give it: `global_args()` (install dir, ACME
directory URL, a cron file path) and `env()` (LEGO_CA_CERTIFICATES); lego comes from PATH.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

from .ca import AcmeLab
from .stack import BitnamiStack
from .tree import Kind


class Sandbox:
    """AcmeLab + BitnamiStack under `base` (a fresh 0755 temp dir when None, removed on close).

    Pass `lab=` to share a running lab (e.g. the session fixture); the sandbox then neither starts
    nor stops it. Pebble's VA always dials lab.http01_port, so one stack per lab runs at a time.
    """

    def __init__(
        self,
        kind: Kind = "nginx",
        base: Path | None = None,
        *,
        lab: AcmeLab | None = None,
        https_port: int | None = None,
        **lab_kwargs: Any,
    ) -> None:
        if lab is not None and lab_kwargs:
            raise TypeError(f"lab options {sorted(lab_kwargs)} given with a shared lab")
        self._owns_base = base is None
        self.base = Path(base) if base is not None else Path(
            tempfile.mkdtemp(prefix=f"bncert-sandbox-{kind}-")
        )
        self.base.mkdir(parents=True, exist_ok=True)
        self.base.chmod(0o755)  # mkdtemp makes 0700; the workers (daemon) must traverse it
        self._owns_lab = lab is None
        self.lab: AcmeLab = lab if lab is not None else AcmeLab(self.base / "acme", **lab_kwargs)
        self.installdir: Path = self.base / "bitnami"  # plays /opt/bitnami
        self.cron_file: Path = self.base / "crontab"  # not created: the tool under test writes it
        # The tool searches user crontabs and cron.d for bncert-tool's line: never the machine's in tests.
        self.crontab_dir: Path = self.base / "spool"
        self.cron_d_dir: Path = self.base / "cron.d"
        self.crontab_dir.mkdir(exist_ok=True)
        self.cron_d_dir.mkdir(exist_ok=True)
        self.stack = BitnamiStack(
            kind, self.installdir, http_port=self.lab.http01_port, https_port=https_port
        )

    @property
    def kind(self) -> Kind:
        return self.stack.kind

    @property
    def http_port(self) -> int:
        return self.stack.http_port

    @property
    def https_port(self) -> int:
        return self.stack.https_port

    def root_pem(self) -> str:
        return self.lab.root_pem()

    def global_args(self) -> list[str]:
        """The CLI arguments that point the tool at this sandbox instead of a real VM."""
        return ["--installdir", str(self.installdir), "--server", self.lab.directory_url,
                "--cron-file", str(self.cron_file), "--crontab-dir", str(self.crontab_dir),
                "--cron-d-dir", str(self.cron_d_dir)]

    def env(self) -> dict[str, str]:
        """os.environ plus LEGO_CA_CERTIFICATES (lego must trust pebble's HTTPS)."""
        return {**os.environ, **self.lab.env()}

    def start(self) -> None:
        """Start the lab (if ours), build the tree once, start the stack."""
        if self._owns_lab:
            self.lab.start()
        other = self.lab.active_stack
        if isinstance(other, BitnamiStack) and other is not self.stack and other.pid is not None:
            raise RuntimeError(
                f"the ACME lab's HTTP-01 port {self.lab.http01_port} is taken by the {other.kind} "
                f"stack in {other.installdir}: one stack per lab at a time"
            )
        if not self.stack.built:
            self.stack.build()
        self.stack.start()
        self.lab.active_stack = self.stack

    def stop(self, *, graceful: bool = True) -> None:
        """Stop the stack, and the lab if this sandbox started it."""
        try:
            self.stack.stop(graceful=graceful)
        finally:
            if self.lab.active_stack is self.stack:
                self.lab.active_stack = None
            if self._owns_lab:
                self.lab.stop()

    def close(self, *, graceful: bool = True) -> None:
        """stop(), then remove the base dir if this sandbox made it."""
        try:
            self.stop(graceful=graceful)
        finally:
            if self._owns_base:
                shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> Sandbox:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
