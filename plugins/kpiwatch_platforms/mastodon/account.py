"""The Account entity: its id, whether it can be read, and its counters as vocabulary samples."""

from __future__ import annotations

from typing import Any

from kpiwatch.errors import BadResponse, NotFound
from kpiwatch.platform import CollectContext, Sample
from kpiwatch_platforms.mastodon.client import LOOKUP, PLATFORM, kind_of

#: Account field -> vocabulary metric (``posts`` is a running total, the others levels).
COUNTERS = {
    "followers_count": "followers",
    "following_count": "following",
    "statuses_count": "posts",
}


def account_id(account: dict[str, Any], handle: str) -> str:
    """The account's id on its server, after checking it can be read at all."""
    if account.get("suspended") is True:
        raise NotFound(
            f"{PLATFORM}: the account {handle!r} is suspended (its counters read 0): remove it "
            "from the configuration or correct settings.account"
        )
    ident = account.get("id")
    if not isinstance(ident, str | int) or isinstance(ident, bool) or str(ident) == "":
        raise BadResponse(f"{PLATFORM}: {LOOKUP} answered with an account without an id")
    return str(ident)


def count(data: dict[str, Any], field: str, where: str) -> int | None:
    """A non-negative whole counter of ``data``; None when absent or null, BadResponse when it
    is something else."""
    value = data.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BadResponse(
            f"{PLATFORM}: {where} sent {field} as {kind_of(value)} {value!r}, expected a count"
        )
    return value


def counter_samples(ctx: CollectContext, account: dict[str, Any]) -> list[Sample]:
    """followers, following and posts; a counter the server stopped sending is disabled for
    the account (the rest go on)."""
    samples = []
    for field, metric in COUNTERS.items():
        if not ctx.metric_enabled(metric):
            continue
        value = count(account, field, LOOKUP)
        if value is None:
            ctx.metric_removed(metric, f"{LOOKUP} no longer returns {field} for the account")
            continue
        ctx.metric_restored(metric)
        samples.append(Sample(metric, float(value)))
    return samples


def moved_to(account: dict[str, Any]) -> str | None:
    """The handle of the account this one moved to, if it moved."""
    moved = account.get("moved")
    if isinstance(moved, dict) and isinstance(moved.get("acct"), str):
        return moved["acct"]
    return None
