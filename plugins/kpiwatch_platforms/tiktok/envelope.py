"""TikTok API v2 answers: ``{"data": {...}, "error": {"code", "message", "log_id"}}``.

Every answer carries the ``error`` object; ``code`` is ``"ok"`` on success. The documented
codes and statuses (developers.tiktok.com, "Error Handling" of API v2):
``access_token_invalid`` 401, ``scope_not_authorized`` 401, ``scope_permission_missed`` 400,
``invalid_params`` 400, ``rate_limit_exceeded`` 429, ``internal_error`` 500. An answer with
HTTP 2xx but another code than ``ok`` is an error too.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from kpiwatch.errors import AuthError, BadResponse, CollectError, RateLimited, Unavailable
from kpiwatch.toolkit.api import ApiResponse
from kpiwatch.toolkit.ratelimit import retry_after

#: TikTok counts requests per endpoint over a sliding window of one minute.
RATE_WINDOW_SECONDS = 60.0
#: Requests per window and endpoint (TikTok's default limit).
RATE_LIMIT = 600

RATE_CODES = frozenset({"rate_limit_exceeded", "spam_risk_too_many_requests"})
SCOPE_CODES = frozenset({"scope_not_authorized", "scope_permission_missed"})
TOKEN_CODES = frozenset({"access_token_invalid", "access_token_expired"})

#: The scopes each endpoint needs, for messages.
SCOPES_BY_PATH = {
    "/v2/user/info/": "user.info.basic and user.info.stats",
    "/v2/video/list/": "video.list",
}

REAUTHORISE = (
    "authorise the app again as the account and put the new refresh token in refresh_token"
)


@dataclass(frozen=True)
class TikTokError:
    """The ``error`` object of an answer."""

    code: str
    message: str = ""
    log_id: str = ""

    def describe(self) -> str:
        """``code: message (log_id ...)`` in at most 200 characters."""
        text = f"{self.code}: {self.message}" if self.message else self.code
        return (text + (f" (log_id {self.log_id})" if self.log_id else ""))[:200]


class TokenRefused(AuthError):
    """``access_token_invalid`` without HTTP 401: the access token is refreshed and the
    request sent once more (the toolkit does that itself only on a 401)."""


def envelope_error(body: bytes) -> TikTokError | None:
    """The ``error`` object of a body, or None when the body has none."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict) or not isinstance(error.get("code"), str):
        return None
    message, log_id = error.get("message"), error.get("log_id")
    return TikTokError(
        error["code"],
        message if isinstance(message, str) else "",
        log_id if isinstance(log_id, str) else "",
    )


def succeeded(response: ApiResponse) -> bool:
    """HTTP 2xx and no error code other than ``ok`` (the ``accept`` of every request)."""
    if not 200 <= response.status < 300:
        return False
    error = envelope_error(response.body)
    return error is None or error.code == "ok"


def classify(response: ApiResponse) -> CollectError | None:
    """The error class of a failed TikTok answer from its ``error.code``; None leaves it to the
    HTTP status."""
    error = envelope_error(response.body)
    status = response.status
    code = error.code if error else ""
    where = f"{response.platform}: {response.url} answered HTTP {status}"
    said = f" ({error.describe()})" if error else ""
    if code in RATE_CODES or status == 429:
        wait = retry_after(response.headers, time.time())
        return RateLimited(
            f"{where}{said}; TikTok allows {RATE_LIMIT} requests a minute per endpoint",
            retry_after=RATE_WINDOW_SECONDS if wait is None else wait,
        )
    if code in TOKEN_CODES:
        if status == 401:  # the toolkit has refreshed the token once already
            return AuthError(f"{where}{said}; a fresh access token was refused too: {REAUTHORISE}")
        return TokenRefused(f"{where}{said}; the access token was refused: {REAUTHORISE}")
    if code in SCOPE_CODES:
        scope = SCOPES_BY_PATH.get(urlsplit(response.url).path, "the scopes this endpoint needs")
        return AuthError(
            f"{where}{said}; the account did not grant the scope {scope}: add it to the app's "
            f"products at developers.tiktok.com, then {REAUTHORISE}"
        )
    if code == "internal_error":
        wait = retry_after(response.headers, time.time())
        return Unavailable(f"{where}{said}", retry_after=wait)
    if code and 200 <= status < 300:
        return BadResponse(f"{where} with the error{said}")
    return None
