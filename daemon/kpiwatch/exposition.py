"""The Prometheus exposition: a collector over a runtime snapshot and a cache of rendered bytes.

The cache renders after runtime changes (coalesced, at most once per ``min_interval``), in a
worker thread, and keeps the bytes; ``GET /metrics`` only copies them out. Each render produces
the body variants (text or OpenMetrics, plain or gzip) scrapers asked for since the previous
render; any other variant is produced, also off the loop, on the first request that wants it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics import exposition as openmetrics
from prometheus_client.registry import Collector, CollectorRegistry
from prometheus_client.utils import floatToGoString

import kpiwatch
from kpiwatch import vocabulary
from kpiwatch.config import RESERVED_LABELS
from kpiwatch.logging import get_logger
from kpiwatch.runtime import DURATION_BUCKETS, AccountStatus, Runtime, RuntimeSnapshot
from kpiwatch.selfmetrics import BY_NAME as SELF_BY_NAME
from kpiwatch.vocabulary import Kind

Format = Literal["text", "openmetrics"]
Variant = tuple[Format, bool]  # format, gzip-compressed

TEXT_CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
OPENMETRICS_CONTENT_TYPE = openmetrics.CONTENT_TYPE_LATEST


def default_build_info() -> dict[str, str]:
    """The labels of ``kpiwatch_build_info`` for this process."""
    v = sys.version_info
    return {"version": kpiwatch.__version__, "python": f"{v.major}.{v.minor}.{v.micro}"}


@dataclass(frozen=True)
class RenderStats:
    """Figures of one finished render."""

    version: int
    duration_seconds: float
    series: int
    body_bytes: int  # uncompressed, text format if rendered, else OpenMetrics
    finished_at: float
    variants: tuple[str, ...] = ()  # bodies produced with the render: "text", "text+gzip"...


def account_labels(status: AccountStatus) -> dict[str, str]:
    """The labels every series of one account carries."""
    labels = {"platform": status.platform, "account": status.account_id}
    for name, value in status.labels.items():
        if name not in RESERVED_LABELS:
            labels[name] = str(value)
    if status.competitor:
        labels["competitor"] = "true"
    return labels


class KpiwatchCollector(Collector):
    """Yields kpiwatch's metric families from one :class:`RuntimeSnapshot`.

    ``previous`` is the previous render, whose duration is exported; the snapshot is never
    changed, so the collector may run in any thread.
    """

    def __init__(
        self,
        snapshot: RuntimeSnapshot,
        build_info: Mapping[str, str],
        previous: RenderStats | None = None,
    ) -> None:
        self.snapshot = snapshot
        self.build_info = dict(build_info)
        self.previous = previous

    def describe(self) -> Iterable[Metric]:
        return ()

    def collect(self) -> Iterator[Metric]:
        families = [*self._self_families(), *self._raw_families()]
        if self.previous is not None:
            render = _family("kpiwatch_exposition_render_duration_seconds")
            render.add_sample(render.name, {}, self.previous.duration_seconds)
            families.append(render)
        series = _family("kpiwatch_exposition_series")
        series.add_sample(series.name, {}, sum(len(f.samples) for f in families) + 1)
        families.append(series)
        return iter(families)

    # self-metrics --------------------------------------------------------------------------
    def _self_families(self) -> list[Metric]:
        snap = self.snapshot
        names = (
            "kpiwatch_up",
            "kpiwatch_last_success_timestamp_seconds",
            "kpiwatch_last_collect_duration_seconds",
            "kpiwatch_last_collect_samples",
            "kpiwatch_consecutive_failures",
            "kpiwatch_collect_in_progress",
            "kpiwatch_next_poll_timestamp_seconds",
            "kpiwatch_polls_total",
            "kpiwatch_collect_failures_total",
            "kpiwatch_skipped_polls_total",
            "kpiwatch_invalid_samples_total",
        )
        fam = {name: _family(name) for name in names}

        def add(name: str, labels: dict[str, str], value: float) -> None:
            fam[name].add_sample(name, labels, value)

        for status in snap.accounts:
            labels = account_labels(status)
            if status.state != "pending":
                add("kpiwatch_up", labels, 1.0 if status.up else 0.0)
            if status.last_success is not None:
                add("kpiwatch_last_success_timestamp_seconds", labels, status.last_success)
                add("kpiwatch_last_collect_samples", labels, status.last_sample_count)
            if status.last_duration is not None:
                add("kpiwatch_last_collect_duration_seconds", labels, status.last_duration)
            add("kpiwatch_consecutive_failures", labels, status.consecutive_failures)
            add("kpiwatch_collect_in_progress", labels, 1.0 if status.running else 0.0)
            if status.next_poll is not None:
                add("kpiwatch_next_poll_timestamp_seconds", labels, status.next_poll)
            add("kpiwatch_polls_total", labels, status.polls)
            for reason, count in sorted(status.failures.items()):
                if count > 0:
                    add("kpiwatch_collect_failures_total", {**labels, "reason": reason}, count)
            add("kpiwatch_skipped_polls_total", labels, status.skipped)
            add("kpiwatch_invalid_samples_total", labels, status.invalid_samples)

        families = [fam[name] for name in names if fam[name].samples]
        families.append(self._duration_histogram())
        families.extend(self._platform_counts())
        families.extend(self._process_families())
        return [f for f in families if f.samples]

    def _duration_histogram(self) -> Metric:
        name = "kpiwatch_collect_duration_seconds"
        hist = _family(name)
        platforms = {s.platform for s in self.snapshot.accounts} | set(self.snapshot.durations)
        for platform in sorted(platforms):
            h = self.snapshot.durations.get(platform)
            buckets = h.buckets if h is not None else [0] * len(DURATION_BUCKETS)
            count = h.count if h is not None else 0
            total = h.total if h is not None else 0.0
            for bound, cumulative in zip(DURATION_BUCKETS, buckets, strict=True):
                le = floatToGoString(bound)
                hist.add_sample(f"{name}_bucket", {"platform": platform, "le": le}, cumulative)
            hist.add_sample(f"{name}_bucket", {"platform": platform, "le": "+Inf"}, count)
            hist.add_sample(f"{name}_count", {"platform": platform}, count)
            hist.add_sample(f"{name}_sum", {"platform": platform}, total)
        return hist

    def _platform_counts(self) -> list[Metric]:
        configured: dict[str, int] = {}
        pending: dict[str, int] = {}
        for status in self.snapshot.accounts:
            configured[status.platform] = configured.get(status.platform, 0) + 1
            pending.setdefault(status.platform, 0)
            if status.state == "pending":
                pending[status.platform] += 1
        accounts = _family("kpiwatch_accounts")
        waiting = _family("kpiwatch_accounts_pending")
        for platform in sorted(configured):
            accounts.add_sample(accounts.name, {"platform": platform}, configured[platform])
            waiting.add_sample(waiting.name, {"platform": platform}, pending[platform])
        return [accounts, waiting]

    def _process_families(self) -> list[Metric]:
        snap = self.snapshot
        out: list[Metric] = []

        def gauge(name: str, value: float) -> None:
            family = _family(name)
            family.add_sample(name, {}, value)
            out.append(family)

        build = _family("kpiwatch_build_info")
        build.add_sample("kpiwatch_build_info", self.build_info, 1.0)
        out.append(build)
        gauge("kpiwatch_ready", 1.0 if snap.ready else 0.0)
        gauge("kpiwatch_start_time_seconds", snap.started_at)
        gauge("kpiwatch_shard_ordinal", snap.shard_index)
        gauge("kpiwatch_total_shards", snap.shard_count)
        gauge("kpiwatch_config_last_reload_successful", 1.0 if snap.reload.last_successful else 0.0)
        gauge(
            "kpiwatch_config_last_reload_success_timestamp_seconds",
            snap.reload.last_success_time,
        )
        reloads = _family("kpiwatch_config_reloads_total")
        reloads.add_sample(reloads.name + "_total", {"result": "success"}, snap.reload.successes)
        reloads.add_sample(reloads.name + "_total", {"result": "failure"}, snap.reload.failures)
        out.append(reloads)
        return out

    # raw vocabulary metrics ----------------------------------------------------------------
    def _raw_families(self) -> list[Metric]:
        families: dict[str, Metric] = {}
        for status in self.snapshot.accounts:
            base = account_labels(status)
            for sample in self.snapshot.latest.get(status.account_id, ()):
                metric = vocabulary.BY_NAME.get(sample.metric)
                if metric is None:
                    continue  # the scheduler drops these; never export an undocumented name
                family = families.get(metric.name)
                if family is None:
                    family = families[metric.name] = Metric(
                        metric.exported_name, raw_help(metric), "gauge"
                    )
                labels = dict(base)
                if sample.window is not None:
                    labels["window"] = sample.window
                for dim, value in sample.dims.items():
                    labels.setdefault(dim, value)
                family.add_sample(metric.exported_name, labels, float(sample.value))
        return [families[m.name] for m in vocabulary.METRICS if m.name in families]


def raw_help(metric: vocabulary.MetricDef) -> str:
    """The HELP text of a raw vocabulary metric."""
    kind = {
        Kind.CURRENT: "current value",
        Kind.PERIOD: "total over the window in the window label",
        Kind.CUMULATIVE: "running total since the account began",
    }[metric.kind]
    return f"{metric.description} Unit: {metric.unit.value}; {kind}; as of the last poll."


def _family(name: str) -> Metric:
    """An empty family of a catalogued self-metric."""
    entry = SELF_BY_NAME[name]
    return Metric(entry.family_name, entry.description, entry.type)


class _Families(Collector):
    """Yields families built once, so both formats render the same data."""

    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def describe(self) -> Iterable[Metric]:
        return ()

    def collect(self) -> Iterable[Metric]:
        return iter(self._families)


@dataclass
class _Rendition:
    """One render: its registry and the body variants produced from it so far."""

    stats: RenderStats
    registry: CollectorRegistry
    variants: dict[Variant, bytes]
    pending: dict[Variant, asyncio.Future[bytes]] = field(default_factory=dict)


def render(
    snapshot: RuntimeSnapshot,
    build_info: Mapping[str, str],
    previous: RenderStats | None,
    version: int,
    wanted: Iterable[Variant] = (("text", False),),
) -> tuple[RenderStats, CollectorRegistry, dict[Variant, bytes]]:
    """Build the families of ``snapshot`` and the ``wanted`` bodies (blocking; use a thread)."""
    started = time.perf_counter()
    families = list(KpiwatchCollector(snapshot, build_info, previous).collect())
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(families))
    variants: dict[Variant, bytes] = {}
    for fmt, compressed in sorted(set(wanted) or {("text", False)}, key=_variant_order):
        plain = variants.get((fmt, False))
        if plain is None:
            plain = variants[(fmt, False)] = _produce(registry, fmt)
        if compressed:
            variants[(fmt, True)] = _gzip(plain)
    plain_body = variants.get(("text", False)) or variants[("openmetrics", False)]
    stats = RenderStats(
        version=version,
        duration_seconds=time.perf_counter() - started,
        series=sum(len(f.samples) for f in families),
        body_bytes=len(plain_body),
        finished_at=time.time(),
        variants=tuple(_variant_name(v) for v in sorted(variants, key=_variant_order)),
    )
    return stats, registry, variants


def _variant_order(variant: Variant) -> tuple[int, bool]:
    return (0 if variant[0] == "text" else 1), variant[1]


def _variant_name(variant: Variant) -> str:
    return variant[0] + ("+gzip" if variant[1] else "")


def _produce(registry: CollectorRegistry, fmt: Format) -> bytes:
    if fmt == "openmetrics":
        return openmetrics.generate_latest(registry)
    return generate_latest(registry)


def _gzip(body: bytes) -> bytes:
    return gzip.compress(body, compresslevel=6, mtime=0)


class ExpositionCache:
    """Keeps the rendered /metrics bodies of the latest runtime state.

    Runtime changes only set a flag; :meth:`run` renders after a change, then rests for
    ``min_interval`` seconds or the render's own duration, whichever is longer, so bursts of
    changes coalesce into few renders and rendering takes at most half of one CPU.

    A render produces the body variants (format, gzip) that were requested since the previous
    render, so scrapers never wait for one; another variant is produced on its first request.
    """

    def __init__(
        self,
        runtime: Runtime,
        min_interval: float = 1.0,
        build_info: Mapping[str, str] | None = None,
    ) -> None:
        self.runtime = runtime
        self.min_interval = min_interval
        self.build_info = dict(build_info) if build_info is not None else default_build_info()
        self._dirty = asyncio.Event()
        self._lock = asyncio.Lock()
        self._current: _Rendition | None = None
        self._task: asyncio.Task[None] | None = None
        self._wanted: frozenset[Variant] = frozenset({("text", False)})
        self._requested: set[Variant] = set()
        runtime.subscribe(self._dirty.set)

    @property
    def version(self) -> int:
        """How many renders have finished (0 before the first)."""
        return self._current.stats.version if self._current else 0

    @property
    def last_render(self) -> RenderStats | None:
        return self._current.stats if self._current else None

    def start(self) -> asyncio.Task[None]:
        """Start :meth:`run` as a task of the running loop."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.run(), name="kpiwatch-exposition")
        return self._task

    async def run(self) -> None:
        """Render once, then after every (coalesced) change, until cancelled."""
        self._task = asyncio.current_task()
        if self._current is None:
            await self._render_logged()
        while True:
            await self._dirty.wait()
            await self._render_logged()
            # a render as long as the interval would keep a CPU busy; rest at least as long
            took = self.last_render.duration_seconds if self.last_render else 0.0
            await asyncio.sleep(max(self.min_interval, took))

    async def stop(self) -> None:
        """Cancel the render loop and wait for it to end."""
        task, self._task = self._task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def render_now(self) -> RenderStats:
        """Render the current runtime state now (serialised with the loop's renders)."""
        async with self._lock:
            self._dirty.clear()
            snapshot = self.runtime.snapshot()
            previous = self.last_render
            version = self.version + 1
            if self._requested:
                self._wanted = frozenset(self._requested)
                self._requested.clear()
            stats, registry, variants = await asyncio.to_thread(
                render, snapshot, self.build_info, previous, version, self._wanted
            )
            self._current = _Rendition(stats, registry, variants)
            return stats

    async def get(self, fmt: Format = "text", gzip: bool = False) -> bytes:
        """The body of the latest render in ``fmt``, gzip-compressed if asked."""
        if fmt not in ("text", "openmetrics"):
            raise ValueError(f"unknown exposition format {fmt!r}; use 'text' or 'openmetrics'")
        self._requested.add((fmt, gzip))
        if self._current is None:
            await self.render_now()
        rendition = self._current
        assert rendition is not None
        return await self._variant(rendition, fmt, gzip)

    async def _variant(self, rendition: _Rendition, fmt: Format, compressed: bool) -> bytes:
        key = (fmt, compressed)
        body = rendition.variants.get(key)
        if body is not None:
            return body
        plain = await self._variant(rendition, fmt, False) if compressed else b""
        job = rendition.pending.get(key)
        if job is None:
            if compressed:
                job = asyncio.ensure_future(asyncio.to_thread(_gzip, plain))
            else:
                job = asyncio.ensure_future(asyncio.to_thread(_produce, rendition.registry, fmt))
            rendition.pending[key] = job
        try:
            body = await asyncio.shield(job)
        finally:
            if job.done():
                rendition.pending.pop(key, None)
        rendition.variants[key] = body
        return body

    async def _render_logged(self) -> None:
        try:
            stats = await self.render_now()
        except Exception:
            get_logger(component="exposition").exception("exposition render failed")
        else:
            get_logger(component="exposition").debug(
                "exposition rendered",
                version=stats.version,
                series=stats.series,
                seconds=round(stats.duration_seconds, 4),
            )
