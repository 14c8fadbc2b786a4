"""Detection functions of the alert rules on hand-made series.

Expected values are computed here from the definitions (statistics.median, plain arithmetic),
never by the functions under test.
"""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest

from kpiwatch.alerting.detect import (
    AnomalyScores,
    DataQualityEvent,
    anomaly_active,
    anomaly_baseline,
    anomaly_scores,
    change,
    data_quality_events,
    relative_change,
    score_anomalies,
    threshold,
)

NAN = math.nan

# --- threshold ---------------------------------------------------------------------------------


def test_threshold_above_below_and_band() -> None:
    values = np.array([1.0, 5.0, 8.0, 10.0, NAN])
    assert threshold(values, above=8, below=None).tolist() == [False, False, False, True, False]
    assert threshold(values, above=None, below=5).tolist() == [True, False, False, False, False]
    # Both: fires outside the band 2..8; the bounds themselves are inside.
    assert threshold(values, above=8, below=2).tolist() == [True, False, False, True, False]


def test_threshold_nan_is_never_active() -> None:
    values = np.array([NAN, NAN])
    assert not threshold(values, above=-1e300, below=1e300).any()


def test_threshold_without_bounds_is_an_error() -> None:
    with pytest.raises(ValueError, match="above or below"):
        threshold(np.array([1.0]), None, None)


# --- change ------------------------------------------------------------------------------------


def test_relative_change_values_and_absent_inputs() -> None:
    current = np.array([120.0, 80.0, 5.0, NAN, 10.0])
    previous = np.array([100.0, 100.0, -10.0, 100.0, NAN])
    got = relative_change(current, previous)
    assert got[0] == pytest.approx(0.2)
    assert got[1] == pytest.approx(-0.2)
    assert got[2] == pytest.approx((5 - -10) / 10)  # divided by |previous|
    assert math.isnan(got[3]) and math.isnan(got[4])


def test_relative_change_zero_baseline_is_not_judged() -> None:
    got = relative_change(np.array([50.0, 0.0]), np.array([0.0, 0.0]))
    assert np.isnan(got).all()


def test_relative_change_min_baseline() -> None:
    current = np.array([30.0, 30.0, 30.0])
    previous = np.array([3.0, 5.0, 6.0])
    got = relative_change(current, previous, min_baseline=5)
    assert math.isnan(got[0]) and math.isnan(got[1])  # at or below the minimum
    assert got[2] == pytest.approx((30 - 6) / 6)


def test_change_fires_on_rise_and_fall_and_stays_quiet_in_between() -> None:
    current = np.array([130.0, 70.0, 105.0, 50.0, NAN])
    previous = np.array([100.0, 100.0, 100.0, 0.0, 100.0])
    active, ratio = change(current, previous, change_above=0.2, change_below=-0.2)
    assert active.tolist() == [True, True, False, False, False]
    assert ratio[:3] == pytest.approx([0.3, -0.3, 0.05])
    assert np.isnan(ratio[3:]).all()
    only_falls, _ = change(current, previous, change_above=None, change_below=-0.2)
    assert only_falls.tolist() == [False, True, False, False, False]


def test_change_min_baseline_suppresses_small_previous_values() -> None:
    active, _ = change(np.array([40.0]), np.array([4.0]), 0.5, None, min_baseline=10)
    assert not active.any()
    active, _ = change(np.array([40.0]), np.array([4.0]), 0.5, None, min_baseline=0)
    assert active.all()


def test_change_without_bounds_is_an_error() -> None:
    with pytest.raises(ValueError, match="change_above or change_below"):
        change(np.array([1.0]), np.array([1.0]), None, None)


# --- anomaly -----------------------------------------------------------------------------------

WEEKS = 8
DAYS = 7 * WEEKS
#: Fixed noise in [-12, 12], the same on every run.
NOISE = [((d * 37) % 25) - 12 for d in range(DAYS)]


def weekday(day: int) -> int:
    """Weekday (0 = Monday, 5 = Saturday) of history column ``day``; the current value
    (column DAYS, just after the history) is a Saturday."""
    return (day - DAYS + 5) % 7


def weekend_high(day: int) -> float:
    """Consumer account: about 300 on weekends, 100 on weekdays."""
    return (300.0 if weekday(day) >= 5 else 100.0) + NOISE[day]


def weekday_high(day: int) -> float:
    """B2B account: about 400 on weekdays, 40 on weekends."""
    return (40.0 if weekday(day) >= 5 else 400.0) + NOISE[day] / 4


def series(pattern) -> list[float]:  # type: ignore[no-untyped-def]
    return [pattern(day) for day in range(DAYS)]


def robust_z(current: float, baseline: list[float]) -> float:
    """The documented definition, written out with the statistics module."""
    median = statistics.median(baseline)
    deviations = [abs(x - median) for x in baseline]
    mad = statistics.median(deviations)
    scale = 1.4826 * mad if mad > 0 else 1.2533 * statistics.fmean(deviations)
    scale = max(scale, 0.02 * abs(median))
    return (current - median) / scale


def one(current: float, history: list[float], **options: object) -> AnomalyScores:
    return anomaly_scores(np.array([current]), np.array([history]), **options)  # type: ignore[arg-type]


def saturdays(history: list[float]) -> list[float]:
    return [value for day, value in enumerate(history) if weekday(day) == 5]


def test_normal_saturday_is_quiet_with_weekly_seasonality() -> None:
    history = series(weekend_high)
    baseline = saturdays(history)
    assert len(baseline) == WEEKS
    scores = one(305.0, history, seasonality="weekly", min_points=4)
    assert scores.points[0] == WEEKS
    assert scores.median[0] == pytest.approx(statistics.median(baseline))
    assert scores.z[0] == pytest.approx(robust_z(305.0, baseline))
    assert not anomaly_active(scores, 3.5, "both")[0]


def test_normal_saturday_fires_without_seasonality() -> None:
    """Against all days (mostly weekdays near 100) a usual Saturday looks like a spike."""
    history = series(weekend_high)
    scores = one(305.0, history, seasonality="none", min_points=4)
    assert scores.points[0] == DAYS
    assert scores.z[0] == pytest.approx(robust_z(305.0, history))
    assert scores.z[0] > 3.5
    assert anomaly_active(scores, 3.5, "both")[0]


def test_saturday_at_half_its_level_fires_down_not_up() -> None:
    history = series(weekend_high)
    usual = statistics.median(saturdays(history))
    scores = one(usual / 2, history, seasonality="weekly", min_points=4)
    assert scores.z[0] == pytest.approx(robust_z(usual / 2, saturdays(history)))
    assert anomaly_active(scores, 3.5, "down")[0]
    assert anomaly_active(scores, 3.5, "both")[0]
    assert not anomaly_active(scores, 3.5, "up")[0]


def test_saturday_spike_fires_up_not_down() -> None:
    history = series(weekend_high)
    scores = one(900.0, history, seasonality="weekly", min_points=4)
    assert anomaly_active(scores, 3.5, "up")[0]
    assert not anomaly_active(scores, 3.5, "down")[0]


def test_min_volume_suppresses_small_series() -> None:
    history = series(weekend_high)
    quiet = one(30.0, history, seasonality="weekly", min_points=4, min_volume=1000)
    assert math.isnan(quiet.z[0])
    assert not anomaly_active(quiet, 3.5, "both")[0]
    judged = one(30.0, history, seasonality="weekly", min_points=4, min_volume=250)
    assert anomaly_active(judged, 3.5, "both")[0]


def test_min_points_suppresses_short_or_gappy_history() -> None:
    history = series(weekend_high)
    three_weeks = history[-21:]  # 3 Saturdays
    short = one(30.0, three_weeks, seasonality="weekly", min_points=4)
    assert short.points[0] == 3
    assert math.isnan(short.z[0]) and not anomaly_active(short, 3.5, "both")[0]
    assert anomaly_active(one(30.0, three_weeks, seasonality="weekly", min_points=3), 3.5)[0]

    gappy = list(history)
    for back in (7, 14, 21, 28, 35):  # 5 of the 8 Saturdays missing
        gappy[DAYS - back] = NAN
    scores = one(30.0, gappy, seasonality="weekly", min_points=4)
    assert scores.points[0] == 3
    assert math.isnan(scores.z[0])


def test_missing_current_value_is_not_judged() -> None:
    scores = one(NAN, series(weekend_high), seasonality="weekly", min_points=4)
    assert math.isnan(scores.z[0])
    assert not anomaly_active(scores, 0.1, "both")[0]


def test_flat_baseline_fires_on_a_jump_not_on_the_same_value() -> None:
    flat = [100.0] * 28
    jump = one(300.0, flat, seasonality="weekly", min_points=4)
    assert jump.mad[0] == 0
    assert anomaly_active(jump, 3.5, "both")[0]
    same = one(100.0, flat, seasonality="weekly", min_points=4)
    assert same.z[0] == 0
    assert not anomaly_active(same, 3.5, "both")[0]
    # The scale floor (2 % of the median): a 1 % change on a flat series is not an anomaly.
    small = one(101.0, flat, seasonality="weekly", min_points=4)
    assert small.z[0] == pytest.approx(1 / (0.02 * 100))
    assert not anomaly_active(small, 3.5, "both")[0]


def test_all_zero_baseline() -> None:
    zeros = [0.0] * 28
    assert one(5.0, zeros, seasonality="weekly", min_points=4).z[0] == math.inf
    assert one(0.0, zeros, seasonality="weekly", min_points=4).z[0] == 0


def test_zero_mad_falls_back_to_mean_absolute_deviation() -> None:
    history = [100.0, 100.0, 100.0, 140.0, 100.0]
    scores = one(140.0, history, seasonality="none", min_points=4)
    assert scores.mad[0] == 0
    mean_ad = (0 + 0 + 0 + 40 + 0) / 5
    assert scores.z[0] == pytest.approx(40 / (1.2533 * mean_ad))
    assert anomaly_active(scores, 3.5, "up")[0]
    assert not anomaly_active(scores, 4.5, "up")[0]


def test_anomaly_is_vectorised_over_accounts_with_different_patterns() -> None:
    consumer = series(weekend_high)
    b2b = series(weekday_high)
    flat = [100.0] * DAYS
    history = np.array([consumer, consumer, b2b, b2b, flat, consumer])
    short = np.full(DAYS, NAN)
    short[-14:] = consumer[-14:]  # two Saturdays only
    history[5] = short
    current = np.array([300.0, 140.0, 42.0, 400.0, 100.0, 30.0])
    scores = anomaly_scores(current, history, seasonality="weekly", min_points=4)

    expected = [
        robust_z(300.0, saturdays(consumer)),
        robust_z(140.0, saturdays(consumer)),
        robust_z(42.0, saturdays(b2b)),
        robust_z(400.0, saturdays(b2b)),
        0.0,
    ]
    assert scores.z[:5] == pytest.approx(expected)
    assert math.isnan(scores.z[5])
    assert scores.points.tolist() == [WEEKS] * 5 + [2]
    # Normal consumer Saturday, halved consumer Saturday, normal B2B Saturday (low),
    # B2B Saturday at its weekday level, flat unchanged, too little history.
    assert anomaly_active(scores, 3.5, "both").tolist() == [False, True, False, True, False, False]
    assert anomaly_active(scores, 3.5, "up").tolist() == [False, False, False, True, False, False]
    assert anomaly_active(scores, 3.5, "down").tolist() == [
        False,
        True,
        False,
        False,
        False,
        False,
    ]


def test_one_baseline_serves_several_rules() -> None:
    consumer = series(weekend_high)
    baseline = anomaly_baseline(np.array([consumer]), seasonality="weekly")
    usual = saturdays(consumer)
    median = statistics.median(usual)
    assert baseline.median[0] == pytest.approx(median)
    assert baseline.mad[0] == pytest.approx(statistics.median(abs(x - median) for x in usual))
    low = score_anomalies(np.array([100.0]), baseline, min_points=4)
    assert low.z[0] == pytest.approx(robust_z(100.0, usual))
    assert math.isnan(score_anomalies(np.array([100.0]), baseline, min_points=9).z[0])


def test_anomaly_shape_and_option_errors() -> None:
    with pytest.raises(ValueError, match="one current value per account"):
        anomaly_scores(np.array([1.0, 2.0]), np.ones((3, 28)))
    with pytest.raises(ValueError, match="n_accounts, n_days"):
        anomaly_scores(np.array([1.0]), np.ones(28))
    with pytest.raises(ValueError, match="seasonality"):
        anomaly_scores(np.array([1.0]), np.ones((1, 28)), seasonality="daily")  # type: ignore[arg-type]
    scores = one(1.0, [1.0] * 28)
    with pytest.raises(ValueError, match="direction"):
        anomaly_active(scores, 3.5, "sideways")  # type: ignore[arg-type]


# --- data quality ------------------------------------------------------------------------------


def checks_of(events: list[DataQualityEvent]) -> list[tuple[str, str]]:
    return [(event.check, event.series) for event in events]


def test_stopped_fires_for_a_missing_or_nan_series() -> None:
    previous = {"reach|1d": 340.0, "followers": 1200.0, "likes|1d": 12.0}
    current = {"followers": 1201.0, "likes|1d": NAN, "saves|1d": 3.0}
    events = data_quality_events(previous, current, cumulative=(), checks=["stopped"], jump=10)
    assert checks_of(events) == [("stopped", "likes|1d"), ("stopped", "reach|1d")]
    reach = events[1]
    assert (reach.previous, reach.current) == (340.0, None)
    assert reach.detail == "reach|1d stopped arriving (last value 340)"


def test_stopped_is_quiet_when_every_series_arrives() -> None:
    previous = {"reach|1d": 340.0}
    current = {"reach|1d": 0.0, "new_metric": 5.0}  # a new series is not a finding
    assert data_quality_events(previous, current, (), ["stopped"], 10) == []


def test_backwards_fires_only_for_cumulative_series() -> None:
    previous = {"followers": 1200.0, "reach|1d": 500.0, "posts": 40.0}
    current = {"followers": 1150.0, "reach|1d": 450.0, "posts": 40.0}
    events = data_quality_events(previous, current, {"followers", "posts"}, ["backwards"], 10)
    assert events == [
        DataQualityEvent(
            "backwards", "followers", 1200.0, 1150.0, "followers fell from 1200 to 1150 (-50)"
        )
    ]


def test_backwards_is_quiet_when_counters_rise() -> None:
    previous = {"followers": 1200.0}
    current = {"followers": 1201.0}
    assert data_quality_events(previous, current, {"followers"}, ["backwards"], 10) == []


def test_jump_fires_beyond_the_factor_either_way() -> None:
    previous = {"followers": 1200.0, "reach|1d": 100.0, "likes|1d": 100.0}
    current = {"followers": 12.0, "reach|1d": 1500.0, "likes|1d": 900.0}
    events = data_quality_events(previous, current, (), ["jump"], jump=10)
    assert checks_of(events) == [("jump", "followers"), ("jump", "reach|1d")]
    assert events[0].detail == "followers went from 1200 to 12 (÷100)"
    assert events[1].detail == "reach|1d went from 100 to 1500 (\u00d715)"


def test_jump_from_or_to_zero_needs_the_other_side_to_be_large() -> None:
    previous = {"a": 0.0, "b": 0.0, "c": 50.0, "d": 5.0}
    current = {"a": 10.0, "b": 9.0, "c": 0.0, "d": 0.0}
    events = data_quality_events(previous, current, (), ["jump"], jump=10)
    assert checks_of(events) == [("jump", "a"), ("jump", "c")]
    assert events[1].detail == "c went from 50 to 0"
    lenient = data_quality_events(previous, current, (), ["jump"], jump=10, jump_zero_min=100)
    assert lenient == []


def test_all_checks_together_and_check_selection() -> None:
    previous = {"followers": 1200.0, "reach|1d": 340.0}
    current = {"followers": 12.0}
    everything = data_quality_events(
        previous, current, {"followers"}, ["stopped", "backwards", "jump"], 10
    )
    assert checks_of(everything) == [
        ("backwards", "followers"),
        ("jump", "followers"),
        ("stopped", "reach|1d"),
    ]
    assert checks_of(data_quality_events(previous, current, {"followers"}, ["jump"], 10)) == [
        ("jump", "followers")
    ]


def test_data_quality_bad_options() -> None:
    with pytest.raises(ValueError, match="unknown data quality check 'gone'"):
        data_quality_events({}, {}, (), ["gone"], 10)
    with pytest.raises(ValueError, match="above 1"):
        data_quality_events({}, {}, (), ["jump"], 1)
