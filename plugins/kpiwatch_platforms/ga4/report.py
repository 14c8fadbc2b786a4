"""The runReport calls of one poll: the request body, pages, and metrics GA4 no longer serves.

``POST <api_url>/properties/<id>:runReport`` with the days, the dimensions (date, session
source, medium and default channel group), the metrics, the traffic filter, ``limit`` and
``offset``; pages follow each other until ``offset`` reaches ``rowCount``. An answer that a
metric asked for is not valid (HTTP 400 "Field conversions is not a valid metric") disables
the vocabulary metrics made from it for the account and asks again without it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

import kpiwatch
from kpiwatch.toolkit.api import ApiClient, ApiResponse
from kpiwatch_platforms.ga4.errors import PropertyQuotaUsedUp, google_error, invalid_metric
from kpiwatch_platforms.ga4.metrics import asked_for, removal_detail
from kpiwatch_platforms.ga4.quota import hold_window, observe_property_quota
from kpiwatch_platforms.ga4.report_body import DIMENSIONS, ReportRow, read_page
from kpiwatch_platforms.ga4.settings import GA4Settings

#: The channel groups of traffic: social.
SOCIAL_CHANNEL_GROUPS = ("Organic Social", "Paid Social")


@dataclass(frozen=True)
class Report:
    """Every row of the report, and the property's time zone and currency it names."""

    rows: list[ReportRow]
    time_zone: str | None
    currency: str | None
    metrics: list[str]  # the GA4 metrics asked for
    vocabulary: list[str]  # the vocabulary metrics they make


@dataclass(frozen=True)
class ReportCall:
    """How one poll calls runReport for one property."""

    api: ApiClient
    auth: Any  # OAuth2 or ServiceAccountAuth
    settings: GA4Settings

    @property
    def credential(self) -> str:
        """Quotas and rate limits belong to the property: its name keys ctx.api's state."""
        return f"properties/{self.settings.property_id}"

    @property
    def url(self) -> str:
        return f"{self.settings.api_url}/properties/{self.settings.property_id}:runReport"

    def body(self, metrics: list[str], start: str, end: str, offset: int) -> dict[str, Any]:
        """The runReport request body of one page."""
        settings = self.settings
        body: dict[str, Any] = {
            "dateRanges": [{"startDate": start, "endDate": end}],
            "dimensions": [{"name": name} for name in DIMENSIONS],
            "metrics": [{"name": name} for name in metrics],
            "orderBys": [{"dimension": {"dimensionName": name}} for name in DIMENSIONS],
            "limit": settings.page_size,
            "offset": offset,
            "returnPropertyQuota": True,
        }
        if settings.traffic == "social":
            body["dimensionFilter"] = {
                "filter": {
                    "fieldName": "sessionDefaultChannelGroup",
                    "inListFilter": {"values": list(SOCIAL_CHANNEL_GROUPS)},
                }
            }
        if settings.currency is not None:
            body["currencyCode"] = settings.currency
        return body

    async def post(self, body: dict[str, Any], metrics: list[str]) -> ApiResponse:
        """One runReport request; an answer naming an invalid metric is returned, not raised."""
        try:
            return await self.api.request(
                "POST",
                self.url,
                json=body,
                auth=self.auth,
                credential=self.credential,
                accept=partial(_served, metrics=metrics),
            )
        except PropertyQuotaUsedUp as exc:
            if exc.retry_after:
                hold_window(
                    self.api, self.credential, exc.retry_after, self.settings.tokens_per_hour
                )
            raise


def _served(response: ApiResponse, metrics: list[str]) -> bool:
    return 200 <= response.status < 300 or invalid_metric(response, metrics) is not None


class _MetricGone(Exception):
    """GA4 answered that ``metric`` is not valid (it no longer serves it)."""

    def __init__(self, metric: str, message: str) -> None:
        super().__init__(metric)
        self.metric = metric
        self.message = message


async def _all_pages(call: ReportCall, asked: list[str], start: str, end: str) -> Report:
    rows: list[ReportRow] = []
    time_zone: str | None = None
    currency: str | None = None
    offset = 0
    while True:
        response = await call.post(call.body(asked, start, end, offset), asked)
        gone = invalid_metric(response, asked)
        if gone is not None:
            error = google_error(response.body)
            raise _MetricGone(gone, error.message if error is not None else "")
        page = read_page(response, asked)
        observe_property_quota(call.api, call.credential, page.body, call.settings.tokens_per_hour)
        if offset == 0:  # the first page speaks for the report
            time_zone, currency = page.time_zone, page.currency
        rows += page.rows
        offset += len(page.rows)
        if not page.rows or offset >= page.row_count:
            return Report(rows, time_zone, currency, asked, [])


async def run_report(
    ctx: kpiwatch.CollectContext,
    call: ReportCall,
    plan: dict[str, tuple[str, ...]],
    start: str,
    end: str,
) -> Report:
    """Every page of the report from ``start`` to ``end`` for the enabled metrics of ``plan``."""
    while True:
        wanted = [metric for metric in plan if ctx.metric_enabled(metric)]
        asked = asked_for(plan, wanted)
        if not asked:
            return Report([], None, None, [], [])
        try:
            report = await _all_pages(call, asked, start, end)
        except _MetricGone as gone:
            detail = removal_detail(gone.metric, gone.message)
            for metric in wanted:
                if gone.metric in plan[metric]:
                    ctx.metric_removed(metric, detail)
            continue
        return Report(report.rows, report.time_zone, report.currency, asked, wanted)
