"""GA4 Data API error bodies turned into kpiwatch error classes (the ``classify`` of ctx.api).

Google answers ``{"error": {"code": 429, "message": "...", "status": "RESOURCE_EXHAUSTED",
"details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "..."}]}}``.
Every property quota that runs out answers RESOURCE_EXHAUSTED; only the message says which
("Exhausted property tokens per day", "... for a project per hour", "Exhausted concurrent
requests quota"), and when its tokens return ("in under an hour", "in under 15 minutes").
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any

from kpiwatch.errors import AuthError, CollectError, QuotaExhausted, RateLimited
from kpiwatch.toolkit.api import ApiResponse
from kpiwatch.toolkit.ratelimit import retry_after

#: Seconds an hourly quota may take to return when the message does not say.
HOUR = 3600.0

_RETURNS_IN = re.compile(r"return in (?:under|less than) (an|one|\d+) (hour|minute)s?", re.I)
_PER_DAY = re.compile(r"per day|tokensPerDay", re.I)
_PER_HOUR = re.compile(r"per hour|PerHour", re.I)
_INVALID_METRIC = re.compile(r"Field (\S+?) is not a valid metric")


@dataclass(frozen=True)
class GoogleError:
    """The parts of a Google error body kpiwatch reads."""

    code: int | None
    status: str
    message: str
    reasons: frozenset[str]


class PropertyQuotaUsedUp(RateLimited):
    """An hourly (or shorter) quota of the property is used up; ``retry_after`` says until
    when, when GA4 does."""


def google_error(body: bytes) -> GoogleError | None:
    """The error of a Google error body; None when the body is not one."""
    try:
        data: Any = json.loads(body)
    except ValueError:
        return None
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return None
    reasons: set[str] = set()
    for key in ("details", "errors"):
        entries = error.get(key)
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict) and isinstance(entry.get("reason"), str):
                reasons.add(entry["reason"])
    code = error.get("code")
    status = error.get("status")
    message = error.get("message")
    return GoogleError(
        code if isinstance(code, int) else None,
        status if isinstance(status, str) else "",
        message[:300] if isinstance(message, str) else "",
        frozenset(reasons),
    )


def invalid_metric(response: ApiResponse, asked: list[str]) -> str | None:
    """The metric of ``asked`` that a 400 answer calls not valid (no longer served)."""
    if response.status != 400:
        return None
    error = google_error(response.body)
    match = _INVALID_METRIC.search(error.message) if error is not None else None
    return match.group(1) if match and match.group(1) in asked else None


def returns_in(message: str) -> float | None:
    """Seconds until the quota's tokens return, as the message says ("in under an hour")."""
    match = _RETURNS_IN.search(message)
    if match is None:
        return None
    amount = 1 if match.group(1).lower() in ("an", "one") else int(match.group(1))
    return amount * (HOUR if match.group(2).lower() == "hour" else 60.0)


def classify(response: ApiResponse) -> CollectError | None:
    """The error class of a GA4 error answer, or None to classify by HTTP status."""
    error = google_error(response.body)
    if error is None:
        return None
    where = f"{response.platform}: {response.url} answered HTTP {response.status}"
    said = f"{where} {error.status or 'error'}: {error.message}" if error.message else where
    if error.status == "RESOURCE_EXHAUSTED" or response.status == 429:
        return _exhausted(response, error, said)
    if error.status == "UNAUTHENTICATED":
        return AuthError(
            f"{said}; the access token was refused: authorise again (oauth) or check the "
            "service account key"
        )
    if "SERVICE_DISABLED" in error.reasons or "has not been used in project" in error.message:
        return AuthError(
            f"{said}; enable the Google Analytics Data API in the Cloud project the "
            "credentials belong to (APIs & Services > Library)"
        )
    if "ACCESS_TOKEN_SCOPE_INSUFFICIENT" in error.reasons:
        return AuthError(
            f"{said}; the token lacks the scope https://www.googleapis.com/auth/"
            "analytics.readonly: authorise again with it"
        )
    if error.status == "PERMISSION_DENIED":
        return AuthError(
            f"{said}; add the Google user (oauth) or the service account's e-mail as Viewer "
            "in GA4 Admin > Property access management, and check property_id"
        )
    return None


def _exhausted(response: ApiResponse, error: GoogleError, said: str) -> CollectError:
    if _PER_DAY.search(error.message):
        # ctx.api sets retry_after: until the budget's next reset
        return QuotaExhausted(
            f"{said}; the property's daily tokens are used up (GA4 quotas are per property: "
            "other tools reading it spend them too)"
        )
    wait = retry_after(response.headers, time.time())
    if wait is None:
        wait = returns_in(error.message)
    if wait is None and _PER_HOUR.search(error.message):
        wait = HOUR
    return PropertyQuotaUsedUp(said, retry_after=wait)
