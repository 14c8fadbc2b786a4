"""The Instagram User token of Instagram Login, refreshed before its 60 days run out.

A long-lived token may be refreshed once it is 24 hours old and while it is valid:
``GET https://graph.instagram.com/refresh_access_token?grant_type=ig_refresh_token
&access_token=...`` answers ``{"access_token", "token_type", "expires_in"}`` with a token
valid 60 more days. kpiwatch keeps the newest token in the account's state and refreshes it
every ``token_refresh_days``. A new token in the configuration replaces the kept one.

Tokens of Facebook Login (Page tokens) do not expire and are used as configured.
"""

from __future__ import annotations

import hashlib
from typing import Any

import kpiwatch
from kpiwatch.errors import BadResponse, NotFound, Unavailable
from kpiwatch_platforms.instagram.settings import InstagramSettings
from kpiwatch_platforms.meta_graph.reading import GraphBody

#: Where the account's state keeps the refreshed token.
STATE_KEY = "ig_token"


def _fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:16]


async def current_token(ctx: kpiwatch.CollectContext, settings: InstagramSettings) -> str:
    """The token to use in this poll, refreshed first when it is due."""
    configured = settings.access_token.get_secret_value()
    if settings.login != "instagram":
        return configured
    now = ctx.now.timestamp()
    saved: dict[str, Any] = ctx.state.get(STATE_KEY) or {}
    if saved.get("configured") != _fingerprint(configured) or not saved.get("access_token"):
        # a token from the configuration: its age is unknown, count from now
        saved = {"configured": _fingerprint(configured), "access_token": configured}
        saved["refreshed_at"] = now
        ctx.state[STATE_KEY] = saved
    due = now - float(saved.get("refreshed_at", now)) >= settings.token_refresh_days * 86400
    if due and ctx.api is not None and not ctx.api.dry_run:
        try:
            await _refresh(ctx, settings, saved)
        except (BadResponse, NotFound, Unavailable) as exc:  # the kept token still works
            ctx.log.warning("instagram token refresh failed; using the kept token", error=str(exc))
    return str(saved["access_token"])


async def _refresh(
    ctx: kpiwatch.CollectContext, settings: InstagramSettings, saved: dict[str, Any]
) -> None:
    assert ctx.api is not None
    token = str(saved["access_token"])
    response = await ctx.api.request(
        "GET",
        f"{settings.base_url}/refresh_access_token",
        params={"grant_type": "ig_refresh_token", "access_token": token},
        credential=token,
    )
    body = GraphBody(response)
    fresh = body.text(body.data, "access_token", "")
    if not fresh:
        raise body.bad("access_token", fresh, "the refreshed token")
    expires = body.number(body.data, "expires_in", "")
    saved["access_token"] = fresh
    saved["refreshed_at"] = ctx.now.timestamp()
    if expires is not None:
        saved["expires_at"] = ctx.now.timestamp() + expires
