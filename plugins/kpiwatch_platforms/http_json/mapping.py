"""JSON answers -> vocabulary samples and posts, as the settings' JMESPath expressions say.

Rules (README.md, "What happens when the answer changes"):

- a metric path that finds nothing (null or absent) in every mapping of a metric: the API no
  longer serves it; the metric is disabled for the account (``ctx.metric_removed``) and the
  others go on;
- a path that finds something that is not a number (text, a list, an object): the mapping is
  wrong or the API changed shape, which needs a person: the poll fails as ``bad_response``
  naming the metric, the path, what it found and the request;
- with ``each``, the items of every page are read; without, the first page.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import kpiwatch
from kpiwatch import vocabulary
from kpiwatch_platforms.http_json.expressions import (
    SearchError,
    as_number,
    as_time,
    described,
    search,
)
from kpiwatch_platforms.http_json.fetch import Answer
from kpiwatch_platforms.http_json.settings import HttpJsonSettings, MetricMapping, PostsMapping

_CONTENT_TYPES = frozenset(vocabulary.CONTENT_TYPES)


@dataclass
class Reading:
    """The samples of one metric mapping; ``found`` is False when its path found nothing."""

    samples: list[kpiwatch.Sample] = field(default_factory=list)
    found: bool = False
    skipped: int = 0  # items of ``each`` without a value, a dimension or a time


def _search(expression: str, data: Any, what: str, answer: Answer) -> Any:
    try:
        return search(expression, data)
    except SearchError as exc:
        raise kpiwatch.BadResponse(
            f"http_json: {what}: {expression!r} failed on the answer of {answer.where}: {exc}"
        ) from None


def _items(expression: str, answer: Answer, what: str) -> list[Any] | None:
    """The items ``expression`` lists on every page, or None when no page has that list."""
    items: list[Any] | None = None
    for page in answer.pages:
        found = _search(expression, page, what, answer)
        if found is None:
            continue
        if not isinstance(found, list):
            raise kpiwatch.BadResponse(
                f"http_json: {what}: {expression!r} gave {described(found)} in the answer of "
                f"{answer.where}; it should give a list (add [] or [*] to the path)"
            )
        items = (items or []) + found
    return items


def read_metric(mapping: MetricMapping, answer: Answer) -> Reading:
    """The samples ``mapping`` reads from ``answer``."""
    what = f"metric {mapping.metric}"
    if mapping.each is None:
        contexts: list[Any] = answer.pages[:1]
    else:
        listed = _items(mapping.each, answer, f"{what} (each)")
        if listed is None:
            return Reading()
        contexts = listed
    reading = Reading(found=mapping.each is not None and not contexts)
    for item in contexts:
        raw = _search(mapping.path, item, what, answer)
        if raw is None:
            reading.skipped += 1
            continue
        reading.found = True
        value = as_number(raw)
        if value is None:
            raise kpiwatch.BadResponse(
                f"http_json: {what}: path {mapping.path!r} gave {described(raw)} in the answer "
                f"of {answer.where}, not a number; fix the path (a list needs sum(...) or [0])"
            )
        try:
            dims = _dims(mapping, item, answer)
            timestamp = _timestamp(mapping, item, answer)
        except _NotInItem:
            reading.skipped += 1
            continue
        reading.samples.append(
            kpiwatch.Sample(mapping.metric, value * mapping.scale, mapping.window, dims, timestamp)
        )
    return reading


class _NotInItem(Exception):
    """The item lacks a dimension value or a time: it gives no sample."""


def _dims(mapping: MetricMapping, item: Any, answer: Answer) -> dict[str, str]:
    """Fixed and read dimension values."""
    dims = dict(mapping.dims)
    for name, expression in mapping.dim_paths.items():
        value = _search(expression, item, f"metric {mapping.metric} dimension {name}", answer)
        if value is None or value == "":
            raise _NotInItem
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise kpiwatch.BadResponse(
                f"http_json: metric {mapping.metric}: dimension {name} path {expression!r} gave "
                f"{described(value)} in the answer of {answer.where}; it should give text"
            )
        dims[name] = _text(value)
    return dims


def _timestamp(mapping: MetricMapping, item: Any, answer: Answer) -> datetime | None:
    """The item's time; None (the poll time) without a timestamp path."""
    if mapping.timestamp is None:
        return None
    raw = _search(mapping.timestamp, item, f"metric {mapping.metric} timestamp", answer)
    if raw is None:
        raise _NotInItem
    moment = as_time(raw)
    if moment is None:
        raise kpiwatch.BadResponse(
            f"http_json: metric {mapping.metric}: timestamp path {mapping.timestamp!r} gave "
            f"{described(raw)} in the answer of {answer.where}; it should give an ISO-8601 "
            "time or unix seconds"
        )
    return moment


def _text(value: str | int | float) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def read_samples(
    ctx: kpiwatch.CollectContext, settings: HttpJsonSettings, answers: Mapping[str, Answer]
) -> list[kpiwatch.Sample]:
    """The samples of every enabled metric; metrics whose paths found nothing are removed."""
    samples: list[kpiwatch.Sample] = []
    for metric, mappings in _by_metric(settings):
        if not ctx.metric_enabled(metric):
            continue
        readings = [(m, read_metric(m, answers[settings.request_of(m.request)])) for m in mappings]
        if not any(reading.found for _, reading in readings):
            first = mappings[0]
            where = answers[settings.request_of(first.request)].where
            ctx.metric_removed(
                metric, f"path {first.path!r} found nothing in the answer of {where}"
            )
            continue
        for mapping, reading in readings:
            if not reading.found or reading.skipped:
                ctx.log.warning(
                    "path found no value",
                    metric=metric,
                    path=mapping.path,
                    items_skipped=reading.skipped,
                )
            samples += reading.samples
        if metric in ctx.removed_metrics:
            ctx.metric_restored(metric)
    return samples


def _by_metric(settings: HttpJsonSettings) -> Iterator[tuple[str, list[MetricMapping]]]:
    groups: dict[str, list[MetricMapping]] = {}
    for mapping in settings.metrics:
        groups.setdefault(mapping.metric, []).append(mapping)
    yield from groups.items()


def read_posts(
    ctx: kpiwatch.CollectContext, mapping: PostsMapping, answer: Answer
) -> list[kpiwatch.Post]:
    """Posts from the items ``mapping.items`` lists; items without an id or time are skipped."""
    items = _items(mapping.items, answer, "posts")
    if items is None:
        ctx.log.warning("posts path found no list", path=mapping.items, request=answer.where)
        return []
    posts: list[kpiwatch.Post] = []
    skipped = 0
    for item in items:
        post = _post(mapping, item, answer)
        if post is None:
            skipped += 1
        else:
            posts.append(post)
    if skipped:
        ctx.log.warning("posts without an id or a readable time skipped", skipped=skipped)
    return posts


def _post(mapping: PostsMapping, item: Any, answer: Answer) -> kpiwatch.Post | None:
    post_id = _search(mapping.id, item, "posts id", answer)
    published = as_time(_search(mapping.published_at, item, "posts published_at", answer))
    if post_id is None or post_id == "" or published is None:
        return None
    kind = mapping.default_content_type
    if mapping.content_type is not None:
        raw = _search(mapping.content_type, item, "posts content_type", answer)
        if isinstance(raw, str):
            kind = mapping.content_types.get(raw, raw if raw in _CONTENT_TYPES else kind)
    link = _search(mapping.url, item, "posts url", answer) if mapping.url else None
    metrics: dict[str, float] = {}
    for name, expression in mapping.metrics.items():
        raw = _search(expression, item, f"posts metric {name}", answer)
        if raw is None:
            continue
        value = as_number(raw)
        if value is None:
            raise kpiwatch.BadResponse(
                f"http_json: posts metric {name}: path {expression!r} gave {described(raw)} in "
                f"the answer of {answer.where}, not a number; fix the path"
            )
        metrics[name] = value
    return kpiwatch.Post(
        _text(post_id) if isinstance(post_id, str | int | float) else str(post_id),
        published,
        kind,
        metrics,
        link if isinstance(link, str) and link else None,
    )
