"""X API v2 errors: RFC 7807 problem bodies of failed requests, and the partial errors that
come back with HTTP 200 next to (or instead of) ``data``.

A problem is ``{"title", "detail", "type", "status"}`` plus fields of its type; the type is a
URL ending in a name such as ``client-forbidden``, ``usage-capped``, ``resource-not-found``,
``not-authorized-for-resource`` or ``not-authorized-for-field``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kpiwatch.errors import AuthError, CollectError, QuotaExhausted
from kpiwatch.toolkit.api import ApiResponse

#: When a monthly usage cap is hit, X does not say when it resets: try again after a day.
USAGE_CAP_RETRY_SECONDS = 86400.0

ACCESS_TIER_FIX = (
    "the X app is not allowed this endpoint at its access level: in the developer console, "
    "attach the app to a Project and give it an access plan that includes reading users and "
    "posts, then use that app's Bearer token or client id"
)
USAGE_CAP_FIX = (
    "the app's usage cap of X API reads is used up; raise the plan's cap in the developer "
    "console, poll less often or read fewer posts (post_days, max_posts)"
)


@dataclass(frozen=True)
class Problem:
    """One X problem object (a whole error body or one entry of ``errors``)."""

    kind: str  # the last part of ``type``: "client-forbidden", "not-authorized-for-field"...
    title: str
    detail: str
    reason: str = ""
    field: str = ""
    resource_id: str = ""
    resource_type: str = ""  # "tweet", "user", "media"...
    section: str = ""

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> Problem:
        def text(key: str) -> str:
            value = data.get(key)
            return value if isinstance(value, str) else ""

        return cls(
            kind=text("type").rstrip("/").rsplit("/", 1)[-1],
            title=text("title"),
            detail=text("detail") or text("message"),
            reason=text("reason"),
            field=text("field") or text("parameter"),
            resource_id=text("resource_id") or text("value"),
            resource_type=text("resource_type"),
            section=text("section"),
        )

    def describe(self) -> str:
        """``title: detail`` in at most 200 characters."""
        parts = [p for p in (self.title, self.detail) if p]
        return ": ".join(parts)[:200]


def partial_errors(body: Mapping[str, Any]) -> list[Problem]:
    """The problems listed in ``errors`` of a successful answer."""
    errors = body.get("errors")
    if not isinstance(errors, list):
        return []
    return [Problem.of(e) for e in errors if isinstance(e, dict)]


def classify(response: ApiResponse) -> CollectError | None:
    """The error class of a failed X answer where its problem type says more than its status;
    None leaves it to the HTTP status (429 rate_limited, 5xx unavailable, 404 not_found...)."""
    problem = _problem(response)
    status = response.status
    where = f"{response.platform}: {response.url} answered HTTP {status}"
    said = f" ({problem.describe()})" if problem and problem.describe() else ""
    if problem and problem.kind == "usage-capped":
        return QuotaExhausted(
            f"{where}{said}; {USAGE_CAP_FIX}", retry_after=USAGE_CAP_RETRY_SECONDS
        )
    if status == 403 and problem and "client-not-enrolled" in (problem.reason, problem.kind):
        return AuthError(f"{where}{said}; {ACCESS_TIER_FIX}")
    if status == 403 and problem and problem.kind == "client-forbidden":
        return AuthError(f"{where}{said}; {ACCESS_TIER_FIX}")
    if status == 401:
        return AuthError(
            f"{where}{said}; the token was refused: check bearer_token, or authorise the app "
            "again and put the new refresh token in user_auth.refresh_token"
        )
    if status == 403:
        return AuthError(
            f"{where}{said}; the token may not read this: a user token needs the scopes "
            "tweet.read, users.read and offline.access"
        )
    return None


def _problem(response: ApiResponse) -> Problem | None:
    try:
        data = json.loads(response.body)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    if "type" in data or "title" in data:
        return Problem.of(data)
    errors = partial_errors(data)
    return errors[0] if errors else None
