"""Write throughput and maintenance time of the SQLite history store.

Writes cycles like the daemon's: ``--accounts`` accounts with ``--per-account`` series each,
one ``Store.write`` (one transaction) per cycle, 15 minutes apart. Prints:

1. the first cycle, which also creates every series;
2. the following ``--cycles`` cycles: seconds per cycle and samples per second (median, min, max);
3. the worst event-loop lag seen while writing (a 10 ms sleep that woke up late);
4. ``latest()``: what the daemon reads after a restart;
5. one ``maintain`` pass over all of it: the cycles were written 20 days in the past, so every
   raw sample is folded into hourly rows and deleted;
6. the database size.

Run: ``.venv/bin/python bench/bench_store.py`` (about a minute with the defaults; use
``--accounts 1000`` for a quick look).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from kpiwatch.store import Store, StoredSample

METRICS = ("followers", "impressions", "reach", "likes", "comments", "shares", "saves", "clicks")
WINDOWS = (None, "1d", "7d", "28d")


def series_names(per_account: int) -> list[tuple[str, str | None, dict[str, str]]]:
    """``per_account`` distinct (metric, window, dims) triples, some with dims."""
    names: list[tuple[str, str | None, dict[str, str]]] = []
    index = 0
    while len(names) < per_account:
        metric = METRICS[index % len(METRICS)]
        window = WINDOWS[(index // len(METRICS)) % len(WINDOWS)]
        group = index // (len(METRICS) * len(WINDOWS))
        names.append((metric, window, {"source": f"s{group}"} if group else {}))
        index += 1
    return names


def cycle(accounts: int, names: list, timestamp: float, seed: int) -> list[StoredSample]:
    return [
        StoredSample(
            f"account-{a:05d}", "demo", metric, window, dims, timestamp, float(a + i + seed)
        )
        for a in range(accounts)
        for i, (metric, window, dims) in enumerate(names)
    ]


class LagProbe:
    """Measures how late a 10 ms sleep on the event loop wakes up."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(0.01)
            self.worst = max(self.worst, time.perf_counter() - started - 0.01)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


async def run(args: argparse.Namespace, folder: Path) -> None:
    names = series_names(args.per_account)
    per_cycle = args.accounts * len(names)
    now = time.time()
    base = now - 20 * 86400
    store = await Store.open(folder / "history.db")
    print(f"{args.accounts:,} accounts x {len(names)} series = {per_cycle:,} samples per cycle")

    batch = cycle(args.accounts, names, base, 0)
    started = time.perf_counter()
    await store.write(batch)
    first = time.perf_counter() - started
    print(f"first cycle (creates the series): {first:.2f} s, {per_cycle / first:,.0f} samples/s")

    seconds: list[float] = []
    lag = 0.0
    for number in range(1, args.cycles + 1):
        batch = cycle(args.accounts, names, base + number * 900, number)
        probe = LagProbe()
        probe.start()
        started = time.perf_counter()
        written = await store.write(batch)
        seconds.append(time.perf_counter() - started)
        await probe.stop()
        lag = max(lag, probe.worst)
        assert written == per_cycle
    rates = sorted(per_cycle / s for s in seconds)
    print(
        f"next {args.cycles} cycles: median {statistics.median(seconds):.2f} s per cycle, "
        f"{statistics.median(rates):,.0f} samples/s (min {rates[0]:,.0f}, max {rates[-1]:,.0f})"
    )
    print(f"worst event-loop lag while writing: {lag * 1000:.1f} ms")

    del batch
    started = time.perf_counter()
    latest = await store.latest()
    print(
        f"latest(): {time.perf_counter() - started:.2f} s for "
        f"{sum(len(v) for v in latest.values()):,} series"
    )
    del latest

    probe = LagProbe()
    probe.start()
    stats = await store.maintain(now, batch_series=args.batch_series)
    await probe.stop()
    print(
        f"maintain(): {stats.seconds:.2f} s, {stats.raw_folded:,} raw samples folded in "
        f"{stats.batches} transactions of {args.batch_series} series "
        f"({stats.raw_folded / stats.seconds:,.0f} samples/s); "
        f"worst event-loop lag {probe.worst * 1000:.1f} ms"
    )
    await store.close()
    size = sum(p.stat().st_size for p in folder.iterdir())
    print(f"database size after maintenance: {size / 2**20:,.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--per-account", type=int, default=60, help="series per account")
    parser.add_argument("--cycles", type=int, default=5, help="timed cycles after the first")
    parser.add_argument("--batch-series", type=int, default=2000, help="series per maintain batch")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kpiwatch-bench-store-") as folder:
        asyncio.run(run(args, Path(folder)))


if __name__ == "__main__":
    main()
