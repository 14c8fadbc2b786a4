"""Checks what a plugin's ``collect`` returned against the vocabulary before anything uses it."""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from numbers import Real

from kpiwatch import vocabulary
from kpiwatch.durations import format_duration, parse_duration
from kpiwatch.platform import CollectResult, Post, Sample
from kpiwatch.vocabulary import Kind, Unit

#: How far in the future a sample or post time may lie (clock skew between hosts).
FUTURE_TOLERANCE = timedelta(minutes=5)


class InvalidResult(Exception):
    """The whole result is unusable (not a CollectResult or an iterable of Sample)."""


@dataclass
class CheckedResult:
    samples: list[Sample] = field(default_factory=list)
    posts: list[Post] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # one line per dropped item

    @property
    def dropped(self) -> int:
        return len(self.problems)


def check_result(raw: object, now: datetime) -> CheckedResult:
    """Keep the valid samples and posts of ``raw``; describe each invalid one in ``problems``.

    Raises InvalidResult when ``raw`` is not a result at all, or when it held items and none
    of them was valid.
    """
    if isinstance(raw, CollectResult):
        sample_items: Iterable[object] = raw.samples or ()
        post_items: Iterable[object] = raw.posts or ()
    elif isinstance(raw, str | bytes | dict) or not isinstance(raw, Iterable):
        raise InvalidResult(
            f"collect returned {type(raw).__name__}; expected a CollectResult or a list of Sample"
        )
    else:
        sample_items, post_items = raw, ()
    checked = CheckedResult()
    total = 0
    try:
        for item in sample_items:
            total += 1
            problem = _sample_problem(item, now)
            if problem:
                checked.problems.append(problem)
            else:
                checked.samples.append(_normalised(item))  # type: ignore[arg-type]
        for item in post_items:
            total += 1
            problem = _post_problem(item, now)
            if problem:
                checked.problems.append(problem)
            else:
                checked.posts.append(item)  # type: ignore[arg-type]
    except InvalidResult:
        raise
    except Exception as exc:  # iterating a plugin's generator may raise anything
        raise InvalidResult(f"iterating the result failed: {type(exc).__name__}: {exc}") from exc
    if total and not checked.samples and not checked.posts:
        first = checked.problems[0] if checked.problems else ""
        raise InvalidResult(f"none of the {total} items returned was valid; first: {first}")
    return checked


def _number_problem(value: object, unit: Unit) -> str | None:
    if isinstance(value, bool) or not isinstance(value, Real):
        return f"value {value!r} is not a number"
    if not math.isfinite(float(value)):
        return f"value {value!r} is not finite"
    if unit is not Unit.CURRENCY and value < 0:
        return f"value {value!r} is negative"
    return None


def _time_problem(value: object, now: datetime, what: str) -> str | None:
    if not isinstance(value, datetime):
        return f"{what} {value!r} is not a datetime"
    if value.tzinfo is None:
        return f"{what} {value.isoformat()} has no time zone; use an aware datetime (UTC)"
    if value > now + FUTURE_TOLERANCE:
        return f"{what} {value.isoformat()} lies in the future"
    return None


def _sample_problem(item: object, now: datetime) -> str | None:
    if not isinstance(item, Sample):
        return f"item of type {type(item).__name__} is not a Sample"
    metric = vocabulary.get(item.metric) if isinstance(item.metric, str) else None
    if metric is None:
        return f"sample metric {item.metric!r} is not in the vocabulary (docs/metrics.md)"
    where = f"sample {item.metric}"
    if problem := _number_problem(item.value, metric.unit):
        return f"{where}: {problem}"
    if metric.kind is Kind.PERIOD:
        if item.window is None:
            return f"{where}: a period metric needs a window such as '1d'"
        canonical = canonical_window(item.window)
        if canonical is None:
            return f"{where}: window {item.window!r} is not a duration longer than 0s, like '1d'"
    elif item.window is not None:
        return f"{where}: a {metric.kind.value} metric takes no window"
    if item.dims is not None and not hasattr(item.dims, "items"):
        return f"{where}: dims must be a mapping"
    for key, value in (item.dims or {}).items():
        if key not in metric.dimensions:
            allowed = ", ".join(metric.dimensions) or "none"
            return f"{where}: dimension {key!r} is not allowed (allowed: {allowed})"
        if not isinstance(value, str) or not value:
            return f"{where}: dimension {key} must be a non-empty string"
    if item.timestamp is not None and (problem := _time_problem(item.timestamp, now, "timestamp")):
        return f"{where}: {problem}"
    return None


def _post_problem(item: object, now: datetime) -> str | None:
    if not isinstance(item, Post):
        return f"item of type {type(item).__name__} is not a Post"
    if not isinstance(item.id, str) or not item.id:
        return f"post id {item.id!r} must be a non-empty string"
    where = f"post {item.id}"
    if problem := _time_problem(item.published_at, now, "published_at"):
        return f"{where}: {problem}"
    if item.content_type not in vocabulary.CONTENT_TYPES:
        return (
            f"{where}: content type {item.content_type!r} is not one of "
            f"{', '.join(vocabulary.CONTENT_TYPES)}"
        )
    if not hasattr(item.metrics, "items"):
        return f"{where}: metrics must be a mapping"
    for name, value in item.metrics.items():
        if name not in vocabulary.POST_METRICS:
            return f"{where}: metric {name!r} is not a per-post metric"
        if problem := _number_problem(value, Unit.COUNT):
            return f"{where}: {name}: {problem}"
    return None


@functools.lru_cache(maxsize=256)
def canonical_window(window: object) -> str | None:
    """``window`` spelled canonically (``24h`` gives ``1d``), or None if it is no duration > 0."""
    try:
        duration = parse_duration(window)  # type: ignore[arg-type]
    except (ValueError, TypeError):
        return None
    return format_duration(duration) if duration > timedelta(0) else None


def _normalised(sample: Sample) -> Sample:
    """The sample with its window spelled canonically."""
    if sample.window is None:
        return sample
    canonical = canonical_window(sample.window)
    if canonical == sample.window:
        return sample
    return Sample(sample.metric, sample.value, canonical, sample.dims, sample.timestamp)


def utcnow() -> datetime:
    return datetime.now(UTC)
