"""`kpiwatch rules export`: Prometheus rules and their promtool tests, checked by real promtool."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from kpiwatch.alerting.promexport import (
    RULES_FILE,
    TESTS_FILE,
    TemplateNames,
    Unconvertible,
    convert_template,
    export_rules,
    go_humanize,
    go_humanize_percentage,
    go_value,
    regex_escape,
    scope_matchers,
    selector,
    write_export,
)
from kpiwatch.config_loader import load_config_text
from kpiwatch.kpi.compiled import build_catalogue
from kpiwatch.plugins import load_plugins

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool not installed (Debian package prometheus)"
)

CONFIG = """
accounts:
  - {id: acme-photo, platform: demo_photo, labels: {brand: acme, region: eu}}
  - {id: acme-video, platform: demo_video, labels: {brand: acme, region: eu}}
  - {id: globex-photo, platform: demo_photo, labels: {brand: globex, region: us}}
  - {id: rival-photo, platform: demo_photo, labels: {brand: rival}, competitor: true}
kpis:
  windows: [1d, 7d]
rules:
  - name: EngagementLow
    kpi: engagement_rate
    window: 7d
    condition: {below: 0.02}
    scope: {brand: [acme, globex, acme.eu]}
    by: [brand]
    for: 30m
    labels: {team: social}
    annotations:
      summary: "Engagement of {{ labels.brand }} is {{ value | percent }}"
      description: "{{ kpi }} over {{ window }} below {{ threshold | percent }}: {{ value }}"
  - name: ReachHigh
    kpi: reach
    condition: {above: 50000}
    scope: {platform: [demo_photo, demo_video]}
    by: [brand]
    severity: info
    annotations:
      summary: "{{ labels.brand }} reached {{ value | number }}"
  - name: FollowersDrop
    kpi: followers
    over: 7d
    condition: {change_below: -0.05, min_baseline: 100}
    keep_firing_for: 15m
    annotations:
      summary: "{{ account }} on {{ platform }}: followers {{ change | signed_percent }}"
      detail: "previously {{ previous }}"
  - name: ImpressionsRise
    kpi: impressions
    condition: {change_above: 0.5}
    by: [region]
    for: 5m
  - name: EngagementOdd
    kpi: engagement_rate
    condition: {anomaly: {z: 3}}
  - name: ReachMissing
    metric: reach
    condition: {no_data: 2h}
    for: 10m
    keep_firing_for: 3m
  - name: CtrOutsideBand
    kpi: click_through_rate
    condition: {above: 0.2, below: 0.01}
    include_competitors: true
    keep_firing_for: 5m
  - name: CtrByBrand
    kpi: click_through_rate
    by: [brand]
    condition: {below: 0.05}
  - name: VoiceLow
    kpi: share_of_voice
    by: [brand]
    condition: {below: 0.1}
  - name: EngagementRateFell
    kpi: engagement_rate
    by: [brand]
    condition: {change_below: -0.2}
"""


@pytest.fixture(scope="module")
def exported():
    loaded = load_config_text(CONFIG, "rules-export.yaml", load_plugins(environ={}).platforms)
    config = loaded.config
    return export_rules(config, build_catalogue(config.kpis), "rules-export.yaml")


@pytest.fixture()
def written(exported, tmp_path: Path) -> Path:
    write_export(exported, tmp_path)
    return tmp_path


def _promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run(
        [PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


def _alert(exported, name: str) -> dict:
    groups = yaml.safe_load(exported.rules_yaml)["groups"]
    return next(r for g in groups for r in g["rules"] if r.get("alert") == name)


def _record(exported, name: str) -> dict:
    groups = yaml.safe_load(exported.rules_yaml)["groups"]
    return next(r for g in groups for r in g["rules"] if r.get("record") == name)


# promtool ---------------------------------------------------------------------------------------
def test_write_export_writes_both_files_and_the_tests_name_the_rules(written: Path) -> None:
    assert sorted(p.name for p in written.iterdir()) == sorted([RULES_FILE, TESTS_FILE])
    tests = yaml.safe_load((written / TESTS_FILE).read_text())
    assert tests["rule_files"] == [RULES_FILE]


@needs_promtool
def test_rules_pass_promtool_check_with_every_lint(written: Path) -> None:
    result = _promtool("check", "rules", "--lint=all", "--lint-fatal", RULES_FILE, cwd=written)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@needs_promtool
def test_generated_tests_pass_promtool_test_rules(written: Path) -> None:
    result = _promtool("test", "rules", TESTS_FILE, cwd=written)
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
@pytest.mark.parametrize(
    "break_it",
    [
        "annotation",  # an expected annotation that Prometheus does not render
        "record value",  # a recorded ratio that is not the ratio of the sums
        "baseline guard",  # the rule without its min_baseline guard
        "competitors",  # the rule counting competitor accounts
    ],
)
def test_promtool_fails_when_an_expectation_or_a_rule_is_broken(
    written: Path, break_it: str
) -> None:
    tests_path, rules_path = written / TESTS_FILE, written / RULES_FILE
    tests = yaml.safe_load(tests_path.read_text())
    rules = yaml.safe_load(rules_path.read_text())
    alerts = {r["alert"]: r for g in rules["groups"] for r in g["rules"] if "alert" in r}
    if break_it == "annotation":
        entry = next(
            t for test in tests["tests"] for t in test.get("alert_rule_test", []) if t["exp_alerts"]
        )
        entry["exp_alerts"][0]["exp_annotations"] = {"summary": "something else"}
    elif break_it == "record value":
        check = tests["tests"][0]["promql_expr_test"][0]
        check["exp_samples"][0]["value"] += 0.01
    elif break_it == "baseline guard":
        rule = alerts["FollowersDrop"]
        rule["expr"] = rule["expr"].split(" and ")[0]
    else:
        rule = alerts["ReachHigh"]
        rule["expr"] = rule["expr"].replace('competitor!="true",', "")
    tests_path.write_text(yaml.safe_dump(tests))
    rules_path.write_text(yaml.safe_dump(rules))
    assert _promtool("check", "rules", RULES_FILE, cwd=written).returncode == 0
    result = _promtool("test", "rules", TESTS_FILE, cwd=written)
    assert result.returncode != 0, f"promtool accepted the broken {break_it}"
    assert "FAILED" in result.stdout + result.stderr


@needs_promtool
def test_hand_written_test_of_the_brand_record_and_alert(written: Path) -> None:
    """Independent of the generated tests: the documented 500 / 4,000 = 12.5 % example."""
    ctr = "kpiwatch_kpi_click_through_rate"

    def series(kind: str, account: str, brand: str, value: float, competitor: bool = False):
        rival = ',competitor="true"' if competitor else ""
        return {
            "series": f'{ctr}_{kind}{{account="{account}",brand="{brand}",platform="demo_photo",'
            f'window="1d"{rival}}}',
            "values": f"{value}x30",
        }

    test = {
        "rule_files": [RULES_FILE],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    series("numerator", "a", "acme", 50),
                    series("denominator", "a", "acme", 1000),
                    series("numerator", "b", "acme", 450),
                    series("denominator", "b", "acme", 3000),
                    series("numerator", "rival", "acme", 0, competitor=True),
                    series("denominator", "rival", "acme", 100000, competitor=True),
                    series("numerator", "g", "globex", 10),
                    series("denominator", "g", "globex", 1000),
                ],
                "promql_expr_test": [
                    {
                        "expr": f"brand:{ctr}_ratio:ratio",
                        "eval_time": "10m",
                        "exp_samples": [
                            {
                                "labels": f'brand:{ctr}_ratio:ratio{{brand="acme",window="1d"}}',
                                "value": 0.125,
                            },
                            {
                                "labels": f'brand:{ctr}_ratio:ratio{{brand="globex",window="1d"}}',
                                "value": 0.01,
                            },
                        ],
                    }
                ],
                "alert_rule_test": [
                    {
                        "eval_time": "10m",
                        "alertname": "CtrByBrand",
                        "exp_alerts": [
                            {
                                "exp_labels": {
                                    "brand": "globex",
                                    "kpi": "click_through_rate",
                                    "severity": "warning",
                                    "window": "1d",
                                }
                            }
                        ],
                    }
                ],
            }
        ],
    }
    (written / "hand.test.yml").write_text(yaml.safe_dump(test))
    result = _promtool("test", "rules", "hand.test.yml", cwd=written)
    assert result.returncode == 0, result.stdout + result.stderr


# the rules themselves ---------------------------------------------------------------------------
def test_threshold_rule_by_brand_reads_the_brand_record_with_escaped_scope(exported) -> None:
    rule = _alert(exported, "EngagementLow")
    assert rule["expr"] == (
        'brand:kpiwatch_kpi_engagement_rate_ratio:ratio{brand=~"acme|globex|acme\\\\.eu",'
        'window="7d"} < 0.02'
    )
    assert rule["for"] == "30m"
    assert rule["labels"] == {
        "kpi": "engagement_rate",
        "severity": "warning",
        "team": "social",
        "window": "7d",
    }
    assert rule["annotations"] == {
        "summary": "Engagement of {{ $labels.brand }} is {{ $value | humanizePercentage }}",
        "description": "engagement_rate over 7d below 2%: {{ $value }}",
    }
    record = _record(exported, "brand:kpiwatch_kpi_engagement_rate_ratio:ratio")
    assert record["expr"] == (
        'sum by (basis, brand, window) (kpiwatch_kpi_engagement_rate_numerator{competitor!="true"})'
        " / (sum by (basis, brand, window) "
        '(kpiwatch_kpi_engagement_rate_denominator{competitor!="true"}) != 0)'
    )


def test_threshold_rule_scoped_outside_its_grouping_aggregates_the_scoped_accounts(
    exported,
) -> None:
    rule = _alert(exported, "ReachHigh")
    assert rule["expr"] == (
        '(sum by (brand, window) (kpiwatch_kpi_reach{competitor!="true",period="current",'
        'platform=~"demo_photo|demo_video",window="1d"})) > 50000.0'
    )
    assert rule["labels"]["severity"] == "info"
    assert rule["annotations"] == {"summary": "{{ $labels.brand }} reached {{ $value | humanize }}"}


def test_change_rule_per_account_compares_current_and_previous_with_a_baseline_guard(
    exported,
) -> None:
    rule = _alert(exported, "FollowersDrop")
    current = 'kpiwatch_kpi_followers{competitor!="true",period="current",window="7d"}'
    previous = 'kpiwatch_kpi_followers{competitor!="true",period="previous",window="7d"}'
    assert rule["expr"] == (
        f"(({current} - ignoring (period) {previous}) / ignoring (period) abs({previous}))"
        f" < -0.05 and ignoring (period) abs({previous}) > 100.0"
    )
    assert rule["keep_firing_for"] == "15m"
    assert "for" not in rule
    assert rule["annotations"]["summary"] == (
        "{{ $labels.account }} on {{ $labels.platform }}: followers "
        "{{ if ge $value 0.0 }}+{{ end }}{{ $value | humanizePercentage }}"
    )
    # {{ previous }} has no equivalent: a plain text, and the reason is reported
    assert "{{" not in rule["annotations"]["detail"]
    assert any(
        name == "FollowersDrop" and "previous" in reason for name, reason in exported.skipped
    )


def test_change_rule_by_label_sums_counts_of_both_periods(exported) -> None:
    rule = _alert(exported, "ImpressionsRise")
    matchers = 'competitor!="true",period="{}",window="1d"'
    now = f"sum by (region, window) (kpiwatch_kpi_impressions{{{matchers.format('current')}}})"
    before = f"sum by (region, window) (kpiwatch_kpi_impressions{{{matchers.format('previous')}}})"
    assert rule["expr"] == f"(({now} - {before}) / abs({before})) > 0.5 and abs({before}) > 0.0"


def test_no_data_rule_is_a_staleness_check_per_account(exported) -> None:
    rule = _alert(exported, "ReachMissing")
    assert rule["expr"] == (
        'group by (account, platform) (present_over_time(kpiwatch_reach{competitor!="true"}'
        "[4h10m])) unless group by (account, platform) "
        '(present_over_time(kpiwatch_reach{competitor!="true"}[2h]))'
    )
    assert rule["labels"] == {"metric": "reach", "severity": "warning"}


def test_band_rule_with_competitors_has_no_competitor_matcher(exported) -> None:
    rule = _alert(exported, "CtrOutsideBand")
    source = 'kpiwatch_kpi_click_through_rate_ratio{period="current",window="1d"}'
    assert rule["expr"] == f"{source} > 0.2 or {source} < 0.01"


def test_what_promql_cannot_do_is_skipped_with_a_reason(exported) -> None:
    reasons = dict(exported.skipped)
    assert "EngagementOdd" not in exported.alerts
    assert "median" in reasons["EngagementOdd"]
    assert "VoiceLow" not in exported.alerts
    assert "share_of_voice" in reasons["VoiceLow"]
    assert "EngagementRateFell" not in exported.alerts
    assert "previous" in reasons["EngagementRateFell"]
    assert set(exported.alerts) == {
        "EngagementLow",
        "ReachHigh",
        "FollowersDrop",
        "ImpressionsRise",
        "ReachMissing",
        "CtrOutsideBand",
        "CtrByBrand",
    }
    # the header lists them too, and the KPIs PromQL cannot aggregate
    header = exported.rules_yaml.split("groups:")[0]
    assert "EngagementOdd" in header and "VoiceLow" in header
    assert "roi:" in header and "share_of_voice:" in header


def test_records_cover_the_rules_groupings_and_platform_only(exported) -> None:
    assert exported.records == (
        "brand:kpiwatch_kpi_click_through_rate_ratio:ratio",
        "brand:kpiwatch_kpi_engagement_rate_ratio:ratio",
        "brand:kpiwatch_kpi_reach:sum",
        "platform:kpiwatch_kpi_click_through_rate_ratio:ratio",
        "platform:kpiwatch_kpi_engagement_rate_ratio:ratio",
        "platform:kpiwatch_kpi_followers:sum",
        "platform:kpiwatch_kpi_impressions:sum",
        "platform:kpiwatch_kpi_reach:sum",
        "region:kpiwatch_kpi_impressions:sum",
    )
    assert _record(exported, "platform:kpiwatch_kpi_reach:sum")["expr"] == (
        'sum by (platform, window) (kpiwatch_kpi_reach{competitor!="true",period="current"})'
    )


def test_export_is_deterministic_and_names_its_source(exported) -> None:
    loaded = load_config_text(CONFIG, "rules-export.yaml", load_plugins(environ={}).platforms)
    again = export_rules(loaded.config, build_catalogue(loaded.config.kpis), "rules-export.yaml")
    assert again.rules_yaml == exported.rules_yaml
    assert again.tests_yaml == exported.tests_yaml
    first_line = exported.rules_yaml.splitlines()[0]
    assert "kpiwatch" in first_line and "rules-export.yaml" in first_line


def test_no_rules_gives_empty_but_valid_files(tmp_path: Path) -> None:
    loaded = load_config_text("accounts: []\n", "empty.yaml", load_plugins(environ={}).platforms)
    result = export_rules(loaded.config, build_catalogue(loaded.config.kpis))
    assert yaml.safe_load(result.rules_yaml) == {"groups": []}
    assert yaml.safe_load(result.tests_yaml)["tests"] == []
    if PROMTOOL is not None:
        write_export(result, tmp_path)
        assert _promtool("check", "rules", RULES_FILE, cwd=tmp_path).returncode == 0


# templates and PromQL text ----------------------------------------------------------------------
THRESHOLD_NAMES = TemplateNames(
    value_name="value",
    constants={"threshold": 0.02, "kpi": "engagement_rate", "window": "7d", "rule": "Low"},
    own_labels={"alertname": "Low", "kpi": "engagement_rate", "severity": "warning"},
)


@pytest.mark.parametrize(
    ("kpiwatch", "prometheus"),
    [
        ("{{ value }}", "{{ $value }}"),
        ("{{ value | percent }}", "{{ $value | humanizePercentage }}"),
        ("{{ value | number }}", "{{ $value | humanize }}"),
        ("{{ account }} / {{ platform }}", "{{ $labels.account }} / {{ $labels.platform }}"),
        ("{{ labels.brand }} {{ labels['region'] }}", "{{ $labels.brand }} {{ $labels.region }}"),
        ("{{ kpi }} {{ window }} {{ labels.severity }}", "engagement_rate 7d warning"),
        ("under {{ threshold | percent }}", "under 2%"),
        ("{% raw %}{{ literal }}{% endraw %}", '{{ "{{" }} literal }}'),
    ],
)
def test_templates_convert_to_prometheus_syntax(kpiwatch: str, prometheus: str) -> None:
    assert convert_template(kpiwatch, THRESHOLD_NAMES).text == prometheus


@pytest.mark.parametrize(
    ("template", "why"),
    [
        ("{% if value > 1 %}high{% endif %}", "if"),
        ("{{ previous }}", "previous"),
        ("{{ change }}", "change"),
        ("{{ account | upper }}", "filters"),
        ("{{ value * 100 }}", "equivalent"),
    ],
)
def test_templates_without_an_equivalent_are_refused_with_the_reason(
    template: str, why: str
) -> None:
    with pytest.raises(Unconvertible, match=why):
        convert_template(template, THRESHOLD_NAMES)


def test_a_change_rule_template_uses_change_as_the_value() -> None:
    names = TemplateNames("change", {}, {})
    assert convert_template("{{ change | percent }}", names).text == (
        "{{ $value | humanizePercentage }}"
    )
    with pytest.raises(Unconvertible, match="relative change"):
        convert_template("{{ value }}", names)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.01, "0.01"),
        (100.0, "100"),
        (1e6, "1e+06"),
        (1234567.0, "1.234567e+06"),
        (1.5e-05, "1.5e-05"),
        (-0.25, "-0.25"),
    ],
)
def test_go_value_prints_floats_as_go_does(value: float, text: str) -> None:
    assert go_value(value) == text


def test_humanize_functions_match_prometheus() -> None:
    assert go_humanize(1234.0) == "1.234k"
    assert go_humanize(0.01) == "10m"
    assert go_humanize(-1.5) == "-1.5"
    assert go_humanize_percentage(0.0123) == "1.23%"
    assert go_humanize_percentage(-0.075) == "-7.5%"


def test_scope_values_become_equality_or_an_escaped_alternation() -> None:
    assert regex_escape("a.b|c(d)") == "a\\.b\\|c\\(d\\)"
    matchers = scope_matchers({"platform": "demo_photo", "brand": ["acme.eu", "globex"]})
    assert matchers == [("brand", "=~", "acme\\.eu|globex"), ("platform", "=", "demo_photo")]
    assert selector("m", matchers) == 'm{brand=~"acme\\\\.eu|globex",platform="demo_photo"}'
