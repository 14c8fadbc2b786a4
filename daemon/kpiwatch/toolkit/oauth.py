"""OAuth2 access tokens from a refresh token, kept in the account's plugin state.

Platforms that issue short-lived access tokens (YouTube Analytics, X user context, TikTok,
LinkedIn) give a refresh token once, at authorisation; the account's settings carry it. Each
refresh answers with an access token and its ``expires_in`` and, where refresh tokens rotate,
a new refresh token that replaces the old one (which stops working). Both are kept in
``ctx.state`` under ``key``, which the daemon stores with the account after every poll, also
a failed one, so a rotated refresh token is never lost.

The access token is refreshed ``margin`` seconds before it expires (and once more when the API
answers 401). A refresh the provider refuses (``invalid_grant``) is an ``AuthError`` that says
to authorise again.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import aiohttp

from kpiwatch.errors import AuthError, BadResponse, Unavailable

if TYPE_CHECKING:
    from kpiwatch.toolkit.api import ApiClient


@dataclass(frozen=True)
class OAuth2Config:
    """Where and how to refresh: the provider's token URL and the app's credentials."""

    token_url: str
    client_id: str
    client_secret: str | None
    refresh_token: str  # as first authorised; a rotated one in the state wins
    auth_method: Literal["body", "basic"] = "body"  # where the client credentials go
    extra: Mapping[str, str] = field(default_factory=dict)  # e.g. TikTok's client_key


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

    async def access_token(self, client: ApiClient) -> str:
        """A valid access token, refreshed first when it is missing or about to expire."""
        saved = self._saved
        token = saved.get("access_token")
        expires_at = saved.get("expires_at")
        if not token or (expires_at is not None and expires_at - self.margin <= client.clock()):
            return await self.refresh(client)
        return str(token)

    async def refresh(self, client: ApiClient) -> str:
        """Exchange the refresh token for a new access token (and keep a rotated one)."""
        saved = self._saved
        config = self.config
        refresh_token = saved.get("refresh_token") or config.refresh_token
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token, **config.extra}
        auth = None
        if config.auth_method == "basic":
            auth = aiohttp.BasicAuth(config.client_id, config.client_secret or "")
        else:
            form["client_id"] = config.client_id
            if config.client_secret:
                form["client_secret"] = config.client_secret
        where = f"{client.platform}: token refresh at {config.token_url.split('?')[0]}"
        try:
            async with client.session.post(config.token_url, data=form, auth=auth) as answer:
                status = answer.status
                try:
                    data = await answer.json(content_type=None)
                except ValueError:
                    data = None
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise Unavailable(f"{where}: {type(exc).__name__}") from None
        self.refreshes += 1
        if status >= 500:
            raise Unavailable(f"{where} answered HTTP {status}")
        if status != 200 or not isinstance(data, dict) or "access_token" not in data:
            error = data.get("error") if isinstance(data, dict) else None
            if status in (400, 401) or error:
                raise AuthError(
                    f"{where} was refused (HTTP {status}{f', {error}' if error else ''}); the "
                    "refresh token is no longer valid: authorise the app again and put the new "
                    "refresh token in the account's settings"
                )
            raise BadResponse(f"{where} answered HTTP {status} without an access_token")
        saved["access_token"] = str(data["access_token"])
        expires_in = data.get("expires_in")
        now = client.clock() if client is not None else time.time()
        saved["expires_at"] = now + float(expires_in) if expires_in is not None else None
        if data.get("refresh_token"):
            saved["refresh_token"] = str(data["refresh_token"])  # rotation: the old one is dead
        return saved["access_token"]


def _fingerprint(secret: str) -> str:
    import hashlib

    return hashlib.sha256(secret.encode()).hexdigest()[:16]
