"""A certificate's renewal time: a random minute, second and hour offset, four runs a day.

Drawn once per certificate and kept in state, so a re-run does not move it. Random placement spreads
a fleet's load on the CA evenly (see bench/fleet_load.py); never :00 of an hour or a minute, and
never derived from the clock or a machine id, which cloned VMs share.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from croniter import croniter

RUNS_PER_DAY = 4
PERIOD_HOURS = 24 // RUNS_PER_DAY
#: field name -> inclusive range
RANGES: dict[str, tuple[int, int]] = {
    "minute": (1, 59),
    "second": (1, 59),
    "hour_offset": (0, PERIOD_HOURS - 1),
}


def _check(name: str, value: object) -> int:
    low, high = RANGES[name]
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer {low}..{high}, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be {low}..{high}, got {value}")
    return value


@dataclass(frozen=True)
class RenewalSchedule:
    """Runs at hour_offset, +6, +12 and +18 h, at `minute`, after sleeping `second` seconds."""

    minute: int  # 1..59, never :00
    second: int  # 1..59: the entry sleeps this long first, so runs never start on a minute
    hour_offset: int  # 0..5

    def __post_init__(self) -> None:
        for name in RANGES:
            _check(name, getattr(self, name))

    @classmethod
    def draw(cls, rng: random.Random | None = None) -> RenewalSchedule:
        """A fresh random schedule; `rng` defaults to the OS CSPRNG (tests pass a seeded Random)."""
        rng = rng if rng is not None else secrets.SystemRandom()
        return cls(minute=rng.randint(*RANGES["minute"]), second=rng.randint(*RANGES["second"]),
                   hour_offset=rng.randint(*RANGES["hour_offset"]))

    @property
    def hours(self) -> tuple[int, int, int, int]:
        h = self.hour_offset
        return (h, h + PERIOD_HOURS, h + 2 * PERIOD_HOURS, h + 3 * PERIOD_HOURS)

    def cron_time(self) -> str:
        """The five time fields of the cron line, e.g. "17 3,9,15,21 * * *"."""
        return f"{self.minute} {','.join(str(h) for h in self.hours)} * * *"

    def describe(self) -> str:
        """E.g. "every day at 03:17:42, 09:17:42, 15:17:42 and 21:17:42" (cron's local time)."""
        times = [f"{h:02d}:{self.minute:02d}:{self.second:02d}" for h in self.hours]
        return f"every day at {', '.join(times[:-1])} and {times[-1]}"

    def next_runs(self, n: int, now: datetime) -> list[datetime]:
        """The next `n` run instants after `now`, in `now`'s time zone (taken as cron's local time).

        Across DST changes this follows Debian's cron: a time skipped in spring runs right after the
        jump (croniter moves it to the first minute that exists), and a time repeated in autumn runs
        once, at its first occurrence.
        """
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError(f"now must be timezone-aware, got {now.isoformat()}")
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        tz = now.tzinfo
        delay = timedelta(seconds=self.second)
        # A run (minute start + second) is still ahead if its minute began under `second` ago.
        start = (now.astimezone(UTC) - delay).astimezone(tz)
        it = croniter(self.cron_time(), start)
        runs: list[datetime] = []
        while len(runs) < n:
            slot: datetime = it.get_next(datetime)
            if slot.fold == 1 and slot.replace(fold=0).utcoffset() != slot.utcoffset():
                continue  # second pass through a repeated hour: cron does not run it again
            runs.append((slot.astimezone(UTC) + delay).astimezone(tz))
        return runs

    def to_dict(self) -> dict[str, int]:
        return {"minute": self.minute, "second": self.second, "hour_offset": self.hour_offset}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RenewalSchedule:
        """Rebuild from state; a missing or out-of-range field raises ValueError naming it."""
        values: dict[str, int] = {}
        for name in RANGES:
            if name not in d:
                raise ValueError(f"schedule is missing {name}")
            values[name] = _check(name, d[name])
        return cls(**values)
