"""Taking over a VM that bncert-tool configured, through `apply`, with no new certificate order;
then an idempotent re-run, and `revert` back to exactly bncert-tool's state."""

from __future__ import annotations

import os

import pytest

from bncert_tui.sandbox import Sandbox, http_get
from bncert_tui.sandbox.legacy import make_bncert_configured
from tests.integration.cli_helpers import config_snapshot, parse_json, run_cli, wait_serial

pytestmark = pytest.mark.integration

DOMAIN = "legacy.example.test"
EMAIL = "owner@example.org"


@pytest.fixture(params=[("nginx", True), ("apache", False)], ids=["nginx-old-cron", "apache-new-cron"])
def case(request: pytest.FixtureRequest) -> tuple[Sandbox, bool]:
    kind, old_cron = request.param
    return request.getfixturevalue(f"{kind}_sandbox"), old_cron


def parse_json_block(text: str) -> dict:  # type: ignore[type-arg]
    import json

    return json.loads(text)  # type: ignore[no-any-return]


def links(box: Sandbox) -> dict[str, str]:
    found = {}
    for path in (box.installdir / box.kind / "conf").iterdir():
        if path.is_symlink():
            found[path.name] = os.readlink(path)
    return found


def test_take_over_without_new_order_then_revert(case: tuple[Sandbox, bool]) -> None:
    box, old_cron = case
    crontab = box.crontab_dir / "bitnami"
    made = make_bncert_configured(box, [DOMAIN], EMAIL, old_cron=old_cron, crontab=crontab)
    bncert_state = config_snapshot(box)
    bncert_crontab = crontab.read_bytes()
    bncert_links = links(box)
    assert made.cron_line.encode() in bncert_crontab

    # status says what was found, in plain words, and asks for attention.
    status = run_cli(box, "status", *box.global_args(), "--json")
    assert status.returncode == 1
    found = parse_json_block(status.stdout)["bncert_tool"]
    assert found["found"] is True and "Take it over" in found["take_over"]
    text = " ".join(found["details"])
    assert ("00:00" in text and "midnight" in text) if old_cron else "renewal" in text

    # `apply` with the same names and no email: the account and the certificate are reused.
    proc = run_cli(box, "apply", *box.global_args(), "--domain", DOMAIN, "--accept-tos", "--json")
    assert proc.returncode == 0, proc.stderr
    result = parse_json(proc)
    assert result["certificate"]["action"] == "keep"
    assert any("Take over from bncert-tool" in item for item in result["done"])
    assert int(result["certificate"]["serial"], 16) == made.serial
    assert wait_serial(box, DOMAIN, made.serial) == made.serial  # the same certificate is served
    status = run_cli(box, "status", *box.global_args(), "--json")
    assert status.returncode == 0, status.stdout
    assert parse_json_block(status.stdout)["bncert_tool"]["found"] is False
    orders = box.installdir / "letsencrypt" / "certificates"
    assert sorted(p.name for p in orders.iterdir() if p.suffix == ".crt") == [
        f"{DOMAIN}.crt", f"{DOMAIN}.issuer.crt"]

    # bncert-tool's line replaced by ours; every other line of that crontab byte-identical.
    after = crontab.read_bytes()
    assert b"bncert-autorenew" not in after
    assert after == b"".join(line for line in bncert_crontab.splitlines(keepends=True)
                             if b"bncert-autorenew" not in line)
    assert f"renew --cert {DOMAIN}" in box.cron_file.read_text()
    # The site behaves the same or better: HTTP -> HTTPS with 301 now, challenge served.
    status, headers, _ = http_get(box.http_port, DOMAIN, "/x?y=1")
    assert status == 301 and headers["location"] == f"https://{DOMAIN}:{box.https_port}/x?y=1"

    # Idempotent re-run: no byte changes.
    snap = config_snapshot(box)
    again = run_cli(box, "apply", *box.global_args(), "--domain", DOMAIN, "--accept-tos", "--json")
    assert again.returncode == 0, again.stderr
    assert config_snapshot(box) == snap and crontab.read_bytes() == after

    # Revert: exactly bncert-tool's state (configs, symlinks, its cron line), same certificate served.
    reverted = run_cli(box, "revert", *box.global_args())
    assert reverted.returncode == 0, reverted.stderr
    assert config_snapshot(box) == {**bncert_state}
    assert crontab.read_bytes() == bncert_crontab
    assert links(box) == bncert_links
    assert wait_serial(box, DOMAIN, made.serial) == made.serial
