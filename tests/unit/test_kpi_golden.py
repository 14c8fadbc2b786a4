"""Hand-checked KPI values: every catalogue KPI, fallbacks, the seed's KPI table, aggregation.

Every expected number is worked out by hand in the comment next to it; none is computed with
the engine under test.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import pytest

from kpiwatch.config import (
    AcquisitionSettings,
    CustomKpi,
    EngagementRateSettings,
    InteractionsSettings,
    KaushikSettings,
    KpiSettings,
    ReferralSettings,
    RoiSettings,
)
from kpiwatch.kpi.catalogue import builtin_kpis
from kpiwatch.kpi.compiled import Catalogue, build_catalogue
from kpiwatch.kpi.engine import AccountMeta, GroupValue, InputTable, Results, aggregate, compute
from kpiwatch.kpi.expressions import Ref
from kpiwatch.kpi.report import format_change, format_value, kpi_rows

CURRENT = (0, 0)  # window 0, period 0
CATALOGUE = build_catalogue()

Inputs = Mapping[Ref, float]


def ref(name: str, mode: str = "value", **filters: str) -> Ref:
    """The reference to ``name`` with ``filters``, in ``mode`` (value, start or delta)."""
    return Ref(name, tuple(sorted(filters.items())), mode)  # type: ignore[arg-type]


def account(
    name: str,
    platform: str = "mastodon",
    brand: str = "acme",
    *,
    competitor: bool = False,
    currency: str | None = "EUR",
) -> AccountMeta:
    return AccountMeta(name, platform, {"brand": brand}, competitor=competitor, currency=currency)


def build(
    rows: Sequence[tuple[AccountMeta, Mapping[tuple[int, int], Inputs]]],
    catalogue: Catalogue = CATALOGUE,
) -> tuple[InputTable, Results]:
    """An input table with each account's inputs per (window, period), and its results."""
    table = InputTable(catalogue.refs, windows=1)
    for meta, periods in rows:
        values: dict[tuple[Ref, int, int], float] = {}
        for (w, p), inputs in periods.items():
            for r, v in inputs.items():
                known = r in catalogue.refs or r in CATALOGUE.refs
                assert known, f"{r} is read by no KPI: a typo in the test inputs"
                values[(r, w, p)] = v
        table.set_row(meta, values)
    return table, compute(table, catalogue)


def build_current(
    rows: Sequence[tuple[AccountMeta, Inputs]], catalogue: Catalogue = CATALOGUE
) -> tuple[InputTable, Results]:
    """Like :func:`build` with every account's inputs in the current window only."""
    return build([(meta, {CURRENT: inputs}) for meta, inputs in rows], catalogue)


def row_value(results: Results, kpi: str, name: str, part: str = "value") -> float:
    columns = getattr(results.kpis[kpi], part)
    return float(columns[CURRENT][results.rows[name]])


def groups(
    results: Results, table: InputTable, kpi: str, by: Sequence[str]
) -> dict[tuple[tuple[str, str], ...], GroupValue]:
    """The current aggregate of ``kpi`` by ``by``, keyed by the sorted group labels."""
    found = aggregate(results, table, kpi, by, 0, 0)
    return {tuple(sorted(g.labels.items())): g for g in found}


# --- every catalogue KPI from one account ----------------------------------------------------

OWN: dict[Ref, float] = {
    ref("followers"): 5000.0,
    ref("followers", "start"): 4000.0,
    ref("followers", "delta"): 1000.0,
    ref("followers_gained"): 600.0,
    ref("followers_lost"): 100.0,
    ref("reach"): 20000.0,
    ref("impressions"): 50000.0,
    ref("mentions"): 300.0,
    ref("likes"): 400.0,
    ref("comments"): 50.0,
    ref("shares"): 100.0,
    ref("saves"): 50.0,
    ref("posts_published"): 20.0,
    ref("clicks"): 250.0,
    ref("emails_delivered"): 10000.0,
    ref("email_opens"): 2000.0,
    ref("email_clicks"): 300.0,
    ref("sessions"): 2000.0,
    ref("sessions", medium="social"): 800.0,
    ref("conversions"): 40.0,
    ref("bounces"): 500.0,
    ref("spend"): 1000.0,
    ref("investment"): 1000.0,
    ref("revenue"): 5000.0,
    ref("customers"): 1250.0,
    ref("customers", "start"): 1000.0,
    ref("customers_new"): 300.0,
    ref("customers_lost"): 50.0,
    ref("nps_promoters"): 120.0,
    ref("nps_passives"): 50.0,
    ref("nps_detractors"): 30.0,
    ref("csat_satisfied"): 180.0,
    ref("csat_responses"): 200.0,
    ref("messages_received"): 100.0,
    ref("replies"): 90.0,
    ref("response_time_seconds"): 600.0,
}
RIVAL: dict[Ref, float] = {ref("mentions"): 900.0}

#: KPI -> (value, numerator, denominator or None) of the account "acme" with the inputs OWN.
GOLDEN: dict[str, tuple[float, float, float | None]] = {
    "followers": (5000.0, 5000.0, None),  # followers
    "net_new_followers": (500.0, 500.0, None),  # gained - lost = 600 - 100 (delta 1000 unused)
    "follower_growth_rate": (0.125, 500.0, 4000.0),  # 500 / start 4000
    "reach": (20000.0, 20000.0, None),
    "impressions": (50000.0, 50000.0, None),
    "brand_mentions": (300.0, 300.0, None),
    "share_of_voice": (0.25, 300.0, 1200.0),  # 300 / (300 own + 900 rival on mastodon)
    "social_shares": (100.0, 100.0, None),
    "interactions": (600.0, 600.0, None),  # likes 400 + comments 50 + shares 100 + saves 50
    "engagement_rate": (0.03, 600.0, 20000.0),  # 600 / reach 20000
    "published_posts": (20.0, 20.0, None),  # posts_published
    "engagement_per_post": (30.0, 600.0, 20.0),  # 600 / 20
    "click_through_rate": (0.005, 250.0, 50000.0),  # 250 / 50000
    "amplification_rate": (5.0, 100.0, 20.0),  # shares 100 / 20 posts
    "applause_rate": (20.0, 400.0, 20.0),  # likes 400 / 20 posts
    "conversation_rate": (2.5, 50.0, 20.0),  # comments 50 / 20 posts
    "virality_rate": (0.002, 100.0, 50000.0),  # shares 100 / impressions 50000
    "email_open_rate": (0.2, 2000.0, 10000.0),  # 2000 / 10000
    "email_click_rate": (0.03, 300.0, 10000.0),  # 300 / 10000
    "referral_traffic": (800.0, 800.0, None),  # sessions(medium="social")
    "conversion_rate": (0.02, 40.0, 2000.0),  # 40 / sessions 2000
    "bounce_rate": (0.25, 500.0, 2000.0),  # 500 / 2000
    "ad_spend": (1000.0, 1000.0, None),
    "revenue": (5000.0, 5000.0, None),
    "cost_per_click": (4.0, 1000.0, 250.0),  # 1000 / 250
    "cost_per_mille": (20.0, 1_000_000.0, 50000.0),  # 1000 * 1000 / 50000
    "cost_per_acquisition": (25.0, 1000.0, 40.0),  # 1000 / 40 conversions
    "return_on_ad_spend": (5.0, 5000.0, 1000.0),  # 5000 / 1000
    "roi": (1.5, 3000.0, 2000.0),  # (5000 - (1000 + 1000)) / (1000 + 1000)
    # revenue * start(customers) / (customers * lost) = 5000 * 1000 / (1250 * 50) = 5e6 / 62500
    "customer_lifetime_value": (80.0, 5_000_000.0, 62500.0),
    "net_promoter_score": (0.45, 90.0, 200.0),  # (120 - 30) / (120 + 50 + 30)
    "customer_satisfaction": (0.9, 180.0, 200.0),  # 180 / 200
    "response_rate": (0.9, 90.0, 100.0),  # 90 / 100
    "response_time": (600.0, 54000.0, 90.0),  # 600 * 90 / 90
    "customer_retention_rate": (0.95, 950.0, 1000.0),  # (1250 - 300) / 1000
}


@pytest.fixture(scope="module")
def golden() -> tuple[InputTable, Results]:
    return build_current(
        [(account("acme"), OWN), (account("rival", brand="rival", competitor=True), RIVAL)]
    )


def test_every_builtin_kpi_has_a_golden_case() -> None:
    assert sorted(GOLDEN) == sorted(d.name for d in builtin_kpis())


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden_value_of_one_account(name: str, golden: tuple[InputTable, Results]) -> None:
    _, results = golden
    value, numerator, denominator = GOLDEN[name]
    assert row_value(results, name, "acme") == pytest.approx(value)
    assert row_value(results, name, "acme", "numerator") == pytest.approx(numerator)
    if denominator is None:
        assert CURRENT not in results.kpis[name].denominator
    else:
        assert row_value(results, name, "acme", "denominator") == pytest.approx(denominator)


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden_value_aggregated_by_account(name: str, golden: tuple[InputTable, Results]) -> None:
    table, results = golden
    value, numerator, denominator = GOLDEN[name]
    (group,) = [
        g
        for g in aggregate(results, table, name, ["account"], 0, 0)
        if g.labels["account"] == "acme"
    ]
    assert group.value == pytest.approx(value)
    assert group.numerator == pytest.approx(numerator)
    assert group.denominator == (None if denominator is None else pytest.approx(denominator))
    assert group.accounts == 1


def test_share_of_voice_of_the_competitor(golden: tuple[InputTable, Results]) -> None:
    _, results = golden
    assert row_value(results, "share_of_voice", "rival") == pytest.approx(0.75)  # 900 / 1200
    assert math.isnan(row_value(results, "engagement_rate", "rival"))  # it reports nothing else


@pytest.mark.parametrize(
    ("kpi", "inputs", "expected"),
    [
        # the platform's own total wins over the components
        ("interactions", {ref("engagements"): 700.0, ref("likes"): 400.0}, 700.0),
        # present components are summed: likes 400 + comments 50 (shares, saves absent)
        ("interactions", {ref("likes"): 400.0, ref("comments"): 50.0}, 450.0),
        # no gains/losses reported: the change of the follower count
        ("net_new_followers", {ref("followers", "delta"): 1000.0}, 1000.0),
        # 1000 / 4000
        (
            "follower_growth_rate",
            {ref("followers", "delta"): 1000.0, ref("followers", "start"): 4000.0},
            0.25,
        ),
        # posts_published absent: the change of the cumulative posts count
        ("published_posts", {ref("posts", "delta"): 12.0}, 12.0),
        # impressions absent: shares 100 / reach 20000
        ("virality_rate", {ref("shares"): 100.0, ref("reach"): 20000.0}, 0.005),
        # sessions absent: conversions 40 / clicks 250
        ("conversion_rate", {ref("conversions"): 40.0, ref("clicks"): 250.0}, 0.16),
    ],
)
def test_fallbacks(kpi: str, inputs: Inputs, expected: float) -> None:
    _, results = build_current([(account("a"), inputs)])
    assert row_value(results, kpi, "a") == pytest.approx(expected)


@pytest.mark.parametrize(
    ("settings", "extra", "kpi", "expected"),
    [
        # per post and follower: shares 100 / (20 posts * 5000 followers)
        (
            KpiSettings(conversation_rates=KaushikSettings(per="follower")),
            {},
            "amplification_rate",
            0.001,
        ),
        # (5000 * 0.5 - 2000) / 2000
        (KpiSettings(roi=RoiSettings(margin=0.5)), {}, "roi", 0.25),
        # spend only: (5000 - 1000) / 1000
        (KpiSettings(roi=RoiSettings(costs=["spend"])), {}, "roi", 4.0),
        # 1000 / 300 new customers
        (
            KpiSettings(cost_per_acquisition=AcquisitionSettings(per="customers_new")),
            {},
            "cost_per_acquisition",
            1000 / 300,
        ),
        # social 800 + email 200
        (
            KpiSettings(referral_traffic=ReferralSettings(mediums=["social", "email"])),
            {ref("sessions", medium="email"): 200.0},
            "referral_traffic",
            1000.0,
        ),
        # 600 / followers 5000
        (
            KpiSettings(engagement_rate=EngagementRateSettings(basis=["followers"])),
            {},
            "engagement_rate",
            0.12,
        ),
        # likes 400 + comments 50
        (
            KpiSettings(interactions=InteractionsSettings(components=["likes", "comments"])),
            {},
            "interactions",
            450.0,
        ),
    ],
)
def test_settings_change_definitions(
    settings: KpiSettings, extra: Inputs, kpi: str, expected: float
) -> None:
    _, results = build_current([(account("acme"), {**OWN, **extra})], build_catalogue(settings))
    assert row_value(results, kpi, "acme") == pytest.approx(expected)


# --- engagement-rate basis fallback ----------------------------------------------------------


def test_engagement_rate_basis_falls_back_reach_impressions_followers() -> None:
    engagements = {ref("engagements"): 30.0}
    table, results = build_current(
        [
            (
                account("by_reach"),
                {
                    **engagements,
                    ref("reach"): 1000.0,
                    ref("impressions"): 3000.0,
                    ref("followers"): 10000.0,
                },
            ),
            (
                account("reach_absent"),
                {**engagements, ref("impressions"): 3000.0, ref("followers"): 10000.0},
            ),
            (
                account("reach_zero"),
                {
                    **engagements,
                    ref("reach"): 0.0,
                    ref("impressions"): 3000.0,
                    ref("followers"): 10000.0,
                },
            ),
            (account("by_followers"), {**engagements, ref("followers"): 10000.0}),
            (account("no_basis"), engagements),
        ]
    )
    er = results.kpis["engagement_rate"]
    expected = {  # account -> (basis index, value)
        "by_reach": (0, 0.03),  # 30 / reach 1000
        "reach_absent": (1, 0.01),  # 30 / impressions 3000
        "reach_zero": (1, 0.01),  # reach 0 is skipped: 30 / impressions 3000
        "by_followers": (2, 0.003),  # 30 / followers 10000
    }
    for name, (basis, value) in expected.items():
        row = results.rows[name]
        assert er.basis[CURRENT][row] == basis, name
        assert er.value[CURRENT][row] == pytest.approx(value), name
    row = results.rows["no_basis"]
    assert er.basis[CURRENT][row] == -1
    assert math.isnan(er.value[CURRENT][row])
    assert math.isnan(er.numerator[CURRENT][row])
    assert math.isnan(er.denominator[CURRENT][row])

    by_account = groups(results, table, "engagement_rate", ["account"])
    assert {dict(k)["account"]: dict(k)["basis"] for k in by_account} == {
        "by_reach": "reach",
        "reach_absent": "impressions",
        "reach_zero": "impressions",
        "by_followers": "followers",
    }
    # Over all accounts: one group per basis; impressions: (30 + 30) / (3000 + 3000).
    overall = groups(results, table, "engagement_rate", [])
    assert {k: (g.value, g.accounts) for k, g in overall.items()} == {
        (("basis", "reach"),): (pytest.approx(0.03), 1),
        (("basis", "impressions"),): (pytest.approx(0.01), 2),
        (("basis", "followers"),): (pytest.approx(0.003), 1),
    }


# --- the seed's KPI table, 2022 (previous) against 2024 (current) -----------------------------

PREVIOUS = (0, 1)
SEED_2022: dict[Ref, float] = {
    ref("engagements"): 300.0,
    ref("reach"): 10000.0,
    ref("followers_gained"): 1600.0,
    ref("followers_lost"): 100.0,
    ref("followers", "start"): 10000.0,
    ref("conversions"): 40.0,
    ref("sessions"): 2000.0,
    ref("sessions", medium="social"): 1000.0,
    ref("clicks"): 150.0,
    ref("impressions"): 10000.0,
    ref("mentions"): 300.0,
    ref("shares"): 200.0,
    ref("csat_satisfied"): 160.0,
    ref("csat_responses"): 200.0,
    ref("spend"): 500.0,
    ref("customers"): 1100.0,
    ref("customers_new"): 500.0,
    ref("customers", "start"): 1000.0,
}
SEED_2024: dict[Ref, float] = {
    ref("engagements"): 450.0,
    ref("reach"): 10000.0,
    ref("followers_gained"): 3200.0,
    ref("followers_lost"): 200.0,
    ref("followers", "start"): 12000.0,
    ref("conversions"): 75.0,
    ref("sessions"): 2500.0,
    ref("sessions", medium="social"): 1500.0,
    ref("clicks"): 300.0,
    ref("impressions"): 12000.0,
    ref("mentions"): 450.0,
    ref("shares"): 350.0,
    ref("csat_satisfied"): 225.0,
    ref("csat_responses"): 250.0,
    ref("spend"): 700.0,
    ref("customers"): 1200.0,
    ref("customers_new"): 485.0,
    ref("customers", "start"): 1100.0,
}
#: KPI -> (extra labels, 2024 value, 2022 value, change, change ratio)
SEED_TABLE: dict[str, tuple[dict[str, str], float, float, float, float]] = {
    # 450 / 10000 = 4.5 %; 300 / 10000 = 3.0 %; +1.5 pp; 0.015 / 0.03 = +50 %
    "engagement_rate": ({"basis": "reach"}, 0.045, 0.03, 0.015, 0.5),
    # (3200 - 200) / 12000 = 25 %; (1600 - 100) / 10000 = 15 %; +10 pp; 0.10 / 0.15
    "follower_growth_rate": ({}, 0.25, 0.15, 0.10, 2 / 3),
    # 75 / 2500 = 3 %; 40 / 2000 = 2 %; +1 pp; 0.01 / 0.02
    "conversion_rate": ({"basis": "sessions"}, 0.03, 0.02, 0.01, 0.5),
    # 300 / 12000 = 2.5 %; 150 / 10000 = 1.5 %; +1 pp; 0.01 / 0.015
    "click_through_rate": ({}, 0.025, 0.015, 0.01, 2 / 3),
    "brand_mentions": ({}, 450.0, 300.0, 150.0, 0.5),  # +150; 150 / 300
    "referral_traffic": ({}, 1500.0, 1000.0, 500.0, 0.5),  # +500; 500 / 1000
    "social_shares": ({}, 350.0, 200.0, 150.0, 0.75),  # +150; 150 / 200
    # 225 / 250 = 90 %; 160 / 200 = 80 %; +10 pp; 0.1 / 0.8
    "customer_satisfaction": ({}, 0.9, 0.8, 0.1, 0.125),
    "ad_spend": ({"currency": "EUR"}, 700.0, 500.0, 200.0, 0.4),  # +200 EUR; 200 / 500
    # (1200 - 485) / 1100 = 715 / 1100 = 65 %; (1100 - 500) / 1000 = 60 %; +5 pp; 0.05 / 0.6
    "customer_retention_rate": ({}, 0.65, 0.6, 0.05, 0.05 / 0.6),
}


def test_seed_kpi_table_2022_to_2024() -> None:
    meta = AccountMeta("shop", "instagram", {"brand": "shop"}, currency="EUR")
    table, results = build([(meta, {CURRENT: SEED_2024, PREVIOUS: SEED_2022})])
    rows = kpi_rows(results, table, 0, ["account"])
    by_kpi: dict[str, dict] = {}
    for row in rows:
        assert row["kpi"] not in by_kpi, f"two rows for {row['kpi']}"
        by_kpi[row["kpi"]] = row
    for kpi, (labels, value, previous, change, ratio) in SEED_TABLE.items():
        row = by_kpi[kpi]
        assert row["labels"] == {"account": "shop", **labels}, kpi
        assert row["value"] == pytest.approx(value), kpi
        assert row["previous"] == pytest.approx(previous), kpi
        assert row["change"] == pytest.approx(change), kpi
        assert row["change_ratio"] == pytest.approx(ratio), kpi
    # As the seed writes them: percentage points for ratios, amounts otherwise.
    assert format_value(by_kpi["engagement_rate"]["value"], "ratio") == "4.50%"
    assert format_change(by_kpi["engagement_rate"]) == "+1.50 pp (+50.0%)"
    assert format_change(by_kpi["follower_growth_rate"]) == "+10.00 pp (+66.7%)"
    assert format_change(by_kpi["ad_spend"]) == "+200.00 (+40.0%)"
    assert format_change(by_kpi["brand_mentions"]) == "+150 (+50.0%)"


# --- aggregation over several accounts -------------------------------------------------------


@pytest.fixture(scope="module")
def brands() -> tuple[InputTable, Results]:
    def inputs(engagements: float, reach: float) -> Inputs:
        return {ref("engagements"): engagements, ref("reach"): reach}

    return build_current(
        [
            (account("a", "mastodon", "acme"), inputs(50.0, 1000.0)),  # 5 %
            (account("b", "bluesky", "acme"), inputs(450.0, 3000.0)),  # 15 %
            (account("c", "mastodon", "other"), inputs(20.0, 400.0)),  # 5 %
            # a competitor labelled with the same brand
            (account("r", "mastodon", "acme", competitor=True), inputs(900.0, 1000.0)),
        ]
    )


def test_brand_ratio_is_the_ratio_of_sums(brands: tuple[InputTable, Results]) -> None:
    table, results = brands
    by_brand = groups(results, table, "engagement_rate", ["brand"])
    acme = by_brand[(("basis", "reach"), ("brand", "acme"))]
    # (50 + 450) / (1000 + 3000) = 500 / 4000 = 12.5 %, not the mean of 5 % and 15 % (10 %)
    assert (acme.value, acme.numerator, acme.denominator) == pytest.approx((0.125, 500.0, 4000.0))
    assert acme.accounts == 2  # the competitor r is not part of the brand
    other = by_brand[(("basis", "reach"), ("brand", "other"))]
    assert (other.value, other.accounts) == (pytest.approx(0.05), 1)  # 20 / 400
    assert len(by_brand) == 2


def test_aggregation_by_platform_and_over_all(brands: tuple[InputTable, Results]) -> None:
    table, results = brands
    by_platform = groups(results, table, "engagement_rate", ["platform"])
    assert {dict(k)["platform"]: (g.value, g.accounts) for k, g in by_platform.items()} == {
        "bluesky": (pytest.approx(0.15), 1),  # 450 / 3000
        "mastodon": (pytest.approx(0.05), 2),  # (50 + 20) / (1000 + 400); r excluded
    }
    (everything,) = aggregate(results, table, "engagement_rate", [], 0, 0)
    assert everything.labels == {"basis": "reach"}
    # (50 + 450 + 20) / (1000 + 3000 + 400) = 520 / 4400
    assert everything.value == pytest.approx(520 / 4400)
    assert everything.accounts == 3


def test_competitors_form_groups_by_account(brands: tuple[InputTable, Results]) -> None:
    table, results = brands
    by_account = groups(results, table, "engagement_rate", ["account"])
    assert by_account[(("account", "r"), ("basis", "reach"))].value == pytest.approx(0.9)


# --- absent inputs ---------------------------------------------------------------------------


def test_missing_inputs_and_zero_denominators_are_absent() -> None:
    table, results = build_current(
        [
            (account("no_impressions"), {ref("clicks"): 10.0}),
            (account("zero_impressions"), {ref("clicks"): 10.0, ref("impressions"): 0.0}),
            (account("only_total_sessions"), {ref("sessions"): 100.0}),
            (account("nothing"), {}),
        ]
    )
    for name in ("no_impressions", "zero_impressions", "nothing"):
        for part in ("value", "numerator", "denominator"):
            assert math.isnan(row_value(results, "click_through_rate", name, part)), (name, part)
    for name in results.rows:
        assert math.isnan(row_value(results, "reach", name)), name  # absent, never 0
    # sessions of no medium are not social sessions
    assert math.isnan(row_value(results, "referral_traffic", "only_total_sessions"))
    for kpi in ("click_through_rate", "reach", "referral_traffic"):
        assert aggregate(results, table, kpi, ["account"], 0, 0) == [], kpi
        assert aggregate(results, table, kpi, [], 0, 0) == [], kpi


def test_group_denominators_summing_to_zero_are_absent() -> None:
    catalogue = build_catalogue(
        KpiSettings(
            custom=[CustomKpi(name="shares_per_new_follower", expr="shares / delta(followers)")]
        )
    )
    table, results = build_current(
        [
            (account("up"), {ref("shares"): 5.0, ref("followers", "delta"): 10.0}),
            (account("down"), {ref("shares"): 5.0, ref("followers", "delta"): -10.0}),
        ],
        catalogue,
    )
    assert row_value(results, "shares_per_new_follower", "up") == pytest.approx(0.5)  # 5 / 10
    assert row_value(results, "shares_per_new_follower", "down") == pytest.approx(-0.5)
    # (5 + 5) / (10 - 10): no value for the brand
    assert aggregate(results, table, "shares_per_new_follower", ["brand"], 0, 0) == []


def test_money_kpis_are_grouped_per_currency() -> None:
    table, results = build_current(
        [
            (account("eu", currency="EUR"), {ref("spend"): 500.0}),
            (account("us", currency="USD"), {ref("spend"): 700.0}),
            (account("eu2", currency="EUR"), {ref("spend"): 250.0}),
        ]
    )
    found = groups(results, table, "ad_spend", ["brand"])
    assert {k: (g.value, g.accounts) for k, g in found.items()} == {
        (("brand", "acme"), ("currency", "EUR")): (750.0, 2),  # 500 + 250
        (("brand", "acme"), ("currency", "USD")): (700.0, 1),
    }


def test_roi_paired_by_group_takes_inputs_from_different_accounts() -> None:
    table, results = build_current(
        [
            (account("web", "analytics"), {ref("revenue"): 3000.0}),
            (account("sheet", "spreadsheet"), {ref("spend"): 400.0, ref("investment"): 600.0}),
        ]
    )
    for name in ("web", "sheet"):
        assert math.isnan(row_value(results, "roi", name)), name
    assert aggregate(results, table, "roi", ["account"], 0, 0) == []
    (brand,) = aggregate(results, table, "roi", ["brand"], 0, 0)
    assert brand.labels == {"brand": "acme", "currency": "EUR"}
    # (3000 - (400 + 600)) / (400 + 600) = 2000 / 1000
    assert (brand.value, brand.numerator, brand.denominator) == pytest.approx((2.0, 2000.0, 1000.0))
    assert brand.accounts == 2


# --- custom KPIs -----------------------------------------------------------------------------


def test_custom_kpis_divide_and_derive() -> None:
    catalogue = build_catalogue(
        KpiSettings(
            custom=[
                CustomKpi(name="saves_per_post", expr="saves / published_posts", unit="per_post"),
                CustomKpi(name="engagement_points", expr="engagement_rate * 100"),
            ]
        )
    )
    assert catalogue.by_name["saves_per_post"].derived is None
    assert catalogue.by_name["engagement_points"].derived is not None
    table, results = build_current(
        [
            (
                account("a", "mastodon"),
                {
                    ref("saves"): 10.0,
                    ref("posts_published"): 5.0,
                    ref("engagements"): 50.0,
                    ref("reach"): 1000.0,
                },
            ),
            (
                account("b", "bluesky"),
                {
                    ref("saves"): 60.0,
                    ref("posts", "delta"): 15.0,
                    ref("engagements"): 450.0,
                    ref("reach"): 3000.0,
                },
            ),
        ],
        catalogue,
    )
    assert row_value(results, "saves_per_post", "a") == pytest.approx(2.0)  # 10 / 5
    assert row_value(results, "saves_per_post", "b") == pytest.approx(4.0)  # 60 / 15 (delta)
    (per_post,) = aggregate(results, table, "saves_per_post", ["brand"], 0, 0)
    # (10 + 60) / (5 + 15) = 70 / 20 = 3.5, not the mean 3
    assert (per_post.value, per_post.numerator, per_post.denominator) == pytest.approx(
        (3.5, 70.0, 20.0)
    )
    assert row_value(results, "engagement_points", "a") == pytest.approx(5.0)  # 100 * 50 / 1000
    assert row_value(results, "engagement_points", "b") == pytest.approx(15.0)  # 100 * 450 / 3000
    (points,) = aggregate(results, table, "engagement_points", ["brand"], 0, 0)
    assert points.labels == {"brand": "acme"}
    assert points.value == pytest.approx(12.5)  # 100 * (50 + 450) / (1000 + 3000)
    assert points.accounts == 2
