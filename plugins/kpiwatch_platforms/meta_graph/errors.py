"""Graph API error bodies turned into kpiwatch error classes (the ``classify`` of ctx.api).

Meta answers ``{"error": {"message", "type", "code", "error_subcode", "is_transient",
"fbtrace_id"}}``. The HTTP status says little: throttling arrives as HTTP 400 or 403 as well
as 429, and an expired token as 400. The ``code`` decides:

- 4, 17, 32, 341, 613 and the business-use-case codes 80000-80014: throttled (``rate_limited``,
  with the wait from ``X-Business-Use-Case-Usage``'s ``estimated_time_to_regain_access``);
- 190 (and 102): the token expired or was invalidated (``auth``);
- 10 and 200-299: a permission is missing (``auth``);
- 1, 2 or ``is_transient``: a passing fault (``unavailable``, retried within the poll);
- 100 with subcode 33, and 803: the object does not exist or cannot be seen (``not_found``).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from kpiwatch.errors import AuthError, CollectError, NotFound, RateLimited, Unavailable
from kpiwatch.toolkit.api import ApiResponse
from kpiwatch.toolkit.ratelimit import meta_usage, retry_after

#: Throttling codes: app (4), user (17), Pages (32), app limit (341), custom (613).
THROTTLE_CODES = frozenset({4, 17, 32, 341, 613})
#: Business-use-case throttling: 80000 ads insights, 80001 Pages, 80002 Instagram, 80004 ads
#: management ... up to 80014.
BUC_CODES = frozenset(range(80000, 80015))
TOKEN_CODES = frozenset({102, 190})
PERMISSION_CODES = frozenset({10, *range(200, 300)})
TRANSIENT_CODES = frozenset({1, 2})
#: Code 100 subcode 33: "Object with ID ... does not exist, cannot be loaded due to missing
#: permissions, or does not support this operation".
MISSING_OBJECT_SUBCODE = 33
MISSING_ALIAS_CODE = 803
#: Code 100 subcode 1504018: the Ads Insights request timed out (try again, or ask less).
INSIGHTS_TIMEOUT_SUBCODE = 1504018

TOKEN_FIX = (
    "the access token expired or was invalidated (password changed, app removed, role lost): "
    "make a new one as the plugin's README describes and put it in access_token"
)
PERMISSION_FIX = (
    "the access token lacks a permission this call needs: grant the permissions the plugin's "
    "README lists and make a new token"
)


@dataclass(frozen=True)
class GraphError:
    """The ``error`` object of a Graph API answer."""

    code: int | None
    subcode: int | None
    message: str
    kind: str  # "type": OAuthException, GraphMethodException...
    transient: bool

    def describe(self) -> str:
        """``Graph error 4/1504022: (#4) Application request limit reached`` (<= 200 chars)."""
        code = "?" if self.code is None else str(self.code)
        if self.subcode is not None:
            code += f"/{self.subcode}"
        return f"Graph error {code}: {self.message}"[:200]


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    return None


def graph_error(body: bytes) -> GraphError | None:
    """The Graph error of a body; None when the body is not one."""
    try:
        data: Any = json.loads(body)
    except ValueError:
        return None
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return None
    message = error.get("message")
    kind = error.get("type")
    return GraphError(
        code=_int(error.get("code")),
        subcode=_int(error.get("error_subcode")),
        message=message if isinstance(message, str) else "",
        kind=kind if isinstance(kind, str) else "",
        transient=error.get("is_transient") is True,
    )


def throttle_wait(response: ApiResponse, now: float) -> float | None:
    """Seconds until Meta says access comes back: the largest
    ``estimated_time_to_regain_access`` (minutes) of ``X-Business-Use-Case-Usage``, else a
    ``Retry-After`` header; None when the answer does not say."""
    state = meta_usage(response.headers, now)
    if state is not None and state.reset_at is not None:
        return max(0.0, state.reset_at - now)
    return retry_after(response.headers, now)


def classify(response: ApiResponse) -> CollectError | None:
    """The error class of a Graph error answer, or None to classify by HTTP status."""
    error = graph_error(response.body)
    if error is None or error.code is None:
        return None
    where = f"{response.platform}: {response.url} answered HTTP {response.status}"
    said = f"{where} ({error.describe()})"
    code = error.code
    if code in THROTTLE_CODES or code in BUC_CODES:
        return RateLimited(said, retry_after=throttle_wait(response, time.time()))
    if code in TOKEN_CODES:
        return AuthError(f"{said}; {TOKEN_FIX}")
    if code in PERMISSION_CODES:
        return AuthError(f"{said}; {PERMISSION_FIX}")
    if code in TRANSIENT_CODES or error.transient:
        return Unavailable(said)
    if code == 100 and error.subcode == INSIGHTS_TIMEOUT_SUBCODE:
        return Unavailable(f"{said}; ask for fewer days")
    if (code == 100 and error.subcode == MISSING_OBJECT_SUBCODE) or code == MISSING_ALIAS_CODE:
        return NotFound(
            f"{said}; check the ID in the settings, and that the token's user or Page may see it"
        )
    return None
