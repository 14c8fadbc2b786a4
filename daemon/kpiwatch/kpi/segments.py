"""Post figures by content type and by publishing weekday and hour ("when to post").

Posts are attributed by publication time (as Sprout's post report does): each post published in
the segment window counts once, with its lifetime counters as last polled. Cells carry sums, so
groups of accounts add up and ratios are sums over sums; no post id ever becomes a label.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from kpiwatch.store.models import StoredPost

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DIMENSIONS = ("content_type", "weekday", "hour")


@dataclass
class Cell:
    """Sums over the posts of one segment."""

    posts: int = 0
    interactions: float = 0.0
    reach: float = 0.0
    reached_interactions: float = 0.0  # interactions of the posts that report reach

    def add(self, other: Cell) -> None:
        self.posts += other.posts
        self.interactions += other.interactions
        self.reach += other.reach
        self.reached_interactions += other.reached_interactions

    @property
    def interactions_per_post(self) -> float | None:
        return self.interactions / self.posts if self.posts else None

    @property
    def engagement_rate(self) -> float | None:
        """Engagements per reached account, over the posts that report reach."""
        return self.reached_interactions / self.reach if self.reach > 0 else None


@dataclass
class Segments:
    """Cells by dimension name and value (``{"weekday": {"monday": Cell}}``)."""

    cells: dict[str, dict[str, Cell]] = field(default_factory=dict)

    def add(self, other: Segments) -> None:
        for dimension, values in other.cells.items():
            mine = self.cells.setdefault(dimension, {})
            for value, cell in values.items():
                mine.setdefault(value, Cell()).add(cell)


def post_interactions(metrics: Mapping[str, float], components: Sequence[str]) -> float | None:
    """The post's engagements: the platform's total, else the sum of the reported components."""
    total = metrics.get("engagements")
    if total is not None:
        return float(total)
    present = [float(metrics[c]) for c in components if c in metrics]
    return sum(present) if present else None


def segment_posts(
    posts: Iterable[StoredPost], components: Sequence[str], zone: str = "UTC"
) -> Segments:
    """Sum posts into cells by content type, local weekday and local hour of publication."""
    tz = UTC if zone == "UTC" else ZoneInfo(zone)
    out = Segments({d: {} for d in DIMENSIONS})
    for post in posts:
        interactions = post_interactions(post.metrics, components)
        local = datetime.fromtimestamp(post.published_at, tz)
        reach = post.metrics.get("reach")
        cell = Cell(
            posts=1,
            interactions=interactions or 0.0,
            reach=float(reach) if reach is not None and interactions is not None else 0.0,
            reached_interactions=(interactions or 0.0) if reach is not None else 0.0,
        )
        keys = {
            "content_type": post.content_type,
            "weekday": WEEKDAYS[local.weekday()],
            "hour": f"{local.hour:02d}",
        }
        for dimension, value in keys.items():
            out.cells[dimension].setdefault(value, Cell()).add(cell)
    return out
