"""When a certificate is due for renewal, and how often a failing renewal may try again.

Pure functions, no I/O and no clock: every caller passes `now`, so the CLI, the tests and the fleet
benchmark replay any instant the same way. All datetimes must be timezone-aware.

The window is the one lego >= 4.25 uses for `renew --dynamic` (and Let's Encrypt recommends): renew
when 1/3 of the lifetime is left, 1/2 for short-lived certificates. Older lego (Debian's 4.9.1,
Bitnami's 4.15) only knows `--days N`, so `days_argument` translates the window into N.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

DAY = timedelta(days=1)
#: Certificates living at most this long (after lego's rounding to whole days) renew at 1/2.
SHORT_LIVED_DAYS = 10
#: After a failed attempt, wait this long before the next order (cron still checks every 6 h).
RETRY_INTERVAL = timedelta(hours=23)
#: With less than this fraction of the lifetime left, every scheduled run may try again.
URGENT_FRACTION = 1 / 6
#: Past the start of the window by more than this, several scheduled runs should have renewed it.
OVERDUE_AFTER = DAY


def _require_aware(**values: datetime) -> None:
    for name, value in values.items():
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"{name} must be timezone-aware, got {value.isoformat()}")


def _lifetime(not_before: datetime, not_after: datetime) -> timedelta:
    _require_aware(not_before=not_before, not_after=not_after)
    lifetime = not_after - not_before
    if lifetime <= timedelta(0):
        raise ValueError(f"not_after ({not_after.isoformat()}) must be after "
                         f"not_before ({not_before.isoformat()})")
    return lifetime


def _divisor(lifetime: timedelta) -> int:
    # lego: lifetime.Round(24h) <= 10 days -> 1/2. Go rounds half away from zero, so a 10.4-day
    # certificate still counts as short-lived; matching lego keeps `--dynamic` and us in agreement.
    whole_days = math.floor(lifetime / DAY + 0.5)
    return 2 if whole_days <= SHORT_LIVED_DAYS else 3


def renewal_fraction(lifetime: timedelta) -> float:
    """Fraction of the lifetime left when renewal starts: 1/3, or 1/2 for <= 10-day certificates."""
    if lifetime <= timedelta(0):
        raise ValueError(f"lifetime must be positive, got {lifetime}")
    return 1 / _divisor(lifetime)


def renew_at(not_before: datetime, not_after: datetime) -> datetime:
    """Start of the renewal window (90 days: day 60; 45 days: day 30; 6 days: day 3)."""
    lifetime = _lifetime(not_before, not_after)
    return not_after - lifetime // _divisor(lifetime)


def is_due(not_before: datetime, not_after: datetime, now: datetime) -> bool:
    """True from the start of the window on, also after expiry (a lapsed cert needs a new one)."""
    _require_aware(now=now)
    return now >= renew_at(not_before, not_after)


def lego_days_left(not_after: datetime, now: datetime) -> int:
    """lego's `int(time.Until(NotAfter).Hours() / 24.0)`: whole days left, truncated toward zero."""
    _require_aware(not_after=not_after, now=now)
    return math.trunc((not_after - now) / DAY)


def lego_would_renew(days: int, not_after: datetime, now: datetime) -> bool:
    """lego 4.x `renew --days N` (cmd_renew.go needRenewal): N < 0 always, else days left <= N."""
    return days < 0 or lego_days_left(not_after, now) <= days


def days_argument(not_before: datetime, not_after: datetime, now: datetime) -> int:
    """`--days N` for lego without `--dynamic`, so lego renews at `now` exactly when `is_due`.

    lego renews when int(days left) <= N, that is when less than N + 1 days are left. The window is
    W days long (30 for 90-day certificates), so the steady value is N = ceil(W) - 1: lego then
    renews when less than ceil(W) days are left. For a whole W that is the start of the window; for
    a fractional W lego could renew up to ceil(W) - W (< 1 day) early. Let's Encrypt's 6-day
    certificates live 160 h, so W = 80 h = 3.33 days and N = 3: a fixed `--days 3` renews 16 h early
    (at 64 h of 160). Because the cron entry computes N at run time, the last day before the window
    gets N = days left - 1 (lego skips) and the window gets N >= days left (lego renews), so the
    answer is exact at `now`; lego starts a moment later, which at worst moves a renewal to the next
    scheduled run. N is never negative (lego treats N < 0 as "always renew"): for a certificate
    shorter than 2 days, lego may then renew up to 1 day early.
    """
    window = not_after - renew_at(not_before, not_after)
    steady = max(math.ceil(window / DAY) - 1, 0)
    left = lego_days_left(not_after, now)
    if is_due(not_before, not_after, now):
        return max(steady, left)
    return max(min(steady, left - 1), 0)


def may_attempt(now: datetime, last_failure: datetime | None, not_before: datetime,
                not_after: datetime) -> bool:
    """Back off after a failure: one new order per 23 h, unless under 1/6 of the lifetime is left.

    This only limits retries; whether a renewal is wanted at all is `is_due`. A failure older than
    the current certificate belongs to an earlier one and is ignored. A lapsed certificate may try.
    """
    _require_aware(now=now)
    lifetime = _lifetime(not_before, not_after)
    if last_failure is None:
        return True
    _require_aware(last_failure=last_failure)
    if last_failure < not_before:
        return True
    if not_after - now < lifetime * URGENT_FRACTION:
        return True
    return now - last_failure >= RETRY_INTERVAL


def window_position(not_before: datetime, not_after: datetime, now: datetime) -> str:
    """A short status: "not due (renews from 2026-01-30)", "due", "overdue" or "expired".

    The date is shown in `now`'s time zone (pass local time to show local dates).
    """
    _require_aware(now=now)
    start = renew_at(not_before, not_after)
    if now >= not_after:
        return "expired"
    if now < start:
        return f"not due (renews from {start.astimezone(now.tzinfo).date().isoformat()})"
    if now - start > OVERDUE_AFTER:
        return "overdue"
    return "due"
