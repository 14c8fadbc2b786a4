"""How long a goal cycle takes: the first (reading each goal's history) and the next ones.

A history store of ``--accounts`` accounts on one platform, in ``--brands`` brands, with
``--days`` days of samples at every midnight (followers; engagements, reach and posts over
28d and 1d windows). ``--goals`` goals, a third of each kind: an engagement-rate reach goal
per account (6 months, measured baseline), a followers goal per brand (recurring monthly,
measure change), and a reach total per brand for the quarter (stay_above). The tracker
evaluates them as the daemon's goal service does, with ``goal_tracking.history`` 365d:

- the first cycle reads every midnight a goal looks at (its period and a year before it);
- the next ``--cycles`` cycles, one minute apart, read only "now" and the recent midnights.

Prints the seconds of the first cycle, the median and range of the next ones, the account
reads each did, and how many midnight values the tracker keeps in memory.

Run: ``.venv/bin/python bench/bench_goals.py`` (about a minute with defaults).
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

from kpiwatch.config import KpiSettings
from kpiwatch.config_goals import GoalConfig, GoalTrackingSettings
from kpiwatch.goals.compile import compile_goals
from kpiwatch.goals.tracker import GoalTracker
from kpiwatch.kpi.compiled import build_catalogue
from kpiwatch.kpi.engine import AccountMeta
from kpiwatch.store import Store, StoredSample

DAY = 86400.0
NOW = datetime(2026, 11, 23, 12, tzinfo=UTC).timestamp()


def account_id(i: int) -> str:
    return f"acct-{i:05d}"


async def write_store(path: Path, accounts: int, brands: int, days: int) -> None:
    first = (NOW // DAY - days) * DAY
    async with await Store.open(path) as store:
        for i in range(accounts):
            rows = []
            for d in range(days + 1):
                ts = first + d * DAY
                growth = 1 + (i % 7) * 0.001
                rows.append(
                    StoredSample(
                        account_id(i), "demo_photo", "followers", None, {}, ts, 5000 * growth**d
                    )
                )
                for win, scale in (("28d", 28), ("1d", 1)):
                    rows += [
                        StoredSample(
                            account_id(i),
                            "demo_photo",
                            "engagements",
                            win,
                            {},
                            ts,
                            scale * (40 + (d * 7 + i) % 13),
                        ),
                        StoredSample(
                            account_id(i),
                            "demo_photo",
                            "reach",
                            win,
                            {},
                            ts,
                            scale * (900 + (d * 11 + i) % 97),
                        ),
                    ]
            await store.write(rows)


def goals(count: int, accounts: int, brands: int) -> list[GoalConfig]:
    out = []
    for g in range(count):
        kind = g % 3
        if kind == 0:
            out.append(
                GoalConfig(
                    name=f"er-{g}",
                    kpi="engagement_rate",
                    scope={"account": account_id(g % accounts)},
                    target="+20%",
                    start=date(2026, 8, 1),
                    deadline=date(2027, 2, 1),
                )
            )
        elif kind == 1:
            out.append(
                GoalConfig(
                    name=f"followers-{g}",
                    kpi="followers",
                    measure="change",
                    every="month",
                    scope={"brand": f"brand-{g % brands}"},
                    target=3000,
                )
            )
        else:
            out.append(
                GoalConfig(
                    name=f"reach-{g}",
                    kpi="reach",
                    window="1d",
                    criterion="stay_above",
                    scope={"brand": f"brand-{g % brands}"},
                    target=10000,
                    period="2026-Q4",
                )
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--brands", type=int, default=20)
    parser.add_argument("--days", type=int, default=500)
    parser.add_argument("--goals", type=int, default=60)
    parser.add_argument("--cycles", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "kpiwatch.db"
        started = time.perf_counter()
        asyncio.run(write_store(path, args.accounts, args.brands, args.days))
        print(
            f"store: {args.accounts} accounts x {args.days} days written in "
            f"{time.perf_counter() - started:.1f} s"
        )
        settings = KpiSettings()
        catalogue = build_catalogue(settings)
        specs = compile_goals(
            goals(args.goals, args.accounts, args.brands), catalogue, settings.windows
        )
        tracker = GoalTracker(specs, catalogue, GoalTrackingSettings())
        metas = [
            AccountMeta(account_id(i), "demo_photo", {"brand": f"brand-{i % args.brands}"})
            for i in range(args.accounts)
        ]
        objectives = {m.account: "engagement" for m in metas}
        conn = sqlite3.connect(path)
        started = time.perf_counter()
        results = tracker.evaluate(conn, metas, objectives, NOW)
        first = time.perf_counter() - started
        cached = sum(len(c.values) for c in tracker.history._cache.values())
        reads = tracker.history.reads
        statuses = sorted({r.status for r in results})
        print(
            f"goals: {len(results)} evaluated, errors {len(tracker.errors)}, statuses "
            f"{', '.join(statuses)}"
        )
        print(
            f"first cycle: {first:.2f} s, {reads} account reads "
            f"({first / max(reads, 1) * 1000:.2f} ms per read); {cached} midnight values cached"
        )
        times = []
        for c in range(1, args.cycles + 1):
            before = tracker.history.reads
            started = time.perf_counter()
            tracker.evaluate(conn, metas, objectives, NOW + 60 * c)
            times.append(time.perf_counter() - started)
            reads = tracker.history.reads - before
        print(
            f"next cycles: median {statistics.median(times):.3f} s "
            f"(min {min(times):.3f}, max {max(times):.3f}), {reads} account reads each"
        )
        conn.close()


if __name__ == "__main__":
    main()
