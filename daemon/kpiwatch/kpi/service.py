"""The KPI engine inside the daemon: refresh the inputs of polled accounts, compute, export.

When the history writer commits new polls (at most every ``kpis.interval``, and at least once
every 15 ``kpis.interval`` as a safety net) the service takes the accounts whose last
successful poll changed,
reads their window inputs and recent posts from the history store on the reader's own thread,
recomputes every KPI of every account there (vectorised), renders the KPI families of the
refreshed accounts and wakes the /metrics exporter. The event loop only compares timestamps.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kpiwatch.config import KpiSettings
from kpiwatch.kpi.compiled import Catalogue
from kpiwatch.kpi.engine import AccountMeta, InputTable, Results, compute
from kpiwatch.kpi.exposition import (
    KpiSection,
    assemble_section,
    kpi_headers,
    render_account_kpis,
    render_info,
    stack_results,
)
from kpiwatch.kpi.inputs import read_account_inputs, window_label
from kpiwatch.kpi.report import kpi_rows
from kpiwatch.kpi.segments import Segments, segment_posts
from kpiwatch.logging import get_logger
from kpiwatch.runtime import Runtime
from kpiwatch.store.reader import HistoryReader, posts_since

#: Accounts refreshed per call into the reader's thread (others may run in between).
REFRESH_BATCH = 200


@dataclass(frozen=True)
class CycleStats:
    accounts_refreshed: int
    accounts: int
    seconds: float


class KpiEngineState:
    """What the reader's thread owns: the input table, results, segments and fragments."""

    def __init__(self, catalogue: Catalogue, settings: KpiSettings) -> None:
        self.catalogue = catalogue
        self.settings = settings
        self.windows = [w.total_seconds() for w in settings.windows]
        self.window_labels = [window_label(s) for s in self.windows]
        self.refs = catalogue.refs
        self.table = InputTable(self.refs, len(self.windows))
        self.segments: dict[str, Segments] = {}
        self.results: Results | None = None
        self.headers = kpi_headers(catalogue)
        self.fragments: dict[str, dict[str, bytes]] = {}
        self.info = render_info(catalogue)

    def refresh(self, conn: Any, metas: Sequence[AccountMeta], now: float) -> None:
        """Read the inputs (and posts) of ``metas`` from the store into the table."""
        seg = self.settings.segments
        components = self.settings.interactions.components
        for meta in metas:
            found = read_account_inputs(conn, meta.account, self.refs, self.windows, now)
            meta.currency, meta.at = found.currency, found.at
            self.table.set_row(meta, found.values)
            if seg.enabled and found.at is not None:
                since = found.at - seg.window.total_seconds()
                posts = posts_since(conn, meta.account, since)
                self.segments[meta.account] = segment_posts(posts, components, seg.timezone)

    def drop(self, accounts: Sequence[str]) -> None:
        for account in accounts:
            self.table.drop(account)
            self.segments.pop(account, None)
            for parts in self.fragments.values():
                parts.pop(account, None)

    def compute(self, rendered: Sequence[str]) -> KpiSection:
        """Compute every KPI, re-render the lines of ``rendered`` accounts, join the section."""
        self.results = compute(self.table, self.catalogue)
        export = self.settings.export
        seg_label = window_label(self.settings.segments.window.total_seconds())
        rows = [(a, self.results.rows[a]) for a in rendered if a in self.results.rows]
        matrix, where = stack_results(self.results, len(self.windows), [row for _, row in rows])
        row_values = matrix.tolist() if rows else []
        for (account, row), values in zip(rows, row_values, strict=True):
            lines = render_account_kpis(
                self.results,
                row,
                self.window_labels,
                export.previous,
                export.components,
                self.segments.get(account),
                seg_label,
                (values, where),
            )
            for parts in self.fragments.values():
                parts.pop(account, None)
            for key, family in lines.items():
                self.fragments.setdefault(key, {})[account] = "".join(family).encode()
        return assemble_section(self.headers, self.fragments, self.info)


class KpiService:
    """Runs the KPI engine of a daemon against its history database."""

    def __init__(
        self,
        settings: KpiSettings,
        catalogue: Catalogue,
        runtime: Runtime,
        db_path: Path,
        flush_interval: float = 2.0,
    ) -> None:
        self.settings = settings
        self.runtime = runtime
        self.db_path = db_path
        self.flush_interval = flush_interval
        self.state = KpiEngineState(catalogue, settings)
        self.reader: HistoryReader | None = None
        self.section: KpiSection | None = None
        self.last_cycle: CycleStats | None = None
        #: Wall-clock start of the last completed cycle (None before the first).
        self.computed_from: float | None = None
        self._seen: dict[str, float | None] = {}
        self._dirty: set[str] = set()
        self._lock = asyncio.Lock()
        self._stored = asyncio.Event()
        self._listeners: list[Callable[[], None]] = []
        self.log = get_logger(component="kpis")

    @property
    def lock(self) -> asyncio.Lock:
        """Held while a cycle changes the engine state; hold it to read ``state`` consistently."""
        return self._lock

    def polls_stored(self, accounts: set[str]) -> None:
        """The history writer committed polls of ``accounts``: recompute soon."""
        self._dirty.update(accounts)
        self._stored.set()

    def on_cycle(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` on the loop after every cycle."""
        self._listeners.append(listener)

    async def open(self) -> None:
        self.reader = await HistoryReader.open(self.db_path)

    async def close(self) -> None:
        if self.reader is not None:
            await self.reader.close()
            self.reader = None

    def replace(self, settings: KpiSettings, catalogue: Catalogue) -> None:
        """Use a new configuration's KPIs from the next cycle on (all accounts recomputed)."""
        self.settings = settings
        self.state = KpiEngineState(catalogue, settings)
        self._seen.clear()
        self._dirty.clear()

    def _due(self) -> tuple[list[AccountMeta], list[str]]:
        """Accounts whose inputs need reading again, and accounts that are gone.

        An account is read when it is new to the engine (start-up, reload) and after the
        history writer committed one of its polls (``polls_stored``), once per commit.
        """
        due = []
        accounts = self.runtime.accounts
        for account_id, status in accounts.items():
            if account_id in self._seen and account_id not in self._dirty:
                continue
            due.append(
                AccountMeta(account_id, status.platform, dict(status.labels), status.competitor)
            )
            self._seen[account_id] = status.last_success
            self._dirty.discard(account_id)
        gone = [a for a in self._seen if a not in accounts]
        for account_id in gone:
            del self._seen[account_id]
            self._dirty.discard(account_id)
        gone += [a for a in self.state.table.rows if a not in accounts and a not in gone]
        return due, gone

    async def cycle(self) -> CycleStats:
        """Refresh the accounts that changed, compute, and publish the KPI families."""
        assert self.reader is not None
        async with self._lock:
            started = time.perf_counter()
            began = time.time()
            due, gone = self._due()
            state = self.state
            now = time.time()
            for i in range(0, len(due), REFRESH_BATCH):
                batch = due[i : i + REFRESH_BATCH]
                await self.reader.run(lambda conn, b=batch: state.refresh(conn, b, now))
            names = [m.account for m in due]
            state.drop(gone)
            self.section = await asyncio.to_thread(state.compute, names)
            stats = CycleStats(len(due), len(state.table), time.perf_counter() - started)
            self.last_cycle = stats
            self.computed_from = began
        if due or gone:
            self.runtime.changed()
        return stats

    async def run(self) -> None:
        """Cycle when polls are stored (at most every ``kpis.interval``) until cancelled."""
        while True:
            started = time.monotonic()
            self._stored.clear()
            try:
                stats = await self.cycle()
                self.log.debug(
                    "kpis computed",
                    refreshed=stats.accounts_refreshed,
                    accounts=stats.accounts,
                    seconds=round(stats.seconds, 4),
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.log.error("kpi cycle failed", error=f"{type(exc).__name__}: {exc}")
            for listener in self._listeners:
                try:
                    listener()
                except Exception as exc:
                    self.log.error("kpi listener failed", error=f"{type(exc).__name__}: {exc}")
            interval = self.settings.interval.total_seconds()
            await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval * 14):
                    await self._stored.wait()

    async def report(self, window: str | None, by: Sequence[str]) -> dict[str, Any]:
        """The KPI table (as served by /api/v1/kpis) for one window, grouped by ``by``."""
        async with self._lock:
            state = self.state
            labels = state.window_labels
            if window is not None and window not in labels:
                raise ValueError(
                    f"window {window!r} is not computed; use one of {', '.join(labels)} "
                    "(kpis.windows)"
                )
            index = labels.index(window) if window else min(len(labels) - 1, 2)
            results = state.results
            if results is None:
                return report_json([], labels[index], by, labels)
            rows = await asyncio.to_thread(kpi_rows, results, state.table, index, by)
        return report_json(rows, labels[index], by, labels)


def report_json(
    rows: list[dict[str, Any]], window: str, by: Sequence[str], windows: Sequence[str]
) -> dict[str, Any]:
    return {"window": window, "by": list(by), "windows": list(windows), "kpis": rows}


def account_metas(accounts: Mapping[str, Any]) -> list[AccountMeta]:
    """AccountMeta of configured accounts (``AccountConfig`` by id)."""
    return [AccountMeta(a.id, a.platform, dict(a.labels), a.competitor) for a in accounts.values()]
