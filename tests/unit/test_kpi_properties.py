"""Properties of KPI computation and aggregation, checked with hypothesis."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kpiwatch.kpi.compiled import build_catalogue
from kpiwatch.kpi.engine import PERIODS, AccountMeta, InputTable, Results, aggregate, compute
from kpiwatch.kpi.expressions import Ref
from kpiwatch.kpi.report import change_ratio

CATALOGUE = build_catalogue()
REFS = sorted(CATALOGUE.refs)
CURRENT = (0, 0)
CLICKS, IMPRESSIONS, REACH = Ref("clicks"), Ref("impressions"), Ref("reach")
COUNT_KPIS = {"reach": REACH, "impressions": IMPRESSIONS, "followers": Ref("followers")}

#: No deadline (the first example compiles NumPy paths); no example database in the work tree.
QUICK = settings(deadline=None, database=None)


def floats(low: float, high: float) -> st.SearchStrategy[float]:
    """Finite floats in [low, high]; no subnormals (x / 5e-324 overflows, as no KPI input does)."""
    return st.floats(low, high, allow_nan=False, allow_infinity=False, allow_subnormal=False)


counts = floats(0, 1e6)
positive = floats(1, 1e7)
maybe_count = st.none() | counts
maybe_positive = st.none() | positive
#: Denominator inputs: absent, 0, or at least 1 (a count; tiny floats would overflow ratios).
maybe_denominator = st.none() | st.just(0.0) | positive
brands = st.sampled_from(["acme", "other"])

Inputs = Mapping[Ref, float | None]


def build(
    accounts: Sequence[tuple[str, Inputs]], order: Sequence[int] | None = None
) -> tuple[InputTable, Results]:
    """A one-window table of accounts ``a0, a1, ...`` (labelled with a brand), in ``order``."""
    table = InputTable(CATALOGUE.refs, windows=1)
    for i in order if order is not None else range(len(accounts)):
        brand, inputs = accounts[i]
        meta = AccountMeta(f"a{i}", "mastodon", {"brand": brand}, currency="EUR")
        table.set_row(meta, {(r, 0, 0): v for r, v in inputs.items() if v is not None})
    return table, compute(table, CATALOGUE)


def summary(
    results: Results, table: InputTable, kpi: str, by: Sequence[str]
) -> dict[tuple[tuple[str, str], ...], tuple[float | None, float | None, float | None]]:
    """Group labels -> (value, numerator, denominator) of the current window."""
    return {
        tuple(sorted(g.labels.items())): (g.value, g.numerator, g.denominator)
        for g in aggregate(results, table, kpi, by, 0, 0)
    }


def approx_summary(summary: Mapping) -> dict:
    return {
        key: tuple(None if v is None else pytest.approx(v, rel=1e-9) for v in values)
        for key, values in summary.items()
    }


ctr_accounts = st.lists(st.tuples(brands, maybe_count, maybe_denominator), min_size=1, max_size=6)


@settings(QUICK, max_examples=50)
@given(ctr_accounts)
def test_overall_ratio_is_the_ratio_of_sums_within_the_account_ratios(
    accounts: list[tuple[str, float | None, float | None]],
) -> None:
    table, results = build([(b, {CLICKS: c, IMPRESSIONS: i}) for b, c, i in accounts])
    both = [(c, i) for _, c, i in accounts if c is not None and i is not None and i != 0]
    found = aggregate(results, table, "click_through_rate", [], 0, 0)
    if not both:
        assert found == []
        return
    (group,) = found
    clicks = sum(c for c, _ in both)
    impressions = sum(i for _, i in both)
    assert group.numerator == pytest.approx(clicks)
    assert group.denominator == pytest.approx(impressions)
    assert group.value == pytest.approx(clicks / impressions)
    assert group.accounts == len(both)
    ratios = [c / i for c, i in both]
    slack = 1e-12 * max(ratios)
    assert min(ratios) - slack <= group.value <= max(ratios) + slack


@settings(QUICK, max_examples=40)
@given(
    st.lists(
        st.tuples(brands, maybe_count, maybe_positive, maybe_positive), min_size=1, max_size=6
    ),
    st.data(),
)
def test_aggregates_do_not_depend_on_the_order_accounts_are_added(
    accounts: list[tuple[str, float | None, float | None, float | None]], data: st.DataObject
) -> None:
    rows = [(b, {CLICKS: c, IMPRESSIONS: i, REACH: r}) for b, c, i, r in accounts]
    order = data.draw(st.permutations(range(len(rows))))
    first_table, first = build(rows)
    second_table, second = build(rows, order)
    for kpi in ("click_through_rate", "virality_rate", "reach", "impressions"):
        for by in ([], ["brand"]):
            expected = approx_summary(summary(first, first_table, kpi, by))
            assert summary(second, second_table, kpi, by) == expected, (kpi, by)


@settings(QUICK, max_examples=60)
@given(ctr_accounts)
def test_brand_groups_combine_to_the_overall_aggregate(
    accounts: list[tuple[str, float | None, float | None]],
) -> None:
    table, results = build([(b, {CLICKS: c, IMPRESSIONS: i}) for b, c, i in accounts])
    parts = aggregate(results, table, "click_through_rate", ["brand"], 0, 0)
    overall = aggregate(results, table, "click_through_rate", [], 0, 0)
    if not parts:
        assert overall == []
        return
    (whole,) = overall
    numerator = sum(g.numerator for g in parts)  # type: ignore[misc]
    denominator = sum(g.denominator for g in parts)  # type: ignore[misc]
    assert whole.numerator == pytest.approx(numerator)
    assert whole.denominator == pytest.approx(denominator)
    assert whole.value == pytest.approx(numerator / denominator)
    assert whole.accounts == sum(g.accounts for g in parts)


#: KPIs whose aggregate skips an account that lacks the denominator's inputs.
PAIRED_BY_ACCOUNT = sorted(
    k.name
    for k in CATALOGUE.kpis
    if k.has_ratio and k.definition.pairing == "account" and not k.definition.share_of_market
)


def full_inputs(values: Sequence[float]) -> dict[Ref, float]:
    """Every input of the catalogue, cycling through ``values``."""
    return {r: values[i % len(values)] for i, r in enumerate(REFS)}


@settings(QUICK, max_examples=20)
@given(
    st.lists(st.tuples(brands, st.lists(positive, min_size=1, max_size=5)), min_size=1, max_size=4),
    st.sampled_from(PAIRED_BY_ACCOUNT),
    brands,
    st.lists(positive, min_size=1, max_size=5),
)
def test_an_account_lacking_an_input_changes_no_aggregate(
    accounts: list[tuple[str, list[float]]], kpi: str, brand: str, extra: list[float]
) -> None:
    rows: list[tuple[str, Inputs]] = [(b, full_inputs(v)) for b, v in accounts]
    table, results = build(rows)
    compiled = CATALOGUE.by_name[kpi]
    denominator_refs = set(compiled.basis)
    if compiled.denominator is not None:
        denominator_refs |= compiled.denominator.refs()
    # The new account reports everything but the KPI's denominator inputs.
    lacking = {r: v for r, v in full_inputs(extra).items() if r not in denominator_refs}
    grown_table, grown = build([*rows, (brand, lacking)])
    assert math.isnan(grown.kpis[kpi].value[CURRENT][grown.rows[f"a{len(rows)}"]])
    for by in ([], ["brand"]):
        assert summary(grown, grown_table, kpi, by) == summary(results, table, kpi, by)
    # An account reporting nothing changes no aggregate at all.
    empty_table, empty = build([*rows, (brand, {})])
    for name in CATALOGUE.by_name:
        for by in ([], ["brand"]):
            before = summary(results, table, name, by)
            assert summary(empty, empty_table, name, by) == before, (name, by)


@settings(QUICK, max_examples=60)
@given(st.lists(st.tuples(brands, maybe_count, maybe_count, maybe_count), min_size=1, max_size=6))
def test_count_kpis_aggregate_to_the_plain_sum(
    accounts: list[tuple[str, float | None, float | None, float | None]],
) -> None:
    refs = list(COUNT_KPIS.values())
    table, results = build([(b, dict(zip(refs, values, strict=True))) for b, *values in accounts])
    for position, kpi in enumerate(COUNT_KPIS):
        present = [values[position] for _, *values in accounts if values[position] is not None]
        found = aggregate(results, table, kpi, [], 0, 0)
        if not present:
            assert found == [], kpi
            continue
        (group,) = found
        assert group.value == pytest.approx(sum(present)), kpi
        assert group.denominator is None
        assert group.accounts == len(present)


@settings(QUICK, max_examples=50)
@given(
    st.lists(st.tuples(brands, counts, positive), min_size=1, max_size=6),
    floats(1e-3, 1e3),
)
def test_scaling_numerators_and_denominators_keeps_ratios(
    accounts: list[tuple[str, float, float]], k: float
) -> None:
    table, results = build([(b, {CLICKS: c, IMPRESSIONS: i}) for b, c, i in accounts])
    scaled_table, scaled = build([(b, {CLICKS: c * k, IMPRESSIONS: i * k}) for b, c, i in accounts])
    np.testing.assert_allclose(
        scaled.kpis["click_through_rate"].value[CURRENT],
        results.kpis["click_through_rate"].value[CURRENT],
        rtol=1e-9,
    )
    for by in ([], ["brand"]):
        before = aggregate(results, table, "click_through_rate", by, 0, 0)
        after = aggregate(scaled, scaled_table, "click_through_rate", by, 0, 0)
        assert [g.labels for g in after] == [g.labels for g in before]
        assert [g.value for g in after] == [pytest.approx(g.value, rel=1e-9) for g in before]


WINDOWS = 2
COLUMNS = [(w, p) for w in range(WINDOWS) for p in PERIODS]
#: Present inputs are drawn from [0, 1e6]; a negative draw stands for an absent input.
window_values = st.lists(
    floats(-3e5, 1e6),
    min_size=len(REFS),
    max_size=len(REFS),
)


def window_table(rows: Sequence[Mapping[tuple[int, int], list[float]]]) -> InputTable:
    table = InputTable(CATALOGUE.refs, windows=WINDOWS)
    for i, columns in enumerate(rows):
        values = {
            (r, w, p): v
            for (w, p), drawn in columns.items()
            for r, v in zip(REFS, drawn, strict=True)
            if v >= 0
        }
        platform = ("mastodon", "bluesky")[i % 2]
        table.set_row(AccountMeta(f"a{i}", platform, {}, competitor=i == 2, currency="EUR"), values)
    return table


@settings(QUICK, max_examples=15)
@given(
    st.lists(
        st.fixed_dictionaries({column: window_values for column in COLUMNS}), min_size=1, max_size=3
    ),
    st.sampled_from(COLUMNS),
    st.data(),
)
def test_a_window_depends_only_on_its_own_inputs(
    rows: list[dict[tuple[int, int], list[float]]],
    column: tuple[int, int],
    data: st.DataObject,
) -> None:
    other = data.draw(st.sampled_from([c for c in COLUMNS if c != column]))
    changed = [
        {**columns, other: data.draw(window_values, label=f"new inputs of {other}")}
        for columns in rows
    ]
    before, after = (
        compute(window_table(rows), CATALOGUE),
        compute(window_table(changed), CATALOGUE),
    )
    for name, columns in before.kpis.items():
        new = after.kpis[name]
        for part in ("value", "numerator", "denominator", "basis"):
            old_arrays, new_arrays = getattr(columns, part), getattr(new, part)
            if column in old_arrays:
                np.testing.assert_array_equal(new_arrays[column], old_arrays[column], err_msg=name)


@settings(QUICK, max_examples=200)
@given(
    floats(-1e9, 1e9),
    # tiny previous values overflow the ratio to inf
    floats(-1e9, 1e9).filter(lambda p: abs(p) >= 1e-9),
)
def test_change_ratio_inverts_to_the_value(value: float, previous: float) -> None:
    ratio = change_ratio(value, previous)
    assert ratio is not None
    tolerance = 1e-12 * max(abs(value), abs(previous))
    assert ratio * abs(previous) + previous == pytest.approx(value, rel=1e-9, abs=tolerance)
    # Its sign says whether the value went up, whatever the sign of the previous value.
    assert (ratio > 0) == (value > previous)


@given(st.none() | floats(-1e9, 1e9))
@settings(QUICK, max_examples=20)
def test_change_ratio_is_absent_without_a_nonzero_previous(value: float | None) -> None:
    assert change_ratio(value, 0.0) is None
    assert change_ratio(value, None) is None
    assert change_ratio(None, 5.0) is None
