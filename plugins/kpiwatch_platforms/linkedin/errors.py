"""LinkedIn error bodies turned into kpiwatch error classes (the ``classify`` of ctx.api).

LinkedIn answers ``{"status": 403, "serviceErrorCode": 100, "code": "ACCESS_DENIED",
"message": "..."}``. A version LinkedIn no longer serves is HTTP 426 ``NONEXISTENT_VERSION``
("Requested version 20241101 is not active"); an expired token is HTTP 401
``EXPIRED_ACCESS_TOKEN`` (service error 65602). HTTP 429 comes without rate-limit headers:
LinkedIn's limits are daily and reset at midnight UTC.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from kpiwatch.errors import AuthError, BadResponse, CollectError, RateLimited
from kpiwatch.toolkit.api import ApiResponse
from kpiwatch.toolkit.ratelimit import retry_after

VERSION_CODES = frozenset({"NONEXISTENT_VERSION", "VERSION_MISSING", "INVALID_VERSION"})

REAUTHORISE = (
    "LinkedIn access tokens last 60 days: authorise the app again as an ADMINISTRATOR of the "
    "page (scopes rw_organization_admin and r_organization_social; the Developer Portal's "
    "OAuth token generator does it) and put the new token in access_token (and its expiry "
    "date in access_token_expires), or use refresh_token where the app has programmatic "
    "refresh tokens"
)
PERMISSIONS = (
    "the authorising member must be an ADMINISTRATOR of the organization's page, and the "
    "token needs the scopes rw_organization_admin (statistics) and r_organization_social "
    "(posts), granted to the app with the Community Management API product"
)
VERSION_FIX = (
    "set linkedin_version to a version LinkedIn still serves (YYYYMM, the last 12 months; "
    "see https://learn.microsoft.com/en-us/linkedin/marketing/versioning) and check the "
    "plugin's README for changes of that version"
)


@dataclass(frozen=True)
class LinkedInError:
    """The fields of a LinkedIn error body (empty when the body is not one)."""

    code: str = ""
    service_code: int | None = None
    message: str = ""

    def describe(self) -> str:
        parts = [p for p in (self.code, self.message) if p]
        return ": ".join(parts)[:200]


def linkedin_error(body: bytes) -> LinkedInError:
    try:
        data = json.loads(body)
    except ValueError:
        return LinkedInError()
    if not isinstance(data, dict):
        return LinkedInError()
    code = data.get("code")
    service = data.get("serviceErrorCode")
    message = data.get("message")
    if not isinstance(service, int) or isinstance(service, bool):
        service = None
    return LinkedInError(
        code=code if isinstance(code, str) else "",
        service_code=service,
        message=message[:200] if isinstance(message, str) else "",
    )


def seconds_to_utc_midnight(now: float) -> float:
    """Seconds from ``now`` (unix time) to the next midnight UTC."""
    today = datetime.fromtimestamp(now, UTC).date()
    midnight = datetime.combine(today + timedelta(days=1), datetime.min.time(), UTC)
    return midnight.timestamp() - now


def classify(response: ApiResponse) -> CollectError | None:
    """The error class of a LinkedIn error answer, or None to classify by HTTP status."""
    error = linkedin_error(response.body)
    status = response.status
    said = f" ({error.describe()})" if error.describe() else ""
    where = f"{response.platform}: {response.url} answered HTTP {status}{said}"
    if status == 426 or error.code in VERSION_CODES:
        return BadResponse(f"{where}; {VERSION_FIX}")
    if status == 429:
        # no rate-limit headers: the daily limits reset at midnight UTC; ctx.api then sends
        # nothing with this credential until then
        now = time.time()
        wait = retry_after(response.headers, now)
        if wait is None:
            wait = seconds_to_utc_midnight(now)
        return RateLimited(
            f"{where}; LinkedIn's daily request limits reset at midnight UTC", retry_after=wait
        )
    if status == 401:
        return AuthError(f"{where}; the token was refused. {REAUTHORISE}")
    if status == 403:
        return AuthError(f"{where}; {PERMISSIONS}")
    return None
