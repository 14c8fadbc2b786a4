"""``kpiwatch alerts``: the alerts kept in the alert store, read without a running daemon."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kpiwatch.alerting.service import alert_json
from kpiwatch.alerting.store import AlertStore, alert_state_path
from kpiwatch.config import Config

_STATE_ORDER = {"firing": 0, "pending": 1, "resolved": 2}


async def read_alerts(config: Config) -> list[dict[str, Any]]:
    """Every stored alert, firing first. No store file yet: no alerts (nothing is created)."""
    path = alert_state_path(config.state_dir, config.alerting)
    if not path.exists():
        return []
    async with await AlertStore.open(path) as store:
        records = await store.load_alerts()
    rows = [alert_json(r) for r in records]
    rows.sort(key=lambda a: (_STATE_ORDER[a["state"]], a["rule"], sorted(a["labels"].items())))
    return rows


def alerts_table(alerts: Sequence[dict[str, Any]]) -> list[str]:
    """A plain-text table: state, rule, since, value, labels beyond alertname, summary."""
    header = ("STATE", "RULE", "SINCE", "VALUE", "LABELS", "SUMMARY")
    rows = [header]
    for a in alerts:
        since = a["startsAt"] or a["activeAt"]
        value = "" if a["value"] is None else f"{a['value']:.6g}"
        labels = ",".join(
            f"{k}={v}" for k, v in sorted(a["labels"].items()) if k not in ("alertname",)
        )
        rows.append(
            (a["state"], a["rule"], since, value, labels, a["annotations"].get("summary", ""))
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header) - 1)]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(r[:-1], widths, strict=True)) + "  " + r[-1]
        for r in rows
    ]
