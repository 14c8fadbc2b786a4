"""The ad account's daily campaign report: ``GET /act_<id>/insights?level=campaign
&time_increment=1&time_range={"since","until"}&fields=...``, page after page.

Each row is one campaign on one day (``date_start`` = ``date_stop``, in the account's time
zone). Amounts and counts arrive as strings (``"spend": "12.34"``); ``actions`` and
``action_values`` are lists of ``{"action_type", "value"}``, absent when there are none.

A field Meta refuses (``(#100) action_values is not valid for fields param``) is disabled for
the account under its name, and the report is asked again without it; its metric is then left
out (not zero). ``campaign_id``, ``campaign_name`` and ``spend`` cannot be done without.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import kpiwatch
from kpiwatch.toolkit.api import ApiResponse
from kpiwatch_platforms.meta_ads.settings import MetaAdsSettings
from kpiwatch_platforms.meta_graph.client import GraphClient
from kpiwatch_platforms.meta_graph.errors import graph_error
from kpiwatch_platforms.meta_graph.insights import named_metric
from kpiwatch_platforms.meta_graph.reading import GraphBody

REQUIRED_FIELDS = ("campaign_id", "campaign_name", "spend")
#: Report field -> the vocabulary metric it gives (summed over the day's campaigns).
OPTIONAL_FIELDS = {
    "impressions": "impressions",
    "clicks": "clicks",
    "actions": "conversions",
    "action_values": "revenue",
}
#: Rows per page.
PAGE_SIZE = 500


@dataclass
class DayTotals:
    """One day of the account: spend per campaign, and the account's totals per metric."""

    spend: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    totals: dict[str, float] = field(default_factory=lambda: defaultdict(float))


@dataclass
class Report:
    """The days that had delivery, and the metrics the report carried."""

    days: dict[date, DayTotals]
    metrics: list[str]  # vocabulary metrics besides spend


def refused_field(response: ApiResponse, asked: list[str]) -> str | None:
    """The optional field a code-100 answer says is not valid."""
    error = graph_error(response.body)
    if error is None or error.code != 100:
        return None
    message = error.message.lower()
    if "fields param" not in message and "nonexisting field" not in message:
        return None
    return named_metric(error.message, asked)


def _action_sum(
    body: GraphBody, row: dict[str, Any], name: str, types: tuple[str, ...], path: str
) -> float:
    total = 0.0
    for i, action in enumerate(body.objects(row, name, path)):
        if action.get("action_type") in types:
            total += body.number(action, "value", f"{path}{name}[{i}].") or 0.0
    return total


def _day(body: GraphBody, row: dict[str, Any], path: str) -> date:
    start, stop = body.text(row, "date_start", path), body.text(row, "date_stop", path)
    try:
        day = date.fromisoformat(start or "")
    except ValueError:
        raise body.bad(f"{path}date_start", start, "a date such as 2026-03-09") from None
    if stop != start:
        raise body.bad(f"{path}date_stop", stop, f"{start} (one day per row, time_increment=1)")
    return day


class DailyReport:
    """The report request of one poll."""

    def __init__(
        self, ctx: kpiwatch.CollectContext, graph: GraphClient, settings: MetaAdsSettings
    ) -> None:
        self.ctx = ctx
        self.graph = graph
        self.settings = settings
        self.path = f"{settings.ad_account_id}/insights"

    async def read(self, since: date, until: date) -> Report:
        """The days ``since`` to ``until`` (inclusive) that had delivery, with their totals."""
        ctx = self.ctx
        params = {
            "level": "campaign",
            "time_increment": "1",
            "time_range": json.dumps(
                {"since": since.isoformat(), "until": until.isoformat()}, separators=(",", ":")
            ),
            "limit": str(PAGE_SIZE),
        }
        optional = [f for f in OPTIONAL_FIELDS if ctx.metric_enabled(f)]

        def served(response: ApiResponse) -> bool:
            return 200 <= response.status < 300 or refused_field(response, optional) is not None

        while True:
            params["fields"] = ",".join((*REQUIRED_FIELDS, *optional))
            response = await self.graph.get(self.path, params, accept=served)
            if 200 <= response.status < 300:
                break
            name = refused_field(response, optional)
            assert name is not None  # served() accepted only that
            error = graph_error(response.body)
            said = error.message if error else ""
            ctx.metric_removed(
                name, f"meta_ads: Meta refused the report field {name}. Meta: {said}"
            )
            optional.remove(name)
        for name in optional:
            if name in ctx.removed_metrics:
                ctx.metric_restored(name)
        rows = await self.graph.edge(self.path, params, first=GraphBody(response))
        days: dict[date, DayTotals] = defaultdict(DayTotals)
        for i, (body, row) in enumerate(rows):
            path = f"data[{i}]."
            day = _day(body, row, path)
            if not since <= day <= until:
                raise body.bad(f"{path}date_start", day.isoformat(), f"a day of {since}..{until}")
            self._add(days[day], body, row, path, optional)
        return Report(dict(days), [OPTIONAL_FIELDS[f] for f in optional])

    def _add(
        self, totals: DayTotals, body: GraphBody, row: dict[str, Any], path: str, fields: list[str]
    ) -> None:
        settings = self.settings
        campaign_id = body.ident(row, "campaign_id", path)
        label = campaign_id
        if settings.campaign_label == "name":
            label = body.text(row, "campaign_name", path) or campaign_id
        totals.spend[label] += body.number(row, "spend", path) or 0.0
        for name in fields:
            if name == "actions":
                value = _action_sum(body, row, name, settings.conversion_action_types, path)
            elif name == "action_values":
                value = _action_sum(body, row, name, settings.revenue_action_types, path)
            else:
                value = body.number(row, name, path) or 0.0
            totals.totals[OPTIONAL_FIELDS[name]] += value
