"""How long the KPI engine takes per cycle for many accounts.

Builds an input table of N accounts shaped like the demo platforms (a social account, a web
analytics property, an ad account or a CRM, in turn), then times, each over several repeats:

- ``compute``: every KPI of the catalogue for every account, window and period;
- ``aggregate``: the KPI table by brand (every KPI, every group) for one window;
- ``render``: the Prometheus lines of every account (the worst case: all accounts changed);
- ``refresh``: reading the window inputs of accounts from a history database (``--store``).

Prints medians (and min/max) in seconds. Usage: python bench/bench_kpis.py [--accounts 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from pathlib import Path

from kpiwatch.config import KpiSettings
from kpiwatch.kpi.compiled import build_catalogue
from kpiwatch.kpi.engine import AccountMeta, InputTable, compute
from kpiwatch.kpi.exposition import render_account_kpis, stack_results
from kpiwatch.kpi.expressions import Ref
from kpiwatch.kpi.report import kpi_rows

SOCIAL = (
    "followers",
    "reach",
    "impressions",
    "likes",
    "comments",
    "shares",
    "saves",
    "clicks",
    "posts_published",
    "mentions",
    "messages_received",
    "replies",
    "response_time_seconds",
)
WEB = ("sessions", "engaged_sessions", "bounces", "conversions", "revenue")
ADS = ("spend", "impressions", "reach", "clicks", "conversions", "revenue")
CRM = (
    "customers",
    "customers_new",
    "customers_lost",
    "nps_promoters",
    "nps_passives",
    "nps_detractors",
    "csat_responses",
    "csat_satisfied",
    "emails_delivered",
    "email_opens",
    "email_clicks",
    "investment",
)
SHAPES = (SOCIAL, SOCIAL, WEB, ADS, CRM)


def fill(table: InputTable, accounts: int, windows: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    refs = {ref.name: [] for ref in {r for (r, _, _) in table.columns}}
    for ref, _, _ in table.columns:
        refs[ref.name].append(ref)
    for i in range(accounts):
        shape = SHAPES[i % len(SHAPES)]
        meta = AccountMeta(
            f"acct-{i}",
            f"demo_{i % len(SHAPES)}",
            {"brand": f"brand-{i % 50}"},
            competitor=i % 23 == 0,
            currency="EUR",
        )
        values = {}
        for name in shape:
            for ref in set(refs.get(name, ())):
                for w in range(windows):
                    for p in (0, 1):
                        values[(ref, w, p)] = rng.uniform(10, 10000) * (w + 1)
        values[(Ref("sessions", (("medium", "social"),)), 0, 0)] = rng.uniform(10, 1000)
        table.set_row(meta, values)


def timed(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        out.append(time.perf_counter() - started)
    return out


def show(name: str, times: list[float], extra: str = "") -> None:
    print(
        f"{name:<10} median {statistics.median(times):8.4f} s  "
        f"(min {min(times):.4f}, max {max(times):.4f}, n={len(times)}) {extra}"
    )


async def bench_refresh(accounts: int, catalogue, settings: KpiSettings) -> None:
    from kpiwatch.kpi.service import KpiEngineState
    from kpiwatch.platform import Sample  # noqa: F401
    from kpiwatch.store import Store, StoredSample
    from kpiwatch.store.reader import HistoryReader

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        store = await Store.open(path)
        now = time.time()
        rng = random.Random(2)
        for start in range(0, accounts, 200):
            batch = []
            for i in range(start, min(accounts, start + 200)):
                for hour in range(0, 24 * 60, 6):  # 60 days every 6 hours
                    ts = now - hour * 3600
                    batch.append(
                        StoredSample(f"a{i}", "demo", "followers", None, {}, ts, 10000 - hour)
                    )
                    for metric in ("reach", "impressions", "likes", "comments", "shares"):
                        for window in ("1d", "7d", "28d"):
                            batch.append(
                                StoredSample(
                                    f"a{i}", "demo", metric, window, {}, ts, rng.uniform(1, 1000)
                                )
                            )
            await store.write(batch)
        await store.close()
        state = KpiEngineState(catalogue, settings)
        metas = [AccountMeta(f"a{i}", "demo", {}) for i in range(accounts)]
        reader = await HistoryReader.open(path)
        started = time.perf_counter()
        await reader.run(lambda conn: state.refresh(conn, metas, now))
        took = time.perf_counter() - started
        await reader.close()
        print(
            f"refresh    {took:8.4f} s for {accounts} accounts "
            f"({took / accounts * 1000:.2f} ms per account, 16 series, 60 days every 6 h)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=10000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--store-accounts",
        type=int,
        default=300,
        help="accounts for the refresh benchmark (0: skip it)",
    )
    args = parser.parse_args()
    settings = KpiSettings()
    catalogue = build_catalogue(settings)
    windows = len(settings.windows)
    table = InputTable(catalogue.refs, windows)
    fill(table, args.accounts, windows)
    print(
        f"{args.accounts} accounts, {len(catalogue.kpis)} KPIs, {windows} windows, "
        f"{len(table.columns)} input columns"
    )
    results = compute(table, catalogue)
    show("compute", timed(lambda: compute(table, catalogue), args.repeats))
    show(
        "aggregate",
        timed(lambda: kpi_rows(results, table, 2, ["brand"]), args.repeats),
        "(28d window, by brand)",
    )
    labels = ["1d", "7d", "28d", "90d"][:windows]

    def render() -> int:
        lines = 0
        matrix, where = stack_results(results, windows)
        for row, values in zip(results.rows.values(), matrix.tolist(), strict=True):
            out = render_account_kpis(
                results, row, labels, True, True, None, "90d", (values, where)
            )
            lines += sum(len(v) for v in out.values())
        return lines

    lines = render()
    show("render", timed(render, max(1, args.repeats // 2)), f"({lines} lines)")
    if args.store_accounts:
        asyncio.run(bench_refresh(args.store_accounts, catalogue, settings))


if __name__ == "__main__":
    main()
