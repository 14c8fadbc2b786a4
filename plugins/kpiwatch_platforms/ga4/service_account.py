"""Access tokens of a service account, from signed assertions (no refresh token involved).

Passed to ``ctx.api.request(auth=...)`` like the toolkit's ``OAuth2``: the bearer token is
kept in the account's state, a new one is asked for ``margin`` seconds before it expires and
once more when the API answers 401. The exchange is ``POST <token_uri>`` with
``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<JWT>``; Google answers
``{"access_token", "expires_in": 3599, "token_type": "Bearer"}``. As with the toolkit's OAuth2
refresh, the exchange uses the poll's session itself, so it does not disturb the quota budget
of the report request it is made for.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp

from kpiwatch.errors import AuthError, BadResponse, RateLimited, Unavailable
from kpiwatch.toolkit.api import ApiClient
from kpiwatch.toolkit.ratelimit import retry_after
from kpiwatch_platforms.ga4.assertion import signed_assertion
from kpiwatch_platforms.ga4.service_key import ServiceKey, parse_service_key
from kpiwatch_platforms.ga4.settings import ServiceAccount

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"


class ServiceAccountAuth:
    """Bearer tokens of one service account, kept in ``state[key]``."""

    def __init__(
        self,
        account: ServiceAccount,
        state: dict[str, Any],
        key: str = "service_account",
        margin: float = 300,
    ) -> None:
        self.account = account
        self.state = state
        self.key = key
        self.margin = margin
        self.exchanges = 0
        self._service_key: ServiceKey | None = account.inline_key()
        self._lock = asyncio.Lock()

    @property
    def credential(self) -> str:
        """Names the credential for rate limits (never the key itself)."""
        if self._service_key is not None:
            return f"service-account:{self._service_key.client_email}"
        return f"service-account-file:{self.account.key_file}"

    def _saved(self, email: str) -> dict[str, Any]:
        saved = self.state.get(self.key)
        if not isinstance(saved, dict) or saved.get("client_email") != email:
            saved = {"client_email": email}  # another key: its tokens are not this one's
            self.state[self.key] = saved
        return saved

    def _valid_token(self, client: ApiClient, email: str) -> str | None:
        saved = self._saved(email)
        token, expires_at = saved.get("access_token"), saved.get("expires_at")
        if not token or (expires_at is not None and expires_at - self.margin <= client.clock()):
            return None
        return str(token)

    async def access_token(self, client: ApiClient) -> str:
        """A valid access token, asked for first when missing or about to expire."""
        service_key = await self._load(client)
        token = self._valid_token(client, service_key.client_email)
        if token is not None:
            return token
        async with self._lock:
            return self._valid_token(client, service_key.client_email) or await self._exchange(
                client, service_key
            )

    async def refresh(self, client: ApiClient, failed: str | None = None) -> str:
        """A new access token (the API refused ``failed``), unless another request got one."""
        service_key = await self._load(client)
        async with self._lock:
            current = self._saved(service_key.client_email).get("access_token")
            if failed is not None and current and current != failed:
                return str(current)
            return await self._exchange(client, service_key)

    async def _load(self, client: ApiClient) -> ServiceKey:
        if self._service_key is not None:
            return self._service_key
        path = Path(str(self.account.key_file)).expanduser()
        where = f"{client.platform}: service_account.key_file {path}"
        try:
            text = await asyncio.to_thread(path.read_text, encoding="utf-8")
        except OSError as exc:
            raise AuthError(
                f"{where} cannot be read ({exc.strerror or type(exc).__name__}): put the "
                "service account's JSON key there, readable by the daemon"
            ) from None
        try:
            self._service_key = parse_service_key(text, where)
        except ValueError as exc:
            raise AuthError(str(exc)) from None
        return self._service_key

    async def _exchange(self, client: ApiClient, service_key: ServiceKey) -> str:
        where = f"{client.platform}: token request at {service_key.token_uri}"
        try:
            assertion = await asyncio.to_thread(signed_assertion, service_key, client.clock())
        except ValueError as exc:
            raise AuthError(
                f"{client.platform}: the service account key of {service_key.client_email} "
                f"cannot sign: {exc}; download a new JSON key"
            ) from None
        options: dict[str, Any] = {}
        if client.policy.request_timeout is not None:
            options["timeout"] = aiohttp.ClientTimeout(total=client.policy.request_timeout)
        form = {"grant_type": JWT_BEARER, "assertion": assertion}
        try:
            async with client.session.post(service_key.token_uri, data=form, **options) as answer:
                status = answer.status
                wait = retry_after(answer.headers, client.clock())
                try:
                    data = await answer.json(content_type=None)
                except ValueError:
                    data = None
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise Unavailable(f"{where}: {type(exc).__name__}") from None
        self.exchanges += 1
        return self._keep(client, service_key, where, status, wait, data)

    def _keep(
        self,
        client: ApiClient,
        service_key: ServiceKey,
        where: str,
        status: int,
        wait: float | None,
        data: Any,
    ) -> str:
        if status >= 500:
            raise Unavailable(f"{where} answered HTTP {status}", retry_after=wait)
        if status == 429:
            raise RateLimited(f"{where} answered HTTP 429", retry_after=wait)
        if status != 200 or not isinstance(data, dict) or "access_token" not in data:
            error = data.get("error") if isinstance(data, dict) else None
            description = data.get("error_description") if isinstance(data, dict) else None
            said = ", ".join(str(part)[:120] for part in (error, description) if part)
            if status in (400, 401) or error:
                raise AuthError(
                    f"{where} was refused (HTTP {status}{f': {said}' if said else ''}): the key "
                    f"of {service_key.client_email} may be deleted or disabled, or this host's "
                    "clock is off"
                )
            raise BadResponse(f"{where} answered HTTP {status} without an access_token")
        try:
            lifetime = float(data.get("expires_in", 3600))
        except (TypeError, ValueError):
            raise BadResponse(f"{where} answered expires_in={data.get('expires_in')!r}") from None
        saved = self._saved(service_key.client_email)
        saved["access_token"] = str(data["access_token"])
        saved["expires_at"] = client.clock() + lifetime
        return saved["access_token"]
