"""`make screenshots`: an SVG of every wizard screen, taken from the real WizardApp driven by keys.

The app gets the plain-data sample VM (bncert_tui.ui.sample) so the pictures show /opt/bitnami paths and a
fixed time, and the run does not need a CA. Writes screenshots/NN-name.svg at 80x24, plus the main screens
at 120x36 (…-wide.svg).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from textual.pilot import Pilot  # noqa: E402
from textual.screen import Screen  # noqa: E402

from bncert_tui.core.errors import StackError  # noqa: E402
from bncert_tui.ui import sample  # noqa: E402
from bncert_tui.ui.app import WizardApp  # noqa: E402
from bncert_tui.ui.common import ConfirmModal, ErrorModal  # noqa: E402
from bncert_tui.ui.domains import DomainsScreen  # noqa: E402
from bncert_tui.ui.redirects import RedirectsScreen  # noqa: E402
from bncert_tui.ui.result import ResultScreen  # noqa: E402
from bncert_tui.ui.review import DiffScreen, ReviewScreen  # noqa: E402
from bncert_tui.ui.run import RunScreen  # noqa: E402
from bncert_tui.ui.schedule import ScheduleScreen  # noqa: E402
from bncert_tui.ui.start import StartScreen  # noqa: E402

Drive = Callable[[Pilot[Any]], Awaitable[None]]


def make_app(**overrides: Any) -> WizardApp:
    kwargs: dict[str, Any] = dict(
        rng=random.Random(sample.SEED), overview=sample.sample_overview(managed=True),
        clock=sample.fixed_clock, monotonic=sample.fixed_monotonic, planner=sample.sample_plan,
        executor=sample.SampleExecutor(), renewer=sample.sample_renewer, reverter=sample.sample_reverter,
        cursor_blink=False)
    kwargs.update(overrides)
    return WizardApp(sample.sample_options(), **kwargs)


async def wait_for(pilot: Pilot[Any], kind: type[Screen[Any]], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not isinstance(pilot.app.screen, kind):
        if time.monotonic() > deadline:
            raise RuntimeError(f"expected {kind.__name__}, got {type(pilot.app.screen).__name__}")
        await pilot.pause(0.05)
    await pilot.pause()


async def start(pilot: Pilot[Any]) -> None:
    await wait_for(pilot, StartScreen)


async def domains(pilot: Pilot[Any]) -> None:
    await start(pilot)
    await pilot.press("n")
    await wait_for(pilot, DomainsScreen)
    await pilot.press(*"example.org")


async def redirects(pilot: Pilot[Any]) -> None:
    await start(pilot)
    await pilot.press("n")
    await wait_for(pilot, DomainsScreen)
    await pilot.press(*"example.com www.example.com", "enter")
    await wait_for(pilot, RedirectsScreen)


async def account(pilot: Pilot[Any]) -> None:
    await redirects(pilot)
    await pilot.press("ctrl+n")
    await pilot.pause(0.1)
    await pilot.press(*"admin@example.com", "tab", "space")


async def schedule(pilot: Pilot[Any]) -> None:
    await account(pilot)
    await pilot.press("ctrl+n")
    await wait_for(pilot, ScheduleScreen)


async def review(pilot: Pilot[Any]) -> None:
    await schedule(pilot)
    await pilot.press("ctrl+n")
    await wait_for(pilot, ReviewScreen)


async def diff(pilot: Pilot[Any]) -> None:
    await review(pilot)
    await pilot.press("d")
    await wait_for(pilot, DiffScreen)


def run_until(stop_at: str, cancel: bool = False) -> tuple[WizardApp, Drive]:
    executor = sample.SampleExecutor(stop_at=stop_at)

    async def drive(pilot: Pilot[Any]) -> None:
        await review(pilot)
        await pilot.press("ctrl+n")
        await wait_for(pilot, RunScreen)
        deadline = time.monotonic() + 10
        while not executor.reached.is_set() and time.monotonic() < deadline:
            await pilot.pause(0.05)
        await pilot.pause(0.3)
        if cancel:
            await pilot.press("ctrl+c")
            await wait_for(pilot, ConfirmModal)
        threading.Timer(1.0, executor.release).start()

    return make_app(executor=executor), drive


async def result(pilot: Pilot[Any]) -> None:
    await review(pilot)
    await pilot.press("ctrl+n")
    await wait_for(pilot, RunScreen)
    screen = pilot.app.screen
    while getattr(screen, "outcome", None) is None:
        await pilot.pause(0.05)
    await pilot.press("enter")
    await wait_for(pilot, ResultScreen)


def failing_planner(*_: Any) -> Any:
    raise StackError("The nginx configuration test fails before any change",
                     'nginx: [emerg] unknown directive "ssl_certificat" in '
                     "/opt/bitnami/nginx/conf/server_blocks/wordpress-https-server-block.conf:7",
                     "Fix the configuration first; nothing was changed.")


async def renew_result(pilot: Pilot[Any]) -> None:
    await start(pilot)
    await pilot.press("r")
    await wait_for(pilot, ConfirmModal)
    await pilot.press("y")
    await wait_for(pilot, RunScreen)
    while getattr(pilot.app.screen, "outcome", None) is None:
        await pilot.pause(0.05)
    await pilot.press("enter")
    await wait_for(pilot, ResultScreen)


async def revert_question(pilot: Pilot[Any]) -> None:
    await start(pilot)
    await pilot.press("v")
    await wait_for(pilot, ConfirmModal)


async def error(pilot: Pilot[Any]) -> None:
    await account(pilot)
    await pilot.press("ctrl+n")
    await wait_for(pilot, ErrorModal)


Shot = Callable[[], tuple[WizardApp, Drive]]


def plain(drive: Drive, **overrides: Any) -> Shot:
    return lambda: (make_app(**overrides), drive)


def shots() -> list[tuple[str, Shot, bool]]:
    """(name, fresh app + how to get there, also at 120x36)."""
    return [
        ("01-start", plain(start), True),
        ("02-start-problems", plain(start, overview=sample.sample_overview(problems=True)), False),
        ("02-start-bncert-tool", plain(start, overview=sample.sample_overview(legacy=True)), False),
        ("03-domains", plain(domains), True),
        ("04-redirections", plain(redirects), True),
        ("05-account", plain(account), False),
        ("06-schedule", plain(schedule), True),
        ("07-review", plain(review), True),
        ("08-diff", plain(diff), False),
        ("09-run", lambda: run_until("lego"), True),
        ("10-run-cancel", lambda: run_until("lego", cancel=True), False),
        ("11-result", plain(result), True),
        ("12-result-failure", lambda: (make_app(executor=sample.SampleExecutor(fail_at="lego")), result),
         False),
        ("13-error", plain(error, planner=failing_planner), False),
        ("14-renew-result", plain(renew_result), False),
        ("15-revert-question", plain(revert_question), False),
    ]


async def take(out: Path, name: str, shot: Shot, size: tuple[int, int]) -> Path:
    app, drive = shot()
    async with app.run_test(size=size) as pilot:
        await drive(pilot)
        await pilot.pause()
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()
        return Path(app.save_screenshot(filename=f"{name}.svg", path=str(out)))


async def main(out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    for name, shot, wide in shots():
        for suffix, size in [("", (80, 24)), *([("-wide", (120, 36))] if wide else [])]:
            t0 = time.monotonic()
            path = await take(out, name + suffix, shot, size)
            shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
            print(f"{shown}  ({time.monotonic() - t0:.1f}s)", flush=True)
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "screenshots")
    sys.exit(asyncio.run(main(parser.parse_args().out)))
