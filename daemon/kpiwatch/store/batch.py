"""Checking and flattening what one ``Store.write`` call gets, before any SQL runs."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kpiwatch.store.models import StoredPost, StoredSample

#: (account, metric, window or '', canonical dims JSON): what identifies a series.
SeriesKey = tuple[str, str, str, str]

#: The window whose samples are also filed as day totals (see schema.py).
DAY_TOTAL_WINDOW = "1d"


def canonical_json(mapping: Mapping[str, Any]) -> str:
    """JSON with sorted keys and no spaces, so equal mappings give equal text."""
    return json.dumps(dict(mapping), sort_keys=True, separators=(",", ":"), allow_nan=False)


def series_key(account: str, metric: str, window: str | None, dims: Mapping[str, str]) -> SeriesKey:
    return account, metric, window or "", canonical_json(dims)


def day_total_slot(timestamp: float) -> tuple[int, float]:
    """(UTC day number, distance in seconds) under which a ``1d`` sample is a day total.

    The day is the one ending at the midnight nearest to ``timestamp`` (12:00 goes forward);
    migration 2 in schema.py computes the same in SQL.
    """
    midnight_days = math.floor(timestamp / 86400 + 0.5)
    return midnight_days - 1, abs(timestamp - midnight_days * 86400)


@dataclass
class PreparedBatch:
    """Rows ready for SQL: posts and states as parameters; samples of known series as
    (series id, timestamp, value), samples of series without an id yet still keyed by series;
    the day totals of ``1d`` samples as (series id or key, day, distance, value)."""

    rows: list[tuple[int, float, float]] = field(default_factory=list)
    pending: list[tuple[SeriesKey, float, float]] = field(default_factory=list)
    day_rows: list[tuple[int, int, float, float]] = field(default_factory=list)
    day_pending: list[tuple[SeriesKey, int, float, float]] = field(default_factory=list)
    platforms: dict[str, str] = field(default_factory=dict)  # account -> platform
    posts: list[tuple[str, str, float, str, str, str | None, float]] = field(default_factory=list)
    states: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def row_count(self) -> int:
        return len(self.rows) + len(self.pending) + len(self.posts) + len(self.states)


def prepare_batch(
    samples: Iterable[StoredSample],
    posts: Iterable[StoredPost],
    states: Mapping[str, tuple[str, dict[str, Any]]],
    series_ids: Mapping[SeriesKey, int],
) -> PreparedBatch:
    """Validate and flatten a batch; raises ValueError naming the first bad item.

    Values and timestamps must be finite numbers; plugin states must be JSON-serialisable.
    ``series_ids`` maps the series known so far to their ids.
    """
    known = series_ids.get
    batch = PreparedBatch()
    dims_json: dict[tuple[tuple[str, str], ...], str] = {}
    for index, sample in enumerate(samples):
        value, timestamp = sample.value, sample.timestamp
        if not (_finite(value) and _finite(timestamp)):
            raise ValueError(
                f"sample {index} of the batch (account {sample.account!r}, metric "
                f"{sample.metric!r}, window {sample.window!r}, timestamp {timestamp!r}) "
                f"has value {value!r}: values and timestamps must be finite numbers; "
                "nothing of this batch was stored"
            )
        text = "{}"
        if sample.dims:
            dims = tuple(sorted(sample.dims.items()))
            text = dims_json.get(dims)
            if text is None:
                text = dims_json[dims] = canonical_json(sample.dims)
        window = sample.window
        key = (sample.account, sample.metric, window or "", text)
        series_id = known(key)
        timestamp, value = float(timestamp), float(value)
        if series_id is None:
            batch.pending.append((key, timestamp, value))
            if window == DAY_TOTAL_WINDOW:
                batch.day_pending.append((key, *day_total_slot(timestamp), value))
        else:
            batch.rows.append((series_id, timestamp, value))
            if window == DAY_TOTAL_WINDOW:
                batch.day_rows.append((series_id, *day_total_slot(timestamp), value))
        batch.platforms[sample.account] = sample.platform
    for post in posts:
        bad = [name for name, value in post.metrics.items() if not _finite(value)]
        if bad or not (_finite(post.published_at) and _finite(post.updated_at)):
            raise ValueError(
                f"post {post.post_id!r} of account {post.account!r} has non-finite "
                f"{', '.join(bad) or 'timestamps'}: post metrics and times must be finite "
                "numbers; nothing of this batch was stored"
            )
        batch.posts.append(
            (
                post.account,
                post.post_id,
                float(post.published_at),
                post.content_type,
                canonical_json(post.metrics),
                post.url,
                float(post.updated_at),
            )
        )
    for account, (platform, state) in states.items():
        try:
            text = canonical_json(state)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"plugin state of account {account!r} cannot be stored as JSON ({exc}); "
                "keep only strings, numbers, booleans, lists and dicts in ctx.state; "
                "nothing of this batch was stored"
            ) from None
        batch.states.append((account, platform, text))
    return batch


def _finite(value: object) -> bool:
    try:
        return math.isfinite(value)  # type: ignore[arg-type]
    except TypeError:
        return False
