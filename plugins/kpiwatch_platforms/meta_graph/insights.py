"""The ``/insights`` edge of Pages, posts, Instagram accounts and media: asking for a list of
metrics, reading the answer, and coping with metrics Meta refuses.

An answer lists one object per metric and period, with either a series
``"values": [{"value": 42, "end_time": "2026-03-10T08:00:00+0000"}]`` or, for
``metric_type=total_value``, ``"total_value": {"value": 120}``. An empty ``data`` list, an
empty series or an absent value is missing data, never zero.

Meta refuses a whole request when one metric in it is not served, with error code 100:

- a metric removed for good: ``(#100) The value must be a valid insights metric`` (Pages, the
  metric is not named), ``(#100) metric[2] must be one of the following values: ...``
  (Instagram, named by its position) or ``(#100) Starting from version 22 and above, the
  impressions metric is no longer supported ...`` (named);
- a metric not served for this object: ``(#100) The Media Insights API does not support the
  views metric for this media product type``.

:func:`fetch_insights` finds the metric (by name or position, else by asking each metric
alone), reports it to the caller and asks again for the rest.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from kpiwatch.toolkit.api import ApiResponse
from kpiwatch_platforms.meta_graph.client import GraphClient
from kpiwatch_platforms.meta_graph.errors import GraphError, graph_error
from kpiwatch_platforms.meta_graph.reading import GraphBody


class Refusal(StrEnum):
    """Why Meta refused a metric."""

    INVALID = "invalid"  # not a valid metric (any longer): removed
    UNSUPPORTED = "unsupported"  # not served for this object (media type) or period


@dataclass(frozen=True)
class InsightValue:
    """One value of one metric: a day of a series, or a total over the asked range."""

    name: str
    period: str
    value: float
    end_time: datetime | None  # None for total_value answers


_POSITION = re.compile(r"metric\[(\d+)\]")
_UNSUPPORTED = ("media product type", "for this media type", "not supported for this media")


def refusal(error: GraphError | None, *, any_code_100: bool = False) -> Refusal | None:
    """Whether ``error`` refuses a metric, and how. ``any_code_100`` reads every code-100
    answer as a refusal (asking a period some metrics do not have)."""
    if error is None or error.code != 100:
        return None
    message = error.message.lower()
    if any(phrase in message for phrase in _UNSUPPORTED):
        return Refusal.UNSUPPORTED
    if "metric" in message:
        return Refusal.INVALID
    return Refusal.UNSUPPORTED if any_code_100 else None


def named_metric(message: str, asked: Sequence[str]) -> str | None:
    """The metric of ``asked`` an error message names: by position (``metric[2]``) or by
    name, unless the name only appears in a list of the valid ones."""
    position = _POSITION.search(message)
    if position is not None:
        index = int(position.group(1))
        return asked[index] if index < len(asked) else None
    if "must be one of" in message:
        return None  # the names that follow are the valid ones
    for name in sorted(asked, key=len, reverse=True):
        if re.search(rf"(?<![\w.]){re.escape(name)}(?![\w])", message):
            return name
    return None


def read_insights(body: GraphBody) -> list[InsightValue]:
    """Every numeric value of an insights answer (series and total_value shapes)."""
    values: list[InsightValue] = []
    for i, item in enumerate(body.data_list()):
        path = f"data[{i}]."
        name = body.text(item, "name", path)
        if not name:
            raise body.bad(f"{path}name", name, "the metric's name")
        period = body.text(item, "period", path) or ""
        total = item.get("total_value")
        if total is not None:
            if not isinstance(total, dict):
                raise body.bad(f"{path}total_value", total, "an object with a value")
            number = _number(body, total.get("value"), f"{path}total_value.value")
            if number is not None:
                values.append(InsightValue(name, period, number, None))
            continue
        for j, point in enumerate(body.objects(item, "values", path)):
            where = f"{path}values[{j}]."
            number = _number(body, point.get("value"), f"{where}value")
            if number is not None:
                end = body.time(point, "end_time", where)
                values.append(InsightValue(name, period, number, end))
    return values


def _number(body: GraphBody, value: Any, field: str) -> float | None:
    """A metric's value; None when absent or a breakdown object (not asked for)."""
    if isinstance(value, dict):
        return None
    return body.number_value(value, field)


OnRefused = Callable[[str, Refusal, str], None]  # metric, why, Meta's message


async def fetch_insights(
    client: GraphClient,
    path: str,
    metrics: Sequence[str],
    params: Mapping[str, str],
    on_refused: OnRefused,
    *,
    any_code_100: bool = False,
    no_data: Callable[[GraphError], bool] | None = None,
) -> list[InsightValue]:
    """Ask ``path`` (an ``.../insights`` edge) for ``metrics``; a refused metric goes to
    ``on_refused`` and the rest are asked again. When Meta does not say which metric it
    refuses, each one is asked alone (their answers are kept). An error ``no_data`` is true
    for (Instagram's "not enough viewers") means the object has no insights: none are returned."""
    asked = list(metrics)

    def empty(response: ApiResponse) -> bool:
        error = graph_error(response.body)
        return no_data is not None and error is not None and no_data(error)

    def served(response: ApiResponse) -> bool:
        if 200 <= response.status < 300 or empty(response):
            return True
        return refusal(graph_error(response.body), any_code_100=any_code_100) is not None

    while asked:
        response = await client.get(path, {**params, "metric": ",".join(asked)}, accept=served)
        if 200 <= response.status < 300:
            return read_insights(GraphBody(response))
        if empty(response):
            return []
        error = graph_error(response.body)
        assert error is not None  # served() accepted only a refusal
        why = refusal(error, any_code_100=any_code_100) or Refusal.INVALID
        name = named_metric(error.message, asked)
        if name is not None:
            on_refused(name, why, error.message)
            asked.remove(name)
            continue
        values: list[InsightValue] = []
        for metric in asked:
            alone = await client.get(path, {**params, "metric": metric}, accept=served)
            if 200 <= alone.status < 300:
                values += read_insights(GraphBody(alone))
                continue
            if empty(alone):
                continue
            single = graph_error(alone.body)
            assert single is not None
            on_refused(metric, refusal(single, any_code_100=any_code_100) or why, single.message)
        return values
    return []
