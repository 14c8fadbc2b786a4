"""The requests of one poll of one LinkedIn organization, through ``ctx.api``.

Every request carries ``LinkedIn-Version`` and ``X-Restli-Protocol-Version: 2.0.0`` and the
member's bearer token: the configured 60-day ``access_token``, or one refreshed from
``refresh_token`` (kept in ``ctx.state``). LinkedIn's HTTP 429 has no rate-limit headers and
its limits are daily (see errors.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import kpiwatch
from kpiwatch.errors import BadResponse, CollectError
from kpiwatch.toolkit.api import ApiClient, ApiResponse
from kpiwatch.toolkit.oauth import OAuth2, OAuth2Config
from kpiwatch_platforms.linkedin.restli import RestliValue, query, send_as_encoded
from kpiwatch_platforms.linkedin.settings import LinkedInSettings

#: Where the refreshed tokens of the account live in ``ctx.state``.
OAUTH_STATE_KEY = "oauth"
RESTLI_PROTOCOL = "2.0.0"


class LinkedInClient:
    """GET requests to the LinkedIn REST API for one poll."""

    def __init__(self, ctx: kpiwatch.CollectContext, settings: LinkedInSettings) -> None:
        if ctx.api is None:
            raise CollectError("linkedin: the poll has no ctx.api (run it through kpiwatch)")
        self.api: ApiClient = send_as_encoded(ctx.api)
        self.base = settings.base_url
        self.headers = {
            "LinkedIn-Version": settings.linkedin_version,
            "X-Restli-Protocol-Version": RESTLI_PROTOCOL,
        }
        self.oauth: OAuth2 | None = None
        self.token: str | None = None
        if settings.refresh_token is not None:
            assert settings.client_id is not None and settings.client_secret is not None
            config = OAuth2Config(
                token_url=settings.token_url,
                client_id=settings.client_id,
                client_secret=settings.client_secret.get_secret_value(),
                refresh_token=settings.refresh_token.get_secret_value(),
                auth_method="body",  # LinkedIn reads client_id and client_secret from the form
            )
            self.oauth = OAuth2(config, ctx.state, key=OAUTH_STATE_KEY)
        elif settings.access_token is not None:
            self.token = settings.access_token.get_secret_value()

    async def get(
        self, path: str, params: Mapping[str, RestliValue] | None = None
    ) -> tuple[dict[str, Any], str]:
        """GET ``path`` (under the base URL) with a Rest.li query; the JSON object answered and
        ``linkedin: GET <url>`` for messages (the URL without its query)."""
        url = f"{self.base}{path}" + (f"?{query(params)}" if params else "")
        headers = dict(self.headers)
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token}"
        response = await self._request("GET", url, headers=headers, auth=self.oauth)
        body = response.json()
        where = f"{response.platform}: GET {response.url}"
        if not isinstance(body, dict):
            raise BadResponse(f"{where}: the answer is not a JSON object")
        return body, where

    async def post_form(
        self, url: str, form: Mapping[str, str], accept: Callable[[ApiResponse], bool]
    ) -> ApiResponse:
        """POST a form to ``url`` (token introspection), with the account's credential's
        rate-limit window."""
        return await self._request("POST", url, data=dict(form), accept=accept)

    async def _request(self, method: str, url: str, **options: Any) -> ApiResponse:
        return await self.api.request(method, url, credential=self.token, **options)
