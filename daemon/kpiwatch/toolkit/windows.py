"""Account-level period samples summed from the posts one poll read.

Many platforms give no account totals per window, only recent posts with lifetime counters
(X, YouTube without Analytics, Mastodon, Bluesky). The KPI engine computes KPIs from account
samples only, so a plugin turns the posts it read into period samples: for each window of
:data:`WINDOWS`, the sum of each per-post metric over the posts published in the window, and
``posts_published``, their number. ``likes`` over ``7d`` is then the likes, as of this poll,
of the posts published in the last seven days: sums by publication time, not by when each like
happened.

**Only windows the poll read completely.** ``covered_since`` is the time back to which the poll
saw every post: the start of the listing it asked for when it read to the end, else (a page or
post limit stopped it) just after the oldest post it kept, see :func:`read_back_to`. A window
that starts before ``covered_since`` gives no sample at all: a partial sum would look like a
drop.

**Missing is not zero.** In a window with posts, a metric is summed over the posts that carry
it (a text post has no video views, a video with hidden likes no likes) and left out when none
of them carries it. A window without posts gives 0 for ``posts_published`` and for every metric
asked for: the sum over no posts is a real 0. So pass only the metrics the platform served in
this poll (not ``clicks`` when the token may not read them), or a window without posts reports
a 0 that was never measured.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from kpiwatch import vocabulary
from kpiwatch.platform import Post, Sample

#: The windows of the sums, each ending at the poll time.
WINDOWS: tuple[tuple[str, timedelta], ...] = (
    ("1d", timedelta(days=1)),
    ("7d", timedelta(days=7)),
    ("28d", timedelta(days=28)),
)
#: The count of the posts published in a window.
POSTS_PUBLISHED = "posts_published"
#: Per-post vocabulary metrics, the ones that can be summed.
PER_POST_METRICS = frozenset(m.name for m in vocabulary.METRICS if m.per_post)

_JUST_AFTER = timedelta(microseconds=1)


def read_back_to(since: datetime, oldest_kept: datetime | None, *, complete: bool) -> datetime:
    """The ``covered_since`` of a newest-first listing asked for back to ``since``.

    ``complete``: the listing was read to its end (or past ``since``), so every post since
    ``since`` was seen. Otherwise a limit stopped the reading after the post published at
    ``oldest_kept``: every later post was seen, but another one of that very instant may not
    have been. With nothing kept and the reading stopped, nothing is covered (a time after
    every window's start is returned).
    """
    if complete:
        return since
    if oldest_kept is None:
        return datetime.max.replace(tzinfo=UTC)
    return oldest_kept + _JUST_AFTER


def covered_windows(now: datetime, covered_since: datetime) -> list[tuple[str, datetime]]:
    """(window, start) of the windows of :data:`WINDOWS` whose whole span was read."""
    _check_aware(now, "now")
    _check_aware(covered_since, "covered_since")
    return [(name, now - length) for name, length in WINDOWS if now - length >= covered_since]


def window_sums(
    posts: Iterable[Post],
    metrics: Iterable[str],
    *,
    now: datetime,
    covered_since: datetime,
) -> list[Sample]:
    """Per covered window, the sum of each of ``metrics`` over the posts published in it (at or
    after its start), and ``posts_published`` when ``metrics`` names it.

    ``metrics`` holds per-post vocabulary metrics and ``posts_published``; the samples carry
    the poll time (``timestamp`` None). A post id seen twice counts once.

    Raises ValueError for a metric that is neither, or a time without a time zone.
    """
    wanted = list(dict.fromkeys(metrics))
    for metric in wanted:
        if metric != POSTS_PUBLISHED and metric not in PER_POST_METRICS:
            raise ValueError(
                f"toolkit.windows: {metric!r} cannot be summed over posts; pass "
                f"{POSTS_PUBLISHED!r} or per-post metrics ({', '.join(sorted(PER_POST_METRICS))})"
            )
    windows = covered_windows(now, covered_since)
    unique: dict[str, Post] = {}
    for post in posts:
        _check_aware(post.published_at, f"published_at of post {post.id!r}")
        unique.setdefault(post.id, post)
    samples = []
    for window, start in windows:
        published = [p for p in unique.values() if p.published_at >= start]
        for metric in wanted:
            if metric == POSTS_PUBLISHED:
                samples.append(Sample(metric, float(len(published)), window))
                continue
            carried = [p.metrics[metric] for p in published if metric in p.metrics]
            if carried or not published:
                samples.append(Sample(metric, float(sum(carried)), window))
    return samples


def _check_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(
            f"toolkit.windows: {name} ({moment.isoformat()}) has no time zone; "
            "pass an aware datetime such as ctx.now"
        )
