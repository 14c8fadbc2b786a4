"""What a plugin returns is checked against the vocabulary; bad items are dropped, named."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kpiwatch import CollectResult, Post, Sample
from kpiwatch.result_check import InvalidResult, check_result

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_valid_samples_and_posts_pass_and_windows_are_canonical():
    result = CollectResult(
        samples=[
            Sample("followers", 10),
            Sample("impressions", 5.5, "24h"),
            Sample("sessions", 3, "7d", {"source": "x", "medium": "social"}),
            Sample("spend", -2.0, "1d", {"currency": "EUR"}),  # refunds may be negative money
            Sample("followers", 9, timestamp=NOW - timedelta(days=1)),
        ],
        posts=[Post("p1", NOW - timedelta(hours=3), "reel", {"likes": 4, "reach": 40})],
    )
    checked = check_result(result, NOW)
    assert checked.problems == []
    assert checked.samples[1].window == "1d"
    assert len(checked.posts) == 1


@pytest.mark.parametrize(
    ("item", "fragment"),
    [
        (Sample("nonsense", 1), "not in the vocabulary"),
        (Sample("followers", float("nan")), "not finite"),
        (Sample("followers", True), "not a number"),
        (Sample("followers", "12"), "not a number"),
        (Sample("followers", -1), "negative"),
        (Sample("impressions", 1), "needs a window"),
        (Sample("impressions", 1, "soon"), "not a duration"),
        (Sample("impressions", 1, "0s"), "longer than 0s"),
        (Sample("followers", 1, "1d"), "takes no window"),
        (Sample("sessions", 1, "1d", {"country": "DK"}), "dimension 'country' is not allowed"),
        (Sample("sessions", 1, "1d", {"source": ""}), "non-empty string"),
        (Sample("followers", 1, timestamp=datetime(2026, 1, 1)), "no time zone"),
        (Sample("followers", 1, timestamp=NOW + timedelta(hours=1)), "in the future"),
        ({"metric": "followers", "value": 1}, "not a Sample"),
    ],
)
def test_each_bad_sample_is_dropped_with_a_reason(item, fragment):
    checked = check_result([Sample("followers", 1), item], NOW)
    assert len(checked.samples) == 1
    assert len(checked.problems) == 1
    assert fragment in checked.problems[0]


@pytest.mark.parametrize(
    ("post", "fragment"),
    [
        (Post("", NOW, "image", {}), "non-empty string"),
        (Post("p", NOW, "hologram", {}), "content type 'hologram'"),
        (Post("p", NOW, "image", {"followers": 1}), "not a per-post metric"),
        (Post("p", NOW, "image", {"likes": -3}), "negative"),
        (Post("p", datetime(2026, 1, 1), "image", {}), "no time zone"),
    ],
)
def test_each_bad_post_is_dropped_with_a_reason(post, fragment):
    checked = check_result(CollectResult([Sample("followers", 1)], [post]), NOW)
    assert checked.posts == []
    assert fragment in checked.problems[0]


@pytest.mark.parametrize("raw", ["garbage", b"x", {"followers": 1}, 42, None])
def test_a_result_that_is_no_result_is_refused(raw):
    with pytest.raises(InvalidResult):
        check_result(raw, NOW)


def test_a_result_with_only_invalid_items_is_refused():
    with pytest.raises(InvalidResult, match="none of the 2 items"):
        check_result([Sample("nonsense", 1), object()], NOW)


def test_an_empty_result_is_a_valid_poll_that_found_nothing():
    assert check_result([], NOW).samples == []
    assert check_result(CollectResult(), NOW).samples == []


def test_a_generator_that_raises_is_refused():
    def broken():
        yield Sample("followers", 1)
        raise RuntimeError("half way")

    with pytest.raises(InvalidResult, match="half way"):
        check_result(broken(), NOW)
