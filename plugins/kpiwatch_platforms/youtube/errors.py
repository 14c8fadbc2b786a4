"""Google API error bodies turned into kpiwatch error classes (the ``classify`` of ctx.api).

Google answers ``{"error": {"code", "message", "errors": [{"domain", "reason", "message"}],
"status", "details": [{"@type": "...ErrorInfo", "reason": "API_KEY_INVALID"}]}}``. The HTTP
status alone cannot tell a used-up quota (403 ``quotaExceeded``) from a refused credential
(403 ``forbidden``), so the reasons decide.
"""

from __future__ import annotations

import json
import time
from typing import Any

from kpiwatch.errors import AuthError, CollectError, QuotaExhausted, RateLimited
from kpiwatch.toolkit.api import ApiResponse
from kpiwatch.toolkit.ratelimit import retry_after

QUOTA_REASONS = frozenset({"quotaExceeded", "dailyLimitExceeded"})
RATE_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded", "RATE_LIMIT_EXCEEDED"})
KEY_REASONS = frozenset({"keyInvalid", "keyExpired", "API_KEY_INVALID", "API_KEY_EXPIRED"})
PERMISSION_REASONS = frozenset(
    {"forbidden", "insufficientPermissions", "ACCESS_TOKEN_SCOPE_INSUFFICIENT"}
)
NOT_ENABLED_REASONS = frozenset({"accessNotConfigured", "SERVICE_DISABLED"})
BLOCKED_REASONS = frozenset(
    {"ipRefererBlocked", "API_KEY_HTTP_REFERRER_BLOCKED", "API_KEY_IP_ADDRESS_BLOCKED"}
)


def google_error(body: bytes) -> tuple[set[str], str]:
    """The reasons (``errors[].reason`` and ``details[].reason``) and the message of a Google
    error body; empty when the body is not one."""
    try:
        data: Any = json.loads(body)
    except ValueError:
        return set(), ""
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return set(), ""
    reasons: set[str] = set()
    for key in ("errors", "details"):
        entries = error.get(key)
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict) and isinstance(entry.get("reason"), str):
                reasons.add(entry["reason"])
    message = error.get("message")
    return reasons, message[:200] if isinstance(message, str) else ""


def classify(response: ApiResponse) -> CollectError | None:
    """The error class of a Google error answer, or None to classify by HTTP status."""
    reasons, message = google_error(response.body)
    if not reasons:
        return None
    named = ", ".join(sorted(reasons))
    where = f"{response.platform}: {response.url} answered HTTP {response.status} ({named})"
    said = f": {message}" if message else ""
    if reasons & QUOTA_REASONS:
        return QuotaExhausted(
            f"{where}{said}; the project's daily quota is used up until midnight Pacific time "
            "(raise it in the Google Cloud console, or poll less often)"
        )
    if reasons & RATE_REASONS:
        wait = retry_after(response.headers, time.time())
        return RateLimited(f"{where}{said}", retry_after=wait)
    if reasons & KEY_REASONS:
        return AuthError(
            f"{where}{said}; create an API key in the Google Cloud console (APIs & Services > "
            "Credentials) of a project with YouTube Data API v3 enabled and put it in api_key"
        )
    if reasons & NOT_ENABLED_REASONS:
        return AuthError(
            f"{where}{said}; enable YouTube Data API v3 (and YouTube Analytics API for oauth) "
            "in the project the credentials belong to"
        )
    if reasons & BLOCKED_REASONS:
        return AuthError(f"{where}{said}; the key's application restrictions refuse this host")
    if reasons & PERMISSION_REASONS:
        return AuthError(
            f"{where}{said}; the credentials may not read this: for Analytics, the channel's "
            "owner must authorise the scopes yt-analytics.readonly and youtube.readonly"
        )
    return None
