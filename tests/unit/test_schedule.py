"""RenewalSchedule: ranges, cron/describe wording, next runs in UTC and across Berlin's DST."""

from __future__ import annotations

import itertools
import random
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from cron_descriptor import ExpressionDescriptor, Options
from croniter import croniter
from hypothesis import given
from hypothesis import strategies as st

from bncert_tui.core.schedule import RenewalSchedule

BERLIN = ZoneInfo("Europe/Berlin")


@given(st.integers(min_value=0, max_value=2**64))
def test_every_draw_is_in_range_and_never_on_zero(seed: int) -> None:
    s = RenewalSchedule.draw(random.Random(seed))
    assert 1 <= s.minute <= 59
    assert 1 <= s.second <= 59
    assert 0 <= s.hour_offset <= 5
    assert s.hours == (s.hour_offset, s.hour_offset + 6, s.hour_offset + 12, s.hour_offset + 18)


def test_seeded_draws_vary_and_cover_the_ranges() -> None:
    rng = random.Random(1234)
    draws = [RenewalSchedule.draw(rng) for _ in range(3000)]
    assert len(set(draws)) > 2500
    assert {d.minute for d in draws} == set(range(1, 60))
    assert {d.second for d in draws} == set(range(1, 60))
    assert {d.hour_offset for d in draws} == set(range(6))
    # the same seed gives the same schedule (tests and the benchmark rely on it)
    assert RenewalSchedule.draw(random.Random(7)) == RenewalSchedule.draw(random.Random(7))


def test_default_draw_uses_system_randomness() -> None:
    draws = {RenewalSchedule.draw() for _ in range(50)}
    assert len(draws) > 40


@pytest.mark.parametrize(("field", "value"), [
    ("minute", 0), ("minute", 60), ("second", 0), ("second", 60), ("hour_offset", -1),
    ("hour_offset", 6),
])
def test_out_of_range_is_rejected_naming_the_field(field: str, value: int) -> None:
    values = {"minute": 17, "second": 42, "hour_offset": 3, field: value}
    with pytest.raises(ValueError, match=field):
        RenewalSchedule(**values)
    with pytest.raises(ValueError, match=field):
        RenewalSchedule.from_dict(values)


@pytest.mark.parametrize("bad", [{"minute": 17, "second": 42}, {"minute": "17", "second": 42,
                                                                 "hour_offset": 3},
                                 {"minute": 17, "second": True, "hour_offset": 3}])
def test_from_dict_rejects_missing_and_non_int(bad: dict[str, object]) -> None:
    missing = next(k for k in ("minute", "second", "hour_offset")
                   if k not in bad or type(bad[k]) is not int)
    with pytest.raises(ValueError, match=missing):
        RenewalSchedule.from_dict(bad)


def test_dict_round_trip() -> None:
    s = RenewalSchedule(minute=17, second=42, hour_offset=3)
    assert s.to_dict() == {"minute": 17, "second": 42, "hour_offset": 3}
    assert RenewalSchedule.from_dict(s.to_dict()) == s


def test_cron_time_and_describe_exact() -> None:
    s = RenewalSchedule(minute=17, second=42, hour_offset=3)
    assert s.cron_time() == "17 3,9,15,21 * * *"
    assert s.describe() == "every day at 03:17:42, 09:17:42, 15:17:42 and 21:17:42"
    early = RenewalSchedule(minute=5, second=7, hour_offset=0)
    assert early.cron_time() == "5 0,6,12,18 * * *"
    assert early.describe() == "every day at 00:05:07, 06:05:07, 12:05:07 and 18:05:07"


def test_cron_time_agrees_with_cron_descriptor() -> None:
    """An independent reading of the cron fields gives describe()'s times without the second."""
    options = Options()
    options.use_24hour_time_format = True
    rng = random.Random(5)
    for s in [RenewalSchedule(minute=17, second=42, hour_offset=3),
              *(RenewalSchedule.draw(rng) for _ in range(30))]:
        theirs = ExpressionDescriptor(s.cron_time(), options).get_description()
        ours = re.sub(r"(\d\d:\d\d):\d\d", r"\1", s.describe())
        assert theirs == "At " + ours.removeprefix("every day at "), (theirs, ours)


def test_next_runs_utc_across_midnight() -> None:
    s = RenewalSchedule(minute=17, second=42, hour_offset=3)
    now = datetime(2026, 1, 1, 21, 17, 41, tzinfo=UTC)  # one second before a run
    runs = s.next_runs(6, now)
    assert runs == [
        datetime(2026, 1, 1, 21, 17, 42, tzinfo=UTC),
        datetime(2026, 1, 2, 3, 17, 42, tzinfo=UTC),
        datetime(2026, 1, 2, 9, 17, 42, tzinfo=UTC),
        datetime(2026, 1, 2, 15, 17, 42, tzinfo=UTC),
        datetime(2026, 1, 2, 21, 17, 42, tzinfo=UTC),
        datetime(2026, 1, 3, 3, 17, 42, tzinfo=UTC),
    ]
    assert all(r.tzinfo is UTC for r in runs)
    # exactly at a run instant: that run is not "next"
    assert s.next_runs(1, datetime(2026, 1, 1, 21, 17, 42, tzinfo=UTC))[0] == runs[1]
    # inside the minute but before its second: the run is still ahead
    assert s.next_runs(1, datetime(2026, 1, 1, 21, 17, 10, tzinfo=UTC))[0] == runs[0]
    assert s.next_runs(0, now) == []


def test_next_runs_are_six_hours_apart_and_agree_with_croniter() -> None:
    rng = random.Random(99)
    now = datetime(2026, 5, 17, 13, 3, 5, tzinfo=UTC)
    for _ in range(50):
        s = RenewalSchedule.draw(rng)
        runs = s.next_runs(8, now)
        assert runs[0] > now
        assert all(b - a == timedelta(hours=6) for a, b in itertools.pairwise(runs))
        assert all((r.minute, r.second) == (s.minute, s.second) for r in runs)
        assert {r.hour % 6 for r in runs} == {s.hour_offset}
        slots = croniter(s.cron_time(), now - timedelta(minutes=1))
        first = slots.get_next(datetime) + timedelta(seconds=s.second)
        if first <= now:
            first = slots.get_next(datetime) + timedelta(seconds=s.second)
        assert runs[0] == first


def test_next_runs_spring_forward_berlin() -> None:
    # 2026-03-29 02:00 CET -> 03:00 CEST: 02:17 does not exist; cron runs it right after the jump.
    s = RenewalSchedule(minute=17, second=42, hour_offset=2)
    runs = s.next_runs(4, datetime(2026, 3, 28, 22, 0, tzinfo=BERLIN))
    assert [r.isoformat() for r in runs] == [
        "2026-03-29T03:00:42+02:00",
        "2026-03-29T08:17:42+02:00",
        "2026-03-29T14:17:42+02:00",
        "2026-03-29T20:17:42+02:00",
    ]
    assert all(r.tzinfo is BERLIN for r in runs)


def test_next_runs_fall_back_berlin_runs_the_repeated_time_once() -> None:
    # 2026-10-25 03:00 CEST -> 02:00 CET: 02:17 happens twice; cron runs it once.
    s = RenewalSchedule(minute=17, second=42, hour_offset=2)
    runs = s.next_runs(4, datetime(2026, 10, 24, 22, 0, tzinfo=BERLIN))
    assert [r.isoformat() for r in runs] == [
        "2026-10-25T02:17:42+02:00",
        "2026-10-25T08:17:42+01:00",
        "2026-10-25T14:17:42+01:00",
        "2026-10-25T20:17:42+01:00",
    ]
    # 7 h of real time between the first two runs that day (the clock went back one hour)
    assert runs[1].astimezone(UTC) - runs[0].astimezone(UTC) == timedelta(hours=7)


def test_next_runs_across_midnight_in_berlin_keep_local_wall_time() -> None:
    s = RenewalSchedule(minute=59, second=59, hour_offset=5)
    runs = s.next_runs(3, datetime(2026, 7, 1, 23, 59, 0, tzinfo=BERLIN))
    assert [r.isoformat() for r in runs] == [
        "2026-07-01T23:59:59+02:00",
        "2026-07-02T05:59:59+02:00",
        "2026-07-02T11:59:59+02:00",
    ]


def test_next_runs_needs_an_aware_datetime() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        RenewalSchedule(1, 1, 0).next_runs(1, datetime(2026, 1, 1))
