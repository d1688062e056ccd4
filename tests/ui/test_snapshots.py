"""Snapshots of every wizard screen at 80x24 (pytest-textual-snapshot).

Deterministic: the sample VM at /opt/bitnami (no temp paths), a fixed schedule seed, a fixed clock in a
fixed zone, a fixed monotonic clock (every elapsed time reads 0.0s), no cursor blink.
Update with `pytest tests/ui/test_snapshots.py --snapshot-update` after checking the change by eye.
"""

from __future__ import annotations

import threading
from typing import Any

from bncert_tui.ui import sample
from bncert_tui.ui.account import AccountScreen
from bncert_tui.ui.common import ConfirmModal, ErrorModal
from bncert_tui.ui.redirects import RedirectsScreen
from bncert_tui.ui.result import ResultScreen
from bncert_tui.ui.review import DiffScreen
from bncert_tui.ui.run import RunScreen
from bncert_tui.ui.schedule import ScheduleScreen
from bncert_tui.ui.start import StartScreen

from .helpers import sample_app, to_domains, to_review, type_text, wait_for_screen

SIZE = (80, 24)


async def _settle(pilot: Any) -> None:
    await pilot.pause()
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()


async def _finish_run(pilot: Any) -> RunScreen:
    run: RunScreen = await wait_for_screen(pilot, RunScreen)
    for _ in range(200):
        if run.outcome is not None:
            break
        await pilot.pause(0.05)
    await _settle(pilot)
    return run


def test_start_fresh(snap_compare: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await wait_for_screen(pilot, StartScreen)
        await _settle(pilot)

    assert snap_compare(sample_app(), terminal_size=SIZE, run_before=run_before)


def test_start_managed(snap_compare: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await wait_for_screen(pilot, StartScreen)
        await _settle(pilot)

    assert snap_compare(sample_app(managed=True), terminal_size=SIZE, run_before=run_before)


def test_start_problems(snap_compare: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await wait_for_screen(pilot, StartScreen)
        await _settle(pilot)

    assert snap_compare(sample_app(problems=True), terminal_size=SIZE, run_before=run_before)


def test_start_legacy(snap_compare: Any) -> None:
    from bncert_tui.ui import sample as data

    async def run_before(pilot: Any) -> None:
        await wait_for_screen(pilot, StartScreen)
        await _settle(pilot)

    app = sample_app(overview=data.sample_overview(legacy=True))
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_domains_suggestions(snap_compare: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await to_domains(pilot)
        await type_text(pilot, "example.org")
        await _settle(pilot)

    assert snap_compare(sample_app(), terminal_size=SIZE, run_before=run_before)


def test_domains_invalid(snap_compare: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await to_domains(pilot)
        await type_text(pilot, "example.com shop_1.example.com")
        await pilot.press("enter")
        await _settle(pilot)

    assert snap_compare(sample_app(), terminal_size=SIZE, run_before=run_before)


def test_redirects(snap_compare: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await to_domains(pilot)
        await type_text(pilot, "example.com www.example.com")
        await pilot.press("enter")
        await wait_for_screen(pilot, RedirectsScreen)
        await _settle(pilot)

    assert snap_compare(sample_app(), terminal_size=SIZE, run_before=run_before)


def test_account_invalid(snap_compare: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await to_domains(pilot)
        await type_text(pilot, "example.com")
        await pilot.press("enter", "ctrl+n")
        await wait_for_screen(pilot, AccountScreen)
        await type_text(pilot, "admin@example")
        await pilot.press("enter")
        await _settle(pilot)

    assert snap_compare(sample_app(), terminal_size=SIZE, run_before=run_before)


def test_schedule(snap_compare: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await to_review(pilot)
        await pilot.press("escape")
        await wait_for_screen(pilot, ScheduleScreen)
        await _settle(pilot)

    assert snap_compare(sample_app(), terminal_size=SIZE, run_before=run_before)


def test_review(snap_compare: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await to_review(pilot)
        await _settle(pilot)

    assert snap_compare(sample_app(), terminal_size=SIZE, run_before=run_before)


def test_diff(snap_compare: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await to_review(pilot)
        await pilot.press("d")
        await wait_for_screen(pilot, DiffScreen)
        await _settle(pilot)

    assert snap_compare(sample_app(), terminal_size=SIZE, run_before=run_before)


def test_run_in_progress(snap_compare: Any) -> None:
    executor = sample.SampleExecutor(stop_at="lego")

    async def run_before(pilot: Any) -> None:
        await to_review(pilot)
        await pilot.press("ctrl+n")
        await wait_for_screen(pilot, RunScreen)
        for _ in range(200):
            if executor.reached.is_set():
                break
            await pilot.pause(0.05)
        await pilot.pause(0.3)  # one drain of the queue
        await _settle(pilot)
        threading.Timer(1.0, executor.release).start()  # let the worker end after the snapshot

    assert snap_compare(sample_app(executor=executor), terminal_size=SIZE, run_before=run_before)


def test_run_cancel_question(snap_compare: Any) -> None:
    executor = sample.SampleExecutor(stop_at="lego")

    async def run_before(pilot: Any) -> None:
        await to_review(pilot)
        await pilot.press("ctrl+n")
        await wait_for_screen(pilot, RunScreen)
        for _ in range(200):
            if executor.reached.is_set():
                break
            await pilot.pause(0.05)
        await pilot.pause(0.3)
        await pilot.press("ctrl+c")
        await wait_for_screen(pilot, ConfirmModal)
        await _settle(pilot)
        threading.Timer(1.0, executor.release).start()

    assert snap_compare(sample_app(executor=executor), terminal_size=SIZE, run_before=run_before)


def test_run_finished(snap_compare: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await to_review(pilot)
        await pilot.press("ctrl+n")
        await _finish_run(pilot)

    assert snap_compare(sample_app(), terminal_size=SIZE, run_before=run_before)


def test_result_success(snap_compare: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await to_review(pilot)
        await pilot.press("ctrl+n")
        await _finish_run(pilot)
        await pilot.press("enter")
        await wait_for_screen(pilot, ResultScreen)
        await _settle(pilot)

    assert snap_compare(sample_app(), terminal_size=SIZE, run_before=run_before)


def test_result_failure(snap_compare: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await to_review(pilot)
        await pilot.press("ctrl+n")
        await _finish_run(pilot)
        await pilot.press("enter")
        await wait_for_screen(pilot, ResultScreen)
        await _settle(pilot)

    app = sample_app(executor=sample.SampleExecutor(fail_at="lego"))
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_error_modal(snap_compare: Any) -> None:
    from bncert_tui.core.errors import StackError

    def planner(*_: Any) -> Any:
        raise StackError("The nginx configuration test fails before any change",
                         'nginx: [emerg] unknown directive "ssl_certificat" in '
                         "/opt/bitnami/nginx/conf/server_blocks/wordpress-https-server-block.conf:7",
                         "Fix the configuration first; nothing was changed.")

    async def run_before(pilot: Any) -> None:
        await to_domains(pilot)
        await type_text(pilot, "example.com")
        await pilot.press("enter", "ctrl+n")
        await wait_for_screen(pilot, AccountScreen)
        await type_text(pilot, "admin@example.com")
        await pilot.press("tab", "space", "ctrl+n")
        await wait_for_screen(pilot, ErrorModal)
        await _settle(pilot)

    assert snap_compare(sample_app(planner=planner), terminal_size=SIZE, run_before=run_before)


def test_domains_at_120x36(snap_compare: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await to_domains(pilot)
        await type_text(pilot, "example.org")
        await _settle(pilot)

    assert snap_compare(sample_app(), terminal_size=(120, 36), run_before=run_before)


def test_start_detecting(snap_compare: Any) -> None:
    """The first paint, before detection (a thread) has reported."""
    gate = threading.Event()

    def loader() -> Any:
        gate.wait(10)
        return sample.sample_overview()

    async def run_before(pilot: Any) -> None:
        await wait_for_screen(pilot, StartScreen)
        await _settle(pilot)

    try:
        assert snap_compare(sample_app(overview=None, loader=loader), terminal_size=SIZE,
                            run_before=run_before)
    finally:
        gate.set()


def test_renew_result(snap_compare: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await wait_for_screen(pilot, StartScreen)
        await pilot.press("r")
        await wait_for_screen(pilot, ConfirmModal)
        await pilot.press("y")
        await _finish_run(pilot)
        await pilot.press("enter")
        await wait_for_screen(pilot, ResultScreen)
        await _settle(pilot)

    assert snap_compare(sample_app(managed=True), terminal_size=SIZE, run_before=run_before)


def test_revert_question(snap_compare: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await wait_for_screen(pilot, StartScreen)
        await pilot.press("v")
        await wait_for_screen(pilot, ConfirmModal)
        await _settle(pilot)

    assert snap_compare(sample_app(managed=True), terminal_size=SIZE, run_before=run_before)
