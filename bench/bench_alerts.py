"""How long alert rules take per cycle, and how late a webhook hears of a new poll.

Two measurements:

1. **rule evaluation**: a KPI table of ``--accounts`` accounts (five platform shapes, 50
   brands, 4 regions, every window of the default ``kpis.windows`` and both periods) and
   ``--rules`` rules: per-account threshold and change rules over different KPIs, windows and
   scopes, ``--group-rules`` of them ``by: [brand]``, and ``--anomaly-rules`` anomaly rules
   over a 28-day baseline. Each rule's threshold is taken from the table so that its condition
   holds for ``--active`` of the accounts (or brands) it judges. Every cycle runs
   ``RuleEvaluator.evaluate`` and ``AlertStates.step``, as the daemon's alert service does,
   then ``AlertStates.alerts`` and ``Router.plan`` (one webhook notifier), alternating between
   two tables that differ in ``--churn`` of the accounts, so alerts fire and resolve from one
   cycle to the next. Prints the first cycle (every alert new) and the median and range of the
   next ``--cycles``; then the same with ``--active-high`` (``--cycles-high`` cycles).
2. **poll to webhook**: ``kpiwatch run`` as a subprocess, once per ``--daemon-runs`` entry
   (demo accounts and poll interval; first polls spread over one interval), with one rule per
   platform family that holds for every account, each alert its own notification to a webhook
   receiver in this process. For every account: the time from the end of its first successful
   poll (the daemon's ``poll succeeded`` log line) to the moment the receiver got the
   notification naming it. Median, p90 and max, and where the time went, from the daemon's
   JSON log: until the KPI cycle that fired the alert started (history flush and the KPI
   cycle's pacing), that KPI cycle, the alert cycle (evaluate, step, route, commit) and
   delivery. History, KPI and alerting intervals are the defaults unless ``--flush-interval``
   or ``--kpi-interval`` is given; ``--keep DIR`` keeps the daemons' logs (``--profile``: and
   py-spy stacks of their first polls).

Run: ``.venv/bin/python bench/bench_alerts.py`` (about five minutes with defaults).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import socket
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from aiohttp import web

from kpiwatch.alerting.evaluate import EvaluationInputs, KpiView, RuleEvaluator
from kpiwatch.alerting.router import Router, RouteTarget
from kpiwatch.alerting.rules import CompiledRule, compile_rules
from kpiwatch.alerting.state import AlertStates
from kpiwatch.config import KpiSettings
from kpiwatch.config_alerting import NotifierConfig, RuleConfig
from kpiwatch.demo_config import demo_config_yaml
from kpiwatch.kpi.compiled import build_catalogue
from kpiwatch.kpi.engine import AccountMeta, InputTable, Results, aggregate, compute, group_keys
from kpiwatch.kpi.expressions import Ref

# ------------------------------------------------------------------------------------------
# 1. rule evaluation
# ------------------------------------------------------------------------------------------

#: Typical daily value of each input per platform shape, for an account of size 1. Gauges
#: (``followers``, ``customers``, ``posts``) are not multiplied by the window's days.
SOCIAL = {
    "followers": 20000,
    "followers_gained": 40,
    "followers_lost": 25,
    "posts": 300,
    "reach": 5000,
    "impressions": 8000,
    "likes": 150,
    "comments": 20,
    "shares": 10,
    "saves": 8,
    "engagements": 190,
    "clicks": 60,
    "posts_published": 1.5,
    "mentions": 5,
    "messages_received": 12,
    "replies": 10,
    "response_time_seconds": 18000,
}
WEB = {
    "sessions": 3000,
    "engaged_sessions": 1800,
    "bounces": 1200,
    "conversions": 45,
    "revenue": 2500,
}
ADS = {
    "spend": 300,
    "impressions": 40000,
    "reach": 20000,
    "clicks": 600,
    "conversions": 20,
    "revenue": 1200,
}
CRM = {
    "customers": 5000,
    "customers_new": 10,
    "customers_lost": 5,
    "nps_promoters": 30,
    "nps_passives": 15,
    "nps_detractors": 8,
    "csat_responses": 40,
    "csat_satisfied": 33,
    "emails_delivered": 2000,
    "email_opens": 500,
    "email_clicks": 60,
    "investment": 200,
    "revenue": 4000,
}
GAUGES = frozenset({"followers", "customers", "posts"})
#: Platform of each account in turn, and the inputs it reports.
SHAPES: tuple[tuple[str, dict[str, float]], ...] = (
    ("demo_photo", SOCIAL),
    ("demo_micro", SOCIAL),
    ("demo_web", WEB),
    ("demo_ads", ADS),
    ("demo_crm", CRM),
)
BRANDS = 50
REGIONS = ("eu", "us", "apac", "latam")
#: KPIs of the anomaly rules (daily values, 1d window).
ANOMALY_KPIS = ("reach", "impressions", "interactions", "ad_spend", "revenue")
ANOMALY_DAYS = 28


def account_meta(i: int) -> AccountMeta:
    return AccountMeta(
        f"acct-{i:05d}",
        SHAPES[i % len(SHAPES)][0],
        {"brand": f"brand-{i % BRANDS:02d}", "region": REGIONS[(i // BRANDS) % len(REGIONS)]},
        competitor=i % 23 == 0,
        currency="EUR",
    )


def account_inputs(
    shape: dict[str, float], refs: Sequence[Ref], days: Sequence[float], rng: random.Random
) -> dict[tuple[Ref, int, int], float]:
    """Plausible window inputs of one account: every window, current and previous period."""
    size = rng.lognormvariate(0, 1)
    out: dict[tuple[Ref, int, int], float] = {}
    for ref in refs:
        typical = shape.get(ref.name)
        if typical is None:
            continue
        daily = typical * size * rng.lognormvariate(0, 0.3)
        for w, d in enumerate(days):
            for period in (0, 1):
                drift = 1.0 if period == 0 else rng.lognormvariate(0, 0.15)
                if ref.name in GAUGES:
                    value = daily * drift
                    if ref.mode == "delta":
                        value = daily * 0.002 * d * rng.uniform(-0.5, 1.5)
                    elif ref.mode == "start":
                        value = daily * drift * (1 - 0.002 * d)
                else:
                    value = daily * d * drift
                if ref.filters:  # sessions from social media: a share of all sessions
                    value *= 0.2
                out[(ref, w, period)] = value
    return out


def build_table(
    refs: Sequence[Ref], days: Sequence[float], accounts: int, churned: set[int], seed: int
) -> InputTable:
    """``accounts`` rows; the ``churned`` ones get other values than with an empty set."""
    table = InputTable(refs, len(days))
    ordered = sorted(set(refs))
    for i in range(accounts):
        rng = random.Random(seed * 1_000_003 + i * 2 + (1 if i in churned else 0))
        shape = SHAPES[i % len(SHAPES)][1]
        table.set_row(account_meta(i), account_inputs(shape, ordered, days, rng))
    return table


def usable_kpis(results: Results, window_count: int) -> list[str]:
    """KPIs with a value for at least a tenth of the accounts in every window."""
    out = []
    for name, kpi in results.kpis.items():
        if all(np.mean(~np.isnan(kpi.value[(w, 0)])) >= 0.1 for w in range(window_count)):
            out.append(name)
    return out


def scope_for(i: int) -> dict[str, Any]:
    """Scopes of a realistic mix: all accounts, a platform, a region, one or two brands."""
    pick = i % 10
    if pick < 4:
        return {}
    if pick < 6:
        return {"platform": SHAPES[i % len(SHAPES)][0]}
    if pick < 7:
        return {"region": REGIONS[i % len(REGIONS)]}
    if pick < 9:
        return {"brand": f"brand-{i % BRANDS:02d}"}
    return {"brand": [f"brand-{i % BRANDS:02d}", f"brand-{(i + 7) % BRANDS:02d}"]}


def scope_mask(results: Results, scope: dict[str, Any], size: int) -> np.ndarray:
    mask = np.zeros(size, dtype=bool)
    for row, meta in enumerate(results.meta[:size]):
        if meta is None or meta.competitor:
            continue
        ok = True
        for key, wanted in scope.items():
            value = meta.platform if key == "platform" else meta.labels.get(key)
            if value not in (wanted if isinstance(wanted, list) else [wanted]):
                ok = False
        mask[row] = ok
    return mask


def quantile_cut(values: np.ndarray, share: float, low: bool) -> float | None:
    """A cut that ``share`` of the finite ``values`` fall below (``low``) or above."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return None
    q = share if low else 1 - share
    return float(np.quantile(finite, q))


ANNOTATIONS = {
    "summary": "{{ kpi }} of {{ account }} is {{ value | number }} ({{ window }})",
    "description": "{{ rule }}: {{ value | number }} against {{ threshold | number }}, "
    "{{ change | signed_percent }} on the previous {{ window }}",
}


@dataclass
class RuleSet:
    specs: list[dict[str, Any]]
    watched: int  # account x rule pairs (group x rule for by-brand rules) a rule judges


def make_rules(
    results: Results,
    table: InputTable,
    kpis: Sequence[str],
    window_labels: Sequence[str],
    count: int,
    group_rules: int,
    anomaly_rules: int,
    share: float,
    seed: int,
) -> RuleSet:
    """Rule specifications whose conditions hold for about ``share`` of what they judge."""
    rng = random.Random(seed)
    size = len(results.meta)
    specs: list[dict[str, Any]] = []
    watched = 0
    masks: dict[str, np.ndarray] = {}
    order = rng.sample(list(kpis), len(kpis))
    per_account = count - group_rules - anomaly_rules
    for i in range(per_account):
        scope = scope_for(i)
        key = json.dumps(scope, sort_keys=True)
        if key not in masks:
            masks[key] = scope_mask(results, scope, size)
        mask = masks[key]
        w = i % len(window_labels)
        # the next KPI (in a shuffled order) that accounts in the scope report
        for offset in range(len(kpis)):
            kpi = order[(i + offset) % len(order)]
            current = results.kpis[kpi].value[(w, 0)][:size]
            if np.count_nonzero(mask & np.isfinite(current)) >= 10:
                break
        else:
            continue
        previous = results.kpis[kpi].value[(w, 1)][:size]
        spec: dict[str, Any] = {
            "name": f"R{i:04d}_{kpi}",
            "kpi": kpi,
            "window": window_labels[w],
            "scope": scope,
            "severity": "warning" if i % 3 else "critical",
            "annotations": ANNOTATIONS,
        }
        if i % 5 == 4:
            spec["for"] = "10m"
        low = rng.random() < 0.5
        if i % 3 == 2:  # change rule
            with np.errstate(divide="ignore", invalid="ignore"):
                judged = (current - previous) / np.abs(previous)
            condition = "change_below" if low else "change_above"
        else:
            judged = current
            condition = "below" if low else "above"
        cut = quantile_cut(judged[mask], share, low)
        if cut is None:
            continue
        watched += int(np.count_nonzero(mask & np.isfinite(judged)))
        spec["condition"] = {condition: cut}
        specs.append(spec)
    keys = group_keys(results.meta, ["brand"], include_competitors=True)
    keys = [
        k if m is not None and not m.competitor else None
        for k, m in zip(keys, results.meta, strict=True)
    ]
    for j in range(group_rules):
        kpi = order[(j * 3 + 1) % len(order)]
        w = j % len(window_labels)
        groups = aggregate(results, table, kpi, ["brand"], w, 0, keys)
        values = np.array([np.nan if g.value is None else g.value for g in groups])
        low = j % 2 == 0
        cut = quantile_cut(values, max(share, 1 / BRANDS), low)
        if cut is None:
            continue
        watched += int(np.count_nonzero(np.isfinite(values)))
        specs.append(
            {
                "name": f"G{j:04d}_{kpi}",
                "kpi": kpi,
                "window": window_labels[w],
                "by": ["brand"],
                "condition": {"below" if low else "above": cut},
                "annotations": {"summary": "{{ kpi }} of {{ labels.brand }} is {{ value }}"},
            }
        )
    for k in range(anomaly_rules):
        kpi = ANOMALY_KPIS[k % len(ANOMALY_KPIS)]
        scope = scope_for(k * 3)
        current = results.kpis[kpi].value[(0, 0)][:size]
        watched += int(np.count_nonzero(scope_mask(results, scope, size) & np.isfinite(current)))
        specs.append(
            {
                "name": f"A{k:04d}_{kpi}",
                "kpi": kpi,
                "window": window_labels[0],
                "scope": scope,
                "condition": {
                    "anomaly": {
                        "baseline": f"{ANOMALY_DAYS}d",
                        "z": 3.5 + (k % 3) * 0.5,
                        "direction": ("both", "down", "up")[k % 3],
                        "seasonality": "weekly" if k % 4 else "none",
                    }
                },
                "annotations": {"summary": "{{ kpi }} of {{ account }}: z {{ z }}"},
            }
        )
    return RuleSet(specs, watched)


def make_baselines(results: Results, share: float, seed: int) -> dict[str, np.ndarray]:
    """Daily history (rows, 28) of each anomaly KPI: near today's value, except for ``share``
    of the accounts, whose history is twice, or half, today's value."""
    rng = np.random.default_rng(seed)
    size = len(results.meta)
    out = {}
    for kpi in ANOMALY_KPIS:
        current = results.kpis[kpi].value[(0, 0)][:size]
        # today's weekday (every 7th day back from now) a little above the other days
        same_weekday = (ANOMALY_DAYS - np.arange(ANOMALY_DAYS)) % 7 == 0
        weekly = np.where(same_weekday, 1.0, 0.97)
        noise = rng.uniform(0.95, 1.05, (size, ANOMALY_DAYS))
        history = current[:, None] * noise * weekly[None, :]
        odd = rng.random(size) < share
        factor = np.where(rng.random(size) < 0.5, 2.0, 0.5)
        history[odd] *= factor[odd, None]
        out[kpi] = history
    return out


@dataclass
class CycleTimes:
    evaluate: list[float] = field(default_factory=list)
    step: list[float] = field(default_factory=list)
    route: list[float] = field(default_factory=list)
    messages: list[int] = field(default_factory=list)
    observations: list[int] = field(default_factory=list)
    transitions: list[int] = field(default_factory=list)
    records: list[int] = field(default_factory=list)


def run_cycles(
    rules: list[CompiledRule],
    views: Sequence[KpiView],
    baselines: dict[str, np.ndarray],
    cycles: int,
) -> CycleTimes:
    """``cycles`` + 1 evaluation cycles, 10 s apart, alternating over ``views``."""
    evaluator = RuleEvaluator()
    states = AlertStates(resolved_retention=900)
    hook = NotifierConfig.model_validate(
        {"name": "hook", "type": "webhook", "url": "http://127.0.0.1:9/hook"}
    )
    router = Router([RouteTarget(hook)], "http://127.0.0.1:9877")
    times = CycleTimes()
    now = 1_800_000_000.0
    for c in range(cycles + 1):
        inputs = EvaluationInputs(now, views[c % len(views)], baselines=baselines)
        t0 = time.perf_counter()
        observations = evaluator.evaluate(rules, inputs)
        t1 = time.perf_counter()
        step = states.step(rules, observations, now, "http://127.0.0.1:9877/api/v1/alerts")
        t2 = time.perf_counter()
        plan = router.plan(states.alerts(), now, changed=step.notify)
        router.accept(plan)
        t3 = time.perf_counter()
        if evaluator.errors:
            raise SystemExit(f"rule evaluation failed: {evaluator.errors}")
        times.evaluate.append(t1 - t0)
        times.step.append(t2 - t1)
        times.route.append(t3 - t2)
        times.messages.append(len(plan.messages))
        times.observations.append(sum(len(v) for v in observations.values()))
        times.transitions.append(len(step.transitions))
        times.records.append(len(states.records))
        now += 10
    return times


def spread(values: Sequence[float]) -> str:
    return (
        f"median {statistics.median(values):7.3f} s "
        f"(min {min(values):.3f}, max {max(values):.3f}, n={len(values)})"
    )


def evaluation(args: argparse.Namespace) -> None:
    settings = KpiSettings()
    catalogue = build_catalogue(settings)
    days = [w.total_seconds() / 86400 for w in settings.windows]
    labels = [f"{d:g}d" for d in days]
    churned = set(random.Random(5).sample(range(args.accounts), int(args.accounts * args.churn)))
    started = time.perf_counter()
    table_a = build_table(catalogue.refs, days, args.accounts, set(), seed=1)
    table_b = build_table(catalogue.refs, days, args.accounts, churned, seed=1)
    results_a = compute(table_a, catalogue)
    results_b = compute(table_b, catalogue)
    views = [KpiView(results_a, table_a, labels), KpiView(results_b, table_b, labels)]
    kpis = usable_kpis(results_a, len(days))
    print(
        f"{args.accounts} accounts ({len(SHAPES)} platforms, {BRANDS} brands, {len(REGIONS)} "
        f"regions), {len(catalogue.kpis)} KPIs ({len(kpis)} with values), windows "
        f"{', '.join(labels)}; {args.churn:.0%} of the accounts differ between the two "
        f"alternating tables (built in {time.perf_counter() - started:.1f} s)"
    )
    pairs = args.rules * args.accounts
    for share, cycles in ((args.active, args.cycles), (args.active_high, args.cycles_high)):
        ruleset = make_rules(
            results_a,
            table_a,
            kpis,
            labels,
            args.rules,
            args.group_rules,
            args.anomaly_rules,
            share,
            seed=2,
        )
        configs = [RuleConfig.model_validate(s) for s in ruleset.specs]
        rules = compile_rules(configs, catalogue, settings.windows, [])
        baselines = make_baselines(results_a, share, seed=3)
        kinds: dict[str, int] = {}
        for rule in rules:
            kind = rule.kind if rule.per_account else f"{rule.kind} by brand"
            kinds[kind] = kinds.get(kind, 0) + 1
        scoped = sum(1 for r in rules if r.config.scope)
        print(
            f"\n{len(rules)} rules ({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))}; "
            f"{scoped} scoped); each condition true for {share:.0%} of the accounts (brands) "
            f"the rule judges: {ruleset.watched:,} judged pairs"
        )
        times = run_cycles(rules, views, baselines, cycles)
        steady = slice(1, None)
        obs = times.observations[steady]
        print(
            f"  active alerts per cycle: median {statistics.median(obs):,.0f} "
            f"({statistics.median(obs) / ruleset.watched:.1%} of the judged pairs, "
            f"{statistics.median(obs) / pairs:.2%} of all {pairs:,} account x rule pairs); "
            f"transitions per cycle: median {statistics.median(times.transitions[steady]):,.0f}; "
            f"stored alerts at the end {times.records[-1]:,}"
        )
        print(
            f"  first cycle (every alert new): evaluate {times.evaluate[0]:.3f} s, "
            f"step {times.step[0]:.3f} s"
        )
        total = [e + s for e, s in zip(times.evaluate, times.step, strict=True)][steady]
        print(f"  evaluate + step   {spread(total)}")
        print(f"    evaluate        {spread(times.evaluate[steady])}")
        print(f"    step            {spread(times.step[steady])}")
        print(
            f"  then alerts() and Router.plan (one webhook, group_by [alertname]; "
            f"{sum(times.messages[steady])} messages in these cycles): "
            f"{spread(times.route[steady])}"
        )
        by_kind = time_by_kind(rules, views[0], baselines)
        print(
            "  evaluate alone, per rule kind (one cycle): "
            + ", ".join(f"{k} {v:.3f} s" for k, v in sorted(by_kind.items()))
        )


def time_by_kind(
    rules: list[CompiledRule], view: KpiView, baselines: dict[str, np.ndarray]
) -> dict[str, float]:
    out: dict[str, float] = {}
    groups: dict[str, list[CompiledRule]] = {}
    for rule in rules:
        kind = rule.kind if rule.per_account else f"{rule.kind} by brand"
        groups.setdefault(kind, []).append(rule)
    for kind, members in groups.items():
        inputs = EvaluationInputs(1_800_000_000.0, view, baselines=baselines)
        started = time.perf_counter()
        RuleEvaluator().evaluate(members, inputs)
        out[f"{len(members)} {kind}"] = time.perf_counter() - started
    return out


# ------------------------------------------------------------------------------------------
# 2. poll to webhook
# ------------------------------------------------------------------------------------------

#: One rule per platform family, each true for every account of the family (competitors too).
ALWAYS_TRUE_RULES: tuple[tuple[str, str, dict[str, str]], ...] = (
    ("SeenFollowers", "followers", {}),  # photo, video, micro, pro
    ("SeenAdImpressions", "impressions", {"platform": "demo_ads"}),
    ("SeenBounceRate", "bounce_rate", {}),  # web
    ("SeenEmailOpenRate", "email_open_rate", {}),  # crm
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def daemon_config(
    accounts: int, port: int, hook: str, state_dir: Path, poll: float, intervals: dict[str, str]
) -> tuple[str, dict[str, str]]:
    """The YAML text, and the platform of each account. ``intervals`` overrides
    ``history.flush_interval`` and ``kpis.interval`` (keys ``history`` and ``kpis``)."""
    config = yaml.safe_load(demo_config_yaml(accounts=accounts, listen=f"127.0.0.1:{port}"))
    config["state_dir"] = str(state_dir)
    config["log"] = {"level": "debug", "format": "json"}  # "poll succeeded" is a debug line
    config["defaults"].update(interval=f"{poll:g}s", startup_spread=f"{poll:g}s", jitter=0.1)
    config["rules"] = [
        {
            "name": name,
            "kpi": kpi,
            "scope": scope,
            "condition": {"above": -1},
            "include_competitors": True,
        }
        for name, kpi, scope in ALWAYS_TRUE_RULES
    ]
    config["notifiers"] = [
        {
            "name": "bench",
            "type": "webhook",
            "url": hook,
            "group_by": ["..."],
            "group_wait": "0s",
            "send_resolved": False,
        }
    ]
    if "history" in intervals:
        config["history"] = {"flush_interval": intervals["history"]}
    if "kpis" in intervals:
        config["kpis"] = {"interval": intervals["kpis"]}
    platforms = {a["id"]: a["platform"] for a in config["accounts"]}
    return yaml.safe_dump(config), platforms


@dataclass
class Received:
    at: dict[str, float] = field(default_factory=dict)  # account -> arrival (time.time())
    requests: int = 0
    keys: Counter[str] = field(default_factory=Counter)  # Idempotency-Key -> requests


async def webhook_receiver(received: Received) -> tuple[web.AppRunner, int]:
    async def hook(request: web.Request) -> web.Response:
        body = await request.json()
        arrived = time.time()
        received.requests += 1
        received.keys[request.headers.get("Idempotency-Key", "")] += 1
        for alert in body.get("alerts", []):
            account = alert.get("labels", {}).get("account")
            if alert.get("status") == "firing" and account:
                received.at.setdefault(account, arrived)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = _free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, port


def _ts(line: dict[str, Any]) -> float:
    return datetime.fromisoformat(line["timestamp"]).timestamp()


@dataclass
class DaemonLog:
    polls: dict[str, float] = field(default_factory=dict)  # account -> first poll's end
    fired: dict[str, float] = field(default_factory=dict)  # account -> "alert firing" logged
    kpi_cycles: list[tuple[float, float, int]] = field(default_factory=list)  # end, s, refreshed
    errors: list[str] = field(default_factory=list)


def read_log(path: Path) -> DaemonLog:
    out = DaemonLog()
    for text in path.read_text(errors="replace").splitlines():
        try:
            line = json.loads(text)
        except ValueError:
            continue
        event = line.get("event")
        if event == "poll succeeded":
            out.polls.setdefault(line["account"], _ts(line))
        elif event == "alert firing":
            account = (line.get("labels") or {}).get("account")
            if account:
                out.fired.setdefault(account, _ts(line))
        elif event == "kpis computed":
            out.kpi_cycles.append((_ts(line), line["seconds"], line["refreshed"]))
        elif line.get("level") in ("error", "warning"):
            out.errors.append(f"{event}: {line.get('error', '')}")
    out.kpi_cycles.sort()
    return out


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def describe(values: Sequence[float]) -> str:
    return (
        f"median {statistics.median(values):.3f} s, p90 {percentile(values, 0.9):.3f} s, "
        f"max {max(values):.3f} s"
    )


async def poll_to_webhook(
    accounts: int,
    poll: float,
    wait: float,
    keep: Path | None,
    profile: bool,
    intervals: dict[str, str],
) -> None:
    """Run the daemon until every account was notified or ``poll + wait`` seconds passed."""
    received = Received()
    runner, hook_port = await webhook_receiver(received)
    port = _free_port()
    name = f"poll-to-webhook-{accounts}-every-{poll:g}s"
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "bench.yaml"
        text, platforms = daemon_config(
            accounts, port, f"http://127.0.0.1:{hook_port}/hook", Path(tmp), poll, intervals
        )
        config.write_text(text)
        log_path = (keep or Path(tmp)) / f"{name}.log"
        spy = None
        with log_path.open("w") as log_file:
            proc = await asyncio.create_subprocess_exec(
                *[sys.executable, "-m", "kpiwatch", "run", "-c", str(config)],
                cwd=tmp,
                stdout=log_file,
                stderr=asyncio.subprocess.STDOUT,
            )
            if profile and keep is not None:
                spy = await asyncio.create_subprocess_exec(
                    *[str(Path(sys.executable).with_name("py-spy")), "record", "--pid"],
                    *[str(proc.pid), "--format", "raw", "--duration", f"{poll + 10:.0f}"],
                    *["--output", str(keep / f"{name}.pyspy.txt"), "--nonblocking"],
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=asyncio.subprocess.DEVNULL,
                )
            started = time.monotonic()
            try:
                while len(received.at) < accounts and time.monotonic() - started < poll + wait:
                    if proc.returncode is not None:
                        break
                    await asyncio.sleep(0.2)
            finally:
                if spy is not None:
                    await spy.wait()
                if proc.returncode is None:
                    proc.terminate()
                    try:
                        await asyncio.wait_for(proc.wait(), 60)
                    except TimeoutError:
                        proc.kill()
                        await proc.wait()
                await runner.cleanup()
        log = read_log(log_path)
    report_delays(accounts, received, log, platforms)


def report_delays(
    accounts: int, received: Received, log: DaemonLog, platforms: dict[str, str]
) -> None:
    measured = [a for a in received.at if a in log.polls]
    repeated = sum(n - 1 for n in received.keys.values() if n > 1)
    print(
        f"  {len(measured)} of {accounts} accounts notified ({received.requests} requests"
        + (f", {repeated} repeating an Idempotency-Key already received)" if repeated else ")")
    )
    missing = Counter(platforms[a] for a in platforms if a not in received.at)
    if missing:
        polled = sum(1 for a in platforms if a not in received.at and a in log.polls)
        print(
            f"  not notified in time: {sum(missing.values())} ({polled} of them polled), by "
            f"platform: {', '.join(f'{p} {n}' for p, n in sorted(missing.items()))}"
        )
    if log.errors:
        print(f"  daemon warnings/errors: {len(log.errors)}, first: {log.errors[0]}")
    if not measured:
        return
    delays = [received.at[a] - log.polls[a] for a in measured]
    print(f"  poll end -> webhook request: {describe(delays)}")
    ends = [end for end, _, _ in log.kpi_cycles]
    stages: dict[str, list[float]] = {
        "until the KPI cycle started": [],
        "KPI cycle": [],
        "alert cycle (evaluate, commit)": [],
        "delivery": [],
    }
    for account in measured:
        fired = log.fired.get(account)
        if fired is None:
            continue
        index = np.searchsorted(ends, fired, side="right") - 1
        if index < 0:
            continue
        end, seconds, _ = log.kpi_cycles[index]
        stages["until the KPI cycle started"].append(end - seconds - log.polls[account])
        stages["KPI cycle"].append(seconds)
        stages["alert cycle (evaluate, commit)"].append(fired - end)
        stages["delivery"].append(received.at[account] - fired)
    for name, values in stages.items():
        if values:
            print(f"    {name:<31} {describe(values)}")
    busy = [(s, n) for end, s, n in log.kpi_cycles if n]
    if busy:
        print(
            f"  KPI cycles: {len(log.kpi_cycles)}; those that refreshed accounts took a median "
            f"{statistics.median(s for s, _ in busy):.3f} s for a median "
            f"{statistics.median(n for _, n in busy):.0f} accounts"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--rules", type=int, default=1_000, help="rules in all")
    parser.add_argument("--group-rules", type=int, default=50, help="of them by: [brand]")
    parser.add_argument("--anomaly-rules", type=int, default=20, help="of them anomaly rules")
    parser.add_argument(
        "--active", type=float, default=0.02, help="share of watched accounts whose condition holds"
    )
    parser.add_argument("--active-high", type=float, default=0.10)
    parser.add_argument("--churn", type=float, default=0.05, help="accounts differing per cycle")
    parser.add_argument("--cycles", type=int, default=6)
    parser.add_argument("--cycles-high", type=int, default=3, help="cycles with --active-high")
    parser.add_argument(
        "--daemon-runs",
        nargs="*",
        default=["50:10", "1000:60", "1000:10"],
        metavar="ACCOUNTS:SECONDS",
        help="demo accounts and poll interval of each daemon run; none to skip part 2",
    )
    parser.add_argument(
        "--wait", type=float, default=60.0, help="seconds to wait after the first polls"
    )
    parser.add_argument("--keep", type=Path, help="keep the daemons' JSON logs in this directory")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="with --keep: py-spy each daemon over its first polls (raw stacks)",
    )
    parser.add_argument("--flush-interval", help="history.flush_interval (default: the daemon's)")
    parser.add_argument("--kpi-interval", help="kpis.interval (default: the daemon's)")
    parser.add_argument("--skip-evaluation", action="store_true")
    args = parser.parse_args()
    if args.profile and args.keep is None:
        parser.error("--profile writes next to the logs: give --keep DIR too")
    runs = []
    for run in args.daemon_runs:
        accounts, _, seconds = run.partition(":")
        try:
            runs.append((int(accounts), float(seconds or 10)))
        except ValueError:
            parser.error(f"--daemon-runs: {run!r} is not ACCOUNTS:SECONDS, for example 1000:60")
    if not args.skip_evaluation:
        print("rule evaluation")
        evaluation(args)
    for count, poll in runs:
        print(
            f"\npoll to webhook: kpiwatch run, {count} demo accounts polled every {poll:g} s "
            "(first polls spread over as long), each alert its own notification"
        )
        if args.keep is not None:
            args.keep.mkdir(parents=True, exist_ok=True)
        intervals = {"history": args.flush_interval, "kpis": args.kpi_interval}
        intervals = {k: v for k, v in intervals.items() if v is not None}
        if intervals:
            print(f"  with {', '.join(f'{k} interval {v}' for k, v in intervals.items())}")
        asyncio.run(poll_to_webhook(count, poll, args.wait, args.keep, args.profile, intervals))


if __name__ == "__main__":
    main()
