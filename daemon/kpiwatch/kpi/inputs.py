"""Window inputs of one account, read from the history store (runs in the reader's thread).

For a window W ending at the account's newest sample time t, and the previous window ending at
t - W, a vocabulary metric's value is:

- period metric (a total over a window), when the platform reports that window itself: its
  sample at t (the previous window: at t - W), each looked up within a tolerance of
  max(1h, W/10) before the instant;
- period metric otherwise, when the platform reports daily totals and W is whole days longer
  than 1d: the sum of the day totals of the W/1d complete UTC days before t's day (the previous
  window: the W/1d days before those); all days must be present;
- level metric (followers, customers): its value at the end of the window; ``start(x)`` is its
  value at the start, ``delta(x)`` the change;
- cumulative metric (posts): the increase over the window (absent if the counter went down).

A reference with filters sums the series whose dimensions match; several series of a money
metric in different currencies make it absent (never summed across currencies).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

from kpiwatch import vocabulary
from kpiwatch.durations import format_duration
from kpiwatch.kpi.engine import Column
from kpiwatch.kpi.expressions import Ref
from kpiwatch.store.reader import SeriesInfo, account_series, day_sums, values_at
from kpiwatch.vocabulary import Kind, Unit

DAY = 86400.0
HOUR = 3600.0


def tolerance(window_seconds: float) -> float:
    """How far before an instant a sample may be and still count as the value at it."""
    return max(HOUR, window_seconds / 10)


def window_label(seconds: float) -> str:
    """The label of a window as plugins write it (``1d``, ``7d``, ``12h``)."""
    return format_duration(timedelta(seconds=seconds))


@dataclass(frozen=True)
class AccountInputs:
    """What :func:`read_account_inputs` found for one account."""

    at: float | None  # the newest sample time; None when the account has no samples
    values: Mapping[Column, float]
    currency: str | None


@dataclass
class _Logical:
    """A metric and its dimensions, with the series of each window the platform reports."""

    metric: vocabulary.MetricDef
    dims: Mapping[str, str]
    by_window: dict[str | None, int]  # window label -> series id


@dataclass(frozen=True)
class AccountLayout:
    """An account's series and, per reference, the logical series it adds up: what
    :func:`read_account_inputs` works out before reading any value. Reading one account at
    many instants (goals read a year of midnights) builds it once."""

    ids: list[int]
    logical: list[_Logical]
    matches: list[tuple[Ref, list[int], bool]]  # reference, logical series, money


def account_layout(conn: sqlite3.Connection, account: str, refs: Iterable[Ref]) -> AccountLayout:
    """The layout of ``account``'s series for ``refs`` (runs in the reader's thread)."""
    series = account_series(conn, account)
    logical = _logical(series)
    by_metric: dict[str, list[int]] = {}
    for i, item in enumerate(logical):
        by_metric.setdefault(item.metric.name, []).append(i)
    matches = []
    for ref in refs:
        matching = [
            i
            for i in by_metric.get(ref.name, ())
            if all(logical[i].dims.get(k) == v for k, v in ref.filters)
        ]
        if matching:
            money = logical[matching[0]].metric.unit is Unit.CURRENCY
            matches.append((ref, matching, money))
    return AccountLayout([s.id for s in series], logical, matches)


def read_account_inputs(
    conn: sqlite3.Connection,
    account: str,
    refs: Iterable[Ref],
    windows: Sequence[float],
    now: float | None = None,
    layout: AccountLayout | None = None,
) -> AccountInputs:
    """The account's inputs for ``refs`` over ``windows`` (seconds), from the store.

    ``layout``, from :func:`account_layout` with the same ``refs``, saves working it out again.
    """
    if layout is None:
        layout = account_layout(conn, account, refs)
    logical = layout.logical
    if not logical:
        return AccountInputs(None, {}, None)
    newest = values_at(conn, layout.ids, now if now is not None else float("inf"), float("-inf"))
    if not newest:
        return AccountInputs(None, {}, None)
    t = max(ts for ts, _ in newest.values())
    # per logical series: (window index, period, mode) -> value
    found: dict[int, dict[tuple[int, int, str], float]] = {i: {} for i in range(len(logical))}
    for w, seconds in enumerate(windows):
        _window_values(conn, logical, newest, t, w, seconds, found)
    values: dict[Column, float] = {}
    currencies: set[str] = set()
    for ref, matching, money in layout.matches:
        if money:
            found_currencies = {logical[i].dims.get("currency", "") for i in matching}
            if len(found_currencies) > 1:
                continue  # never add up different currencies
            currencies |= found_currencies
        for w in range(len(windows)):
            for p in (0, 1):
                total = None
                for i in matching:
                    v = found[i].get((w, p, ref.mode))
                    if v is not None:
                        total = v if total is None else total + v
                if total is not None:
                    values[(ref, w, p)] = total
    currencies.discard("")
    currency = next(iter(currencies)) if len(currencies) == 1 else None
    return AccountInputs(t, values, currency)


def _logical(series: Iterable[SeriesInfo]) -> list[_Logical]:
    grouped: dict[tuple[str, tuple[tuple[str, str], ...]], _Logical] = {}
    for s in series:
        metric = vocabulary.get(s.metric)
        if metric is None:
            continue
        key = (s.metric, tuple(sorted(s.dims.items())))
        item = grouped.get(key)
        if item is None:
            item = grouped[key] = _Logical(metric, dict(s.dims), {})
        item.by_window[s.window] = s.id
    return list(grouped.values())


def _window_values(
    conn: sqlite3.Connection,
    logical: list[_Logical],
    newest: Mapping[int, tuple[float, float]],
    t: float,
    w: int,
    seconds: float,
    found: dict[int, dict[tuple[int, int, str], float]],
) -> None:
    tol = tolerance(seconds)
    label = window_label(seconds)
    exact: dict[int, int] = {}  # logical index -> series id of the exact window
    levels: dict[int, int] = {}
    composed: dict[int, int] = {}
    for i, item in enumerate(logical):
        kind = item.metric.kind
        if kind is Kind.PERIOD:
            if label in item.by_window:
                exact[i] = item.by_window[label]
            elif "1d" in item.by_window and seconds % DAY == 0 and seconds > DAY:
                composed[i] = item.by_window["1d"]
        elif None in item.by_window:
            levels[i] = item.by_window[None]

    def current(series_id: int) -> float | None:
        point = newest.get(series_id)
        return point[1] if point is not None and point[0] > t - tol else None

    back = values_at(conn, [*exact.values(), *levels.values()], t - seconds, t - seconds - tol)
    back2 = values_at(conn, list(levels.values()), t - 2 * seconds, t - 2 * seconds - tol)
    for i, sid in exact.items():
        _put(found[i], w, 0, "value", current(sid))
        _put(found[i], w, 1, "value", back.get(sid, (0, None))[1])
    for i, sid in levels.items():
        end, start = current(sid), back.get(sid, (0, None))[1]
        start_prev = back2.get(sid, (0, None))[1]
        cumulative = logical[i].metric.kind is Kind.CUMULATIVE
        for p, (e, s) in enumerate(((end, start), (start, start_prev))):
            _put(found[i], w, p, "start", s)
            delta = e - s if e is not None and s is not None else None
            if cumulative and delta is not None and delta < 0:
                delta = None  # the counter went down: a reset, not a negative count
            _put(found[i], w, p, "delta", delta)
            _put(found[i], w, p, "value", delta if cumulative else e)
    if composed:
        days = int(seconds // DAY)
        last = int(t // DAY) - 1
        ids = list(composed.values())
        now_sums = day_sums(conn, ids, last - days + 1, last)
        before = day_sums(conn, ids, last - 2 * days + 1, last - days)
        for i, sid in composed.items():
            for p, sums in ((0, now_sums), (1, before)):
                total, count = sums.get(sid, (0.0, 0))
                _put(found[i], w, p, "value", total if count == days else None)


def _put(out: dict[tuple[int, int, str], float], w: int, p: int, mode: str, value) -> None:
    if value is not None:
        out[(w, p, mode)] = float(value)
