"""The Prometheus exposition of the runtime, rendered incrementally and served from cached bytes.

Runtime changes name the account that changed; the cache only remembers those ids. A render
(after changes, at most once per ``min_interval``) copies the changed accounts on the loop and,
in a worker thread, re-renders their sample lines, which are kept per metric family and account.
The bodies are assembled by joining, family by family, a header and every account's lines:
sample lines are the same in the text format 0.0.4 and OpenMetrics 1.0.0, only the headers
differ. The output is what prometheus_client would write for the same families, byte for byte.

Each render builds the body variants (text or OpenMetrics, plain or gzip) scrapers asked for
since the previous render; any other variant is built, also off the loop, on the first
request that wants it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gzip
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST
from prometheus_client.utils import floatToGoString

import kpiwatch
from kpiwatch import vocabulary
from kpiwatch.config import RESERVED_LABELS
from kpiwatch.logging import get_logger
from kpiwatch.platform import Sample
from kpiwatch.runtime import DURATION_BUCKETS, AccountStatus, ReloadStatus, Runtime
from kpiwatch.selfmetrics import SELF_METRICS
from kpiwatch.vocabulary import Kind

Format = Literal["text", "openmetrics"]
Variant = tuple[Format, bool]  # format, gzip-compressed

TEXT_CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
OPENMETRICS_CONTENT_TYPE = CONTENT_TYPE_LATEST

#: zlib level of the gzip variants: fast, since a body may be tens of megabytes.
GZIP_LEVEL = 3
#: Accounts copied on the loop between two yields to other tasks.
COPY_BATCH = 500
#: Accounts whose lines are joined together per family (see :class:`FragmentStore`).
BLOCK_ACCOUNTS = 32


def default_build_info() -> dict[str, str]:
    """The labels of ``kpiwatch_build_info`` for this process."""
    v = sys.version_info
    return {"version": kpiwatch.__version__, "python": f"{v.major}.{v.minor}.{v.micro}"}


@dataclass(frozen=True)
class RenderStats:
    """Figures of one finished render."""

    version: int
    duration_seconds: float  # copying on the loop plus rendering in the worker thread
    series: int
    body_bytes: int  # uncompressed size of the latest body built (text, else OpenMetrics)
    finished_at: float
    variants: tuple[str, ...] = ()  # bodies produced with the render: "text", "text+gzip"...
    accounts_rendered: int = 0  # accounts this render copied and rendered, or found gone


def account_labels(status: AccountStatus) -> dict[str, str]:
    """The labels every series of one account carries."""
    return series_labels(status.platform, status.account_id, status.labels, status.competitor)


def series_labels(
    platform: str, account_id: str, labels: Mapping[str, str], competitor: bool
) -> dict[str, str]:
    """The labels of an account's series: platform, account, its own labels, competitor."""
    out = {"platform": platform, "account": account_id}
    for name, value in labels.items():
        if name not in RESERVED_LABELS:
            out[name] = str(value)
    if competitor:
        out["competitor"] = "true"
    return out


def raw_help(metric: vocabulary.MetricDef) -> str:
    """The HELP text of a raw vocabulary metric."""
    kind = {
        Kind.CURRENT: "current value",
        Kind.PERIOD: "total over the window in the window label",
        Kind.CUMULATIVE: "running total since the account began",
    }[metric.kind]
    return f"{metric.description} Unit: {metric.unit.value}; {kind}; as of the last poll."


# line formatting (as prometheus_client writes it) ----------------------------------------------
def escape_label_value(value: str) -> str:
    """A label value escaped for both formats: backslash, double quote, newline."""
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def label_string(labels: Mapping[str, str]) -> str:
    """``{name="value",...}`` with the names sorted, or "" without labels."""
    if not labels:
        return ""
    pairs = ",".join(f'{k}="{escape_label_value(v)}"' for k, v in sorted(labels.items()))
    return "{" + pairs + "}"


def _line(name: str, labels: Mapping[str, str], value: float) -> str:
    return f"{name}{label_string(labels)} {floatToGoString(value)}\n"


@dataclass(frozen=True)
class FamilyHeader:
    """The HELP and TYPE lines of one metric family in both formats."""

    key: str  # the sample name of raw metrics and the catalogue name of self-metrics
    text: bytes
    openmetrics: bytes


def family_header(
    text_name: str, om_name: str, text_type: str, om_type: str, doc: str
) -> FamilyHeader:
    """The headers of a family named and typed as each format wants, with ``doc`` escaped."""
    text_doc = doc.replace("\\", r"\\").replace("\n", r"\n")
    om_doc = text_doc.replace('"', r"\"")
    return FamilyHeader(
        text_name,
        f"# HELP {text_name} {text_doc}\n# TYPE {text_name} {text_type}\n".encode(),
        f"# HELP {om_name} {om_doc}\n# TYPE {om_name} {om_type}\n".encode(),
    )


#: Every family in exposition order: raw metrics in catalogue order, then the self-metrics.
FAMILIES: tuple[FamilyHeader, ...] = (
    *(
        family_header(m.exported_name, m.exported_name, "gauge", "gauge", raw_help(m))
        for m in vocabulary.METRICS
    ),
    *(
        family_header(m.name, m.family_name, m.text_type, m.type, m.description)
        for m in SELF_METRICS
    ),
)
FAMILY_INDEX: dict[str, int] = {f.key: i for i, f in enumerate(FAMILIES)}
_RAW = {m.name: (FAMILY_INDEX[m.exported_name], m.exported_name) for m in vocabulary.METRICS}
_OM_EOF = b"# EOF\n"


def _label_identity(status: AccountStatus) -> tuple[object, ...]:
    """What the labels of an account's series are made of (compared, never hashed)."""
    return status.platform, status.account_id, tuple(status.labels.items()), status.competitor


def _value_text(value: float) -> str:
    """``floatToGoString(value)``, with the common case (a short ``repr``) done inline."""
    text = repr(float(value))
    dot = text.find(".")
    if 0 <= dot <= 6:
        return text
    return floatToGoString(value)  # exponents, infinities, NaN


class _AccountLabels:
    """The label strings of one account's series, kept between its renders.

    Extra labels of a series (``window``, dimensions, ``reason``) are merged into the sorted
    account labels through a format template per set of extra names; the label string of each
    distinct window and dimensions is built once. Valid while the account's
    :func:`_label_identity` is unchanged. Nothing is kept per series: a line prefix per series
    would about double the store's memory for little render time.
    """

    def __init__(self, status: AccountStatus) -> None:
        self.identity = _label_identity(status)
        labels = account_labels(status)
        self.names = frozenset(labels)
        self._pairs = sorted((k, f'{k}="{escape_label_value(v)}"') for k, v in labels.items())
        self.plain = "{" + ",".join(pair for _, pair in self._pairs) + "}"
        self._templates: dict[tuple[str, ...], str] = {}
        #: (window, *dims items), or the window alone -> label string
        self.of_samples: dict[object, str] = {}

    def of_sample(self, sample: Sample) -> str:
        """The label string of a raw sample with its window and dimensions."""
        window, dims = sample.window, sample.dims
        key = (window, *dims.items()) if dims else window
        labels = self.of_samples.get(key)
        if labels is None:
            extra: dict[str, str] = {}
            if window is not None:
                extra["window"] = str(window)
            for dim, value in dims.items():
                if dim not in self.names and dim not in extra:
                    extra[dim] = str(value)
            labels = self.of_samples[key] = self.with_extra(extra)
        return labels

    def with_extra(self, extra: Mapping[str, str]) -> str:
        """The label string with ``extra`` labels (whose names the account does not use)."""
        if not extra:
            return self.plain
        names = tuple(sorted(extra))
        template = self._templates.get(names)
        if template is None:
            template = self._templates[names] = self._template(names)
        return template.format(*[escape_label_value(extra[n]) for n in names])

    def _template(self, names: tuple[str, ...]) -> str:
        parts = [(k, pair.replace("{", "{{").replace("}", "}}")) for k, pair in self._pairs]
        parts += [(n, n + '="{}"') for n in names]
        parts.sort()
        return "{{" + ",".join(pair for _, pair in parts) + "}}"


# one account -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class AccountData:
    """What the worker renders of one account: a copy of its status and its latest samples."""

    status: AccountStatus
    samples: tuple[Sample, ...]


def copy_account(runtime: Runtime, account_id: str) -> AccountData | None:
    """A copy of the account's state safe to render in a thread, or None if it is gone."""
    status = runtime.accounts.get(account_id)
    if status is None:
        return None
    copy = dataclasses.replace(
        status, labels=dict(status.labels), failures=Counter(status.failures)
    )
    return AccountData(copy, tuple(runtime.latest.get(account_id, {}).values()))


_I = FAMILY_INDEX


def account_label_cache(
    status: AccountStatus, previous: _AccountLabels | None = None
) -> _AccountLabels:
    """``previous`` if it still fits the account's labels, else new label strings."""
    if previous is not None and previous.identity == _label_identity(status):
        return previous
    return _AccountLabels(status)


def render_account(data: AccountData, labels: _AccountLabels | None = None) -> dict[int, list[str]]:
    """The sample lines of one account by family index (families without lines are absent).

    ``labels`` are the account's label strings from its previous render, reused if they
    still fit.
    """
    status = data.status
    labels = account_label_cache(status, labels)
    own = labels.plain
    of_samples = labels.of_samples
    out: dict[int, list[str]] = {}

    def add(name: str, value: float) -> None:
        out.setdefault(_I[name], []).append(f"{name}{own} {_value_text(value)}\n")

    for sample in data.samples:
        raw = _RAW.get(sample.metric)
        if raw is None:
            continue  # the scheduler drops these; never export an undocumented name
        index, name = raw
        dims = sample.dims
        key = (sample.window, *dims.items()) if dims else sample.window
        label_text = of_samples.get(key) or labels.of_sample(sample)
        line = f"{name}{label_text} {_value_text(sample.value)}\n"
        lines = out.get(index)
        if lines is None:
            out[index] = [line]
        else:
            lines.append(line)

    if status.state != "pending":
        add("kpiwatch_up", 1.0 if status.up else 0.0)
    if status.last_success is not None:
        add("kpiwatch_last_success_timestamp_seconds", status.last_success)
        add("kpiwatch_last_collect_samples", status.last_sample_count)
    if status.last_duration is not None:
        add("kpiwatch_last_collect_duration_seconds", status.last_duration)
    add("kpiwatch_consecutive_failures", status.consecutive_failures)
    add("kpiwatch_collect_in_progress", 1.0 if status.running else 0.0)
    if status.next_poll is not None:
        add("kpiwatch_next_poll_timestamp_seconds", status.next_poll)
    add("kpiwatch_polls_total", status.polls)
    failures = "kpiwatch_collect_failures_total"
    for reason, count in sorted(status.failures.items()):
        if count > 0:
            line = f"{failures}{labels.with_extra({'reason': reason})} {_value_text(count)}\n"
            out.setdefault(_I[failures], []).append(line)
    add("kpiwatch_skipped_polls_total", status.skipped)
    add("kpiwatch_invalid_samples_total", status.invalid_samples)
    limit = status.rate_limit
    if limit is not None:
        if limit.remaining is not None:
            add("kpiwatch_rate_limit_remaining", limit.remaining)
        if limit.limit is not None:
            add("kpiwatch_rate_limit_limit", limit.limit)
        if limit.reset_at is not None:
            add("kpiwatch_rate_limit_reset_timestamp_seconds", limit.reset_at)
    if status.quota is not None:
        add("kpiwatch_quota_remaining_units", status.quota[0])
        add("kpiwatch_quota_limit_units", status.quota[1])
    if status.removed_metrics or status.polls:
        add("kpiwatch_metrics_disabled", len(status.removed_metrics))
    return out


# global families -------------------------------------------------------------------------------
@dataclass(frozen=True)
class GlobalState:
    """The state not tied to one account, copied on the loop for every render."""

    durations: Mapping[str, tuple[tuple[int, ...], int, float]]  # buckets, count, sum
    reload: ReloadStatus
    shard_index: int
    shard_count: int
    config_loaded: bool
    started_at: float
    build_info: Mapping[str, str]
    previous_duration: float | None

    @classmethod
    def of(
        cls, runtime: Runtime, build_info: Mapping[str, str], previous: RenderStats | None
    ) -> GlobalState:
        return cls(
            durations={
                p: (tuple(h.buckets), h.count, h.total) for p, h in runtime.durations.items()
            },
            reload=ReloadStatus(**vars(runtime.reload)),
            shard_index=runtime.shard_index,
            shard_count=runtime.shard_count,
            config_loaded=runtime.config_loaded,
            started_at=runtime.started_at,
            build_info=dict(build_info),
            previous_duration=previous.duration_seconds if previous else None,
        )


def render_globals(
    state: GlobalState, accounts: Mapping[str, int], pending: Mapping[str, int], lines: int
) -> tuple[dict[int, tuple[bytes]], int]:
    """The lines of the families not tied to one account by family index, and the series count.

    ``accounts`` and ``pending`` count the rendered accounts (and those not polled yet) by
    platform; ``lines`` counts the accounts' sample lines.
    """
    out: dict[int, list[str]] = {}

    def add(name: str, labels: Mapping[str, str], value: float, sample: str = "") -> None:
        out.setdefault(_I[name], []).append(_line(sample or name, labels, value))

    histogram = "kpiwatch_collect_duration_seconds"
    empty = ((0,) * len(DURATION_BUCKETS), 0, 0.0)
    for platform in sorted(set(accounts) | set(state.durations)):
        buckets, count, total = state.durations.get(platform, empty)
        for bound, cumulative in zip(DURATION_BUCKETS, buckets, strict=True):
            le = floatToGoString(bound)
            add(histogram, {"platform": platform, "le": le}, cumulative, histogram + "_bucket")
        add(histogram, {"platform": platform, "le": "+Inf"}, count, histogram + "_bucket")
        add(histogram, {"platform": platform}, count, histogram + "_count")
        add(histogram, {"platform": platform}, total, histogram + "_sum")
    for platform in sorted(accounts):
        add("kpiwatch_accounts", {"platform": platform}, accounts[platform])
        add("kpiwatch_accounts_pending", {"platform": platform}, pending.get(platform, 0))
    ready = state.config_loaded and not any(pending.values())
    reload = state.reload
    add("kpiwatch_build_info", state.build_info, 1.0)
    add("kpiwatch_ready", {}, 1.0 if ready else 0.0)
    add("kpiwatch_start_time_seconds", {}, state.started_at)
    add("kpiwatch_shard_ordinal", {}, state.shard_index)
    add("kpiwatch_total_shards", {}, state.shard_count)
    add("kpiwatch_config_last_reload_successful", {}, 1.0 if reload.last_successful else 0.0)
    add("kpiwatch_config_last_reload_success_timestamp_seconds", {}, reload.last_success_time)
    add("kpiwatch_config_reloads_total", {"result": "success"}, reload.successes)
    add("kpiwatch_config_reloads_total", {"result": "failure"}, reload.failures)
    if state.previous_duration is not None:
        add("kpiwatch_exposition_render_duration_seconds", {}, state.previous_duration)
    total = lines + sum(len(family) for family in out.values()) + 1  # this series included
    add("kpiwatch_exposition_series", {}, total)
    return {index: ("".join(family).encode(),) for index, family in out.items()}, total


# the fragment store ----------------------------------------------------------------------------
@dataclass(frozen=True)
class _AccountEntry:
    platform: str
    pending: bool
    block: int
    families: frozenset[int]
    lines: int


@dataclass(frozen=True)
class AccountRenderError:
    """An account whose lines could not be rendered; its previous lines are kept."""

    account_id: str
    error: str


#: The non-empty families of one render: family index (or, for families rendered elsewhere such
#: as the KPIs, the header itself) and the family's lines, in chunks of bytes never changed once
#: made.
Sections = tuple[tuple["int | FamilyHeader", tuple[bytes, ...]], ...]


class ExtraSection(Protocol):
    """Families rendered outside the fragment store (the KPI engine's), appended at the end."""

    families: tuple[tuple[FamilyHeader, bytes], ...]
    series: int


@dataclass
class StoreRender:
    """What :meth:`FragmentStore.render` returns."""

    sections: Sections
    series: int
    accounts_rendered: int
    errors: list[AccountRenderError]


class FragmentStore:
    """Each account's sample lines by family, joined per block of accounts.

    An account's lines of one family are one fragment of bytes. Accounts are numbered in the
    order they are first rendered and grouped into blocks of :data:`BLOCK_ACCOUNTS`; each
    family keeps every block's fragments joined, so a render joins again only the blocks
    where an account's fragment of that family changed (a poll changes few of an account's
    families), and a body joins a few chunks per family. Each account's label strings are kept
    too, until its labels change.

    Lives in worker threads, one at a time (its lock serialises them); the loop never reads it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        families = range(len(FAMILIES))
        self._fragments: list[dict[int, dict[str, bytes]]] = [{} for _ in families]
        self._blocks: list[list[bytes]] = [[] for _ in families]  # by block number; b"": empty
        self._chunks: list[tuple[bytes, ...]] = [() for _ in families]
        self._accounts: dict[str, _AccountEntry] = {}
        self._labels: dict[str, _AccountLabels] = {}
        self._numbered = 0
        self._platforms: Counter[str] = Counter()
        self._pending: Counter[str] = Counter()
        self._lines = 0

    def render(
        self, changes: Mapping[str, AccountData | None], full: bool, state: GlobalState
    ) -> StoreRender:
        """Apply ``changes`` (None: the account is gone) and return the families' lines.

        ``full`` drops the accounts that ``changes`` does not name.
        """
        with self._lock:
            touched: set[tuple[int, int]] = set()  # family index, block
            errors: list[AccountRenderError] = []
            if full:
                for account_id in self._accounts.keys() - changes.keys():
                    self._drop(account_id, touched)
            for account_id, data in changes.items():
                if data is None:
                    self._drop(account_id, touched)
                    continue
                try:
                    labels = account_label_cache(data.status, self._labels.get(account_id))
                    self._labels[account_id] = labels
                    lines = render_account(data, labels)
                except Exception as exc:  # a bad value of one account must not stop the rest
                    errors.append(AccountRenderError(account_id, f"{type(exc).__name__}: {exc}"))
                    continue
                self._put(account_id, data.status, lines, touched)
            self._join(touched)
            globals_, series = render_globals(state, self._platforms, self._pending, self._lines)
            sections = tuple(
                (index, chunks)
                for index in range(len(FAMILIES))
                if (chunks := globals_.get(index) or self._chunks[index])
            )
            return StoreRender(sections, series, len(changes), errors)

    def _put(
        self,
        account_id: str,
        status: AccountStatus,
        lines: dict[int, list[str]],
        touched: set[tuple[int, int]],
    ) -> None:
        old = self._accounts.get(account_id)
        if old is None:
            block = self._numbered // BLOCK_ACCOUNTS
            self._numbered += 1
        else:
            block = old.block
            self._forget_counts(old)
            for index in old.families - lines.keys():
                del self._fragments[index][block][account_id]
                touched.add((index, block))
        for index, family in lines.items():
            fragment = "".join(family).encode()
            fragments = self._fragments[index].setdefault(block, {})
            if fragments.get(account_id) != fragment:  # unchanged lines leave the block as is
                fragments[account_id] = fragment
                touched.add((index, block))
        entry = _AccountEntry(
            status.platform,
            status.state == "pending",
            block,
            frozenset(lines),
            sum(len(family) for family in lines.values()),
        )
        self._accounts[account_id] = entry
        self._platforms[entry.platform] += 1
        self._pending[entry.platform] += entry.pending
        self._lines += entry.lines

    def _drop(self, account_id: str, touched: set[tuple[int, int]]) -> None:
        self._labels.pop(account_id, None)
        old = self._accounts.pop(account_id, None)
        if old is None:
            return
        self._forget_counts(old)
        for index in old.families:
            del self._fragments[index][old.block][account_id]
            touched.add((index, old.block))

    def _forget_counts(self, entry: _AccountEntry) -> None:
        self._lines -= entry.lines
        self._platforms[entry.platform] -= 1
        self._pending[entry.platform] -= entry.pending
        if self._platforms[entry.platform] == 0:
            del self._platforms[entry.platform]
            del self._pending[entry.platform]

    def _join(self, touched: set[tuple[int, int]]) -> None:
        """Join the touched blocks again and list the chunks of the touched families."""
        families: set[int] = set()
        for index, block in touched:
            families.add(index)
            blocks = self._blocks[index]
            if len(blocks) <= block:
                blocks.extend([b""] * (block + 1 - len(blocks)))
            fragments = self._fragments[index].get(block)
            if fragments:
                blocks[block] = b"".join(fragments.values())
            else:
                self._fragments[index].pop(block, None)
                blocks[block] = b""
        for index in families:
            self._chunks[index] = tuple(filter(None, self._blocks[index]))


# bodies ----------------------------------------------------------------------------------------
def assemble(sections: Sections, fmt: Format) -> bytes:
    """The body of ``fmt``: each family's header followed by its lines."""
    openmetrics = fmt == "openmetrics"
    parts: list[bytes] = []
    for index, fragments in sections:
        header = FAMILIES[index] if isinstance(index, int) else index
        parts.append(header.openmetrics if openmetrics else header.text)
        parts.extend(fragments)
    if openmetrics:
        parts.append(_OM_EOF)
    return b"".join(parts)


def _gzip(body: bytes) -> bytes:
    return gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0)


def _variant_order(variant: Variant) -> tuple[int, bool]:
    return (0 if variant[0] == "text" else 1), variant[1]


def _variant_name(variant: Variant) -> str:
    return variant[0] + ("+gzip" if variant[1] else "")


def produce_variants(sections: Sections, wanted: Iterable[Variant]) -> dict[Variant, bytes]:
    """The ``wanted`` bodies (blocking; use a thread)."""
    variants: dict[Variant, bytes] = {}
    for fmt, compressed in sorted(set(wanted), key=_variant_order):
        plain = variants.get((fmt, False))
        if plain is None:
            plain = variants[(fmt, False)] = assemble(sections, fmt)
        if compressed:
            variants[(fmt, True)] = _gzip(plain)
    return variants


@dataclass
class _Rendition:
    """One render: its families' lines and the body variants produced from them so far."""

    stats: RenderStats
    sections: Sections
    variants: dict[Variant, bytes]
    pending: dict[Variant, asyncio.Future[bytes]] = field(default_factory=dict)


class ExpositionCache:
    """Keeps the rendered /metrics bodies of the latest runtime state.

    A runtime change only records the account it names and wakes :meth:`run`, which renders,
    then rests for ``min_interval`` seconds or the render's own duration, whichever is longer,
    so bursts of changes coalesce into few renders and rendering takes at most half of one CPU.
    A render re-renders only the accounts that changed since the previous one.

    A render produces the body variants (format, gzip) that were requested since the previous
    render, so scrapers never wait for one; another variant is produced on its first request.
    """

    def __init__(
        self,
        runtime: Runtime,
        min_interval: float = 1.0,
        build_info: Mapping[str, str] | None = None,
        extra: Callable[[], ExtraSection | None] | None = None,
    ) -> None:
        self.runtime = runtime
        self.extra = extra
        self.min_interval = min_interval
        self.build_info = dict(build_info) if build_info is not None else default_build_info()
        self._wake = asyncio.Event()
        self._changed: set[str] = set()
        self._store = FragmentStore()
        self._lock = asyncio.Lock()
        self._current: _Rendition | None = None
        self._task: asyncio.Task[None] | None = None
        self._requested: set[Variant] = set()
        runtime.subscribe(self._on_change)

    def _on_change(self, account_id: str | None) -> None:
        if account_id is not None:
            self._changed.add(account_id)
        self._wake.set()  # the global state is copied on every render

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
        """Render everything once, then the changes after every (coalesced) change."""
        self._task = asyncio.current_task()
        if self._current is None:
            await self._render_logged(full=True)
        while True:
            await self._wake.wait()
            await self._render_logged(full=False)
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

    async def render_now(self, *, full: bool = True) -> RenderStats:
        """Render now (serialised with the loop's renders).

        ``full`` re-renders every account, which also picks up changes the runtime was not told
        of; otherwise only the accounts reported changed since the previous render are.
        """
        async with self._lock:
            self._wake.clear()
            changed, self._changed = self._changed, set()
            try:
                result, variants, seconds = await self._render(changed, full)
            except BaseException:
                self._changed |= changed  # retried by the next render
                raise
            for error in result.errors:
                get_logger(component="exposition").warning(
                    "account not rendered; its previous series stay",
                    account=error.account_id,
                    error=error.error,
                )
            plain = variants.get(("text", False)) or variants.get(("openmetrics", False))
            previous = self._current.stats.body_bytes if self._current else 0
            stats = RenderStats(
                version=self.version + 1,
                duration_seconds=seconds,
                series=result.series,
                body_bytes=len(plain) if plain is not None else previous,
                finished_at=time.time(),
                variants=tuple(_variant_name(v) for v in sorted(variants, key=_variant_order)),
                accounts_rendered=result.accounts_rendered,
            )
            self._current = _Rendition(stats, result.sections, variants)
            return stats

    async def _render(
        self, changed: set[str], full: bool
    ) -> tuple[StoreRender, dict[Variant, bytes], float]:
        """Copy the changed accounts (all if ``full``) and render them in a worker thread.

        Also returns the seconds copying and rendering took, without the loop's other work
        between two batches of copies.
        """
        accounts = self.runtime.accounts
        ids = [*accounts, *(a for a in changed if a not in accounts)] if full else changed
        changes: dict[str, AccountData | None] = {}
        copying = 0.0
        started = time.perf_counter()
        for count, account_id in enumerate(ids, 1):
            changes[account_id] = copy_account(self.runtime, account_id)
            if count % COPY_BATCH == 0:
                copying += time.perf_counter() - started
                await asyncio.sleep(0)  # changes meanwhile are recorded for the next render
                started = time.perf_counter()
        state = GlobalState.of(self.runtime, self.build_info, self.last_render)
        # Bodies are built with the render only for the variants scraped since the previous
        # render; others are built on their first request. With renders every second and
        # scrapes every 15 s or more, that builds each body about once per scrape.
        wanted = frozenset(self._requested)
        self._requested.clear()
        copying += time.perf_counter() - started

        extra = self.extra() if self.extra is not None else None

        def work() -> tuple[StoreRender, dict[Variant, bytes], float]:
            began = time.perf_counter()
            result = self._store.render(changes, full, state)
            if extra is not None and extra.families:
                result = dataclasses.replace(
                    result,
                    sections=result.sections
                    + tuple((header, (body,)) for header, body in extra.families),
                    series=result.series + extra.series,
                )
            variants = produce_variants(result.sections, wanted)
            return result, variants, time.perf_counter() - began

        result, variants, rendering = await asyncio.to_thread(work)
        return result, variants, copying + rendering

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
                job = asyncio.ensure_future(asyncio.to_thread(assemble, rendition.sections, fmt))
            rendition.pending[key] = job
        try:
            body = await asyncio.shield(job)
        finally:
            if job.done():
                rendition.pending.pop(key, None)
        rendition.variants[key] = body
        return body

    async def _render_logged(self, full: bool) -> None:
        try:
            stats = await self.render_now(full=full)
        except Exception:
            get_logger(component="exposition").exception("exposition render failed")
        else:
            get_logger(component="exposition").debug(
                "exposition rendered",
                version=stats.version,
                series=stats.series,
                accounts_rendered=stats.accounts_rendered,
                seconds=round(stats.duration_seconds, 4),
            )
