"""The property's token quotas, as GA4 reports them, in ctx.api's budget and rate-limit state.

With ``returnPropertyQuota`` every report answer carries ``propertyQuota``:
``{"tokensPerDay": {"consumed": 12, "remaining": 199988}, "tokensPerHour": {...}, ...}``
(``consumed`` is what this request cost, ``remaining`` what is left after it). GA4 does not
say the limits, so they come from the settings (standard or Analytics 360 property).

- ``tokensPerDay.remaining`` becomes the remaining units of ctx.api's daily budget of the
  property (``kpiwatch_quota_remaining_units``): when it reaches 0, ctx.api makes no more
  requests to the property until the budget resets;
- ``tokensPerHour.remaining`` becomes the rate-limit state (``kpiwatch_rate_limit_remaining``).
  When GA4 answers that an hourly quota is exhausted, the state holds the window closed for
  the time the answer names, so the next polls of the property are refused without a request.
"""

from __future__ import annotations

from typing import Any

from kpiwatch.toolkit.api import ApiClient, credential_key
from kpiwatch.toolkit.ratelimit import RateLimitState


def _remaining(quota: dict[str, Any], name: str) -> int | None:
    status = quota.get(name)
    value = status.get("remaining") if isinstance(status, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return max(0, int(value))


def observe_property_quota(
    api: ApiClient, credential: str, body: dict[str, Any], tokens_per_hour: int
) -> None:
    """Take the remaining daily and hourly tokens of a report answer into ctx.api."""
    quota = body.get("propertyQuota")
    if not isinstance(quota, dict):
        return
    now = api.clock()
    daily = _remaining(quota, "tokensPerDay")
    budget = api.quota
    if daily is not None and budget is not None:
        budget.remaining(now)  # start today's period first, then say what GA4 says is left
        budget.used = max(0, budget.daily_units - daily)
    hourly = _remaining(quota, "tokensPerHour")
    if hourly is not None:
        _set_state(api, credential, RateLimitState(tokens_per_hour, hourly, None, now))


def hold_window(api: ApiClient, credential: str, seconds: float, tokens_per_hour: int) -> None:
    """GA4 said an hourly quota is used up: refuse requests to the property for ``seconds``."""
    now = api.clock()
    _set_state(api, credential, RateLimitState(tokens_per_hour, 0, now + seconds, now))


def _set_state(api: ApiClient, credential: str, state: RateLimitState) -> None:
    api.rate_limit = state
    api.limits.states[(api.platform, credential_key(credential))] = state
