"""The KPI-by-platform table: which platforms' metrics give each KPI a value (kpi/coverage.py)."""

from __future__ import annotations

from kpiwatch.kpi.compiled import build_catalogue
from kpiwatch.kpi.coverage import coverage
from kpiwatch.kpis_doc import builtin_platform_metrics

CATALOGUE = build_catalogue()


def test_a_platform_feeds_the_kpis_its_metrics_compute():
    found = coverage(CATALOGUE, {"counts": ("followers",), "social": ("followers", "likes")})
    # followers alone: the follower KPIs (delta(followers) is the fallback of net new), not
    # engagement, which needs interactions over a basis
    assert "counts" in found.alone["followers"]
    assert "counts" in found.alone["net_new_followers"]
    assert "counts" in found.alone["follower_growth_rate"]
    assert "counts" not in found.alone["engagement_rate"]
    # likes are interactions, and followers the last basis of the engagement rate
    assert "social" in found.alone["engagement_rate"]
    assert found.alone["net_promoter_score"] == ()


def test_kpis_paired_across_a_group_are_fed_by_two_platforms_together():
    # ROI pairs revenue (web analytics) with spend (ads) across the accounts of a group
    found = coverage(CATALOGUE, {"shop": ("revenue",), "ads": ("spend",)})
    assert found.alone["roi"] == ()
    assert found.together["roi"] == (("ads", "shop"),)
    assert found.fed("roi") and not found.fed("net_promoter_score")


def test_the_shipped_platforms_declare_only_vocabulary_metrics():
    from kpiwatch import vocabulary

    names = {m.name for m in vocabulary.METRICS}
    for platform, metrics in builtin_platform_metrics().items():
        assert set(metrics) <= names, platform
        assert metrics, f"{platform} declares no metrics (Platform.metrics)"


#: KPIs whose data none of the API platforms kpiwatch ships serves: e-mail figures, survey
#: answers, customer and support records come from spreadsheet or CRM exports (csv) or a
#: JSON API mapped with http_json.
MANUAL_ONLY = {
    "email_open_rate",
    "email_click_rate",
    "customer_lifetime_value",
    "net_promoter_score",
    "customer_satisfaction",
    "response_rate",
    "response_time",
    "customer_retention_rate",
}


def test_every_kpi_is_fed_and_only_manual_data_needs_csv():
    from kpiwatch.kpis_doc import MANUAL_PLATFORMS

    platforms = builtin_platform_metrics()
    found = coverage(CATALOGUE, platforms, manual=MANUAL_PLATFORMS)
    api = set(platforms) - set(MANUAL_PLATFORMS)
    names = [k.name for k in CATALOGUE.kpis]
    assert [k for k in names if not found.fed(k)] == []
    by_api = {k for k in names if set(found.alone[k]) & api or found.together[k]}
    assert set(names) - by_api == MANUAL_ONLY
    # the business KPIs of the second wave: money from ads and analytics
    assert "meta_ads" in found.alone["cost_per_click"]
    assert "ga4" in found.alone["referral_traffic"]
