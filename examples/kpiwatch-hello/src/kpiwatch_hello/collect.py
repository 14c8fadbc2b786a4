"""One poll of one Hello account: its counters, its views and its recent posts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import kpiwatch

from .api import get

#: Hello's kinds of post and the vocabulary's content types.
CONTENT_TYPES = {"text": "text", "photo": "image", "video": "video", "link": "link"}


async def collect(ctx: kpiwatch.CollectContext) -> kpiwatch.CollectResult:
    """Read the account, its views of the last 7 days and its recent posts."""
    user_id = await hello_user_id(ctx)
    user = await get(ctx, f"/v1/users/{user_id}")
    samples = [
        kpiwatch.Sample("followers", number(user, "followers")),
        kpiwatch.Sample("posts", number(user, "post_count")),
    ]
    if user.get("following") is not None:  # hidden by the user: missing, not zero
        samples.append(kpiwatch.Sample("following", number(user, "following")))
    samples += await views(ctx, user_id)
    posts = await recent_posts(ctx, user_id)
    return kpiwatch.CollectResult(samples=samples, posts=posts)


async def hello_user_id(ctx: kpiwatch.CollectContext) -> str:
    """The account's Hello id: looked up by handle once, then kept in ``ctx.state``."""
    handle = ctx.settings.handle
    if ctx.state.get("handle") != handle:
        found = await get(ctx, f"/v1/users/by-handle/{handle}")
        if not isinstance(found, dict) or not isinstance(found.get("id"), str):
            raise kpiwatch.BadResponse(f"hello: the lookup of @{handle} answered without an id")
        ctx.state.update(handle=handle, user_id=found["id"])
    return ctx.state["user_id"]


async def views(ctx: kpiwatch.CollectContext, user_id: str) -> list[kpiwatch.Sample]:
    """Views of the last 7 days as ``impressions``; Hello shows them to the owner only."""
    if ctx.competitor or not ctx.metric_enabled("impressions"):
        return []
    try:
        insight = await get(ctx, f"/v1/users/{user_id}/insights/views", period="7d")
    except kpiwatch.MetricRemoved as exc:
        ctx.metric_removed("impressions", str(exc))  # the rest of the poll goes on
        return []
    ctx.metric_restored("impressions")  # served again after a retry: enabled again
    return [kpiwatch.Sample("impressions", number(insight, "value"), window="7d")]


async def recent_posts(ctx: kpiwatch.CollectContext, user_id: str) -> list[kpiwatch.Post]:
    """The account's latest posts with their lifetime counters."""
    if ctx.settings.posts == 0:
        return []
    page = await get(ctx, f"/v1/users/{user_id}/posts", limit=ctx.settings.posts)
    items = page.get("posts") if isinstance(page, dict) else None
    if not isinstance(items, list):
        raise kpiwatch.BadResponse("hello: the posts answer has no list of posts")
    return [to_post(item, ctx.settings.handle) for item in items]


def to_post(item: Any, handle: str) -> kpiwatch.Post:
    """One post of Hello's answer in the vocabulary."""
    if not isinstance(item, dict) or not isinstance(item.get("id"), str):
        raise kpiwatch.BadResponse(f"hello: a post of @{handle} has no id")
    try:
        published = datetime.fromisoformat(item["created_at"])
    except (KeyError, TypeError, ValueError):
        raise kpiwatch.BadResponse(f"hello: post {item['id']} has no valid created_at") from None
    metrics = {
        "likes": number(item, "likes"),
        "comments": number(item, "replies"),
        "shares": number(item, "reposts"),
    }
    if item.get("views") is not None:  # sent to the owner only: missing, not zero
        metrics["impressions"] = number(item, "views")
    return kpiwatch.Post(
        id=item["id"],
        published_at=published,
        content_type=CONTENT_TYPES.get(str(item.get("kind")), "other"),
        metrics=metrics,
        url=f"https://hello.example/@{handle}/{item['id']}",
    )


def number(data: Any, key: str) -> float:
    """``data[key]`` when it is a number; a BadResponse naming the field when it is not."""
    value = data.get(key) if isinstance(data, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise kpiwatch.BadResponse(f"hello: {key!r} is not a number: {value!r}"[:200])
    return value
