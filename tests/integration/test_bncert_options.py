"""bncert-tool users can switch: its unattended options and option files drive the same engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from bncert_tui.sandbox import Sandbox, http_get, verify_https
from tests.integration.cli_helpers import config_snapshot, run_cli

pytestmark = pytest.mark.integration


def test_mode_unattended_with_option_file(nginx_sandbox: Sandbox, tmp_path: Path) -> None:
    box = nginx_sandbox
    opts = tmp_path / "answers.txt"
    opts.write_text(f"installdir={box.installdir}\ndomains=example.test www.example.test\n"
                    "email=Admin+Bncert@Example.org\naccept_tos=1\nenable_https_redirection=1\n")
    proc = run_cli(box, "--mode", "unattended", "--optionfile", str(opts),
                   "--server", box.lab.directory_url, "--cron-file", str(box.cron_file),
                   "--crontab-dir", str(box.crontab_dir), "--cron-d-dir", str(box.cron_d_dir))
    assert proc.returncode == 0, proc.stderr + proc.stdout
    verify_https(box.https_port, "www.example.test", box.root_pem())
    # bncert-tool's default with both forms given: non-www -> www, in one hop from HTTP.
    status, headers, _ = http_get(box.http_port, "example.test", "/x?y=1")
    assert (status, headers["location"]) == (301, f"https://www.example.test:{box.https_port}/x?y=1")


def test_unattended_bad_boolean_touches_nothing(nginx_sandbox: Sandbox) -> None:
    box = nginx_sandbox
    before = config_snapshot(box)
    proc = run_cli(box, "--mode", "unattended", "--installdir", str(box.installdir), "--domains",
                   "example.test", "--email", "a@example.org", "--accept_tos", "yes")
    assert proc.returncode == 2
    assert "--accept_tos must be 0 or 1" in proc.stderr
    assert config_snapshot(box) == before
