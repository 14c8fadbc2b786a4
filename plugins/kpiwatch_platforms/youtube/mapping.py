"""Data API statistics translated into the kpiwatch vocabulary (README.md has the table)."""

from __future__ import annotations

import kpiwatch
from kpiwatch_platforms.youtube.data_api import Channel, Video

VIDEO_URL = "https://www.youtube.com/watch?v={id}"
#: The per-post metrics of a video, from its lifetime statistics.
VIDEO_METRICS = ("video_views", "likes", "comments")


def channel_samples(ctx: kpiwatch.CollectContext, channel: Channel) -> list[kpiwatch.Sample]:
    """``followers`` (subscriberCount) and ``posts`` (videoCount).

    A hidden subscriber count gives no ``followers`` sample (missing is not zero). A count that
    is absent although not hidden is one YouTube stopped serving: the metric is disabled.
    """
    samples: list[kpiwatch.Sample] = []
    counts = {
        "followers": (channel.subscribers, "subscriberCount"),
        "posts": (channel.videos, "videoCount"),
    }
    for metric, (value, field) in counts.items():
        if not ctx.metric_enabled(metric):
            continue
        if metric == "followers" and channel.subscribers_hidden:
            continue
        if value is None:
            ctx.metric_removed(metric, f"channels.list statistics no longer has {field}")
            continue
        if metric in ctx.removed_metrics:
            ctx.metric_restored(metric)
        samples.append(kpiwatch.Sample(metric, value))
    return samples


def video_post(ctx: kpiwatch.CollectContext, video: Video) -> kpiwatch.Post | None:
    """A video as a post: views, likes and comments over its lifetime.

    ``likeCount`` and ``commentCount`` are absent when the owner hides likes or turns comments
    off; those metrics are then left out of the post. A stream that is live now is ``live``;
    a scheduled one (``upcoming``) is not published yet and gives no post. Everything else,
    Shorts included, is ``video``: the API has no field that tells a Short reliably.
    """
    if video.broadcast == "upcoming" or video.published_at > ctx.now:
        return None
    counters = {"video_views": video.views, "likes": video.likes, "comments": video.comments}
    metrics = {
        name: float(value)
        for name, value in counters.items()
        if value is not None and ctx.metric_enabled(name)
    }
    content_type = "live" if video.broadcast == "live" else "video"
    return kpiwatch.Post(
        id=video.id,
        published_at=video.published_at,
        content_type=content_type,
        metrics=metrics,
        url=VIDEO_URL.format(id=video.id),
    )
