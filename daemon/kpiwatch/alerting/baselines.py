"""Daily history of the KPIs anomaly rules watch: the baseline their z-scores come from.

For each day ``k`` back (the same time of day, ``now - k days``) the 1d window inputs of every
account are read from the history store, as the KPI engine reads today's, and every KPI is
computed from them. With weekly seasonality only the same weekday is read (k = 7, 14, ...).
A baseline changes slowly, so an account's is re-read at most once per ``refresh`` seconds, in
batches on the history reader's thread; the arrays are aligned with the KPI table's rows.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence

import numpy as np

from kpiwatch.kpi.compiled import Catalogue
from kpiwatch.kpi.engine import AccountMeta, InputTable, compute
from kpiwatch.kpi.inputs import read_account_inputs

DAY = 86400.0


class AnomalyBaselines:
    """Per KPI, an array (KPI table rows by ``days``) of daily values, oldest day first."""

    def __init__(
        self, kpis: Iterable[str], shifts: Iterable[int], catalogue: Catalogue, refresh: float
    ) -> None:
        self.kpis = sorted(set(kpis))
        self.shifts = sorted(set(shifts))  # days back to read
        self.days = max(self.shifts, default=0)
        self.catalogue = catalogue
        self.refresh_seconds = refresh
        self.refs = catalogue.refs
        self.tables = {k: InputTable(self.refs, 1) for k in self.shifts}
        self.read_at: dict[str, float] = {}
        self.values: dict[str, np.ndarray] = {}
        self._stale = True

    def due(self, accounts: Iterable[str], now: float) -> list[str]:
        return [a for a in accounts if now - self.read_at.get(a, -np.inf) >= self.refresh_seconds]

    def read(self, conn: sqlite3.Connection, metas: Sequence[AccountMeta], now: float) -> None:
        """Read the daily inputs of ``metas`` (on the reader's thread)."""
        for meta in metas:
            for k, table in self.tables.items():
                found = read_account_inputs(conn, meta.account, self.refs, [DAY], now - k * DAY)
                row_meta = AccountMeta(meta.account, meta.platform, meta.labels, meta.competitor)
                row_meta.currency, row_meta.at = found.currency, found.at
                table.set_row(row_meta, found.values)
            self.read_at[meta.account] = now
        if metas:
            self._stale = True

    def drop(self, accounts: Iterable[str]) -> None:
        for account in accounts:
            self.read_at.pop(account, None)
            for table in self.tables.values():
                table.drop(account)
        self._stale = True

    def align(self, rows: dict[str, int], size: int) -> dict[str, np.ndarray]:
        """The daily values of every KPI, with row ``i`` the KPI table's row ``i``."""
        if not self._stale and all(v.shape[0] == size for v in self.values.values()):
            return self.values
        out = {kpi: np.full((size, self.days), np.nan) for kpi in self.kpis}
        for k, table in self.tables.items():
            if not len(table):
                continue
            results = compute(table, self.catalogue)
            targets = [(rows[a], r) for a, r in table.rows.items() if a in rows and rows[a] < size]
            if not targets:
                continue
            main = np.array([t[0] for t in targets], dtype=np.int64)
            local = np.array([t[1] for t in targets], dtype=np.int64)
            for kpi in self.kpis:
                out[kpi][main, self.days - k] = results.kpis[kpi].value[(0, 0)][local]
        self.values = out
        self._stale = False
        return out
