"""XRPC conventions: method URLs, error bodies and the error classes they mean.

Every XRPC error answers with ``{"error": "<Name>", "message": "..."}``. The HTTP status alone is
not enough: the PDS answers an expired access token with 400 ``ExpiredToken`` (the AppView
with 401), a bad token with 400 or 401 ``InvalidToken``, and a method it does not implement
with 501 ``MethodNotImplemented``.
"""

from __future__ import annotations

import json
from typing import Any

from kpiwatch.errors import AuthError, BadResponse, CollectError, MetricRemoved, NotFound
from kpiwatch.toolkit.api import ApiResponse

#: Error names that mean the credentials are not accepted.
AUTH_ERRORS = frozenset(
    {"InvalidToken", "AuthRequired", "AuthMissing", "AuthenticationRequired", "AccountTakedown"}
)
#: Error names that mean the account cannot be read (any more).
GONE_ERRORS = frozenset(
    {"AccountTakedown", "AccountDeactivated", "ActorNotFound", "BlockedActor", "BlockedByActor"}
)
GONE_MESSAGES = ("profile not found", "could not find repo", "actor not found")


class SessionExpired(AuthError):
    """The access token has expired (``ExpiredToken``): refresh the session and try again."""


def url(base: str, nsid: str) -> str:
    """The URL of XRPC method ``nsid`` at the service ``base`` (without ``/xrpc``)."""
    return f"{base}/xrpc/{nsid}"


def error_of(response: ApiResponse) -> tuple[str, str]:
    """The XRPC error name and message of an answer ("" when the body has none)."""
    try:
        data = json.loads(response.body)
    except ValueError:
        return "", ""
    if not isinstance(data, dict):
        return "", ""
    name, message = data.get("error"), data.get("message")
    return (
        name if isinstance(name, str) else "",
        message[:200] if isinstance(message, str) else "",
    )


def classify(response: ApiResponse) -> CollectError | None:
    """The error class of an XRPC error answer; None leaves it to the HTTP status."""
    name, message = error_of(response)
    if not name:
        return None
    text = f"{response.platform}: {response.url} answered HTTP {response.status}: {name}" + (
        f": {message}" if message else ""
    )
    if name == "ExpiredToken":
        return SessionExpired(text)
    if name == "AccountTakedown" and "createSession" not in response.url:
        return NotFound(text)
    if name in AUTH_ERRORS:
        return AuthError(text)
    if name in GONE_ERRORS or (
        name == "InvalidRequest" and any(m in message.lower() for m in GONE_MESSAGES)
    ):
        return NotFound(text)
    if name == "MethodNotImplemented":
        return MetricRemoved(text)
    return None


def bad_shape(response: ApiResponse, detail: str) -> BadResponse:
    """A BadResponse for a JSON answer without the fields the lexicon promises."""
    return BadResponse(f"{response.platform}: {response.url} answered {detail}")


def object_body(response: ApiResponse) -> dict[str, Any]:
    """The answer's JSON object; BadResponse when the body is not JSON or not an object."""
    data = response.json()
    if not isinstance(data, dict):
        raise bad_shape(response, f"a JSON {type(data).__name__} instead of an object")
    return data


def count(response: ApiResponse, data: dict[str, Any], key: str) -> int | None:
    """The counter ``key`` of ``data``: None when absent, BadResponse when not a count."""
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise bad_shape(response, f"{key}={value!r}, not a count")
    return value
