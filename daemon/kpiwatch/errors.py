"""Errors a platform plugin raises from ``collect``; the scheduler counts them by ``reason``."""

from __future__ import annotations


class CollectError(Exception):
    """A poll failed for a known reason.

    ``retry_after`` (seconds), when set, is the earliest time the platform asked to be called
    again; the scheduler waits at least that long before the next poll of the account.
    """

    reason = "error"

    def __init__(self, message: str = "", *, retry_after: float | None = None) -> None:
        super().__init__(message or self.reason)
        self.retry_after = retry_after


class AuthError(CollectError):
    """The credentials were refused or have expired."""

    reason = "auth"


class RateLimited(CollectError):
    """The platform throttled the caller (HTTP 429 or a platform-specific code)."""

    reason = "rate_limited"


class QuotaExhausted(CollectError):
    """A daily or monthly quota is used up."""

    reason = "quota_exhausted"


class NotFound(CollectError):
    """The account, page or channel does not exist (any more)."""

    reason = "not_found"


class Unavailable(CollectError):
    """The platform is down or answered with a server error."""

    reason = "unavailable"


class BadResponse(CollectError):
    """The platform answered with a body the plugin could not read."""

    reason = "bad_response"


class MetricRemoved(CollectError):
    """The platform no longer serves a metric the plugin asked for."""

    reason = "metric_removed"


#: Reasons the scheduler itself assigns, besides those of the classes above.
SCHEDULER_REASONS = {
    "timeout": "the poll ran past the account's timeout",
    "exception": "the plugin raised an exception that is not a CollectError",
    "invalid_result": "the plugin returned something that is not a list of samples",
}

#: Every failure reason, with what it means; exported as the ``reason`` label.
FAILURE_REASONS: dict[str, str] = {
    cls.reason: (cls.__doc__ or "").strip()
    for cls in (
        CollectError,
        AuthError,
        RateLimited,
        QuotaExhausted,
        NotFound,
        Unavailable,
        BadResponse,
        MetricRemoved,
    )
} | SCHEDULER_REASONS
