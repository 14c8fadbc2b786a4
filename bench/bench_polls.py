"""CPU seconds per 1,000 demo account-polls.

Two measurements, printed side by side:

1. **poll path, in process**: ``poll_account`` (the demo plugin's collect, the result checks)
   plus the runtime update, for ``--inproc-accounts`` demo accounts, repeated ``--repeats``
   times; CPU time of this process per 1,000 polls (median and spread).
2. **whole daemon**: ``kpiwatch run`` as a subprocess with ``--accounts`` demo accounts polled
   every ``--interval`` seconds; over ``--windows`` windows of ``--seconds`` each, the
   daemon's CPU time (utime + stime from /proc) divided by the polls it finished
   (``kpiwatch_polls_total``), per 1,000 polls. This includes the scheduler, the HTTP server and
   re-rendering /metrics, whose size grows with the accounts.

Run: ``.venv/bin/python bench/bench_polls.py`` (about two and a half minutes with defaults).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import aiohttp
import yaml

from kpiwatch.account_plan import AccountPlan
from kpiwatch.config_loader import load_config_text
from kpiwatch.demo_config import demo_config_yaml
from kpiwatch.plugins import load_plugins
from kpiwatch.polling import poll_account
from kpiwatch.runtime import Runtime

TICKS = os.sysconf("SC_CLK_TCK")


async def _poll_all(loaded, registry, runtime: Runtime, session) -> int:
    polled = 0
    for account in loaded.config.accounts:
        plan = AccountPlan.build(
            account,
            loaded.settings[account.id],
            registry.platforms[account.platform],
            loaded.config,
        )
        outcome = await poll_account(plan, session=session, state={})
        if not outcome.ok:
            continue
        runtime.store_samples(account.id, outcome.samples)
        polled += 1
    return polled


def in_process(accounts: int, repeats: int) -> list[float]:
    registry = load_plugins(environ={})
    text = demo_config_yaml(accounts=accounts)
    config = yaml.safe_load(text)
    for account in config["accounts"]:
        account.setdefault("settings", {})["history_days"] = 0
    loaded = load_config_text(yaml.safe_dump(config), "<bench>", registry.platforms)

    async def run() -> list[float]:
        per_thousand = []
        runtime = Runtime()
        async with aiohttp.ClientSession() as session:
            await _poll_all(loaded, registry, runtime, session)  # warm caches and imports
            for _ in range(repeats):
                t0 = time.process_time()
                polled = await _poll_all(loaded, registry, runtime, session)
                per_thousand.append((time.process_time() - t0) / polled * 1000)
        return per_thousand

    return asyncio.run(run())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as response:
        body = response.read().decode()
    figures = {"polls": 0.0}
    for line in body.splitlines():
        if line.startswith("kpiwatch_polls_total{"):
            figures["polls"] += float(line.rsplit(" ", 1)[1])
        elif line.startswith(
            ("kpiwatch_exposition_series ", "kpiwatch_exposition_render_duration_seconds ")
        ):
            name, value = line.split()
            figures[name] = float(value)
    return figures


def whole_daemon(accounts: int, interval: float, seconds: float, windows: int) -> None:
    port = _free_port()
    config = yaml.safe_load(demo_config_yaml(accounts=accounts, listen=f"127.0.0.1:{port}"))
    config["defaults"].update(interval=f"{interval}s", jitter=1.0)
    config["log"]["level"] = "warning"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.yaml"
        path.write_text(yaml.safe_dump(config))
        proc = subprocess.Popen(
            [sys.executable, "-m", "kpiwatch", "run", "-c", str(path)],
            cwd=tmp,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            started = time.monotonic()
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                if proc.poll() is not None or time.monotonic() - started > 300:
                    raise SystemExit("the daemon did not become ready")
                time.sleep(0.5)
            print(
                f"  ready after {time.monotonic() - started:.1f}s "
                f"(first poll of all {accounts} accounts)"
            )
            time.sleep(interval)  # let the start-up burst settle into the steady schedule
            results = []
            before, cpu_before = _scrape(port), _cpu_seconds(proc.pid)
            for _ in range(windows):
                time.sleep(seconds)
                after, cpu_after = _scrape(port), _cpu_seconds(proc.pid)
                polls = after["polls"] - before["polls"]
                cpu = cpu_after - cpu_before
                if polls <= 0:
                    print(f"  window: no polls finished ({cpu:.2f} CPU s); /metrics stale?")
                    before, cpu_before = after, cpu_after
                    continue
                results.append(cpu / polls * 1000)
                print(
                    f"  window: {polls:.0f} polls, {cpu:.2f} CPU s, "
                    f"{cpu / polls * 1000:.3f} CPU s per 1,000 polls, "
                    f"{after.get('kpiwatch_exposition_series', 0):.0f} series, last render "
                    f"{after.get('kpiwatch_exposition_render_duration_seconds', 0):.2f}s"
                )
                before, cpu_before = after, cpu_after
            if not results:
                raise SystemExit("no window finished a poll")
            print(
                f"  median: {statistics.median(results):.3f} CPU s per 1,000 polls; "
                f"daemon RSS {_rss_mib(proc.pid):.0f} MiB"
            )
        finally:
            proc.terminate()
            proc.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inproc-accounts", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--interval", type=float, default=30.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--windows", type=int, default=3)
    parser.add_argument("--skip-daemon", action="store_true")
    args = parser.parse_args()
    print(f"poll path in process: {args.inproc_accounts} demo accounts x {args.repeats}")
    figures = in_process(args.inproc_accounts, args.repeats)
    print(
        f"  median {statistics.median(figures):.3f} CPU s per 1,000 polls "
        f"(min {min(figures):.3f}, max {max(figures):.3f})"
    )
    if not args.skip_daemon:
        print(
            f"whole daemon: {args.accounts} demo accounts every {args.interval:g}s, "
            f"{args.windows} windows of {args.seconds:g}s"
        )
        whole_daemon(args.accounts, args.interval, args.seconds, args.windows)


if __name__ == "__main__":
    main()
