"""The exposition renders the runtime off the loop, correctly labelled, and promtool-clean."""

from __future__ import annotations

import asyncio
import gzip
import shutil
import subprocess
import time
from collections import Counter

import pytest
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as parse_openmetrics,
)
from prometheus_client.parser import text_string_to_metric_families as parse_text

from kpiwatch import vocabulary
from kpiwatch.exposition import ExpositionCache
from kpiwatch.platform import Sample
from kpiwatch.runtime import AccountStatus, DurationHistogram, Runtime
from kpiwatch.vocabulary import Kind

NASTY = 'ac"me \\ corp\nline two'  # a quote, a backslash and a newline
NOW = 1_800_000_000.0


def make_runtime() -> Runtime:
    """Three accounts: one up with samples, a competitor that is down, one pending."""
    runtime = Runtime()
    runtime.config_loaded = True
    runtime.started_at = NOW - 3600
    runtime.add_account(
        AccountStatus(
            "acme-demo",
            "demo",
            {"brand": NASTY, "team": "social"},
            state="up",
            polls=5,
            failures=Counter(rate_limited=2),
            skipped=1,
            invalid_samples=4,
            last_attempt=NOW - 60,
            last_success=NOW - 59,
            last_duration=0.75,
            next_poll=NOW + 840,
            last_sample_count=6,
        )
    )
    runtime.add_account(
        AccountStatus(
            "rival-demo",
            "demo",
            {"brand": "rival"},
            competitor=True,
            state="down",
            polls=4,
            failures=Counter(auth=1, timeout=3),
            consecutive_failures=3,
            last_attempt=NOW - 30,
            last_duration=30.0,
            last_error_reason="timeout",
            last_error_message="the poll ran past 30s",
            last_error_at=NOW - 30,
        )
    )
    runtime.add_account(AccountStatus("fresh-mastodon", "mastodon", {}, running=True))
    runtime.store_samples(
        "acme-demo",
        [
            Sample("followers", 1234),
            Sample("impressions", 500, "1d"),
            Sample("impressions", 3100, "7d"),
            Sample("sessions", 42, "1d", {"source": "newsletter", "medium": "email"}),
            Sample("revenue", 99.5, "28d", {"source": "ads", "medium": "cpc", "currency": "EUR"}),
            Sample("no_such_metric", 1),
        ],
    )
    runtime.store_samples("rival-demo", [Sample("followers", 880)])
    histogram = DurationHistogram()
    for seconds in (0.03, 0.3, 0.75, 200.0):
        histogram.observe(seconds)
    runtime.durations["demo"] = histogram
    runtime.reload.successes, runtime.reload.failures = 2, 1
    runtime.reload.last_successful = False
    runtime.reload.last_success_time = NOW - 600
    runtime.shard_index, runtime.shard_count = 1, 3
    return runtime


def every_vocabulary_sample() -> list[Sample]:
    samples = []
    for i, metric in enumerate(vocabulary.METRICS):
        window = "1d" if metric.kind == Kind.PERIOD else None
        dims = {d: f"{d}-value" for d in metric.dimensions}
        samples.append(Sample(metric.name, float(i), window, dims))
    return samples


def series(body: bytes) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a text-format body keyed by name and label set."""
    out = {}
    for family in parse_text(body.decode()):
        for s in family.samples:
            assert s.timestamp is None, f"{s.name} carries a timestamp"
            key = (s.name, frozenset(s.labels.items()))
            assert key not in out, f"duplicate series {key}"
            out[key] = s.value
    return out


def key(name: str, **labels: str) -> tuple[str, frozenset[tuple[str, str]]]:
    return name, frozenset(labels.items())


ACME = {"platform": "demo", "account": "acme-demo", "brand": NASTY, "team": "social"}
RIVAL = {"platform": "demo", "account": "rival-demo", "brand": "rival", "competitor": "true"}
FRESH = {"platform": "mastodon", "account": "fresh-mastodon"}


async def test_text_exposition_has_the_runtime_values_and_labels():
    cache = ExpositionCache(make_runtime(), build_info={"version": "9.9.9", "python": "3.11.4"})
    await cache.render_now()
    got = series(await cache.get())

    assert got[key("kpiwatch_followers", **ACME)] == 1234
    assert got[key("kpiwatch_followers", **RIVAL)] == 880
    assert got[key("kpiwatch_impressions", **ACME, window="1d")] == 500
    assert got[key("kpiwatch_impressions", **ACME, window="7d")] == 3100
    assert got[key("kpiwatch_sessions", **ACME, window="1d", source="newsletter", medium="email")]
    revenue = key(
        "kpiwatch_revenue", **ACME, window="28d", source="ads", medium="cpc", currency="EUR"
    )
    assert got[revenue] == 99.5
    assert not any(name == "kpiwatch_no_such_metric" for name, _ in got)

    assert got[key("kpiwatch_up", **ACME)] == 1
    assert got[key("kpiwatch_up", **RIVAL)] == 0
    assert key("kpiwatch_up", **FRESH) not in got  # pending: no verdict yet
    assert got[key("kpiwatch_last_success_timestamp_seconds", **ACME)] == NOW - 59
    assert key("kpiwatch_last_success_timestamp_seconds", **RIVAL) not in got
    assert got[key("kpiwatch_last_collect_duration_seconds", **RIVAL)] == 30.0
    assert got[key("kpiwatch_last_collect_samples", **ACME)] == 6
    assert got[key("kpiwatch_consecutive_failures", **RIVAL)] == 3
    assert got[key("kpiwatch_collect_in_progress", **FRESH)] == 1
    assert got[key("kpiwatch_collect_in_progress", **ACME)] == 0
    assert got[key("kpiwatch_next_poll_timestamp_seconds", **ACME)] == NOW + 840
    assert got[key("kpiwatch_polls_total", **ACME)] == 5
    assert got[key("kpiwatch_polls_total", **FRESH)] == 0
    assert got[key("kpiwatch_collect_failures_total", **ACME, reason="rate_limited")] == 2
    assert got[key("kpiwatch_collect_failures_total", **RIVAL, reason="auth")] == 1
    assert got[key("kpiwatch_collect_failures_total", **RIVAL, reason="timeout")] == 3
    assert key("kpiwatch_collect_failures_total", **ACME, reason="auth") not in got
    assert got[key("kpiwatch_skipped_polls_total", **ACME)] == 1
    assert got[key("kpiwatch_invalid_samples_total", **ACME)] == 4

    assert got[key("kpiwatch_accounts", platform="demo")] == 2
    assert got[key("kpiwatch_accounts", platform="mastodon")] == 1
    assert got[key("kpiwatch_accounts_pending", platform="demo")] == 0
    assert got[key("kpiwatch_accounts_pending", platform="mastodon")] == 1

    bucket = "kpiwatch_collect_duration_seconds_bucket"
    assert got[key(bucket, platform="demo", le="0.05")] == 1
    assert got[key(bucket, platform="demo", le="0.5")] == 2
    assert got[key(bucket, platform="demo", le="1.0")] == 3
    assert got[key(bucket, platform="demo", le="120.0")] == 3
    assert got[key(bucket, platform="demo", le="+Inf")] == 4
    assert got[key("kpiwatch_collect_duration_seconds_count", platform="demo")] == 4
    assert got[key("kpiwatch_collect_duration_seconds_sum", platform="demo")] == pytest.approx(
        201.08
    )
    # a platform with accounts but no finished poll has an all-zero histogram
    assert got[key(bucket, platform="mastodon", le="+Inf")] == 0

    assert got[key("kpiwatch_build_info", version="9.9.9", python="3.11.4")] == 1
    assert got[key("kpiwatch_ready")] == 0  # one account is pending
    assert got[key("kpiwatch_start_time_seconds")] == NOW - 3600
    assert got[key("kpiwatch_shard_ordinal")] == 1
    assert got[key("kpiwatch_total_shards")] == 3
    assert got[key("kpiwatch_config_last_reload_successful")] == 0
    assert got[key("kpiwatch_config_last_reload_success_timestamp_seconds")] == NOW - 600
    assert got[key("kpiwatch_config_reloads_total", result="success")] == 2
    assert got[key("kpiwatch_config_reloads_total", result="failure")] == 1
    assert got[key("kpiwatch_exposition_series")] == len(got)
    assert key("kpiwatch_exposition_render_duration_seconds") not in got  # no previous render


async def test_second_render_exports_the_duration_of_the_first():
    cache = ExpositionCache(make_runtime())
    first = await cache.render_now()
    second = await cache.render_now()
    assert (first.version, second.version) == (1, 2)
    got = series(await cache.get())
    assert got[key("kpiwatch_exposition_render_duration_seconds")] == pytest.approx(
        first.duration_seconds
    )
    assert second.series == len(got)


async def test_openmetrics_output_parses_and_ends_with_eof():
    runtime = make_runtime()
    cache = ExpositionCache(runtime, build_info={"version": "1.2.3", "python": "3.11.4"})
    await cache.render_now()
    body = await cache.get("openmetrics")
    assert body.endswith(b"# EOF\n")
    families = {f.name: f for f in parse_openmetrics(body.decode())}
    assert families["kpiwatch_build"].type == "info"
    assert families["kpiwatch_polls"].type == "counter"
    assert families["kpiwatch_collect_duration_seconds"].type == "histogram"
    followers = {
        frozenset(s.labels.items()): s.value for s in families["kpiwatch_followers"].samples
    }
    assert followers == {frozenset(ACME.items()): 1234, frozenset(RIVAL.items()): 880}
    # the same data as the text format
    text_values = {k: v for k, v in series(await cache.get()).items() if k[0] == "kpiwatch_up"}
    om_values = {
        ("kpiwatch_up", frozenset(s.labels.items())): s.value
        for s in families["kpiwatch_up"].samples
    }
    assert om_values == text_values


async def test_gzip_variants_decompress_to_the_plain_bodies():
    cache = ExpositionCache(make_runtime())
    await cache.render_now()
    for fmt in ("text", "openmetrics"):
        plain = await cache.get(fmt)
        packed = await cache.get(fmt, gzip=True)
        assert packed[:2] == b"\x1f\x8b"
        assert gzip.decompress(packed) == plain
        assert await cache.get(fmt, gzip=True) is packed  # cached per render


async def test_a_render_produces_the_variants_requested_since_the_previous_one():
    cache = ExpositionCache(make_runtime())
    first = await cache.render_now()
    assert first.variants == ("text",)
    await cache.get("openmetrics", gzip=True)
    second = await cache.render_now()
    assert second.variants == ("openmetrics", "openmetrics+gzip")  # no scraper wanted text
    third = await cache.render_now()  # nothing requested meanwhile: same as before
    assert third.variants == ("openmetrics", "openmetrics+gzip")
    assert third.body_bytes == len(await cache.get("openmetrics"))
    await cache.get("text")
    await cache.get("text", gzip=True)
    fourth = await cache.render_now()
    assert fourth.variants == ("text", "text+gzip", "openmetrics")


async def test_variants_follow_the_latest_render():
    runtime = make_runtime()
    cache = ExpositionCache(runtime)
    await cache.render_now()
    before = await cache.get("openmetrics", gzip=True)
    runtime.store_samples("acme-demo", [Sample("followers", 4321)])
    await cache.render_now()
    after = gzip.decompress(await cache.get("openmetrics", gzip=True)).decode()
    assert before != after
    families = {f.name: f for f in parse_openmetrics(after)}
    values = {s.labels["account"]: s.value for s in families["kpiwatch_followers"].samples}
    assert values["acme-demo"] == 4321


async def test_a_body_is_served_before_the_first_render():
    cache = ExpositionCache(Runtime(), build_info={"version": "0.0.1", "python": "3.11.0"})
    assert cache.version == 0
    got = series(await cache.get())
    assert got[key("kpiwatch_build_info", version="0.0.1", python="3.11.0")] == 1
    assert cache.version == 1


async def test_unknown_format_is_refused():
    cache = ExpositionCache(Runtime())
    with pytest.raises(ValueError, match="'text' or 'openmetrics'"):
        await cache.get("json")  # type: ignore[arg-type]


async def wait_for(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


async def test_removing_an_account_removes_its_series_on_the_next_render():
    runtime = make_runtime()
    cache = ExpositionCache(runtime, min_interval=0.01)
    cache.start()
    try:
        await wait_for(lambda: cache.version >= 1)
        assert "rival-demo" in (await cache.get()).decode()
        version = cache.version
        runtime.remove_account("rival-demo")
        await wait_for(lambda: cache.version > version)
        got = series(await cache.get())
        assert not [k for k in got if ("account", "rival-demo") in k[1]]
        assert got[key("kpiwatch_followers", **ACME)] == 1234
        assert got[key("kpiwatch_accounts", platform="demo")] == 1
    finally:
        await cache.stop()


async def test_a_burst_of_changes_coalesces_into_few_renders():
    runtime = Runtime()
    cache = ExpositionCache(runtime, min_interval=0.3)
    cache.start()
    try:
        await wait_for(lambda: cache.version == 1)
        for i in range(100):
            runtime.add_account(AccountStatus(f"acct-{i:03d}", "demo", {}))
            runtime.store_samples(f"acct-{i:03d}", [Sample("followers", i)])
            await asyncio.sleep(0.002)
        # the last change is rendered, and not by one render per change
        deadline = time.monotonic() + 5
        while b'account="acct-099"' not in await cache.get():
            assert time.monotonic() < deadline, "the last change was never rendered"
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.5)
        renders = cache.version - 1
        assert 1 <= renders <= 3, renders
        got = series(await cache.get())
        assert got[key("kpiwatch_accounts", platform="demo")] == 100
    finally:
        await cache.stop()


async def test_rendering_runs_off_the_event_loop():
    """A big render must leave the loop responsive: a ticker sees no gap as long as it."""
    runtime = Runtime()
    for a in range(1500):
        runtime.add_account(AccountStatus(f"acct-{a}", "demo", {"brand": f"b{a % 7}"}))
        runtime.store_samples(
            f"acct-{a}",
            [
                Sample(m.name, a, "1d" if m.kind == Kind.PERIOD else None)
                for m in vocabulary.METRICS
                if not m.dimensions
            ],
        )
    cache = ExpositionCache(runtime)
    gaps: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        last = time.perf_counter()
        while not stop.is_set():
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0.02)
    stats = await cache.render_now()
    stop.set()
    await task
    assert stats.series > 50_000
    assert stats.duration_seconds > 0.2, "render too quick for the test to mean anything"
    assert max(gaps) < stats.duration_seconds / 2, (max(gaps), stats.duration_seconds)


async def test_stop_ends_the_render_loop():
    cache = ExpositionCache(Runtime())
    task = cache.start()
    await wait_for(lambda: cache.version == 1)
    await cache.stop()
    assert task.done()


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
async def test_promtool_check_metrics_reports_nothing():
    runtime = make_runtime()
    runtime.store_samples("acme-demo", every_vocabulary_sample())
    cache = ExpositionCache(runtime)
    await cache.render_now()
    await cache.render_now()  # the second render also has the render-duration gauge
    body = await cache.get()
    names = {f.name for f in parse_text(body.decode())}
    assert {m.exported_name for m in vocabulary.METRICS} <= names
    result = subprocess.run(
        ["promtool", "check", "metrics"], input=body, capture_output=True, timeout=60
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, b"", b"")
