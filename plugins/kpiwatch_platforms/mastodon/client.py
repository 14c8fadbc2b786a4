"""Requests to one Mastodon server, all through ``ctx.api``: objects, and pages that link to the
next one with a ``Link`` header."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from kpiwatch.errors import AuthError, BadResponse, CollectError, NotFound
from kpiwatch.toolkit.api import ApiClient, ApiResponse
from kpiwatch_platforms.mastodon.links import next_link

PLATFORM = "mastodon"
LOOKUP = "/api/v1/accounts/lookup"
VERIFY_CREDENTIALS = "/api/v1/accounts/verify_credentials"
NOTIFICATIONS = "/api/v1/notifications"
SCOPES = "read:accounts read:statuses read:notifications"


def classify(response: ApiResponse) -> CollectError | None:
    """Mastodon's error answers (``{"error": "..."}``) where the status alone gives no fix."""
    status, text = response.status, response.error_text()
    where = f"{PLATFORM}: {response.url} answered HTTP {status}: {text}"
    if status == 410:
        return NotFound(f"{where}; the account is suspended: remove it or correct settings.account")
    if status == 401:
        return AuthError(
            f"{where}; the server refuses the token, or serves nothing without one: set "
            f"settings.token to a valid token with the scopes {SCOPES}"
        )
    if status == 403 and "scope" in text:
        return AuthError(f"{where}; give settings.token the scopes {SCOPES}")
    return None


def kind_of(data: object) -> str:
    """A short name of a JSON value's type, for messages."""
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    return names.get(type(data), "a number" if isinstance(data, int | float) else "null")


@dataclass(frozen=True)
class Page:
    """One page of a listing: its items and the URL of the next page, if any."""

    items: list[dict[str, Any]]
    next_url: str | None
    url: str  # without the query string, for messages


class MastodonClient:
    """GET requests to ``instance`` with the account's token, if it has one."""

    def __init__(self, api: ApiClient, instance: str, token: str | None) -> None:
        self.api = api
        self.instance = instance
        self.token = token
        self._origin = urlsplit(instance)[:2]
        # Without a token the server limits by IP: one bucket per server, not one for all.
        self._credential = token or f"anonymous@{instance}"
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}

    def url(self, path: str) -> str:
        return self.instance + path

    def account_url(self, account_id: str, tail: str) -> str:
        """``/api/v1/accounts/<id>/<tail>`` on the instance."""
        return self.url(f"/api/v1/accounts/{quote(account_id, safe='')}/{tail}")

    def tag_url(self, tag: str) -> str:
        return self.url(f"/api/v1/timelines/tag/{quote(tag, safe='')}")

    async def get(self, url: str, params: Mapping[str, str] | None = None) -> ApiResponse:
        return await self.api.request(
            "GET", url, params=params, headers=self._headers, credential=self._credential
        )

    async def object(self, path: str, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The JSON object at ``path``; BadResponse when the answer is something else."""
        response = await self.get(self.url(path), params)
        data = response.json()
        if not isinstance(data, dict):
            raise BadResponse(
                f"{PLATFORM}: {response.url} answered with {kind_of(data)}, expected an object"
            )
        return data

    async def page(self, url: str, params: Mapping[str, str] | None = None) -> Page:
        """One page of a listing (a JSON list of objects) and its ``rel="next"`` link."""
        response = await self.get(url, params)
        data = response.json()
        if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
            raise BadResponse(
                f"{PLATFORM}: {response.url} answered with {kind_of(data)}, expected a list "
                "of objects"
            )
        return Page(data, self._next_url(response), response.url)

    def _next_url(self, response: ApiResponse) -> str | None:
        target = next_link(response.headers)
        if target is None:
            return None
        parts = urlsplit(target)
        if parts[:2] != self._origin:
            raise BadResponse(
                f"{PLATFORM}: {response.url} links its next page on {parts.netloc or target!r}; "
                f"kpiwatch follows pages only on {self.instance}: set settings.instance to the "
                "server's address"
            )
        return target
