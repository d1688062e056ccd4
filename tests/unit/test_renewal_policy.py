"""Renewal window, lego's --days translation and the retry backoff."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bncert_tui.core.renewal_policy import (
    days_argument,
    is_due,
    lego_would_renew,
    may_attempt,
    renew_at,
    renewal_fraction,
    window_position,
)

NB = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
D = timedelta(days=1)
H = timedelta(hours=1)


def cert(days: float) -> tuple[datetime, datetime]:
    return NB, NB + timedelta(days=days)


def lego_needs_renewal(days: int, not_after: datetime, now: datetime) -> bool:
    """Independent copy of lego 4.9.1 cmd_renew.go needRenewal, on float hours like Go."""
    if days < 0:
        return True
    hours = (not_after - now).total_seconds() / 3600
    return int(hours / 24.0) <= days


def test_fractions() -> None:
    assert renewal_fraction(timedelta(days=90)) == pytest.approx(1 / 3)
    assert renewal_fraction(timedelta(days=45)) == pytest.approx(1 / 3)
    assert renewal_fraction(timedelta(days=11)) == pytest.approx(1 / 3)
    assert renewal_fraction(timedelta(days=10)) == pytest.approx(1 / 2)
    assert renewal_fraction(timedelta(hours=160)) == pytest.approx(1 / 2)
    assert renewal_fraction(timedelta(days=6)) == pytest.approx(1 / 2)
    with pytest.raises(ValueError):
        renewal_fraction(timedelta(0))


@pytest.mark.parametrize(("lifetime", "due_day"), [(90, 60), (45, 30), (6, 3), (64, 64 - 64 / 3)])
def test_renew_at_and_is_due(lifetime: float, due_day: float) -> None:
    nb, na = cert(lifetime)
    start = renew_at(nb, na)
    assert abs(start - (nb + timedelta(days=due_day))) < timedelta(microseconds=2)
    assert not is_due(nb, na, start - timedelta(seconds=1))
    assert is_due(nb, na, start)
    assert is_due(nb, na, na + D)  # expired: still wants a new certificate


def test_lets_encrypt_shaped_certificates() -> None:
    # LE sets notAfter = notBefore + lifetime - 1 s
    nb, na = NB, NB + timedelta(days=90, seconds=-1)
    assert renew_at(nb, na).date() == (NB + 60 * D).date()
    short_nb, short_na = NB, NB + timedelta(hours=160, seconds=-1)
    assert abs(renew_at(short_nb, short_na) - (NB + 80 * H)) < timedelta(seconds=1)


def test_naive_datetimes_are_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        is_due(NB, NB + 90 * D, datetime(2026, 3, 1))
    with pytest.raises(ValueError, match="after"):
        renew_at(NB, NB)


@pytest.mark.parametrize("lifetime", [90, 45, 64, 30, 14, 10, 6, 160 / 24, 3, 1.5])
def test_days_argument_agrees_with_lego_at_many_instants(lifetime: float) -> None:
    nb, na = cert(lifetime)
    rng = random.Random(int(lifetime * 1000))
    span = na + 3 * D - nb
    instants = [nb + span * rng.random() for _ in range(3000)]
    start = renew_at(nb, na)
    # and right around the window start and every whole "days left" boundary lego sees
    instants += [start + timedelta(seconds=s) for s in (-3600, -61, -1, 0, 1, 61, 3600)]
    instants += [na - timedelta(days=k, seconds=s) for k in range(math.ceil(lifetime) + 1)
                 for s in (-1, 1)]
    for now in instants:
        n = days_argument(nb, na, now)
        assert n >= 0
        if lifetime >= 2:  # below 2 days N = 0 cannot say "not yet" (documented)
            assert lego_needs_renewal(n, na, now) == is_due(nb, na, now), (lifetime, now, n)
        if is_due(nb, na, now):
            assert lego_needs_renewal(n, na, now)
        assert lego_would_renew(n, na, now) == lego_needs_renewal(n, na, now)


@pytest.mark.parametrize(("lifetime", "steady"),
                         [(90, 29), (45, 14), (6, 2), (160 / 24, 3), (64, 21)])
def test_days_argument_steady_value(lifetime: float, steady: int) -> None:
    """Far from the window the answer is ceil(window) - 1, the value a fixed --days would carry."""
    nb, na = cert(lifetime)
    assert days_argument(nb, na, nb + timedelta(hours=1)) == steady
    assert days_argument(nb, na, na - timedelta(hours=1)) == steady  # deep in the window
    assert days_argument(nb, na, na + 5 * D) == steady  # expired: lego renews with any N >= 0


def test_fixed_days_on_short_lived_certificates_renew_early() -> None:
    """With a fixed --days 3 on a 160 h certificate lego renews at 64 h, 16 h before the window."""
    nb, na = NB, NB + 160 * H
    assert lego_needs_renewal(3, na, nb + 64 * H + timedelta(seconds=1))
    assert not is_due(nb, na, nb + 64 * H + timedelta(seconds=1))
    assert is_due(nb, na, nb + 80 * H)


def test_may_attempt_backoff() -> None:
    nb, na = cert(90)
    fail = nb + 61 * D
    assert may_attempt(fail, None, nb, na)
    assert not may_attempt(fail + 6 * H, fail, nb, na)
    assert not may_attempt(fail + 22 * H + 59 * timedelta(minutes=1), fail, nb, na)
    assert may_attempt(fail + 23 * H, fail, nb, na)
    # less than 1/6 of the lifetime (15 days) left: every run may try
    urgent = na - 15 * D + timedelta(seconds=1)
    assert may_attempt(urgent, urgent - H, nb, na)
    assert not may_attempt(na - 15 * D - timedelta(seconds=1), na - 15 * D - 2 * H, nb, na)
    # expired: keep trying
    assert may_attempt(na + D, na + D - H, nb, na)
    # a failure from before the current certificate does not count
    assert may_attempt(nb + D, nb - H, nb, na)


def test_may_attempt_short_lived() -> None:
    nb, na = cert(6)  # 1/6 = 1 day
    fail = nb + 3 * D
    assert not may_attempt(fail + 12 * H, fail, nb, na)
    assert may_attempt(na - 23 * H, na - 24 * H - timedelta(seconds=1), nb, na)


def test_window_position() -> None:
    nb, na = cert(90)
    assert window_position(nb, na, nb + D) == "not due (renews from 2026-03-02)"
    assert window_position(nb, na, nb + 60 * D) == "due"
    assert window_position(nb, na, nb + 61 * D) == "due"
    assert window_position(nb, na, nb + 61 * D + timedelta(seconds=1)) == "overdue"
    assert window_position(nb, na, na - timedelta(seconds=1)) == "overdue"
    assert window_position(nb, na, na) == "expired"


def test_window_position_date_in_callers_zone() -> None:
    nb = datetime(2026, 1, 1, 23, 30, tzinfo=UTC)
    na = nb + 90 * D  # window opens 2026-03-02 23:30 UTC = 2026-03-03 00:30 in Berlin
    assert window_position(nb, na, nb).endswith("(renews from 2026-03-02)")
    berlin_now = nb.astimezone(ZoneInfo("Europe/Berlin"))
    assert window_position(nb, na, berlin_now).endswith("(renews from 2026-03-03)")
