"""Calls to the YouTube Data API v3: the channel, its recent uploads and their statistics.

Every list call costs 1 quota unit (``cost=1``), also each further page; ctx.api spends the
units from the key's daily budget before the call and refuses a call the budget cannot pay.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kpiwatch.errors import NotFound
from kpiwatch.toolkit.api import ApiClient
from kpiwatch.toolkit.oauth import OAuth2
from kpiwatch_platforms.youtube.reading import Body
from kpiwatch_platforms.youtube.settings import YouTubeSettings

#: Items per playlistItems page and ids per videos.list call (the API's maximum for both).
PAGE_SIZE = 50


@dataclass(frozen=True)
class Channel:
    """What channels.list says about the channel (counts are None when absent)."""

    id: str
    subscribers: int | None
    subscribers_hidden: bool
    videos: int | None
    uploads: str | None  # the uploads playlist ID (UU...)


@dataclass(frozen=True)
class Uploads:
    """The recent uploads found, newest first, and how far back the playlist was read.

    ``complete``: every upload published since the time asked for was seen (the playlist ended,
    or a page held nothing that recent); otherwise ``limit`` stopped the reading and ``oldest``
    is the publication time of the oldest upload kept.
    """

    ids: list[str]
    complete: bool
    oldest: datetime | None


@dataclass(frozen=True)
class Video:
    """One video of videos.list with its lifetime counters (None when absent or disabled)."""

    id: str
    published_at: datetime
    broadcast: str  # snippet.liveBroadcastContent: none, live or upcoming
    views: int | None
    likes: int | None
    comments: int | None


class DataApi:
    """The Data API calls of one poll, with the API key (or else the owner's OAuth token)."""

    def __init__(self, api: ApiClient, settings: YouTubeSettings, oauth: OAuth2 | None) -> None:
        self.api = api
        self.settings = settings
        self.oauth = oauth

    async def _list(self, resource: str, params: Mapping[str, str]) -> Body:
        query = dict(params)
        key = self.settings.api_key
        if key is not None:
            query["key"] = key.get_secret_value()  # ctx.api never shows the query string
            response = await self.api.request(
                "GET", f"{self.settings.api_url}/{resource}", params=query, credential=query["key"]
            )
        else:
            response = await self.api.request(
                "GET", f"{self.settings.api_url}/{resource}", params=query, auth=self.oauth
            )
        return Body(response)

    async def channel(self) -> Channel:
        """channels.list part=statistics,contentDetails for the configured id or handle."""
        settings = self.settings
        params = {"part": "statistics,contentDetails"}
        if settings.channel_id is not None:
            params["id"] = settings.channel_id
            named = f"channel_id {settings.channel_id}"
        else:
            params["forHandle"] = str(settings.handle)
            named = f"handle {settings.handle}"
        body = await self._list("channels", params)
        items = body.items()
        if not items:
            raise NotFound(
                f"{body.where}: no channel has the {named}; check it on the channel's page"
            )
        item = items[0]
        channel_id = body.text(item, "id", "items[0]")
        if not channel_id:
            raise body.bad("items[0].id", channel_id, "the channel's ID")
        stats = body.obj(item, "statistics", "items[0]")
        details = body.obj(item, "contentDetails", "items[0]")
        playlists = body.obj(details, "relatedPlaylists", "items[0].contentDetails")
        hidden = stats.get("hiddenSubscriberCount", False)
        if not isinstance(hidden, bool):
            raise body.bad("items[0].statistics.hiddenSubscriberCount", hidden, "true or false")
        return Channel(
            id=channel_id,
            subscribers=body.count(stats, "subscriberCount", "items[0].statistics"),
            subscribers_hidden=hidden,
            videos=body.count(stats, "videoCount", "items[0].statistics"),
            uploads=body.text(playlists, "uploads", "items[0].contentDetails.relatedPlaylists"),
        )

    async def recent_uploads(self, playlist_id: str, since: datetime, limit: int) -> Uploads:
        """IDs of the uploads published at or after ``since``, newest first, at most ``limit``.

        Pages through playlistItems.list (``pageToken`` / ``nextPageToken``) until a page holds
        no recent video, the limit is reached or there is no next page. The uploads playlist
        lists the newest first.
        """
        ids: list[str] = []
        oldest: datetime | None = None
        token: str | None = None
        while True:
            params = {
                "part": "contentDetails",
                "playlistId": playlist_id,
                "maxResults": str(PAGE_SIZE),
            }
            if token:
                params["pageToken"] = token
            body = await self._list("playlistItems", params)
            recent_on_page = False
            for i, item in enumerate(body.items()):
                details = body.obj(item, "contentDetails", f"items[{i}]")
                video_id = body.text(details, "videoId", f"items[{i}].contentDetails")
                if not video_id:
                    raise body.bad(f"items[{i}].contentDetails.videoId", video_id, "a video ID")
                # private and deleted videos have no videoPublishedAt
                published = body.time(details, "videoPublishedAt", f"items[{i}].contentDetails")
                if published is None or published < since:
                    continue
                recent_on_page = True
                if video_id not in ids:
                    ids.append(video_id)
                    oldest = published if oldest is None else min(oldest, published)
                if len(ids) >= limit:
                    return Uploads(ids, complete=False, oldest=oldest)
            token = body.text(body.data, "nextPageToken", "the body")
            if not token or not recent_on_page:
                return Uploads(ids, complete=True, oldest=oldest)

    async def videos(self, ids: list[str]) -> list[Video]:
        """videos.list part=statistics,snippet in batches of 50 IDs, in the order of ``ids``."""
        found: dict[str, Video] = {}
        for start in range(0, len(ids), PAGE_SIZE):
            batch = ids[start : start + PAGE_SIZE]
            params = {"part": "statistics,snippet", "id": ",".join(batch)}
            body = await self._list("videos", params)
            for i, item in enumerate(body.items()):
                video = _video(body, item, f"items[{i}]")
                found[video.id] = video
        return [found[i] for i in ids if i in found]  # private or deleted ones are left out


def _video(body: Body, item: dict[str, Any], path: str) -> Video:
    video_id = body.text(item, "id", path)
    if not video_id:
        raise body.bad(f"{path}.id", video_id, "a video ID")
    snippet = body.obj(item, "snippet", path)
    stats = body.obj(item, "statistics", path)
    published = body.time(snippet, "publishedAt", f"{path}.snippet")
    if published is None:
        raise body.bad(f"{path}.snippet.publishedAt", None, "the time the video was published")
    return Video(
        id=video_id,
        published_at=published,
        broadcast=body.text(snippet, "liveBroadcastContent", f"{path}.snippet") or "none",
        views=body.count(stats, "viewCount", f"{path}.statistics"),
        likes=body.count(stats, "likeCount", f"{path}.statistics"),
        comments=body.count(stats, "commentCount", f"{path}.statistics"),
    )
