"""Load-time checks of KPI definitions, directly and through the configuration loader."""

from __future__ import annotations

import textwrap

import pytest

import kpiwatch
from kpiwatch.config import CustomKpi, EngagementRateSettings, KpiSettings
from kpiwatch.config_loader import ConfigError, ConfigProblem, load_config_text
from kpiwatch.kpi.compiled import Catalogue, KpiDefinitionError, build_catalogue


def custom(*kpis: tuple[str, str]) -> KpiSettings:
    """KPI settings with the custom KPIs given as (name, formula)."""
    return KpiSettings(custom=[CustomKpi(name=name, expr=expr) for name, expr in kpis])


def refused(*kpis: tuple[str, str]) -> KpiDefinitionError:
    with pytest.raises(KpiDefinitionError) as info:
        build_catalogue(custom(*kpis))
    return info.value


def test_a_valid_custom_kpi_is_compiled() -> None:
    catalogue = build_catalogue(custom(("saves_per_post", "saves / published_posts")))
    assert isinstance(catalogue, Catalogue)
    kpi = catalogue.by_name["saves_per_post"]
    assert kpi.definition.custom
    assert str(kpi.numerator) == "saves"
    # published_posts is inlined: its own formula, with its fallback
    assert str(kpi.denominator) == "first(posts_published, delta(posts))"


@pytest.mark.parametrize(
    ("expr", "unknown", "suggestion"),
    [
        ("clikcs / impressions", "clikcs", "clicks"),
        ("clicks / impresions", "impresions", "impressions"),
        ("engagment_rate * 100", "engagment_rate", "engagement_rate"),  # a KPI name
    ],
)
def test_unknown_names_are_refused_with_a_suggestion(
    expr: str, unknown: str, suggestion: str
) -> None:
    error = refused(("my_kpi", expr))
    assert error.kpi == "my_kpi"
    message = str(error)
    assert f"uses {unknown!r}, which is neither a vocabulary metric nor a KPI" in message
    assert f"did you mean {suggestion!r}?" in message


def test_an_unknown_name_far_from_any_name_gets_no_suggestion() -> None:
    message = str(refused(("my_kpi", "zzqqxx / impressions")))
    assert "'zzqqxx'" in message
    assert "did you mean" not in message


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        (
            'clicks(medium="social") / impressions',
            "clicks has no dimension 'medium' (its dimensions: none)",
        ),
        (
            'sessions(channel="social")',
            "sessions has no dimension 'channel' (its dimensions: source, medium)",
        ),
        # the filter is checked inside start()/delta() too
        ('delta(followers(country="dk"))', "followers has no dimension 'country'"),
    ],
)
def test_filters_on_a_dimension_the_metric_lacks_are_refused(expr: str, expected: str) -> None:
    error = refused(("filtered", expr))
    assert error.kpi == "filtered"
    assert expected in str(error)


@pytest.mark.parametrize(
    ("expr", "reference", "metric"),
    [
        ("clicks / start(impressions)", "start(impressions)", "impressions"),
        ("delta(reach)", "delta(reach)", "reach"),
        ('start(sessions(medium="social"))', "start(sessions)", "sessions"),
    ],
)
def test_start_and_delta_of_window_totals_are_refused(
    expr: str, reference: str, metric: str
) -> None:
    message = str(refused(("levels", expr)))
    assert f"{reference} is not possible: {metric} is a total over the window" in message


def test_start_and_delta_of_levels_are_accepted() -> None:
    catalogue = build_catalogue(custom(("growth", "delta(followers) / start(followers)")))
    assert catalogue.by_name["growth"].denominator is not None


def test_a_constant_division_by_zero_inside_a_term_is_refused() -> None:
    error = refused(("broken", "clicks / (impressions / 0)"))
    assert error.kpi == "broken"
    assert "divides by 0, which is always 0" in str(error)


@pytest.mark.parametrize("expr", ["clicks / 0", "clicks / (1 - 1)"])
def test_a_top_level_constant_division_by_zero_is_refused(expr: str) -> None:
    error = refused(("broken", expr))
    assert error.kpi == "broken"
    assert "which is always 0" in str(error)


def test_a_cycle_between_custom_kpis_is_refused() -> None:
    error = refused(("first_kpi", "second_kpi + clicks"), ("second_kpi", "first_kpi * 2"))
    assert error.kpi == "first_kpi"
    assert "depends on itself (first_kpi -> second_kpi -> first_kpi)" in str(error)


def test_a_custom_kpi_using_itself_is_refused() -> None:
    error = refused(("loop", "loop + clicks"))
    assert "depends on itself (loop -> loop)" in str(error)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("engagement_rate", "has the name of a built-in KPI"),
        ("interactions", "has the name of a built-in KPI"),
        ("clicks", "has the name of a vocabulary metric"),
    ],
)
def test_names_of_builtin_kpis_and_metrics_are_refused(name: str, expected: str) -> None:
    error = refused((name, "likes + shares"))
    assert error.kpi == name
    assert f"custom KPI {name!r} {expected}; choose another name" in str(error)


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ('engagement_rate(brand="x") * 100', "is a KPI; use it by name alone"),
        ("start(engagement_rate)", "is a KPI; use it by name alone"),
        ("clicks / basis", "`basis` needs a basis chain"),
        ("clicks / ", "syntax error at column"),
    ],
)
def test_other_misuses_are_refused(expr: str, expected: str) -> None:
    error = refused(("misuse", expr))
    assert error.kpi == "misuse"
    assert expected in str(error)


def test_an_unknown_basis_metric_in_the_settings_is_refused() -> None:
    settings = KpiSettings(engagement_rate=EngagementRateSettings(basis=["reech", "impressions"]))
    with pytest.raises(KpiDefinitionError) as info:
        build_catalogue(settings)
    assert info.value.kpi == "engagement_rate"
    assert "basis 'reech' is not a vocabulary metric" in str(info.value)


# --- through the configuration loader --------------------------------------------------------


async def _collect(ctx: kpiwatch.CollectContext) -> kpiwatch.CollectResult:
    return kpiwatch.CollectResult()


PLATFORMS = {"mastodon": kpiwatch.Platform(name="mastodon", collect=_collect)}


def load_problems(text: str) -> list[ConfigProblem]:
    with pytest.raises(ConfigError) as info:
        load_config_text(textwrap.dedent(text), "test.yaml", PLATFORMS, environ={})
    return info.value.problems


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("clikcs / impressions", "did you mean 'clicks'?"),
        ('clicks(medium="social") / impressions', "clicks has no dimension 'medium'"),
        ("clicks / start(impressions)", "impressions is a total over the window"),
        ("clicks / (impressions / 0)", "divides by 0, which is always 0"),
        ("clicks / 0", "divides by 0, which is always 0"),
        ("clicks / ", "syntax error at column"),
    ],
)
def test_the_loader_names_the_formula_and_its_line(expr: str, expected: str) -> None:
    (problem,) = load_problems(
        f"""\
        kpis:
          custom:
            - name: my_kpi
              unit: ratio
              expr: '{expr}'
        """
    )
    assert (problem.source, problem.line, problem.path) == ("test.yaml", 5, "kpis.custom[0].expr")
    assert expected in problem.message
    assert problem.fix is not None and "formula" in problem.fix
    assert str(problem).startswith("test.yaml:5: kpis.custom[0].expr: ")


def test_the_loader_names_the_custom_kpi_of_a_cycle() -> None:
    (problem,) = load_problems(
        """\
        kpis:
          custom:
            - name: plain
              expr: likes + shares
            - name: first_kpi
              expr: second_kpi + 1
            - name: second_kpi
              expr: first_kpi * 2
        """
    )
    assert (problem.line, problem.path) == (6, "kpis.custom[1].expr")
    assert "depends on itself" in problem.message


def test_the_loader_reports_a_bad_basis_under_kpis() -> None:
    (problem,) = load_problems(
        """\
        kpis:
          engagement_rate:
            basis: [reech]
        """
    )
    assert problem.path == "kpis"
    assert problem.line is not None
    assert "basis 'reech' is not a vocabulary metric" in problem.message


def test_the_loader_accepts_valid_custom_kpis() -> None:
    loaded = load_config_text(
        "kpis:\n  custom:\n    - name: saves_per_post\n      expr: saves / published_posts\n",
        "test.yaml",
        PLATFORMS,
        environ={},
    )
    assert [c.name for c in loaded.config.kpis.custom] == ["saves_per_post"]
