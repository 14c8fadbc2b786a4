"""The windows of the period metrics, which of them one poll read completely, and the sums of
the posts published in each."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

from kpiwatch.platform import Post, Sample
from kpiwatch_platforms.bluesky.mapping import POST_COUNTERS

#: Period metrics come in these windows (those no longer than the account's lookback).
WINDOWS: tuple[tuple[str, timedelta], ...] = (
    ("1d", timedelta(days=1)),
    ("7d", timedelta(days=7)),
    ("28d", timedelta(days=28)),
)


def complete_windows(
    now: datetime, covered_since: datetime | None, lookback: timedelta
) -> list[tuple[str, datetime]]:
    """(window, start) of the windows within ``lookback`` whose whole span was read;
    ``covered_since`` None means everything was read."""
    return [
        (name, now - length)
        for name, length in WINDOWS
        if length <= lookback and (covered_since is None or now - length >= covered_since)
    ]


def post_totals(
    posts: Sequence[Post], windows: Sequence[tuple[str, datetime]], enabled: Collection[str]
) -> list[Sample]:
    """Per window: ``posts_published`` and the sums of the per-post counters of the posts
    published in it (by publication time, with their lifetime counters as of this poll).

    A counter none of the window's posts carries is left out; a window without posts is 0.
    """
    samples = []
    for window, start in windows:
        published = [p for p in posts if p.published_at >= start]
        if "posts_published" in enabled:
            samples.append(Sample("posts_published", float(len(published)), window))
        for metric in POST_COUNTERS:
            carried = [p.metrics[metric] for p in published if metric in p.metrics]
            if metric in enabled and (carried or not published):
                samples.append(Sample(metric, float(sum(carried)), window))
    return samples
