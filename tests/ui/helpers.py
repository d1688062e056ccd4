"""Build the real WizardApp with the plain-data collaborators of bncert_tui.ui.sample."""

from __future__ import annotations

import random
from typing import Any

from textual.pilot import Pilot
from textual.screen import Screen

from bncert_tui.ui import sample
from bncert_tui.ui.account import AccountScreen
from bncert_tui.ui.app import WizardApp
from bncert_tui.ui.domains import DomainsScreen
from bncert_tui.ui.redirects import RedirectsScreen
from bncert_tui.ui.review import ReviewScreen
from bncert_tui.ui.schedule import ScheduleScreen
from bncert_tui.ui.start import StartScreen


def sample_app(*, managed: bool = False, problems: bool = False, **overrides: Any) -> WizardApp:
    """A wizard on the sample VM: fixed seed, fixed clock, no cursor blink, nothing touches disk."""
    kwargs: dict[str, Any] = dict(
        rng=random.Random(sample.SEED), overview=sample.sample_overview(managed=managed, problems=problems),
        clock=sample.fixed_clock, monotonic=sample.fixed_monotonic, planner=sample.sample_plan,
        executor=sample.SampleExecutor(), cursor_blink=False)
    kwargs.update(overrides)
    return WizardApp(sample.sample_options(), **kwargs)


async def wait_for_screen(pilot: Pilot[Any], kind: type[Screen[Any]], timeout: float = 10) -> Screen[Any]:
    """Pause until the app shows a screen of this type (the flow worker pushes screens async)."""
    for _ in range(int(timeout / 0.05)):
        if isinstance(pilot.app.screen, kind):
            await pilot.pause()
            return pilot.app.screen
        await pilot.pause(0.05)
    raise AssertionError(f"expected {kind.__name__}, got {type(pilot.app.screen).__name__}")


async def type_text(pilot: Pilot[Any], text: str) -> None:
    await pilot.press(*text)


def plain(widget: Any, width: int = 200) -> str:
    """The text a Static shows (Text, Table or Group), without styles."""
    import io

    from rich.console import Console

    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    console.print(widget.content)
    return console.export_text()


async def to_domains(pilot: Any) -> DomainsScreen:
    await wait_for_screen(pilot, StartScreen)
    await pilot.press("n")
    return await wait_for_screen(pilot, DomainsScreen)  # type: ignore[return-value]


async def to_review(pilot: Any, domains: str = "example.com www.example.com") -> ReviewScreen:
    await to_domains(pilot)
    await type_text(pilot, domains)
    await pilot.press("enter")
    await wait_for_screen(pilot, RedirectsScreen)
    await pilot.press("ctrl+n")
    await wait_for_screen(pilot, AccountScreen)
    await type_text(pilot, "admin@example.com")
    await pilot.press("tab", "space", "ctrl+n")
    await wait_for_screen(pilot, ScheduleScreen)
    await pilot.press("ctrl+n")
    return await wait_for_screen(pilot, ReviewScreen)  # type: ignore[return-value]
