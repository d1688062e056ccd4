"""Drive the real CLI (a subprocess, as a user or cron would) against a sandbox, and snapshot files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from bncert_tui.sandbox import Sandbox

EMAIL = "admin@example.org"


def run_cli(box: Sandbox, *args: str, timeout: float = 180, env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "bncert_tui", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env or box.env(),
                          stdin=subprocess.DEVNULL, check=False)


def apply(box: Sandbox, *domains: str, extra: tuple[str, ...] = (), json_out: bool = True
          ) -> subprocess.CompletedProcess[str]:
    args = ["apply", *box.global_args(), "--email", EMAIL, "--accept-tos", *extra]
    for domain in domains:
        args += ["--domain", domain]
    if json_out:
        args.append("--json")
    return run_cli(box, *args)


def parse_json(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 1, f"expected one JSON object on stdout, got: {proc.stdout!r}\n{proc.stderr}"
    return dict(json.loads(lines[0]))


def config_snapshot(box: Sandbox) -> dict[str, bytes]:
    """Every file of the web server's tree, plus the cron file if any (what must not change)."""
    snap = {}
    root = box.installdir / box.kind
    for path in sorted(root.rglob("*")):
        inside = path.relative_to(root).parts  # not the absolute parts: the sandbox lives under /tmp
        if path.is_file() and not {"logs", "tmp", "var"} & set(inside):
            snap[str(path.relative_to(box.installdir))] = path.read_bytes()
    assert any(name.endswith(".conf") for name in snap), "the snapshot must hold the config files"
    if box.cron_file.exists():
        snap["<cron>"] = box.cron_file.read_bytes()
    return snap


def challenge_files(box: Sandbox) -> list[Path]:
    directory = box.installdir / "bncert-tui" / "webroot" / ".well-known" / "acme-challenge"
    return sorted(p for p in directory.iterdir() if p.is_file()) if directory.is_dir() else []


def workers(box: Sandbox) -> set[int]:
    """The server's worker PIDs: a reload replaces them, so unchanged PIDs prove no reload."""
    from bncert_tui.core.processes import children

    assert box.stack.pid is not None
    return {pid for pid, title in children(box.stack.pid).items() if "shutting down" not in title}


def wait_serial(box: Sandbox, name: str, serial: int, timeout: float = 8) -> int:
    """The serial served for `name` once it equals `serial`, or whatever is served at the timeout (a
    graceful reload takes effect asynchronously)."""
    import time

    from bncert_tui.sandbox import served_certificate

    deadline = time.monotonic() + timeout
    while True:
        served = served_certificate(box.https_port, name).serial_number
        if served == serial or time.monotonic() > deadline:
            return served
        time.sleep(0.1)
