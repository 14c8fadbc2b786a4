"""How long the account's LinkedIn credential lasts: a warning as it nears its expiry, and an
``auth`` failure saying how to re-authorise once it has expired.

Access tokens last 60 days; programmatic refresh tokens 365 days from the first authorisation
(a refresh does not extend them). The expiry comes from the settings
(``access_token_expires``, ``refresh_token_expires``) or, for an access token with the app's
``client_id`` and ``client_secret``, from LinkedIn's token introspection (asked once a day)::

    POST https://www.linkedin.com/oauth/v2/introspectToken  client_id, client_secret, token
    -> {"active": true, "status": "active", "expires_at": 1497497620, ...}
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

import kpiwatch
from kpiwatch.errors import AuthError, BadResponse
from kpiwatch.toolkit.api import ApiResponse
from kpiwatch_platforms.linkedin.client import LinkedInClient
from kpiwatch_platforms.linkedin.errors import REAUTHORISE
from kpiwatch_platforms.linkedin.settings import LinkedInSettings

#: ``ctx.state`` keys: the last introspection, and the day the last warning was logged.
INTROSPECTION_KEY = "token_introspection"
WARNED_KEY = "token_expiry_warned_on"
#: Introspection is asked again after this long.
INTROSPECT_EVERY = 86400.0

RENEW_REFRESH_TOKEN = (
    "programmatic refresh tokens last 365 days from the first authorisation: authorise the "
    "app again and put the new refresh token in refresh_token (and its expiry date in "
    "refresh_token_expires)"
)


@dataclass(frozen=True)
class Expiry:
    """Which credential expires, and when (unix time)."""

    what: str  # "access token" or "refresh token"
    at: float
    fix: str

    @property
    def day(self) -> str:
        return datetime.fromtimestamp(self.at, UTC).date().isoformat()


def _start_of(day: date) -> float:
    return datetime.combine(day, time(0), UTC).timestamp()


def _fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:16]


async def check_token(
    ctx: kpiwatch.CollectContext, client: LinkedInClient, settings: LinkedInSettings
) -> None:
    """Log a warning (once a day) when the credential expires within ``expiry_warning_days``;
    raise AuthError when it has expired."""
    expiry = await _expiry(ctx, client, settings)
    if expiry is None:
        return
    now = ctx.now.timestamp()
    if expiry.at <= now:
        raise AuthError(f"linkedin: the {expiry.what} expired on {expiry.day}; {expiry.fix}")
    days_left = (expiry.at - now) / 86400
    if days_left <= settings.expiry_warning_days:
        today = ctx.now.date().isoformat()
        if ctx.state.get(WARNED_KEY) != today:
            ctx.state[WARNED_KEY] = today
            ctx.log.warning(
                f"linkedin {expiry.what} expires soon",
                expires=expiry.day,
                days_left=int(days_left),
                fix=expiry.fix,
            )


async def _expiry(
    ctx: kpiwatch.CollectContext, client: LinkedInClient, settings: LinkedInSettings
) -> Expiry | None:
    if settings.refresh_token is not None:
        if settings.refresh_token_expires is None:
            return None
        expires = _start_of(settings.refresh_token_expires)
        return Expiry("refresh token", expires, RENEW_REFRESH_TOKEN)
    if settings.access_token_expires is not None:
        return Expiry("access token", _start_of(settings.access_token_expires), REAUTHORISE)
    if settings.can_introspect and settings.access_token is not None:
        expires_at = await _introspected_expiry(ctx, client, settings)
        return Expiry("access token", expires_at, REAUTHORISE) if expires_at else None
    return None


async def _introspected_expiry(
    ctx: kpiwatch.CollectContext, client: LinkedInClient, settings: LinkedInSettings
) -> float | None:
    """``expires_at`` of the access token as LinkedIn says, from the state when asked today."""
    assert settings.access_token is not None and settings.client_secret is not None
    token = settings.access_token.get_secret_value()
    saved = ctx.state.get(INTROSPECTION_KEY)
    now = ctx.now.timestamp()
    if (
        isinstance(saved, dict)
        and saved.get("token") == _fingerprint(token)
        and now - float(saved.get("checked_at", 0)) < INTROSPECT_EVERY
    ):
        expires_at = saved.get("expires_at")
        return float(expires_at) if isinstance(expires_at, int | float) else None
    form = {
        "client_id": str(settings.client_id),
        "client_secret": settings.client_secret.get_secret_value(),
        "token": token,
    }
    response = await client.post_form(
        settings.introspect_url, form, accept=lambda r: r.status in (200, 400, 401)
    )
    if response.status != 200:
        # 400: "invalid client id or token", 401: "invalid client secret"
        ctx.log.warning(
            "linkedin token introspection refused: check client_id and client_secret",
            status=response.status,
            detail=response.error_text(),
        )
        return None
    return _read_introspection(ctx, response, token, now)


def _read_introspection(
    ctx: kpiwatch.CollectContext, response: ApiResponse, token: str, now: float
) -> float | None:
    data = response.json()
    where = f"{response.platform}: POST {response.url}"
    if not isinstance(data, dict) or not isinstance(data.get("active"), bool):
        raise BadResponse(f"{where}: the answer has no 'active' true or false")
    if not data["active"]:
        status = data.get("status") if isinstance(data.get("status"), str) else "not active"
        raise AuthError(f"{where}: LinkedIn says the access token is {status}; {REAUTHORISE}")
    expires_at = data.get("expires_at")
    expires = float(expires_at) if isinstance(expires_at, int | float) else None
    ctx.state[INTROSPECTION_KEY] = {
        "token": _fingerprint(token),
        "checked_at": now,
        "expires_at": expires,
    }
    return expires
