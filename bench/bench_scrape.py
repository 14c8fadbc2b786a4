"""Scrape latency of GET /metrics with about 100,000 series.

Builds a runtime of synthetic accounts, renders the exposition, starts the real HTTP server on
127.0.0.1 (a free port) and scrapes /metrics from this process and from a separate one, first
idle and then while the exposition re-renders after every change. Prints render time, scrape
latency (median, p90, max), body sizes, series count and peak RSS.

    python bench/bench_scrape.py [--series 100000] [--per-account 40] [--scrapes 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import platform as python_platform
import resource
import statistics
import sys
import time

import aiohttp

from kpiwatch import vocabulary
from kpiwatch.exposition import ExpositionCache
from kpiwatch.http_api import bound_port, create_app, start_server
from kpiwatch.logging import configure_logging
from kpiwatch.platform import Sample
from kpiwatch.runtime import AccountStatus, Runtime
from kpiwatch.vocabulary import Kind

#: Series each account has besides its raw samples (up, timestamps, counters...).
SELF_SERIES_PER_ACCOUNT = 10
WINDOWS = ("1d", "7d", "28d")
PLATFORMS = ("demo", "mastodon", "youtube", "instagram")

#: Runs in a separate process: GETs the URL n times, prints the latencies as JSON.
CLIENT = """
import json, sys, time, urllib.request
url, n, accept = sys.argv[1], int(sys.argv[2]), sys.argv[3]
times = []
for _ in range(n):
    request = urllib.request.Request(url, headers={"Accept": accept})
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


async def scrape_other_process(url: str, n: int, accept: str) -> list[float]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CLIENT,
        url,
        str(n),
        accept,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"client process failed: {err.decode().strip()}")
    return json.loads(out)


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
    renders = [await cache.render_now() for _ in range(args.renders)]
    last = renders[-1]
    durations = [r.duration_seconds for r in renders]
    print(f"series rendered:     {last.series:,}")
    print(
        f"render (text 0.0.4): median {statistics.median(durations):.2f} s, "
        f"min {min(durations):.2f} s over {len(durations)} renders (worker thread)"
    )
    text_body = await cache.get("text")
    gzip_started = time.perf_counter()
    gzip_body = await cache.get("text", gzip=True)
    gzip_seconds = time.perf_counter() - gzip_started
    om_started = time.perf_counter()
    om_body = await cache.get("openmetrics")
    om_seconds = time.perf_counter() - om_started
    print(
        f"body text:           {len(text_body) / 1e6:.2f} MB, gzip {len(gzip_body) / 1e6:.2f} MB "
        f"(compressed once per render in {gzip_seconds:.2f} s)"
    )
    print(
        f"body OpenMetrics:    {len(om_body) / 1e6:.2f} MB (produced once per render in "
        f"{om_seconds:.2f} s, on the first request that asks for it)"
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

        print(
            f"\nsame, while the exposition re-renders after changes "
            f"(min_interval {args.min_interval:g} s):"
        )
        churn_renders = cache.version
        cache.start()
        stop = asyncio.Event()

        async def churn() -> None:
            while not stop.is_set():
                runtime.changed()
                await asyncio.sleep(0.05)

        churner = asyncio.create_task(churn())
        try:
            times = await scrape_in_process(url, n, identity)
            print(f"  this process, text           {summary(times)}")
            times = await scrape_other_process(url, n, "text/plain")
            print(f"  other process, text          {summary(times)}")
            times = await scrape_other_process(url, n, PROMETHEUS_ACCEPT)
            print(f"  other process, OpenMetrics   {summary(times)}")
        finally:
            stop.set()
            await churner
            await cache.stop()
        print(f"  renders meanwhile: {cache.version - churn_renders}")
    finally:
        await runner.cleanup()

    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"\npeak RSS (this process): {peak_kib / 1024:.0f} MiB")
    print(f"total time: {time.perf_counter() - started:.1f} s")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", type=int, default=100_000, help="series to expose at least")
    parser.add_argument(
        "--per-account", type=int, default=40, help="series per account, self-metrics included"
    )
    parser.add_argument("--renders", type=int, default=5, help="renders to time")
    parser.add_argument("--scrapes", type=int, default=50, help="scrapes per measurement")
    parser.add_argument(
        "--min-interval", type=float, default=1.0, help="least seconds between renders"
    )
    args = parser.parse_args(argv)
    for name in ("series", "renders", "scrapes"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    return args


if __name__ == "__main__":
    arguments = parse_args()
    configure_logging(level="warning", fmt="console", stream=sys.stderr)
    asyncio.run(main(arguments))
