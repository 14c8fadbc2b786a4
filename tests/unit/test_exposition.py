"""The exposition renders the runtime off the loop and incrementally, as prometheus_client would."""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Iterator

import pytest
from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics import exposition as openmetrics_exposition
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as parse_openmetrics,
)
from prometheus_client.parser import text_string_to_metric_families as parse_text
from prometheus_client.registry import Collector, CollectorRegistry
from prometheus_client.utils import floatToGoString

from kpiwatch import vocabulary
from kpiwatch.exposition import ExpositionCache, account_labels, family_header, raw_help
from kpiwatch.logging import configure_logging
from kpiwatch.platform import Sample
from kpiwatch.runtime import DURATION_BUCKETS, AccountStatus, DurationHistogram, Runtime
from kpiwatch.selfmetrics import SELF_METRICS, SelfMetric
from kpiwatch.toolkit.ratelimit import RateLimitState
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
            rate_limit=RateLimitState(300.0, 287.0, NOW + 120, NOW - 59),
            quota=(9_850, 10_000),
            removed_metrics={"impressions": "no longer served since API v21"},
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
    assert first.variants == ()  # nobody has asked for a body yet
    await cache.get("openmetrics", gzip=True)
    second = await cache.render_now()
    assert second.variants == ("openmetrics", "openmetrics+gzip")  # no scraper wanted text
    third = await cache.render_now()  # nothing requested meanwhile: no body built
    assert third.variants == ()
    assert third.body_bytes == second.body_bytes  # the size of the latest body built
    assert (await cache.get("openmetrics")).endswith(b"# EOF\n")  # built on request
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
    for a in range(4000):
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

    # a body assembled from an incremental render is as clean
    runtime.store_samples("rival-demo", [Sample("followers", 881)])
    runtime.accounts["rival-demo"].labels = {"brand": "rival", "region": "emea"}
    runtime.changed("rival-demo")
    runtime.remove_account("fresh-mastodon")
    stats = await cache.render_now(full=False)
    assert stats.accounts_rendered == 2
    body = await cache.get()
    assert b'region="emea"' in body and b"fresh-mastodon" not in body
    result = subprocess.run(
        ["promtool", "check", "metrics"], input=body, capture_output=True, timeout=60
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, b"", b"")


# prometheus_client as the reference ----------------------------------------------------------
PER_ACCOUNT = {  # self-metric name: the value of one account's series, None for no series
    "kpiwatch_up": lambda s: None if s.state == "pending" else float(s.up),
    "kpiwatch_last_success_timestamp_seconds": lambda s: s.last_success,
    "kpiwatch_last_collect_duration_seconds": lambda s: s.last_duration,
    "kpiwatch_last_collect_samples": lambda s: (
        None if s.last_success is None else s.last_sample_count
    ),
    "kpiwatch_consecutive_failures": lambda s: s.consecutive_failures,
    "kpiwatch_collect_in_progress": lambda s: float(s.running),
    "kpiwatch_next_poll_timestamp_seconds": lambda s: s.next_poll,
    "kpiwatch_polls_total": lambda s: s.polls,
    "kpiwatch_skipped_polls_total": lambda s: s.skipped,
    "kpiwatch_invalid_samples_total": lambda s: s.invalid_samples,
    "kpiwatch_rate_limit_remaining": lambda s: s.rate_limit and s.rate_limit.remaining,
    "kpiwatch_rate_limit_limit": lambda s: s.rate_limit and s.rate_limit.limit,
    "kpiwatch_rate_limit_reset_timestamp_seconds": lambda s: s.rate_limit and s.rate_limit.reset_at,
    "kpiwatch_quota_remaining_units": lambda s: s.quota and s.quota[0],
    "kpiwatch_quota_limit_units": lambda s: s.quota and s.quota[1],
    "kpiwatch_metrics_disabled": lambda s: (
        len(s.removed_metrics) if s.polls or s.removed_metrics else None
    ),
}


def reference_registry(
    runtime: Runtime, build_info: dict[str, str], previous_duration: float | None
) -> CollectorRegistry:
    """The families of ``runtime`` as prometheus_client Metric objects, in a registry.

    Written from docs/metrics.md, independently of the renderer under test.
    """
    families: list[Metric] = []
    accounts = list(runtime.accounts.values())
    labels_of = {s.account_id: account_labels(s) for s in accounts}
    for metric in vocabulary.METRICS:
        family = Metric(metric.exported_name, raw_help(metric), "gauge")
        for status in accounts:
            for sample in runtime.latest[status.account_id].values():
                if sample.metric != metric.name:
                    continue
                labels = dict(labels_of[status.account_id])
                if sample.window is not None:
                    labels["window"] = sample.window
                for dim, value in sample.dims.items():
                    labels.setdefault(dim, value)
                family.add_sample(metric.exported_name, labels, float(sample.value))
        families.append(family)
    platforms = Counter(s.platform for s in accounts)
    pending = Counter(s.platform for s in accounts if s.state == "pending")
    for entry in SELF_METRICS:
        family = Metric(entry.family_name, entry.description, entry.type)
        families.append(family)

        def add(labels: dict[str, str], value: float, suffix: str = "") -> None:
            family.add_sample(entry.name + suffix, labels, value)  # noqa: B023

        if entry.name in PER_ACCOUNT:
            for status in accounts:
                value = PER_ACCOUNT[entry.name](status)
                if value is not None:
                    add(labels_of[status.account_id], value)
        elif entry.name == "kpiwatch_collect_failures_total":
            for status in accounts:
                for reason, count in sorted(status.failures.items()):
                    add({**labels_of[status.account_id], "reason": reason}, count)
        elif entry.name == "kpiwatch_collect_duration_seconds":
            for platform in sorted(set(platforms) | set(runtime.durations)):
                h = runtime.durations.get(platform, DurationHistogram())
                for bound, count in zip(DURATION_BUCKETS, h.buckets, strict=True):
                    add({"platform": platform, "le": floatToGoString(bound)}, count, "_bucket")
                add({"platform": platform, "le": "+Inf"}, h.count, "_bucket")
                add({"platform": platform}, h.count, "_count")
                add({"platform": platform}, h.total, "_sum")
        elif entry.name in ("kpiwatch_accounts", "kpiwatch_accounts_pending"):
            counts = platforms if entry.name == "kpiwatch_accounts" else pending
            for platform in sorted(platforms):
                add({"platform": platform}, counts[platform])
        elif entry.name == "kpiwatch_config_reloads_total":
            add({"result": "success"}, runtime.reload.successes)
            add({"result": "failure"}, runtime.reload.failures)
        elif entry.name == "kpiwatch_exposition_render_duration_seconds":
            if previous_duration is not None:
                add({}, previous_duration)
        elif entry.name == "kpiwatch_exposition_series":
            add({}, sum(len(f.samples) for f in families) + 1)
        else:
            value = {
                "kpiwatch_build_info": 1.0,
                "kpiwatch_ready": float(runtime.ready),
                "kpiwatch_start_time_seconds": runtime.started_at,
                "kpiwatch_shard_ordinal": runtime.shard_index,
                "kpiwatch_total_shards": runtime.shard_count,
                "kpiwatch_config_last_reload_successful": float(runtime.reload.last_successful),
                "kpiwatch_config_last_reload_success_timestamp_seconds": (
                    runtime.reload.last_success_time
                ),
            }[entry.name]
            add(build_info if entry.name == "kpiwatch_build_info" else {}, value)

    class Families(Collector):
        def collect(self) -> Iterator[Metric]:
            return iter([f for f in families if f.samples])

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Families())
    return registry


def odd_runtime() -> Runtime:
    """make_runtime() plus every vocabulary metric and labels and values that need care."""
    runtime = make_runtime()
    runtime.store_samples("acme-demo", every_vocabulary_sample())
    runtime.store_samples(
        "acme-demo",
        [Sample("sessions", 3, "7d", {"source": 'news"letter\\', "medium": "e\nmail"})],
    )
    runtime.add_account(
        AccountStatus(
            "odd-values",
            "other",
            {"brand": "{0} ünï 🚀 {}", "team": "a,b=c}"},
            state="up",
            last_success=NOW,
        )
    )
    runtime.store_samples(
        "odd-values",
        [
            Sample("followers", 1.5e21),
            Sample("watch_time", 1e-7, "1d"),
            Sample("spend", -3, "28d", {"currency": "{1}"}),
            Sample("posts", 12_345_678),
        ],
    )
    return runtime


async def test_bodies_are_what_prometheus_client_writes_for_the_same_families():
    runtime = odd_runtime()
    build = {"version": "9.9.9", "python": "3.11.4"}
    cache = ExpositionCache(runtime, build_info=build)
    first = await cache.render_now()
    await cache.render_now()
    registry = reference_registry(runtime, build, first.duration_seconds)
    text, om = await cache.get("text"), await cache.get("openmetrics")
    want_text = generate_latest(registry)
    want_om = openmetrics_exposition.generate_latest(registry)

    assert list(parse_text(text.decode())) == list(parse_text(want_text.decode()))
    assert list(parse_openmetrics(om.decode())) == list(parse_openmetrics(want_om.decode()))
    assert text == want_text
    assert om == want_om


@pytest.mark.parametrize(
    ("typ", "name"),
    [("gauge", "x_seconds"), ("counter", "x_total"), ("info", "x_info"), ("histogram", "x")],
)
def test_family_headers_escape_help_as_prometheus_client_does(typ, name):
    doc = 'A "quoted" word, a back\\slash\nand a second line.'
    entry = SelfMetric(name, typ, "", (), doc)
    family = Metric(entry.family_name, doc, typ)

    class One(Collector):
        def collect(self) -> Iterator[Metric]:
            return iter([family])

    registry = CollectorRegistry(auto_describe=False)
    registry.register(One())
    header = family_header(entry.name, entry.family_name, entry.text_type, typ, doc)
    assert header.text == generate_latest(registry)
    assert header.openmetrics + b"# EOF\n" == openmetrics_exposition.generate_latest(registry)


# incremental renders --------------------------------------------------------------------------
def many_accounts(n: int) -> Runtime:
    runtime = Runtime()
    runtime.config_loaded = True
    for i in range(n):
        runtime.add_account(AccountStatus(f"acct-{i:03d}", "demo", {"brand": f"b{i % 3}"}))
        runtime.store_samples(f"acct-{i:03d}", [Sample("followers", i), Sample("reach", i, "7d")])
    return runtime


async def test_an_incremental_render_renders_only_the_accounts_reported_changed():
    runtime = many_accounts(50)
    cache = ExpositionCache(runtime)
    assert (await cache.render_now()).accounts_rendered == 50

    runtime.store_samples("acct-007", [Sample("followers", 700)])
    runtime.changed("acct-007")
    runtime.store_samples("acct-008", [Sample("followers", 800)])  # not reported
    stats = await cache.render_now(full=False)
    assert stats.accounts_rendered == 1
    got = series(await cache.get())
    followers = {
        dict(labels)["account"]: value
        for (name, labels), value in got.items()
        if name == "kpiwatch_followers"
    }
    assert followers["acct-007"] == 700
    assert followers["acct-008"] == 8  # its old lines: nobody said it changed
    assert followers["acct-009"] == 9
    assert len(followers) == 50
    assert got[key("kpiwatch_exposition_series")] == stats.series == len(got)

    assert (await cache.render_now(full=False)).accounts_rendered == 0
    del runtime.accounts["acct-049"]  # not reported either
    full = await cache.render_now()  # a full render picks up what was never reported
    assert full.accounts_rendered == 49
    got = series(await cache.get())
    assert got[key("kpiwatch_followers", platform="demo", account="acct-008", brand="b2")] == 800
    assert not [k for k in got if ("account", "acct-049") in k[1]]
    assert got[key("kpiwatch_accounts", platform="demo")] == 49


async def test_the_render_loop_renders_the_accounts_changed_meanwhile():
    runtime = many_accounts(30)
    cache = ExpositionCache(runtime, min_interval=0.01)
    cache.start()
    try:
        await wait_for(lambda: cache.version >= 1)
        assert cache.last_render is not None and cache.last_render.accounts_rendered == 30
        version = cache.version
        for account in ("acct-003", "acct-004", "acct-003"):
            runtime.accounts[account].polls += 1
            runtime.changed(account)
        await wait_for(lambda: cache.version > version)
        assert cache.last_render.accounts_rendered == 2
        got = series(await cache.get())
        polls = key("kpiwatch_polls_total", platform="demo", account="acct-003", brand="b0")
        assert got[polls] == 2
        version = cache.version
        runtime.reload.failures += 1
        runtime.changed()  # not tied to an account: no account is rendered again
        await wait_for(lambda: cache.version > version)
        assert cache.last_render.accounts_rendered == 0
        got = series(await cache.get())
        assert got[key("kpiwatch_config_reloads_total", result="failure")] == 1
    finally:
        await cache.stop()


async def test_removed_accounts_and_their_platform_disappear():
    runtime = make_runtime()
    cache = ExpositionCache(runtime)
    await cache.render_now()
    runtime.remove_account("rival-demo")
    runtime.remove_account("fresh-mastodon")
    stats = await cache.render_now(full=False)
    assert stats.accounts_rendered == 2
    got = series(await cache.get())
    accounts = {dict(labels).get("account") for _, labels in got}
    assert "rival-demo" not in accounts and "fresh-mastodon" not in accounts
    assert got[key("kpiwatch_followers", **ACME)] == 1234
    assert got[key("kpiwatch_accounts", platform="demo")] == 1
    assert key("kpiwatch_accounts", platform="mastodon") not in got
    assert key("kpiwatch_accounts_pending", platform="mastodon") not in got
    assert got[key("kpiwatch_ready")] == 1  # the only pending account is gone
    assert got[key("kpiwatch_exposition_series")] == stats.series == len(got)


async def test_label_changes_show_after_the_account_is_reported_changed():
    runtime = make_runtime()
    cache = ExpositionCache(runtime)
    await cache.render_now()
    status = runtime.accounts["acme-demo"]
    status.labels = {"brand": "acme", "tier": "gold"}
    status.competitor = True
    runtime.changed("acme-demo")
    await cache.render_now(full=False)
    got = series(await cache.get())
    renamed = {
        "platform": "demo",
        "account": "acme-demo",
        "brand": "acme",
        "tier": "gold",
        "competitor": "true",
    }
    assert got[key("kpiwatch_followers", **renamed)] == 1234
    assert got[key("kpiwatch_impressions", **renamed, window="7d")] == 3100
    assert got[key("kpiwatch_collect_failures_total", **renamed, reason="rate_limited")] == 2
    acme = [labels for _, labels in got if ("account", "acme-demo") in labels]
    assert acme and all(("tier", "gold") in labels for labels in acme)


async def test_a_first_poll_makes_the_exposition_ready():
    runtime = make_runtime()
    cache = ExpositionCache(runtime)
    await cache.render_now()
    fresh = runtime.accounts["fresh-mastodon"]
    fresh.state, fresh.running, fresh.polls = "up", False, 1
    runtime.changed("fresh-mastodon")
    await cache.render_now(full=False)
    got = series(await cache.get())
    assert got[key("kpiwatch_ready")] == 1
    assert got[key("kpiwatch_accounts_pending", platform="mastodon")] == 0
    assert got[key("kpiwatch_up", **FRESH)] == 1


async def test_incremental_renders_end_where_a_render_from_scratch_does():
    runtime = odd_runtime()
    for i in range(70):  # lines are joined per block of accounts: several blocks
        runtime.add_account(AccountStatus(f"extra-{i}", "demo", {}, state="up"))
        runtime.store_samples(f"extra-{i}", [Sample("followers", i), Sample("reach", i, "1d")])
    cache = ExpositionCache(runtime)
    await cache.render_now()
    runtime.remove_account("extra-40")
    runtime.store_samples("extra-65", [Sample("reach", 1, "7d")])
    runtime.changed("extra-65")
    runtime.accounts["extra-10"].state = "down"
    runtime.changed("extra-10")
    runtime.store_samples("acme-demo", [Sample("followers", 1300), Sample("reach", 9, "90d")])
    runtime.changed("acme-demo")
    runtime.remove_account("rival-demo")
    await cache.render_now(full=False)
    runtime.add_account(AccountStatus("rival-demo", "demo", {"brand": "rival2"}))
    runtime.store_samples("rival-demo", [Sample("followers", 5)])
    runtime.accounts["odd-values"].failures["timeout"] += 1
    runtime.accounts["odd-values"].labels = {}
    runtime.changed("odd-values")
    runtime.remove_account("fresh-mastodon")
    runtime.add_account(AccountStatus("new-one", "third", {}))
    runtime.durations_for("third").observe(0.2)
    await cache.render_now(full=False)

    scratch = ExpositionCache(runtime)
    await scratch.render_now()
    for fmt, parse in (("text", parse_text), ("openmetrics", parse_openmetrics)):
        mine, fresh = [
            sorted_families(parse((await c.get(fmt)).decode())) for c in (cache, scratch)
        ]
        assert mine == fresh
    got = series(await cache.get())
    assert got[key("kpiwatch_exposition_series")] == len(got)


EXPOSITION_FAMILIES = ("kpiwatch_exposition_render_duration_seconds", "kpiwatch_exposition_series")


def sorted_families(families) -> list[tuple]:
    """Families with their samples in a fixed order, without the exposition's own figures."""
    return [
        (f.name, f.type, f.documentation, sorted(f.samples, key=repr))
        for f in families
        if f.name not in EXPOSITION_FAMILIES
    ]


async def test_an_account_that_cannot_be_rendered_keeps_its_lines_and_spares_the_others():
    out = io.StringIO()
    configure_logging("warning", "json", out)
    try:
        runtime = make_runtime()
        cache = ExpositionCache(runtime)
        await cache.render_now()
        runtime.store_samples("rival-demo", [Sample("followers", "many")])  # type: ignore[arg-type]
        runtime.store_samples("acme-demo", [Sample("followers", 1300)])
        runtime.changed("rival-demo")
        runtime.changed("acme-demo")
        stats = await cache.render_now(full=False)
    finally:
        configure_logging("warning", "json", io.StringIO())
    got = series(await cache.get())
    assert got[key("kpiwatch_followers", **RIVAL)] == 880
    assert got[key("kpiwatch_followers", **ACME)] == 1300
    assert got[key("kpiwatch_exposition_series")] == stats.series == len(got)
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(e["event"], e["account"]) for e in events] == [
        ("account not rendered; its previous series stay", "rival-demo")
    ]
    assert "many" in events[0]["error"]


async def test_a_label_value_changed_in_place_replaces_the_cached_label_strings():
    runtime = make_runtime()
    cache = ExpositionCache(runtime)
    await cache.render_now()
    await cache.render_now(full=False)  # the account's label strings are kept from here on
    status = runtime.accounts["acme-demo"]
    status.labels["brand"] = "acme-2"  # the same dict, one value changed
    status.platform = "mastodon"
    runtime.store_samples("acme-demo", [Sample("followers", 1300)])
    runtime.changed("acme-demo")
    await cache.render_now(full=False)
    got = series(await cache.get())
    moved = {**ACME, "brand": "acme-2", "platform": "mastodon"}
    assert got[key("kpiwatch_followers", **moved)] == 1300
    assert got[key("kpiwatch_impressions", **moved, window="7d")] == 3100
    assert got[key("kpiwatch_collect_failures_total", **moved, reason="rate_limited")] == 2
    assert got[key("kpiwatch_polls_total", **moved)] == 5
    assert not [labels for _, labels in got if ("brand", NASTY) in labels]
    scratch = ExpositionCache(runtime)
    await scratch.render_now()
    for fmt, parse in (("text", parse_text), ("openmetrics", parse_openmetrics)):
        mine, fresh = [
            sorted_families(parse((await c.get(fmt)).decode())) for c in (cache, scratch)
        ]
        assert mine == fresh
