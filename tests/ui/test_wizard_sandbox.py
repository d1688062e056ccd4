"""The wizard on the real sandbox (pebble + lego + nginx), driven by keys only through Pilot.

The happy path obtains a certificate and checks HTTPS over TLS, then uses the Start screen's renew and
revert; the cancel test stops a real run at the lego step and checks every file is byte-identical.
"""

from __future__ import annotations

import random
import threading
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Log, Static

from bncert_tui.core.plan import GlobalOptions
from bncert_tui.ui.account import AccountScreen
from bncert_tui.ui.common import ConfirmModal
from bncert_tui.ui.domains import DomainsScreen
from bncert_tui.ui.redirects import RedirectsScreen
from bncert_tui.ui.result import ResultScreen
from bncert_tui.ui.review import ReviewScreen
from bncert_tui.ui.run import RunScreen
from bncert_tui.ui.schedule import ScheduleScreen
from bncert_tui.ui.start import StartScreen

from .helpers import plain, type_text, wait_event, wait_for_screen

pytestmark = pytest.mark.integration
SIZE = (80, 24)


def sandbox_options(sb: Any) -> GlobalOptions:
    """What the CLI builds from sb.global_args(): every path in the sandbox, never the real cron dirs."""
    return GlobalOptions(installdir=sb.installdir, server=sb.lab.directory_url, cron_file=sb.cron_file,
                         extra_env=sb.lab.env(), crontab_dir=sb.crontab_dir, cron_d_dir=sb.cron_d_dir)


def config_snapshot(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


async def walk_to_run(pilot: Any, domains: str) -> RunScreen:
    """Start → Review by keys only, on whatever the real detection found."""
    start = await wait_for_screen(pilot, StartScreen, timeout=30)
    for _ in range(600):
        if start.overview is not None:
            break
        await pilot.pause(0.05)
    assert start.overview is not None and start.overview.ready, start.overview
    await pilot.press("n")
    await wait_for_screen(pilot, DomainsScreen)
    await type_text(pilot, domains)
    await pilot.press("enter")
    await wait_for_screen(pilot, RedirectsScreen)
    await pilot.press("ctrl+n")
    await wait_for_screen(pilot, AccountScreen)
    await type_text(pilot, "admin@example.com")
    await pilot.press("tab", "space", "ctrl+n")
    await wait_for_screen(pilot, ScheduleScreen, timeout=60)
    await pilot.press("ctrl+n")
    await wait_for_screen(pilot, ReviewScreen)
    await pilot.press("ctrl+n")
    return await wait_for_screen(pilot, RunScreen)


async def wait_outcome(pilot: Any, run: RunScreen, timeout: float = 120) -> Any:
    for _ in range(int(timeout / 0.05)):
        if run.outcome is not None:
            return run.outcome
        await pilot.pause(0.05)
    raise AssertionError("the run did not finish")


async def test_happy_path_then_renew_and_revert_on_the_real_sandbox(nginx_sandbox: Any) -> None:
    """By keys only: a new certificate, HTTPS verified over TLS; then renew now; then revert."""
    from bncert_tui.sandbox import http_get, served_certificate, verify_https
    from bncert_tui.ui.app import WizardApp

    sb = nginx_sandbox
    conf = sb.installdir / "nginx" / "conf"
    original = config_snapshot(conf)
    app = WizardApp(sandbox_options(sb), rng=random.Random(3), cursor_blink=False)
    async with app.run_test(size=SIZE) as pilot:
        run = await walk_to_run(pilot, "example.test www.example.test")
        outcome = await wait_outcome(pilot, run)
        assert outcome.ok, outcome.error
        assert run.lines > 0  # lego's output streamed into the log
        assert any("validated" in line for line in run.query_one("#log", Log).lines)
        assert run.rows["lego"].state == "done"
        await pilot.press("enter")
        result = await wait_for_screen(pilot, ResultScreen)
        text = " ".join(plain(result.query_one("#result", Static)).split())
        assert "Done." in text and "example.test, www.example.test" in text

        cert = verify_https(sb.https_port, "www.example.test", sb.root_pem())
        status, headers, _ = http_get(sb.http_port, "example.test", "/a?b=1")
        assert status == 301
        assert headers.get("Location") == f"https://www.example.test:{sb.https_port}/a?b=1"
        assert "# bncert-tui:example.test" in sb.cron_file.read_text()

        await pilot.press("enter")  # back to Start: detection runs again and lists the certificate
        start = await wait_for_screen(pilot, StartScreen)
        for _ in range(400):
            if start.overview is not None:
                break
            await pilot.pause(0.05)
        assert "example.test" in plain(start.query_one("#managed", Static))
        await pilot.press("r")
        await wait_for_screen(pilot, ConfirmModal)
        await pilot.press("y")
        renew = await wait_for_screen(pilot, RunScreen)
        renewed = await wait_outcome(pilot, renew)
        assert renewed.ok, renewed.error
        assert [o.outcome for o in renewed.result] == ["renewed"]
        await pilot.press("enter")
        await wait_for_screen(pilot, ResultScreen)
        new_serial = served_certificate(sb.https_port, "www.example.test").serial_number
        assert new_serial != cert.serial_number

        await pilot.press("enter")
        await wait_for_screen(pilot, StartScreen)
        await pilot.pause(0.5)
        await pilot.press("v")
        await wait_for_screen(pilot, ConfirmModal)
        await pilot.press("y")
        revert = await wait_for_screen(pilot, RunScreen)
        reverted = await wait_outcome(pilot, revert)
        assert reverted.ok, reverted.error
        await pilot.press("enter")
        result = await wait_for_screen(pilot, ResultScreen)
        assert "Reverted" in plain(result.query_one("#result", Static))
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0
    assert config_snapshot(conf) == original  # every config file byte-identical to before
    assert http_get(sb.http_port, "example.test")[0] == 200


class GateReporter:
    """Passes events through, and holds the engine when lego is about to start until released."""

    def __init__(self, inner: Any, reached: threading.Event, gate: threading.Event) -> None:
        self.inner, self.reached, self.gate = inner, reached, gate

    def step(self, key: str, state: Any, detail: str = "") -> None:
        self.inner.step(key, state, detail)
        if key == "lego" and state == "running":
            self.reached.set()
            self.gate.wait(60)

    def line(self, text: str) -> None:
        self.inner.line(text)


async def test_cancel_during_the_run_restores_every_file(nginx_sandbox: Any) -> None:
    from bncert_tui.core.apply import execute
    from bncert_tui.sandbox import http_get, served_certificate
    from bncert_tui.ui.app import WizardApp

    sb = nginx_sandbox
    conf = sb.installdir / "nginx" / "conf"
    before = config_snapshot(conf)
    served_before = served_certificate(sb.https_port, "example.test").serial_number
    reached, gate = threading.Event(), threading.Event()

    def executor(plan: Any, reporter: Any, slot: Any) -> Any:
        return execute(plan, GateReporter(reporter, reached, gate), slot)

    app = WizardApp(sandbox_options(sb), rng=random.Random(3), executor=executor, cursor_blink=False)
    async with app.run_test(size=SIZE) as pilot:
        run = await walk_to_run(pilot, "example.test")
        assert await wait_event(pilot, reached, timeout=60)
        assert config_snapshot(conf) != before  # the challenge location is live at this point
        await pilot.press("ctrl+c")
        await wait_for_screen(pilot, ConfirmModal)
        await pilot.press("y")
        await pilot.pause()
        gate.set()
        outcome = await wait_outcome(pilot, run)
        assert outcome.cancelled
        await pilot.press("enter")
        result = await wait_for_screen(pilot, ResultScreen)
        assert "Cancelled" in plain(result.query_one("#result", Static))
        await pilot.press("q")
    gate.set()
    assert app.return_code == 130
    assert config_snapshot(conf) == before  # byte-identical
    assert http_get(sb.http_port, "example.test")[0] in (200, 301, 302)
    assert served_certificate(sb.https_port, "example.test").serial_number == served_before
    assert not sb.cron_file.exists()
