"""Rate-limit signals in platform responses, read into one :class:`RateLimitState`.

Every platform says how much of its budget is left in its own way:

- X: ``x-rate-limit-limit``, ``-remaining``, ``-reset`` (reset in unix seconds);
- Mastodon: ``X-RateLimit-Limit``, ``-Remaining``, ``-Reset`` (reset an ISO-8601 time);
- Bluesky PDS and the IETF draft: ``ratelimit-limit``, ``-remaining``, ``-reset`` (Bluesky sends
  unix seconds, the draft delta-seconds: a value below 10**9 is read as a delta);
- Meta: ``X-App-Usage`` / ``X-Business-Use-Case-Usage``, JSON with percentages used (the
  largest counts; ``estimated_time_to_regain_access`` is in minutes);
- everyone: ``Retry-After`` on 429 and 503, delta-seconds or an HTTP date.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

#: Headers map case-insensitively (aiohttp's CIMultiDictProxy, or a dict in tests).
Headers = Mapping[str, str]


@dataclass(frozen=True)
class RateLimitState:
    """How much of a rate limit is left, as the platform last said.

    ``limit`` and ``remaining`` are calls (Meta: percent of the budget, limit 100);
    ``reset_at`` is the unix time the window resets, when known.
    """

    limit: float | None
    remaining: float | None
    reset_at: float | None
    observed_at: float

    @property
    def exhausted(self) -> bool:
        return self.remaining is not None and self.remaining <= 0


HeaderReader = Callable[[Headers, float], RateLimitState | None]


def _get(headers: Headers, name: str) -> str | None:
    value = headers.get(name)
    if value is None and not hasattr(headers, "getall"):  # plain dicts: match any case
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return value


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(text.strip().split(",")[0].split(";")[0])
    except ValueError:
        return None


def _triplet(
    headers: Headers, prefix: str, now: float, reset: Callable[[str, float], float | None]
) -> RateLimitState | None:
    limit = _number(_get(headers, f"{prefix}limit"))
    remaining = _number(_get(headers, f"{prefix}remaining"))
    reset_text = _get(headers, f"{prefix}reset")
    if limit is None and remaining is None:
        return None
    reset_at = reset(reset_text, now) if reset_text else None
    return RateLimitState(limit, remaining, reset_at, now)


def _epoch(text: str, now: float) -> float | None:
    return _number(text)


def _iso(text: str, now: float) -> float | None:
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:  # no offset: UTC, never the daemon's local time
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _epoch_or_delta(text: str, now: float) -> float | None:
    value = _number(text)
    if value is None:
        return None
    return value if value >= 1e9 else now + value


def x_rate_limit(headers: Headers, now: float) -> RateLimitState | None:
    """X API v2: ``x-rate-limit-*``, reset in unix seconds."""
    return _triplet(headers, "x-rate-limit-", now, _epoch)


def mastodon_rate_limit(headers: Headers, now: float) -> RateLimitState | None:
    """Mastodon: ``X-RateLimit-*``, reset an ISO-8601 timestamp."""
    return _triplet(headers, "x-ratelimit-", now, _iso)


def ietf_rate_limit(headers: Headers, now: float) -> RateLimitState | None:
    """Bluesky PDS and the IETF draft: ``ratelimit-*``, reset unix seconds or a delta."""
    return _triplet(headers, "ratelimit-", now, _epoch_or_delta)


def meta_usage(headers: Headers, now: float) -> RateLimitState | None:
    """Meta Graph API usage headers: the largest percentage used of any counter."""
    used: list[float] = []
    regain: list[float] = []
    for name in ("x-app-usage", "x-page-usage", "x-ad-account-usage"):
        text = _get(headers, name)
        if text:
            used += _percentages(_loads(text))
    text = _get(headers, "x-business-use-case-usage")
    if text:
        for entries in (_loads(text) or {}).values():
            for entry in entries if isinstance(entries, list) else []:
                if isinstance(entry, dict):
                    used += _percentages(entry)
                    minutes = entry.get("estimated_time_to_regain_access")
                    if isinstance(minutes, int | float) and minutes > 0:
                        regain.append(float(minutes))
    if not used:
        return None
    top = max(used)
    reset_at = now + max(regain) * 60 if regain else None
    return RateLimitState(100.0, max(0.0, 100.0 - top), reset_at, now)


def _loads(text: str) -> dict | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _percentages(data: dict | None) -> list[float]:
    if not data:
        return []
    keys = ("call_count", "total_cputime", "total_time", "acc_id_util_pct")
    return [float(data[k]) for k in keys if isinstance(data.get(k), int | float)]


def retry_after(headers: Headers, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    text = _get(headers, "retry-after")
    if not text:
        return None
    value = _number(text)
    if value is not None:
        return max(0.0, value)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:  # "-0000": HTTP dates are always GMT
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, moment.timestamp() - now)


#: The readers a platform can name in its ApiPolicy.
READERS: dict[str, HeaderReader] = {
    "x": x_rate_limit,
    "mastodon": mastodon_rate_limit,
    "ietf": ietf_rate_limit,
    "meta": meta_usage,
}
