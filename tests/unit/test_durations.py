"""Durations as written in the configuration: ``90s``, ``15m``, ``1h30m``, ``7d``."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kpiwatch.config import PollDefaults
from kpiwatch.durations import DURATION_HELP, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("15m", timedelta(minutes=15)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("7d", timedelta(days=7)),
        ("2w", timedelta(weeks=2)),
        ("2y", timedelta(days=730)),
        ("500ms", timedelta(milliseconds=500)),
        ("1.5h", timedelta(minutes=90)),
        ("1h 30m", timedelta(minutes=90)),
        ("  5m ", timedelta(minutes=5)),
        ("1d12h", timedelta(hours=36)),
        ("0s", timedelta(0)),
        (900, timedelta(minutes=15)),
        (0.25, timedelta(milliseconds=250)),
        (timedelta(hours=2), timedelta(hours=2)),
    ],
)
def test_parse_duration(text: str | float | timedelta, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "15", "5 minutes", "m5", "-5s", "5x", "1h-30m", "1..5h", "s", True, False, -1, "15m!"],
)
def test_invalid_durations_explain_the_syntax(text: object) -> None:
    with pytest.raises(ValueError) as info:
        parse_duration(text)  # type: ignore[arg-type]
    assert DURATION_HELP in str(info.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (timedelta(0), "0s"),
        (timedelta(seconds=90), "1m30s"),
        (timedelta(minutes=90), "1h30m"),
        (timedelta(days=7), "7d"),
        (timedelta(days=1, hours=2, minutes=3, seconds=4, milliseconds=5), "1d2h3m4s5ms"),
        (timedelta(milliseconds=250), "250ms"),
    ],
)
def test_format_duration(value: timedelta, expected: str) -> None:
    assert format_duration(value) == expected


@pytest.mark.parametrize(
    "value",
    [timedelta(seconds=1), timedelta(hours=25), timedelta(weeks=3, seconds=1), timedelta(0)],
)
def test_format_then_parse_gives_the_same_duration(value: timedelta) -> None:
    assert parse_duration(format_duration(value)) == value


def test_configuration_durations_accept_and_print_the_syntax() -> None:
    defaults = PollDefaults(interval="1h30m", timeout=45, backoff_initial="1m")
    assert defaults.interval == timedelta(minutes=90)
    assert defaults.timeout == timedelta(seconds=45)
    dumped = defaults.model_dump(mode="json")
    assert (dumped["interval"], dumped["timeout"], dumped["backoff_initial"]) == (
        "1h30m",
        "45s",
        "1m",
    )
