"""The ad account itself: its currency and time zone (Ads Insights days are its days)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kpiwatch_platforms.meta_graph.client import GraphClient

ACCOUNT_FIELDS = "name,currency,timezone_name,account_status"
_CURRENCY = re.compile(r"^[A-Z]{3}$")


@dataclass(frozen=True)
class AdAccount:
    id: str
    currency: str  # ISO 4217, the unit of every amount the account reports
    zone: ZoneInfo


async def ad_account(graph: GraphClient, account_id: str) -> AdAccount:
    """The account's currency and time zone."""
    body = await graph.body(account_id, {"fields": ACCOUNT_FIELDS})
    currency = body.text(body.data, "currency", "")
    if currency is None or not _CURRENCY.match(currency):
        raise body.bad("currency", currency, "a currency code such as EUR")
    zone_name = body.text(body.data, "timezone_name", "")
    try:
        zone = ZoneInfo(zone_name or "")
    except (ZoneInfoNotFoundError, ValueError):
        raise body.bad("timezone_name", zone_name, "a time zone such as Europe/Berlin") from None
    return AdAccount(account_id, currency, zone)
