"""How kpiwatch talks to the Hello API: its limits, its error codes and authenticated GETs."""

from __future__ import annotations

from typing import Any

import kpiwatch
from kpiwatch.toolkit.api import ApiPolicy, ApiResponse


def classify(response: ApiResponse) -> kpiwatch.CollectError | None:
    """Hello's error codes that say more than the HTTP status (None: go by the status)."""
    try:
        code = response.json()["error"]["code"]
    except (kpiwatch.BadResponse, KeyError, TypeError):
        return None
    if code == "metric_unavailable":  # HTTP 410: Hello retired this metric
        return kpiwatch.MetricRemoved(f"hello: {response.url}: {response.error_text()}")
    return None


POLICY = ApiPolicy(
    rate=(5, 1.0),  # at most 5 calls a second per token, well below Hello's 300 a minute
    rate_limit_headers="ietf",  # RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset
    retries=2,  # HTTP 5xx, timeouts and connection errors: two more tries
    backoff=0.5,  # seconds before the first retry, doubled for the next
    classify=classify,
)


async def get(ctx: kpiwatch.CollectContext, path: str, **params: str | int) -> Any:
    """GET ``path`` of the Hello API with the account's token; the JSON body."""
    settings = ctx.settings
    token = settings.token.get_secret_value()
    return await ctx.api.get_json(
        str(settings.api_url).rstrip("/") + path,
        params=params or None,
        headers={"Authorization": f"Bearer {token}"},
        credential=token,  # one rate-limit bucket per token (hashed, never logged)
    )
