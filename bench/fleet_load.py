"""Fleet benchmark: the load 1,000,000 VMs put on the CA with our schedule, and with bncert-tool's.

Each VM draws a RenewalSchedule (4 runs a day at a random H:M:S), holds a 90-day certificate and
follows bncert_tui.core.renewal_policy: at each scheduled run where the certificate is due (and the
retry backoff allows) lego sleeps uniform [0, 8 min) and orders; success replaces the certificate.
The old bncert-tool line is `0 0 * * *` with `lego renew --days 30` (same lego sleep, no backoff).

Ages start in steady state: each VM is at a uniformly random point of its renewal cycle (~60
days; see Scheduler.steady_not_before). Taken literally, "uniform 0-90 days" makes the third of the
fleet older than 60 days due at once: a start-up storm in the first 6 hours that no schedule can
avoid, and certificates in their last hours lapsing before their first run. `--start uniform90`
shows that variant.

Needs numpy (a bench-only dependency): `.venv/bin/pip install numpy`.
Usage: .venv/bin/python bench/fleet_load.py [--vms N] [--seed S] [--start steady|uniform90]
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

try:
    import numpy as np
except ImportError:  # pragma: no cover - depends on the environment
    sys.exit("bench/fleet_load.py needs numpy (bench-only dependency): .venv/bin/pip install numpy")

try:
    from bncert_tui.core import renewal_policy as policy
    from bncert_tui.core.schedule import RenewalSchedule
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from bncert_tui.core import renewal_policy as policy
    from bncert_tui.core.schedule import RenewalSchedule

DAY = 86_400.0
HORIZON = 90 * DAY
LIFETIME = 90 * DAY
LEGO_SLEEP = 480.0  # lego: uniform [0, 8 min) before an order when not on a terminal
PERIOD = 6 * 3600.0  # our four runs a day
OUTAGE = (30 * DAY, 31 * DAY)  # the CA is down for these 24 h
T0 = datetime(2026, 1, 1, tzinfo=UTC)  # second 0 of the simulation, for the spot checks
SAMPLE = 2000  # VMs whose every run is re-checked with the pure policy functions


def seconds(td: timedelta) -> float:
    return td.total_seconds()


def at(t: float) -> datetime:
    return T0 + timedelta(seconds=float(t))


# The policy, read from renewal_policy on a reference certificate so the bench follows the module.
OUR_DUE_AFTER = seconds(policy.renew_at(T0, T0 + timedelta(seconds=LIFETIME)) - T0)  # 60 days
RETRY = seconds(policy.RETRY_INTERVAL)
URGENT_AFTER = LIFETIME * (1 - policy.URGENT_FRACTION)  # 75 days: every run may try
# lego --days 30 renews when int(days left) <= 30, i.e. with less than 31 days left: at age 59 days.
OLD_DAYS = 30
OLD_DUE_AFTER = LIFETIME - (OLD_DAYS + 1) * DAY


@dataclass
class Scheduler:
    name: str
    phase: np.ndarray  # seconds into the period at which each VM runs
    period: float
    due_after: float  # age at which the certificate becomes due
    backoff: bool  # our may_attempt rule; the old line retries at every run

    def steady_not_before(self, rng: np.random.Generator) -> np.ndarray:
        """Issue times of a fleet in steady state.

        A renewal ordered at run + sleep is due `due_after` later, and the next run at or after
        that is exactly k = due_after // period + 1 periods after the run (in both schedulers
        due_after is a whole number of periods and the sleep is shorter than one). So each VM's
        next renewal run is one of its k run slots, uniformly, and its certificate was ordered one
        cycle before that.
        """
        k = int(self.due_after // self.period) + 1
        next_renewal_run = self.phase + self.period * rng.integers(0, k, self.phase.size)
        return next_renewal_run - k * self.period + rng.uniform(0.0, LEGO_SLEEP, self.phase.size)


@dataclass
class Result:
    orders: np.ndarray  # successful order times
    failed: int = 0  # attempts that hit the CA while it was down
    lapsed: int = 0  # VMs whose certificate expired before it was replaced
    trace: list[tuple[int, float, float, float]] = field(default_factory=list)  # vm, run, nb, fail


def next_run(after: np.ndarray, phase: np.ndarray, period: float) -> np.ndarray:
    """First run at or after `after` for VMs running at `phase` (mod `period`)."""
    return after + np.mod(phase - after, period)


def simulate(s: Scheduler, not_before: np.ndarray, rng: np.random.Generator,
             outage: tuple[float, float] | None) -> Result:
    """Event rounds, vectorised over all VMs still active: each round is every VM's next attempt."""
    idx = np.arange(not_before.size)
    nb = not_before.copy()
    earliest = np.maximum(nb + s.due_after, 0.0)
    last_fail = np.full(idx.size, -np.inf)
    orders: list[np.ndarray] = []
    result = Result(np.empty(0))
    lapsed = np.zeros(idx.size, dtype=bool)
    while idx.size:
        t = next_run(earliest, s.phase[idx], s.period)
        go = t < HORIZON
        lapsed[idx[~go]] |= nb[~go] + LIFETIME < HORIZON  # expired, never replaced in time
        idx, t, nb, last_fail = idx[go], t[go], nb[go], last_fail[go]
        sampled = idx < SAMPLE
        result.trace += zip(idx[sampled].tolist(), t[sampled].tolist(), nb[sampled].tolist(),
                            last_fail[sampled].tolist(), strict=True)
        order = t + rng.uniform(0.0, LEGO_SLEEP, t.size)
        down = (order >= outage[0]) & (order < outage[1]) if outage else np.zeros(t.size, bool)
        ok = ~down
        lapsed[idx[ok & (order > nb + LIFETIME)]] = True
        orders.append(order[ok])
        result.failed += int(down.sum())
        if s.backoff:  # may_attempt: 23 h after the failed run, or once under 1/6 of life is left
            retry = np.maximum(t + 1.0, np.minimum(t + RETRY, nb + URGENT_AFTER + 1e-3))
        else:
            retry = t + 1.0
        earliest = np.where(ok, order + s.due_after, retry)
        last_fail = np.where(ok, -np.inf, t)
        nb = np.where(ok, order, nb)
    result.orders = np.concatenate(orders)
    result.lapsed = int(lapsed.sum())
    return result


def check_trace(s: Scheduler, result: Result) -> int:
    """Re-decide each sampled run with renewal_policy; the VM's run before it must have said no."""
    checked = 0
    for _vm, t, nb, fail in result.trace:
        nb_dt, na_dt = at(nb), at(nb + LIFETIME)
        last = None if fail == -np.inf else at(fail)

        def attempts(when: float, nb_dt: datetime = nb_dt, na_dt: datetime = na_dt,
                     last: datetime | None = last) -> bool:
            now = at(when)
            if not s.backoff:
                return policy.lego_would_renew(OLD_DAYS, na_dt, now)
            return (policy.is_due(nb_dt, na_dt, now)
                    and policy.may_attempt(now, last, nb_dt, na_dt))

        assert attempts(t), f"{s.name}: run at {at(t)} should not have ordered"
        prev = t - s.period
        if prev >= max(0.0, fail + 1.0, nb):  # a run in the same state came just before
            assert not attempts(prev), f"{s.name}: run at {at(prev)} should have ordered"
        checked += 1
    return checked


def expected_max_poisson(lam: float, bins: int) -> float:
    """E[max of `bins` Poisson(lam) counts]: the peak of perfectly random placement."""
    top = int(lam + 40 * math.sqrt(lam) + 60)
    pmf = [math.exp(k * math.log(lam) - lam - math.lgamma(k + 1)) for k in range(top + 1)]
    tail, total = 0.0, 0.0
    for k in range(top, -1, -1):  # P(max > k) = 1 - (1 - P(X > k))^bins
        total += -math.expm1(bins * math.log1p(-tail)) if tail < 1 else 1.0
        tail += pmf[k]
    return total


@dataclass
class Load:
    count: int
    minute_peak: int
    minute_ratio: float
    minute_floor: float
    minute_floor_sim: float
    hour_ratio: float
    hour_floor: float


def load(orders: np.ndarray, rng: np.random.Generator) -> Load:
    orders = orders[(orders >= 0) & (orders < HORIZON)]
    minutes, hours = int(HORIZON // 60), int(HORIZON // 3600)
    per_min = np.bincount((orders // 60).astype(np.int64), minlength=minutes)
    per_hour = np.bincount((orders // 3600).astype(np.int64), minlength=hours)
    n = orders.size
    uniform = np.bincount((rng.uniform(0, HORIZON, n) // 60).astype(np.int64), minlength=minutes)
    return Load(count=n, minute_peak=int(per_min.max()), minute_ratio=per_min.max() / (n / minutes),
                minute_floor=expected_max_poisson(n / minutes, minutes) / (n / minutes),
                minute_floor_sim=uniform.max() / (n / minutes),
                hour_ratio=per_hour.max() / (n / hours),
                hour_floor=expected_max_poisson(n / hours, hours) / (n / hours))


def per_second(phase_of_day: np.ndarray) -> tuple[int, float]:
    """Peak and peak/mean of CA contacts per second of the day (ARI: every run contacts the CA)."""
    counts = np.bincount(phase_of_day.astype(np.int64).ravel(), minlength=86_400)
    return int(counts.max()), counts.max() / counts.mean()


def draw_schedules(n: int, seed: int) -> tuple[list[RenewalSchedule], float, float]:
    """n schedules from a seeded Random; also what SystemRandom (the default) costs per 1M draws."""
    started = time.perf_counter()
    rng = random.Random(seed)
    schedules = [RenewalSchedule.draw(rng) for _ in range(n)]
    seeded = time.perf_counter() - started
    probe = min(n, 100_000)
    started = time.perf_counter()
    for _ in range(probe):
        RenewalSchedule.draw()
    system_per_million = (time.perf_counter() - started) * 1_000_000 / probe
    return schedules, seeded, system_per_million


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vms", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--start", choices=["steady", "uniform90"], default="steady")
    args = parser.parse_args()
    started = time.perf_counter()
    n = args.vms

    schedules, seeded_s, system_s = draw_schedules(n, args.seed)
    minute = np.fromiter((s.minute for s in schedules), np.int64, n)
    second = np.fromiter((s.second for s in schedules), np.int64, n)
    offset = np.fromiter((s.hour_offset for s in schedules), np.int64, n)
    del schedules
    ours = Scheduler("bncert-tui", (offset * 3600 + minute * 60 + second).astype(float), PERIOD,
                     OUR_DUE_AFTER, backoff=True)
    old = Scheduler("old bncert", np.zeros(n), DAY, OLD_DUE_AFTER, backoff=False)

    rng = np.random.default_rng(args.seed)
    figures: dict[str, tuple[Load, Result, int]] = {}
    lapsed_normal: dict[str, int] = {}
    for s in (ours, old):
        if args.start == "uniform90":
            not_before = -rng.uniform(0.0, LIFETIME, n)
        else:
            not_before = s.steady_not_before(rng)
        normal = simulate(s, not_before, rng, outage=None)
        down = simulate(s, not_before, rng, outage=OUTAGE)
        checked = check_trace(s, normal) + check_trace(s, down)
        figures[s.name] = (load(normal.orders, rng), down, checked)
        lapsed_normal[s.name] = normal.lapsed

    ours_sec = per_second(ours.phase[:, None] + np.arange(4) * PERIOD)
    no_sleep_sec = per_second((ours.phase - second)[:, None] + np.arange(4) * PERIOD)
    old_sec = per_second(old.phase)
    sec_floor = expected_max_poisson(4 * n / 86_400, 86_400) / (4 * n / 86_400)
    a, b = figures[ours.name][0], figures[old.name][0]
    rows: dict[str, list[str]] = {
        "renewal orders in 90 days": [f"{a.count:,}", f"{b.count:,}"],
        "per-minute peak (orders)": [f"{a.minute_peak:,}", f"{b.minute_peak:,}"],
        "per-minute peak/mean": [f"{a.minute_ratio:.2f}", f"{b.minute_ratio:.2f}"],
        "  floor, random placement": [f"{a.minute_floor:.2f} (simulated {a.minute_floor_sim:.2f})",
                                      f"{b.minute_floor:.2f}"],
        "  over floor": [f"{a.minute_ratio / a.minute_floor:.2f}x",
                         f"{b.minute_ratio / b.minute_floor:.1f}x"],
        "per-hour peak/mean": [f"{a.hour_ratio:.2f} (floor {a.hour_floor:.2f})",
                               f"{b.hour_ratio:.2f} (floor {b.hour_floor:.2f})"],
        "per-second CA contacts peak/mean": [f"{ours_sec[1]:.2f} (floor {sec_floor:.2f})",
                                             f"{old_sec[1]:,.0f}"],
        "  peak per second": [f"{ours_sec[0]:,} (without the sleep: {no_sleep_sec[0]:,}, "
                              f"{no_sleep_sec[1]:.0f}x mean)", f"{old_sec[0]:,}"],
        "lapsed certificates, CA always up": [f"{lapsed_normal[ours.name]:,}",
                                              f"{lapsed_normal[old.name]:,}"],
        "24 h outage: lapsed certificates": [f"{figures[ours.name][1].lapsed:,}",
                                             f"{figures[old.name][1].lapsed:,}"],
        "24 h outage: orders to the down CA": [f"{figures[ours.name][1].failed:,}",
                                               f"{figures[old.name][1].failed:,}"],
        "runs re-checked with renewal_policy": [f"{figures[ours.name][2]:,}",
                                                f"{figures[old.name][2]:,}"],
    }
    print(f"fleet: {n:,} VMs, 90 days in 1-minute bins, 90-day certificates, start={args.start}, "
          f"seed={args.seed}")
    print(f"draws: {seeded_s:.1f} s for {n:,} RenewalSchedule.draw(random.Random(seed)), seeded to "
          f"be reproducible; the default SystemRandom costs {system_s:.1f} s per 1M")
    print(f"outage: CA down days {OUTAGE[0] / DAY:.0f}-{OUTAGE[1] / DAY:.0f}; "
          "per-second assumes lego with ARI (every run asks the CA at its start)")
    width = max(len(k) for k in rows) + 2
    print(f"\n{'':{width}}{'bncert-tui: 4/day H:M:S, 1/3 left':<44}old: 0 0 * * *, --days 30")
    for label, (left, right) in rows.items():
        print(f"{label:{width}}{left:<44}{right}")
    over = a.minute_ratio / a.minute_floor
    lapses = figures[ours.name][1].lapsed
    verdict = {"per-minute <= 1.15x floor": over <= 1.15, "per-second <= 2.5": ours_sec[1] <= 2.5,
               "zero lapses": lapses == 0}
    print("\ntargets: " + ", ".join(f"{k}: {'PASS' if v else 'FAIL'}" for k, v in verdict.items()))
    print(f"elapsed: {time.perf_counter() - started:.1f} s")
    print(f"per-minute peak/mean over floor: {over:.2f}")


if __name__ == "__main__":
    main()
