"""OAuth2 access tokens from a refresh token, kept in the account's plugin state.

Platforms that issue short-lived access tokens (YouTube Analytics, X user context, TikTok,
LinkedIn) give a refresh token once, at authorisation; the account's settings carry it. Each
refresh answers with an access token and its ``expires_in`` and, where refresh tokens rotate,
a new refresh token that replaces the old one (which stops working). Both are kept in
``ctx.state`` under ``key``, which the daemon stores with the account after every poll, also
a failed one, so a rotated refresh token is never lost.

The access token is refreshed ``margin`` seconds before it expires (and once more when the API
answers 401). Requests of one poll that need a new token at the same time wait for one refresh:
with rotating refresh tokens a second refresh would present a token the first one killed. A
refresh the provider refuses (``invalid_grant``) is an ``AuthError`` that says to authorise
again.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import aiohttp

from kpiwatch.errors import AuthError, BadResponse, RateLimited, Unavailable
from kpiwatch.toolkit.api import ApiClient, _no_query
from kpiwatch.toolkit.ratelimit import retry_after


@dataclass(frozen=True)
class OAuth2Config:
    """Where and how to refresh: the provider's token URL and the app's credentials."""

    token_url: str
    client_id: str
    client_secret: str | None
    refresh_token: str  # as first authorised; a rotated one in the state wins
    auth_method: Literal["body", "basic"] = "body"  # where the client credentials go
    extra: Mapping[str, str] = field(default_factory=dict)  # more form fields
    client_id_field: str = "client_id"  # the form field of the client id (TikTok: client_key)


class OAuth2:
    """Access tokens of one account, refreshed from its (rotating) refresh token."""

    def __init__(
        self, config: OAuth2Config, state: dict[str, Any], key: str = "oauth", margin: float = 300
    ) -> None:
        self.config = config
        self.state = state
        self.key = key
        self.margin = margin
        self.refreshes = 0
        self._lock = asyncio.Lock()  # one refresh at a time: a rotated token is used once

    @property
    def _saved(self) -> dict[str, Any]:
        saved = self.state.get(self.key)
        # a refresh token given anew in the settings (re-authorised) replaces the saved chain
        if not isinstance(saved, dict) or saved.get("initial") != _fingerprint(
            self.config.refresh_token
        ):
            saved = {"initial": _fingerprint(self.config.refresh_token)}
            self.state[self.key] = saved
        return saved

    @property
    def credential(self) -> str:
        """What identifies the account's credential for rate limits (the refresh chain)."""
        return self._saved["initial"]

    def _valid_token(self, client: ApiClient) -> str | None:
        saved = self._saved
        token = saved.get("access_token")
        expires_at = saved.get("expires_at")
        if not token or (expires_at is not None and expires_at - self.margin <= client.clock()):
            return None
        return str(token)

    async def access_token(self, client: ApiClient) -> str:
        """A valid access token, refreshed first when it is missing or about to expire."""
        token = self._valid_token(client)
        if token is not None:
            return token
        async with self._lock:
            # another request of this poll may have refreshed while this one waited
            return self._valid_token(client) or await self._refresh(client)

    async def refresh(self, client: ApiClient, failed: str | None = None) -> str:
        """Exchange the refresh token for a new access token (and keep a rotated one).

        ``failed`` is the access token the API just refused: when another request has
        replaced it meanwhile, that newer token is returned without a second refresh.
        """
        async with self._lock:
            current = self._saved.get("access_token")
            if failed is not None and current and current != failed:
                return str(current)
            return await self._refresh(client)

    async def _refresh(self, client: ApiClient) -> str:
        if client.dry_run:
            raise AuthError(
                f"{client.platform}: the stored access token is missing or expired, and a test "
                "poll does not refresh it (the provider may rotate the refresh token, and the "
                "new one would be lost): let the daemon poll the account once, then try again"
            )
        saved = self._saved
        config = self.config
        refresh_token = saved.get("refresh_token") or config.refresh_token
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token, **config.extra}
        headers: dict[str, str] = {}
        if config.auth_method == "basic":
            pair = f"{config.client_id}:{config.client_secret or ''}".encode()
            headers["Authorization"] = f"Basic {base64.b64encode(pair).decode('ascii')}"
        else:
            form[config.client_id_field] = config.client_id
            if config.client_secret:
                form["client_secret"] = config.client_secret
        where = f"{client.platform}: token refresh at {_no_query(config.token_url)}"
        options: dict[str, Any] = {}
        if client.policy.request_timeout is not None:
            options["timeout"] = aiohttp.ClientTimeout(total=client.policy.request_timeout)
        try:
            async with client.session.post(
                config.token_url, data=form, headers=headers, **options
            ) as answer:
                status = answer.status
                wait = retry_after(answer.headers, client.clock())
                try:
                    data = await answer.json(content_type=None)
                except ValueError:
                    data = None
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise Unavailable(f"{where}: {type(exc).__name__}") from None
        self.refreshes += 1
        if status >= 500:
            raise Unavailable(f"{where} answered HTTP {status}", retry_after=wait)
        if status == 429:
            raise RateLimited(f"{where} answered HTTP 429", retry_after=wait)
        if status != 200 or not isinstance(data, dict) or "access_token" not in data:
            error = data.get("error") if isinstance(data, dict) else None
            error = str(error)[:100] if error else None
            if error == "invalid_client":
                raise AuthError(
                    f"{where} was refused (HTTP {status}, invalid_client): check the app's "
                    "client id and secret in the account's settings"
                )
            if status in (400, 401) or error:
                raise AuthError(
                    f"{where} was refused (HTTP {status}{f', {error}' if error else ''}); the "
                    "refresh token is no longer valid: authorise the app again and put the new "
                    "refresh token in the account's settings"
                )
            raise BadResponse(f"{where} answered HTTP {status} without an access_token")
        expires_in = data.get("expires_in")
        try:
            lifetime = float(expires_in) if expires_in is not None else None
        except (TypeError, ValueError):
            raise BadResponse(f"{where} answered expires_in={expires_in!r}, not seconds") from None
        now = client.clock() if client is not None else time.time()
        saved["access_token"] = str(data["access_token"])
        saved["expires_at"] = now + lifetime if lifetime is not None else None
        if data.get("refresh_token"):
            saved["refresh_token"] = str(data["refresh_token"])  # rotation: the old one is dead
        return saved["access_token"]


def _fingerprint(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()[:16]
