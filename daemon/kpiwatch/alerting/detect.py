"""Pure detection functions of the alert rules: threshold, change, anomaly and data quality.

Threshold, change and anomaly work on NumPy arrays with one element (or row) per account, so
one rule over all accounts is a few array operations. NaN means "no value" and never makes a
condition active. Nothing here does I/O or knows about the store, the clock or the rule engine.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np

Seasonality = Literal["weekly", "none"]
Direction = Literal["both", "up", "down"]
DataQualityCheck = Literal["stopped", "backwards", "jump", "removed"]

#: 1.4826 · MAD estimates the standard deviation of normally distributed data.
MAD_SCALE = 1.4826
#: 1.2533 · mean absolute deviation estimates it too (used when the MAD is 0).
MEAN_AD_SCALE = 1.2533
#: The scale of an anomaly z-score is never below this fraction of |median|.
MIN_SCALE_FRACTION = 0.02
DATA_QUALITY_CHECKS: tuple[DataQualityCheck, ...] = ("stopped", "backwards", "jump", "removed")


def threshold(values: np.ndarray, above: float | None, below: float | None) -> np.ndarray:
    """True where value > ``above`` or value < ``below``; NaN (no value) is never active."""
    if above is None and below is None:
        raise ValueError("threshold needs above or below (or both); got neither")
    values = np.asarray(values, dtype=float)
    active = np.zeros(values.shape, dtype=bool)
    if above is not None:
        active |= values > above
    if below is not None:
        active |= values < below
    return active


def relative_change(
    current: np.ndarray, previous: np.ndarray, min_baseline: float = 0.0
) -> np.ndarray:
    """(current - previous) / |previous|.

    NaN where either value is absent or |previous| <= ``min_baseline``: no change is judged from
    a zero (or too small) previous value.
    """
    current = np.asarray(current, dtype=float)
    previous = np.asarray(previous, dtype=float)
    if current.shape != previous.shape:
        raise ValueError(
            f"relative_change: current has shape {current.shape} and previous {previous.shape}; "
            "pass one value per account in both"
        )
    base = np.abs(previous)
    judged = np.isfinite(current) & np.isfinite(previous) & (base > min_baseline)
    out = np.full(current.shape, np.nan)
    np.divide(current - previous, base, out=out, where=judged)
    return out


def change(
    current: np.ndarray,
    previous: np.ndarray,
    change_above: float | None,
    change_below: float | None,
    min_baseline: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """(active, relative change): active where the change is > ``change_above`` or <
    ``change_below`` (0.2 = +20 %, -0.05 = -5 %). Unjudged changes (NaN) are never active."""
    if change_above is None and change_below is None:
        raise ValueError("change needs change_above or change_below (or both); got neither")
    ratio = relative_change(current, previous, min_baseline)
    active = np.zeros(ratio.shape, dtype=bool)
    if change_above is not None:
        active |= ratio > change_above
    if change_below is not None:
        active |= ratio < change_below
    return active, ratio


@dataclass(frozen=True, slots=True)
class AnomalyBaseline:
    """Per-account baseline statistics from :func:`anomaly_baseline`, arrays of shape
    (n_accounts,). ``median`` and ``mad`` of the baseline points (NaN without points);
    ``scale``: the divisor of the z-score; ``points``: number of baseline points (int)."""

    median: np.ndarray
    mad: np.ndarray
    scale: np.ndarray
    points: np.ndarray


@dataclass(frozen=True, slots=True)
class AnomalyScores:
    """Per-account result of :func:`anomaly_scores`, arrays of shape (n_accounts,).

    ``z``: robust z-score, NaN where the account was not judged (no current value, fewer than
    ``min_points`` baseline points, |median| below ``min_volume``). The other fields are those
    of :class:`AnomalyBaseline`.
    """

    z: np.ndarray
    median: np.ndarray
    mad: np.ndarray
    scale: np.ndarray
    points: np.ndarray


def baseline_columns(n_days: int, seasonality: Seasonality) -> np.ndarray:
    """Indices of the history columns in the baseline: every column for ``none``; the columns
    7, 14, 21, ... days before the current value (same weekday) for ``weekly``."""
    if seasonality == "weekly":
        return np.arange(n_days - 7, -1, -7)
    if seasonality == "none":
        return np.arange(n_days)
    raise ValueError(f"seasonality must be 'weekly' or 'none', not {seasonality!r}")


def _row_medians(sorted_rows: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Median of the first ``counts[i]`` values of each row of ``sorted_rows`` (NaN if none)."""
    n_rows, width = sorted_rows.shape
    if width == 0:
        return np.full(n_rows, np.nan)
    lower = np.clip((counts - 1) // 2, 0, width - 1)
    upper = np.clip(counts // 2, 0, width - 1)
    rows = np.arange(n_rows)
    median = (sorted_rows[rows, lower] + sorted_rows[rows, upper]) / 2
    median[counts == 0] = np.nan
    return median


def anomaly_baseline(
    history: np.ndarray,
    *,
    seasonality: Seasonality = "weekly",
    min_scale_fraction: float = MIN_SCALE_FRACTION,
) -> AnomalyBaseline:
    """Median, MAD and z-score scale per account of the baseline taken from ``history``.

    ``history``: shape (n_accounts, n_days), past daily values oldest → newest, column -1 being
    the day before the value to judge; NaN = no value. A 28-day baseline is ``n_days = 28``
    (with ``weekly``: the 4 same-weekday points 7, 14, 21 and 28 days back). The result depends
    only on the history, so rules sharing a KPI, window and baseline can share it.

    scale = 1.4826 · MAD (median absolute deviation). When the MAD is 0 (half the points or
    more equal the median), scale = 1.2533 · mean absolute deviation, the fallback of the
    modified z-score (Iglewicz & Hoaglin; IBM SPSS). In every case scale is at least
    ``min_scale_fraction`` · |median|, so on a flat baseline a jump fires and the same value
    (z = 0) or a change of a few percent does not.
    """
    history = np.asarray(history, dtype=float)
    if history.ndim != 2:
        raise ValueError(
            f"anomaly history has shape {history.shape}; pass it as (n_accounts, n_days)"
        )
    baseline = history[:, baseline_columns(history.shape[1], seasonality)]
    present = ~np.isnan(baseline)
    points = present.sum(axis=1)
    median = _row_medians(np.sort(baseline, axis=1), points)
    deviation = np.abs(baseline - median[:, None])
    mad = _row_medians(np.sort(deviation, axis=1), points)
    mean_ad = np.full(median.shape, np.nan)
    np.divide(np.where(present, deviation, 0.0).sum(axis=1), points, out=mean_ad, where=points > 0)
    scale = np.where(mad > 0, MAD_SCALE * mad, MEAN_AD_SCALE * mean_ad)
    scale = np.maximum(scale, min_scale_fraction * np.abs(median))
    return AnomalyBaseline(median=median, mad=mad, scale=scale, points=points)


def score_anomalies(
    current: np.ndarray,
    baseline: AnomalyBaseline,
    *,
    min_points: int = 4,
    min_volume: float = 0.0,
) -> AnomalyScores:
    """z = (current - median) / scale per account; NaN (not judged) where ``current`` is NaN,
    the baseline has fewer than ``min_points`` points or |median| < ``min_volume``. With a
    scale of 0 (every point 0) any non-zero value scores ±inf and 0 scores 0."""
    current = np.asarray(current, dtype=float)
    if current.ndim != 1 or current.shape != baseline.median.shape:
        raise ValueError(
            f"anomaly values have shape {current.shape} and the baseline "
            f"{baseline.median.shape}; pass one current value per account of the history"
        )
    judged = (
        ~np.isnan(current)
        & (baseline.points >= max(min_points, 1))
        & (np.abs(baseline.median) >= min_volume)
    )
    offset = current - baseline.median
    z = np.full(current.shape, np.nan)
    np.divide(offset, baseline.scale, out=z, where=judged & (baseline.scale > 0))
    flat = judged & (baseline.scale == 0)
    z[flat] = np.where(offset[flat] == 0, 0.0, np.copysign(np.inf, offset[flat]))
    return AnomalyScores(
        z=z,
        median=baseline.median,
        mad=baseline.mad,
        scale=baseline.scale,
        points=baseline.points,
    )


def anomaly_scores(
    current: np.ndarray,
    history: np.ndarray,
    *,
    seasonality: Seasonality = "weekly",
    min_points: int = 4,
    min_volume: float = 0.0,
    min_scale_fraction: float = MIN_SCALE_FRACTION,
) -> AnomalyScores:
    """Robust z-scores of ``current`` (n_accounts,) against the baseline in ``history``
    (n_accounts, n_days): :func:`anomaly_baseline` then :func:`score_anomalies`."""
    baseline = anomaly_baseline(
        history, seasonality=seasonality, min_scale_fraction=min_scale_fraction
    )
    return score_anomalies(current, baseline, min_points=min_points, min_volume=min_volume)


def anomaly_active(scores: AnomalyScores, z: float, direction: Direction = "both") -> np.ndarray:
    """True where the z-score passes ``z``: above +z (``up``), below -z (``down``) or either
    (``both``). Unjudged accounts (z NaN) are never active."""
    if direction == "up":
        return scores.z > z
    if direction == "down":
        return scores.z < -z
    if direction == "both":
        return np.abs(scores.z) > z
    raise ValueError(f"direction must be 'both', 'up' or 'down', not {direction!r}")


@dataclass(frozen=True, slots=True)
class DataQualityEvent:
    """One data-quality finding of one series between two polls of an account."""

    check: DataQualityCheck
    series: str
    previous: float | None
    current: float | None
    detail: str


def _number(value: float) -> str:
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.4g}"


def _value(values: Mapping[str, float], series: str) -> float | None:
    """The series' value as a float, None when absent or NaN."""
    value = values.get(series)
    if value is None or math.isnan(value):
        return None
    return float(value)


def _jump_factor(previous: float, current: float, zero_min: float) -> float | None:
    """How many times larger the larger magnitude is than the smaller, or None if not judged.
    From or to 0 the factor is infinite when the other side is at least ``zero_min``."""
    low, high = sorted((abs(previous), abs(current)))
    if low == 0:
        return math.inf if high >= zero_min else None
    return high / low


def data_quality_events(
    previous: Mapping[str, float],
    current: Mapping[str, float],
    cumulative: Collection[str],
    checks: Collection[str] = DATA_QUALITY_CHECKS,
    jump: float = 10.0,
    *,
    jump_zero_min: float | None = None,
) -> list[DataQualityEvent]:
    """Data-quality findings of one account between its previous and its current poll.

    Keys are series keys (metric, window and dimensions, e.g. ``"reach|1d"``); a NaN value
    counts as absent. Checks:

    - ``stopped``: a series of the previous poll is absent from the current one;
    - ``backwards``: a series listed in ``cumulative`` decreased;
    - ``jump``: the magnitude changed by more than ``jump`` times, up or down. From or to 0 the
      factor is undefined: that counts as a jump only when the other side's magnitude is at
      least ``jump_zero_min`` (default: ``jump``, so 0 → 10 is a jump at jump 10, 0 → 3 is not).

    Events come sorted by series, then in the order stopped, backwards, jump.
    """
    unknown = sorted(set(checks) - set(DATA_QUALITY_CHECKS))
    if unknown:
        raise ValueError(
            f"unknown data quality check {', '.join(map(repr, unknown))}; "
            f"use {', '.join(DATA_QUALITY_CHECKS)}"
        )
    if jump <= 1:
        raise ValueError(f"jump must be a factor above 1, not {jump:g}; write for example 10")
    zero_min = jump if jump_zero_min is None else jump_zero_min
    events: list[DataQualityEvent] = []
    for series in sorted(previous):
        before = _value(previous, series)
        if before is None:
            continue
        after = _value(current, series)
        if after is None:
            if "stopped" in checks:
                events.append(
                    DataQualityEvent(
                        "stopped",
                        series,
                        before,
                        None,
                        f"{series} stopped arriving (last value {_number(before)})",
                    )
                )
            continue
        if "backwards" in checks and series in cumulative and after < before:
            events.append(
                DataQualityEvent(
                    "backwards",
                    series,
                    before,
                    after,
                    f"{series} fell from {_number(before)} to {_number(after)} "
                    f"({_number(after - before)})",
                )
            )
        if "jump" in checks:
            factor = _jump_factor(before, after, zero_min)
            if factor is not None and factor > jump:
                sign = "\u00d7" if abs(after) > abs(before) else "÷"
                ratio = "" if math.isinf(factor) else f" ({sign}{factor:.3g})"
                events.append(
                    DataQualityEvent(
                        "jump",
                        series,
                        before,
                        after,
                        f"{series} went from {_number(before)} to {_number(after)}{ratio}",
                    )
                )
    return events
