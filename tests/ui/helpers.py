"""Build the real WizardApp with the plain-data collaborators of bncert_tui.ui.sample."""

from __future__ import annotations

import random
import threading
from typing import Any, TypeVar

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
        executor=sample.SampleExecutor(), renewer=sample.sample_renewer, reverter=sample.sample_reverter,
        cursor_blink=False)
    kwargs.update(overrides)
    if "loader" not in kwargs and kwargs["overview"] is not None:
        shown = kwargs["overview"]
        kwargs["loader"] = lambda: shown  # detecting again (after a run) finds the same VM
    return WizardApp(sample.sample_options(), **kwargs)


S = TypeVar("S", bound=Screen[Any])


async def wait_for_screen(pilot: Pilot[Any], kind: type[S], timeout: float = 10) -> S:
    """Pause until the app shows a screen of this type (the flow worker pushes screens async)."""
    for _ in range(int(timeout / 0.05)):
        screen = pilot.app.screen
        if isinstance(screen, kind):
            await pilot.pause()
            return screen
        await pilot.pause(0.05)
    raise AssertionError(f"expected {kind.__name__}, got {type(pilot.app.screen).__name__}")


async def type_text(pilot: Pilot[Any], text: str) -> None:
    """Type key by key (about 0.1 s a key under Pilot)."""
    await pilot.press(*text)


async def fill(pilot: Pilot[Any], text: str) -> None:
    """Put text in the focused Input at once: the same Changed messages as typing, much faster."""
    from textual.widgets import Input

    field = pilot.app.focused
    assert isinstance(field, Input), field
    field.value = text
    field.cursor_position = len(text)
    await pilot.pause()


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
    return await wait_for_screen(pilot, DomainsScreen)


async def to_review(pilot: Any, domains: str = "example.com www.example.com") -> ReviewScreen:
    await to_domains(pilot)
    await fill(pilot, domains)
    await pilot.press("enter")
    await wait_for_screen(pilot, RedirectsScreen)
    await pilot.press("ctrl+n")
    await wait_for_screen(pilot, AccountScreen)
    await fill(pilot, "admin@example.com")
    await pilot.press("tab", "space", "ctrl+n")
    await wait_for_screen(pilot, ScheduleScreen)
    await pilot.press("ctrl+n")
    return await wait_for_screen(pilot, ReviewScreen)


async def wait_event(pilot: Any, event: threading.Event, timeout: float = 10) -> bool:
    for _ in range(int(timeout / 0.05)):
        if event.is_set():
            return True
        await pilot.pause(0.05)
    return False
