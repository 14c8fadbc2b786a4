"""Render time of the /metrics exposition and scrape latency with about 100,000 series.

Builds a runtime of synthetic accounts and times full renders (every account) and incremental
renders (after 1% of the accounts changed), both formats each time, then starts the real HTTP
server on 127.0.0.1 (a free port) and scrapes /metrics from this process and from a separate
one, first idle and then while accounts change and the exposition re-renders. Prints render
times, scrape latency (median, p90, max), event-loop lag, body sizes, series count and peak RSS.

    python bench/bench_scrape.py [--series 100000 | --large] [--per-account 40] [--scrapes 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import platform as python_platform
import random
import resource
import statistics
import sys
import time

import aiohttp

from kpiwatch import vocabulary
from kpiwatch.exposition import GZIP_LEVEL, ExpositionCache, RenderStats
from kpiwatch.http_api import bound_port, create_app, start_server
from kpiwatch.logging import configure_logging
from kpiwatch.platform import Sample
from kpiwatch.runtime import AccountStatus, Runtime
from kpiwatch.vocabulary import Kind

#: Series each account has besides its raw samples (up, timestamps, counters...).
SELF_SERIES_PER_ACCOUNT = 10
WINDOWS = ("1d", "7d", "28d")
PLATFORMS = ("demo", "mastodon", "youtube", "instagram")
#: Series of ``--large``: about what 10,000 demo accounts export.
LARGE_SERIES = 600_000
#: Seconds between two batches of account changes while scraping under churn.
CHURN_TICK = 0.05

#: Runs in a separate process: GETs the URL n times, prints the latencies as JSON.
CLIENT = """
import json, sys, time, urllib.request
url, n, accept, encoding = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
times = []
for _ in range(n):
    headers = {"Accept": accept, "Accept-Encoding": encoding}
    request = urllib.request.Request(url, headers=headers)
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as response:
        response.read()
    times.append(time.perf_counter() - start)
print(json.dumps(times))
"""

PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)


def raw_series_shapes() -> list[tuple[str, str | None, dict[str, str]]]:
    """Every (metric, window, dims) an account may export, in a fixed order."""
    shapes: list[tuple[str, str | None, dict[str, str]]] = []
    for metric in vocabulary.METRICS:
        dims = {d: "direct" if d != "currency" else "EUR" for d in metric.dimensions}
        if metric.kind == Kind.PERIOD:
            shapes.extend((metric.name, window, dims) for window in WINDOWS)
        else:
            shapes.append((metric.name, None, dims))
    return shapes


def build_runtime(series: int, per_account: int) -> Runtime:
    raw_per_account = per_account - SELF_SERIES_PER_ACCOUNT
    shapes = raw_series_shapes()
    if not 1 <= raw_per_account <= len(shapes):
        raise SystemExit(
            f"--per-account must be between {SELF_SERIES_PER_ACCOUNT + 1} and "
            f"{SELF_SERIES_PER_ACCOUNT + len(shapes)}"
        )
    now = time.time()
    runtime = Runtime()
    runtime.config_loaded = True
    for i in range(math.ceil(series / per_account)):
        account = f"account-{i:06d}"
        runtime.add_account(
            AccountStatus(
                account,
                PLATFORMS[i % len(PLATFORMS)],
                {"brand": f"brand-{i % 40}", "region_name": "emea"},
                competitor=i % 10 == 0,
                state="up",
                polls=12,
                last_attempt=now - 60,
                last_success=now - 59,
                last_duration=0.4,
                next_poll=now + 840,
                last_sample_count=raw_per_account,
            )
        )
        runtime.store_samples(
            account,
            [Sample(m, float(i + j), w, d) for j, (m, w, d) in enumerate(shapes[:raw_per_account])],
        )
    return runtime


def summary(times: list[float]) -> str:
    ms = sorted(t * 1000 for t in times)
    p90 = ms[min(len(ms) - 1, math.ceil(0.9 * len(ms)) - 1)]
    return f"median {statistics.median(ms):8.1f} ms   p90 {p90:8.1f} ms   max {ms[-1]:8.1f} ms"


async def scrape_in_process(url: str, n: int, headers: dict[str, str]) -> list[float]:
    times = []
    async with aiohttp.ClientSession(auto_decompress=False) as session:
        for _ in range(n):
            start = time.perf_counter()
            async with session.get(url, headers=headers) as response:
                await response.read()
                response.raise_for_status()
            times.append(time.perf_counter() - start)
    return times


async def scrape_other_process(
    url: str, n: int, accept: str, encoding: str = "identity"
) -> list[float]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CLIENT,
        url,
        str(n),
        accept,
        encoding,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"client process failed: {err.decode().strip()}")
    return json.loads(out)


def median_ms(stats: list[RenderStats]) -> str:
    durations = [r.duration_seconds * 1000 for r in stats]
    return (
        f"median {statistics.median(durations):7.1f} ms, min {min(durations):7.1f} ms "
        f"over {len(durations)} renders"
    )


Variant = tuple[str, bool]


async def ask_for(cache: ExpositionCache, variants: list[Variant]) -> None:
    """Fetch the bodies as a scraper would, so the next render builds them too."""
    for fmt, compressed in variants:
        await cache.get(fmt, gzip=compressed)


async def time_full_renders(
    cache: ExpositionCache, n: int, variants: list[Variant]
) -> list[RenderStats]:
    renders = []
    for _ in range(n):
        await ask_for(cache, variants)
        renders.append(await cache.render_now())
    return renders


async def time_incremental_renders(
    cache: ExpositionCache, runtime: Runtime, changed: int, n: int, variants: list[Variant]
) -> list[RenderStats]:
    """Renders after ``changed`` accounts (a different random choice each time) got new values."""
    rng = random.Random(42)
    accounts = list(runtime.accounts)
    renders = []
    for round_ in range(n):
        for account in rng.sample(accounts, changed):
            runtime.store_samples(account, [Sample("followers", float(round_ + 1_000_000))])
            runtime.accounts[account].polls += 1
            runtime.changed(account)
        await ask_for(cache, variants)
        stats = await cache.render_now(full=False)
        if stats.accounts_rendered != changed:
            raise SystemExit(f"rendered {stats.accounts_rendered} accounts, not {changed}")
        renders.append(stats)
    return renders


async def main(args: argparse.Namespace) -> None:
    print(f"kpiwatch scrape benchmark: Python {python_platform.python_version()}, ", end="")
    print(f"{python_platform.machine()}, target {args.series:,} series")
    started = time.perf_counter()
    runtime = build_runtime(args.series, args.per_account)
    print(
        f"runtime built:       {len(runtime.accounts):,} accounts in "
        f"{time.perf_counter() - started:.1f} s"
    )

    cache = ExpositionCache(runtime, min_interval=args.min_interval)
    both: list[Variant] = [("text", False), ("openmetrics", False)]
    both_gzip: list[Variant] = [*both, ("text", True), ("openmetrics", True)]
    full = await time_full_renders(cache, args.renders, both)
    print(f"series rendered:     {full[-1].series:,}")
    print("renders in the worker thread (a scrape between renders asks for the bodies):")
    print(f"  {'full, text and OpenMetrics bodies':<44} {median_ms(full)}")
    changed = max(1, round(len(runtime.accounts) * args.dirty))
    label = f"{changed:,} accounts ({args.dirty:.1%}) changed"
    incremental = await time_incremental_renders(cache, runtime, changed, args.renders, both)
    print(f"  {'incremental, ' + label + ', both bodies':<44} {median_ms(incremental)}")
    with_gzip = await time_incremental_renders(cache, runtime, changed, args.renders, both_gzip)
    print(f"  {'same, with both gzip bodies too':<44} {median_ms(with_gzip)}")
    await cache.render_now(full=False)  # clears the requests: the next renders build no body
    no_scrape = await time_incremental_renders(cache, runtime, changed, args.renders, [])
    print(f"  {'same, no scrape since the previous render':<44} {median_ms(no_scrape)}")

    text_body = await cache.get("text")
    gzip_body = await cache.get("text", gzip=True)
    om_body = await cache.get("openmetrics")
    om_gzip_body = await cache.get("openmetrics", gzip=True)
    print(
        f"body text:           {len(text_body) / 1e6:.2f} MB, gzip {len(gzip_body) / 1e6:.2f} MB "
        f"(zlib level {GZIP_LEVEL})"
    )
    print(
        f"body OpenMetrics:    {len(om_body) / 1e6:.2f} MB, gzip {len(om_gzip_body) / 1e6:.2f} MB"
    )

    app = create_app(runtime=runtime, exposition=cache, reload=None, info=dict)
    runner = await start_server(app, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{bound_port(runner)}/metrics"
    n = args.scrapes
    identity = {"Accept-Encoding": "identity"}
    try:
        print(f"\nscrapes of {url}, {n} each, server idle:")
        times = await scrape_in_process(url, n, identity)
        print(f"  this process, text           {summary(times)}")
        times = await scrape_in_process(url, n, {"Accept-Encoding": "gzip"})
        print(f"  this process, text gzip      {summary(times)}")
        times = await scrape_other_process(url, n, "text/plain")
        print(f"  other process, text          {summary(times)}")
        times = await scrape_other_process(url, n, PROMETHEUS_ACCEPT)
        print(f"  other process, OpenMetrics   {summary(times)}")
        times = await scrape_other_process(url, n, PROMETHEUS_ACCEPT, "gzip")
        print(f"  other process, OM gzip       {summary(times)}  (what Prometheus asks for)")

        per_tick = max(1, math.ceil(changed * CHURN_TICK))
        print(
            f"\nsame, while {per_tick} accounts change every {CHURN_TICK * 1000:.0f} ms and the "
            f"exposition re-renders (min_interval {args.min_interval:g} s):"
        )
        churn_renders = cache.version
        cache.start()
        stop = asyncio.Event()
        lags: list[float] = []  # how late a 5 ms sleep wakes up

        async def churn() -> None:
            rng = random.Random(7)
            accounts = list(runtime.accounts)
            while not stop.is_set():
                for account in rng.sample(accounts, per_tick):
                    runtime.store_samples(account, [Sample("followers", rng.random())])
                    runtime.changed(account)
                await asyncio.sleep(CHURN_TICK)

        async def loop_lag() -> None:
            while not stop.is_set():
                before = time.perf_counter()
                await asyncio.sleep(0.005)
                lags.append(time.perf_counter() - before - 0.005)

        helpers = [asyncio.create_task(churn()), asyncio.create_task(loop_lag())]
        try:
            await asyncio.sleep(args.churn_seconds)
            print(f"  event loop lag, no scrapes   {summary(lags)}  ({args.churn_seconds:g} s)")
            lags.clear()
            times = await scrape_in_process(url, n, identity)
            print(f"  this process, text           {summary(times)}")
            times = await scrape_other_process(url, n, "text/plain")
            print(f"  other process, text          {summary(times)}")
            times = await scrape_other_process(url, n, PROMETHEUS_ACCEPT)
            print(f"  other process, OpenMetrics   {summary(times)}")
            times = await scrape_other_process(url, n, PROMETHEUS_ACCEPT, "gzip")
            print(f"  other process, OM gzip       {summary(times)}")
        finally:
            stop.set()
            await asyncio.gather(*helpers)
            await cache.stop()
        renders = cache.version - churn_renders
        last = cache.last_render
        rendered = last.accounts_rendered if last else 0
        print(f"  renders meanwhile: {renders}, the last one re-rendered {rendered:,} accounts")
        print(f"  event loop lag, scrapes      {summary(lags)}")
    finally:
        await runner.cleanup()

    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"\npeak RSS (this process): {peak_kib / 1024:.0f} MiB")
    print(f"total time: {time.perf_counter() - started:.1f} s")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", type=int, default=100_000, help="series to expose at least")
    parser.add_argument(
        "--large",
        action="store_const",
        const=LARGE_SERIES,
        dest="series",
        help=f"expose {LARGE_SERIES:,} series, about what 10,000 demo accounts export",
    )
    parser.add_argument(
        "--per-account", type=int, default=40, help="series per account, self-metrics included"
    )
    parser.add_argument("--renders", type=int, default=5, help="renders to time, of each kind")
    parser.add_argument(
        "--dirty",
        type=float,
        default=0.01,
        help="share of the accounts changed before each incremental render (default 0.01)",
    )
    parser.add_argument("--scrapes", type=int, default=50, help="scrapes per measurement")
    parser.add_argument(
        "--min-interval", type=float, default=1.0, help="least seconds between renders"
    )
    parser.add_argument(
        "--churn-seconds",
        type=float,
        default=5.0,
        help="seconds of changes and renders without scrapes, to measure event-loop lag",
    )
    args = parser.parse_args(argv)
    for name in ("series", "renders", "scrapes"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if not 0 < args.dirty <= 1:
        parser.error("--dirty must be more than 0 and at most 1")
    return args


if __name__ == "__main__":
    arguments = parse_args()
    configure_logging(level="warning", fmt="console", stream=sys.stderr)
    asyncio.run(main(arguments))
