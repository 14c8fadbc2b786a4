"""The TikTok API v2 calls of a poll, through ``ctx.api``: the user's info and the user's
videos page by page (``data.cursor`` while ``data.has_more``).

Credentials: the account's own user access token, refreshed from a rotating refresh token kept
in ``ctx.state`` (``kpiwatch.toolkit.oauth``). TikTok names the client id ``client_key``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import kpiwatch
from kpiwatch.errors import BadResponse, RateLimited
from kpiwatch.toolkit.api import ApiClient, ApiResponse, credential_key
from kpiwatch.toolkit.oauth import OAuth2, OAuth2Config
from kpiwatch.toolkit.ratelimit import RateLimitState
from kpiwatch_platforms.tiktok.envelope import RATE_LIMIT, TokenRefused, succeeded
from kpiwatch_platforms.tiktok.settings import TikTokSettings

USER_INFO = "/v2/user/info/"
VIDEO_LIST = "/v2/video/list/"
#: Where the OAuth tokens of the account live in ``ctx.state``.
OAUTH_STATE_KEY = "oauth"
#: Videos per page: TikTok allows 1 to 20.
PAGE_SIZE = 20
#: A bound on pages per poll, whatever TikTok says about ``has_more``.
MAX_PAGES = 60


@dataclass
class VideoPages:
    """The videos read in one poll, newest first."""

    videos: list[dict[str, Any]] = field(default_factory=list)
    pages: int = 0


class TikTokClient:
    """Requests of one poll of one TikTok account."""

    def __init__(self, ctx: kpiwatch.CollectContext, settings: TikTokSettings) -> None:
        assert ctx.api is not None, "the daemon hands every collect call ctx.api"
        self.api: ApiClient = ctx.api
        self.base = settings.base_url
        config = OAuth2Config(
            token_url=settings.oauth_token_url,
            client_id=settings.client_key,
            client_secret=settings.client_secret.get_secret_value(),
            refresh_token=settings.refresh_token.get_secret_value(),
            extra={"client_key": settings.client_key},
        )
        self.oauth = OAuth2(config, ctx.state, key=OAUTH_STATE_KEY)

    async def call(
        self, method: str, path: str, fields: Sequence[str], body: Any = None
    ) -> dict[str, Any]:
        """``method path?fields=...`` with a JSON ``body``; the answer's ``data`` object.

        An access token refused without HTTP 401 is refreshed and the request sent once more.
        A rate-limit refusal marks the credential's window used up, so no request goes out
        until it has passed (TikTok sends no rate-limit headers to say so).
        """
        try:
            try:
                response = await self._send(method, path, fields, body)
            except TokenRefused:
                await self.oauth.refresh(self.api)
                response = await self._send(method, path, fields, body)
        except RateLimited as exc:
            self._hold(exc.retry_after)
            raise
        return _data(response, method)

    async def user(self, fields: Sequence[str]) -> dict[str, Any]:
        """The authorising user's ``data.user`` object with ``fields``."""
        data = await self.call("GET", USER_INFO, fields)
        user = data.get("user")
        if not isinstance(user, dict):
            raise BadResponse(f"{self.api.platform}: GET {self.base}{USER_INFO}: no data.user")
        return user

    async def videos(self, fields: Sequence[str], since: datetime, max_videos: int) -> VideoPages:
        """The user's public videos created since ``since``, newest first, at most
        ``max_videos``."""
        read = VideoPages()
        cutoff = since.timestamp()
        cursor: int | None = None
        while read.pages < MAX_PAGES:
            body = {"max_count": PAGE_SIZE} | ({"cursor": cursor} if cursor is not None else {})
            data = await self.call("POST", VIDEO_LIST, fields, body)
            read.pages += 1
            page = data.get("videos", [])
            if not isinstance(page, list):
                raise BadResponse(
                    f"{self.api.platform}: POST {self.base}{VIDEO_LIST}: data.videos is not a list"
                )
            older = False
            for video in page:
                if not isinstance(video, dict):
                    continue
                created = video.get("create_time")
                if isinstance(created, int | float) and created < cutoff:
                    older = True  # newest first: the rest is older still
                    break
                read.videos.append(video)
            following = data.get("cursor")
            if (
                older
                or data.get("has_more") is not True
                or not isinstance(following, int)
                or following == cursor
                or len(read.videos) >= max_videos
            ):
                break
            cursor = following
        del read.videos[max_videos:]
        return read

    async def _send(self, method: str, path: str, fields: Sequence[str], body: Any) -> ApiResponse:
        return await self.api.request(
            method,
            f"{self.base}{path}",
            params={"fields": ",".join(fields)},
            json=body,
            auth=self.oauth,
            accept=succeeded,
        )

    def _hold(self, wait: float | None) -> None:
        """Record the credential's rate-limit window as used up for ``wait`` seconds."""
        if wait is None:
            return
        key = (self.api.platform, credential_key(self.oauth.credential))
        now = self.api.clock()
        held = self.api.limits.states.get(key)
        if held is not None and held.exhausted and (held.reset_at or 0) >= now + wait:
            return
        state = RateLimitState(float(RATE_LIMIT), 0.0, now + wait, now)
        self.api.limits.states[key] = state
        self.api.rate_limit = state


def _data(response: ApiResponse, method: str) -> dict[str, Any]:
    body = response.json()
    where = f"{response.platform}: {method} {response.url}"
    if not isinstance(body, Mapping):
        raise BadResponse(f"{where}: the answer is not a JSON object")
    data = body.get("data")
    if not isinstance(data, dict):
        raise BadResponse(f"{where}: the answer has no data object")
    return data
