"""KPIs computed from a history database without a running daemon (``kpiwatch kpis``)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kpiwatch.config import Config
from kpiwatch.kpi.compiled import build_catalogue
from kpiwatch.kpi.engine import AccountMeta
from kpiwatch.kpi.report import kpi_rows
from kpiwatch.kpi.service import KpiEngineState, report_json
from kpiwatch.store import StoreError
from kpiwatch.store.reader import HistoryReader


def history_path(config: Config) -> Path:
    path = Path(config.history.file)
    return path if path.is_absolute() else config.state_dir / path


async def compute_offline(config: Config, window: str | None, by: Sequence[str]) -> dict[str, Any]:
    """The KPI report of the configured accounts, from the stored history."""
    path = history_path(config)
    if not path.exists():
        raise StoreError(
            f"{path}: no history database yet; run the daemon with this configuration first "
            "(or check state_dir and history.file)"
        )
    state = KpiEngineState(build_catalogue(config.kpis), config.kpis)
    labels = state.window_labels
    if window is not None and window not in labels:
        raise ValueError(
            f"window {window!r} is not computed; use one of {', '.join(labels)} (kpis.windows)"
        )
    index = labels.index(window) if window else min(len(labels) - 1, 2)
    metas = [
        AccountMeta(a.id, a.platform, dict(a.labels), a.competitor)
        for a in config.accounts
        if a.enabled
    ]
    reader = await HistoryReader.open(path)
    try:
        now = time.time()
        await reader.run(lambda conn: state.refresh(conn, metas, now))
    finally:
        await reader.close()
    state.compute([])
    assert state.results is not None
    rows = kpi_rows(state.results, state.table, index, by)
    return report_json(rows, labels[index], by, labels)
