"""The two X API v2 calls of a poll, through ``ctx.api``: the user with its public metrics, and
the user's recent posts page by page (``meta.next_token`` -> ``pagination_token``).

Credentials: the account's own OAuth 2.0 user token (``user_auth``, refreshed from a rotating
refresh token kept in ``ctx.state``) or the app-only Bearer token (``bearer_token``). Competitor
accounts use the Bearer token when there is one, so they do not spend the user's limits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import kpiwatch
from kpiwatch.errors import AuthError, BadResponse, NotFound
from kpiwatch.toolkit.oauth import OAuth2, OAuth2Config
from kpiwatch_platforms.x.problems import Problem, partial_errors
from kpiwatch_platforms.x.settings import XSettings

#: Where the OAuth 2.0 tokens of the account live in ``ctx.state``.
OAUTH_STATE_KEY = "oauth"
#: Posts per page: X allows 5 to 100.
PAGE_SIZE = 100

PUBLIC_TWEET_FIELDS = ("created_at", "public_metrics", "attachments", "entities")
NON_PUBLIC_TWEET_FIELDS = ("non_public_metrics",)
MEDIA_FIELDS = ("type", "public_metrics")


@dataclass
class Timeline:
    """The posts read in one poll, with the media they reference and any partial errors.

    ``complete``: the timeline was read to its end (every post since ``start_time``), not cut
    by ``max_posts`` or a cursor that did not move. ``left_out``: ids of posts a partial error
    names that are missing from ``data`` (X may leave out a post when a field is refused).
    """

    posts: list[dict[str, Any]] = field(default_factory=list)
    media: dict[str, dict[str, Any]] = field(default_factory=dict)  # by media_key
    errors: list[Problem] = field(default_factory=list)
    pages: int = 0
    complete: bool = False
    left_out: list[str] = field(default_factory=list)


class XClient:
    """Requests of one poll of one X account."""

    def __init__(self, ctx: kpiwatch.CollectContext, settings: XSettings) -> None:
        self.ctx = ctx
        self.base = settings.base_url
        self.oauth: OAuth2 | None = None
        self.bearer: str | None = None
        prefer_bearer = ctx.competitor and settings.bearer_token is not None
        if settings.user_auth is not None and not prefer_bearer:
            auth = settings.user_auth
            secret = auth.client_secret.get_secret_value() if auth.client_secret else None
            config = OAuth2Config(
                token_url=settings.oauth_token_url,
                client_id=auth.client_id,
                client_secret=secret,
                refresh_token=auth.refresh_token.get_secret_value(),
                auth_method="basic" if secret else "body",  # confidential clients: Basic
            )
            self.oauth = OAuth2(config, ctx.state, key=OAUTH_STATE_KEY)
        elif settings.bearer_token is not None:
            self.bearer = settings.bearer_token.get_secret_value()

    @property
    def user_context(self) -> bool:
        """Whether requests carry the account's own user token (non-public metrics allowed)."""
        return self.oauth is not None and not self.ctx.competitor

    async def get(self, path: str, params: dict[str, str]) -> tuple[dict[str, Any], str]:
        """GET ``path`` (from ``/2``); the JSON object answered and ``x: GET <url>`` for
        messages (the URL without its query)."""
        assert self.ctx.api is not None, "the daemon hands every collect call ctx.api"
        headers = {"Authorization": f"Bearer {self.bearer}"} if self.bearer else None
        response = await self.ctx.api.request(
            "GET",
            f"{self.base}{path}",
            params=params,
            headers=headers,
            credential=self.bearer,
            auth=self.oauth,
        )
        body = response.json()
        where = f"{response.platform}: GET {response.url}"
        if not isinstance(body, dict):
            raise BadResponse(f"{where}: the answer is not a JSON object")
        return body, where

    async def user(self, username: str) -> dict[str, Any]:
        """The user object, with its ``public_metrics``."""
        body, where = await self.get(
            f"/2/users/by/username/{username}", {"user.fields": "public_metrics"}
        )
        user = body.get("data")
        if isinstance(user, dict) and isinstance(user.get("id"), str | int):
            if not isinstance(user.get("public_metrics"), dict):
                raise BadResponse(f"{where}: the user object has no public_metrics")
            return user
        problems = partial_errors(body)
        said = "; ".join(p.describe() for p in problems)[:200]
        kinds = {p.kind for p in problems}
        if "resource-not-found" in kinds:
            raise NotFound(f"{where}: X has no user @{username} ({said}); check the username")
        if "not-authorized-for-resource" in kinds:
            raise AuthError(f"{where}: X does not let this token read @{username} ({said})")
        raise BadResponse(f"{where}: no user object in 'data'" + (f" ({said})" if said else ""))

    async def posts(
        self,
        user_id: str,
        *,
        since: datetime,
        max_posts: int,
        include_replies: bool,
        non_public: bool,
    ) -> Timeline:
        """The user's posts published since ``since``, newest first, at most ``max_posts``;
        with ``non_public_metrics`` when ``non_public``."""
        fields = PUBLIC_TWEET_FIELDS + (NON_PUBLIC_TWEET_FIELDS if non_public else ())
        params = {
            "max_results": str(min(PAGE_SIZE, max(5, max_posts))),
            "tweet.fields": ",".join(fields),
            "expansions": "attachments.media_keys",
            "media.fields": ",".join(MEDIA_FIELDS),
            "exclude": "retweets" if include_replies else "retweets,replies",
            "start_time": since.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        timeline = Timeline()
        token: str | None = None
        while True:
            page_params = dict(params, pagination_token=token) if token else params
            body, where = await self.get(f"/2/users/{user_id}/tweets", page_params)
            timeline.pages += 1
            data = body.get("data", [])
            if not isinstance(data, list):
                raise BadResponse(f"{where}: 'data' is not a list of posts")
            page = [post for post in data if isinstance(post, dict)]
            timeline.posts += page
            problems = partial_errors(body)
            timeline.errors += problems
            timeline.left_out += _left_out(page, problems)
            includes = body.get("includes")
            media = includes.get("media") if isinstance(includes, dict) else None
            for item in media if isinstance(media, list) else []:
                if isinstance(item, dict) and isinstance(item.get("media_key"), str):
                    timeline.media[item["media_key"]] = item
            meta = body.get("meta")
            following = meta.get("next_token") if isinstance(meta, dict) else None
            ended = not data or not isinstance(following, str)
            if ended or following == token or len(timeline.posts) >= max_posts:
                timeline.complete = ended and len(timeline.posts) <= max_posts
                break
            token = following
        del timeline.posts[max_posts:]
        return timeline


def _left_out(page: list[dict[str, Any]], problems: list[Problem]) -> list[str]:
    """Ids of the posts the page's partial errors name but its ``data`` lacks."""
    read = {str(post.get("id")) for post in page}
    return [
        p.resource_id
        for p in problems
        if p.resource_type == "tweet"
        and p.section in ("", "data")  # not a post referenced in includes
        and p.resource_id
        and p.resource_id not in read
    ]
