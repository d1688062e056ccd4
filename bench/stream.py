"""Push 100,000 lines through the Run screen's log and measure what a user would feel.

The real WizardApp (sample VM, nothing touches disk) opens its Run screen on a job that writes N lines
from the worker thread as fast as it can, like a very chatty lego. Meanwhile a separate thread injects a
key press every 20 ms the way Textual's Linux driver does (call_soon_threadsafe from its input thread);
the key is bound to an action that records when it ran. Reports:
- lines/s end to end (first line reported -> last line on the screen),
- worst and p99 key-press delay while streaming (target < 100 ms),
- peak RSS of the process and how much it grew.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from textual import events
from textual.binding import Binding

from bncert_tui.core.events import APPLY_STEPS
from bncert_tui.ui import sample
from bncert_tui.ui.app import WizardApp
from bncert_tui.ui.run import RunScreen
from bncert_tui.ui.start import StartScreen

LINE = "2026/12/03 17:12:45 [INFO] [example.com] acme: Trying to solve HTTP-01 [line {}]"


class BenchApp(WizardApp):
    """The wizard plus one harmless binding whose action records when each key press was handled."""

    BINDINGS = [Binding("f12", "ping", "ping", show=False, priority=True)]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(sample.sample_options(), **kwargs)
        self.handled: list[float] = []

    def action_ping(self) -> None:
        self.handled.append(time.perf_counter())


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def bench(total: int, interval: float, rate: float) -> dict[str, float]:
    app = BenchApp(rng=random.Random(1), overview=sample.sample_overview(), clock=sample.fixed_clock,
                   planner=sample.sample_plan, executor=sample.SampleExecutor(), cursor_blink=False)
    produced = threading.Event()
    times: dict[str, float] = {}

    def job(reporter: Any, slot: Any) -> None:
        reporter.step("lego", "running")
        times["first"] = time.perf_counter()
        burst = max(1, int(rate / 100)) if rate else total
        for start in range(0, total, burst):
            for i in range(start, min(start + burst, total)):
                reporter.line(LINE.format(i))
            if rate:  # steady: `burst` lines every 10 ms
                time.sleep(max(0.0, times["first"] + (start + burst) / rate - time.perf_counter()))
        times["produced"] = time.perf_counter()
        produced.set()
        reporter.step("lego", "done")

    rss_before = rss_mib()
    async with app.run_test(size=(80, 24)) as pilot:
        while not isinstance(app.screen, StartScreen):
            await pilot.pause(0.01)
        await pilot.pause()
        loop = asyncio.get_running_loop()
        app.run_worker(app.run_job("Run", APPLY_STEPS, job), exclusive=False)
        while not isinstance(app.screen, RunScreen):
            await pilot.pause(0.01)
        run: RunScreen = app.screen
        posted: list[float] = []
        stop = threading.Event()

        def presser() -> None:
            while not stop.is_set():
                posted.append(time.perf_counter())
                loop.call_soon_threadsafe(app.post_message, events.Key("f12", None))
                time.sleep(interval)

        keys = threading.Thread(target=presser, daemon=True)
        keys.start()
        while run.lines < total or run.pending:
            await asyncio.sleep(0.005)
        times["shown"] = time.perf_counter()
        stop.set()
        keys.join()
        await pilot.pause(0.2)
        log_lines = run.query_one("#log").line_count  # type: ignore[attr-defined]
    delays = [(h - p) * 1000 for p, h in zip(posted, app.handled, strict=False)]
    streaming = [d for p, d in zip(posted, delays, strict=False) if p <= times["shown"]]
    return {
        "lines": total,
        "seconds": times["shown"] - times["first"],
        "lines_per_s": total / (times["shown"] - times["first"]),
        "producer_s": times["produced"] - times["first"],
        "keys": len(streaming),
        "keys_lost": len(posted) - len(app.handled),
        "worst_ms": max(streaming) if streaming else float("nan"),
        "p99_ms": statistics.quantiles(streaming, n=100)[98] if len(streaming) >= 100 else max(streaming),
        "median_ms": statistics.median(streaming) if streaming else float("nan"),
        "rss_before_mib": rss_before,
        "peak_rss_mib": rss_mib(),
        "log_lines_kept": log_lines,
        "skipped": run.skipped,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--interval", type=float, default=0.02, help="seconds between key presses")
    parser.add_argument("--rate", type=float, default=20_000,
                        help="lines/s of the steady run (the flood run is as fast as the thread goes)")
    args = parser.parse_args()
    worst = 0.0
    lost = 0
    for label, rate in (("flood", 0.0), ("steady", args.rate)):
        r = asyncio.run(bench(args.lines, args.interval, rate))
        worst, lost = max(worst, r["worst_ms"]), lost + int(r["keys_lost"])
        print(f"[{label}] {r['lines']:,} lines in {r['seconds']:.2f} s = {r['lines_per_s']:,.0f} lines/s "
              f"(producer done after {r['producer_s']:.2f} s; {r['skipped']:,} skipped on screen, "
              f"{r['log_lines_kept']:,} kept in the Log)")
        print(f"[{label}] key-press delay over {r['keys']} presses: median {r['median_ms']:.1f} ms, "
              f"p99 {r['p99_ms']:.1f} ms, worst {r['worst_ms']:.1f} ms (target < 100 ms); "
              f"lost {r['keys_lost']}")
        print(f"[{label}] peak RSS {r['peak_rss_mib']:.0f} MiB (process; {r['rss_before_mib']:.0f} MiB "
              "before the app started)")
    print(f"worst key-press delay ms: {worst:.1f}")
    return 0 if worst < 100 and lost == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
