"""KPI computation for every account at once, and aggregation by labels.

Inputs live in an :class:`InputTable`: one row per account, one column per (reference, window,
period), NaN where absent. :func:`compute` evaluates every KPI of a catalogue for every row in a
few NumPy operations per KPI; :func:`aggregate` sums numerators and denominators per group of
accounts (never averages ratios). Periods: 0 is the window ending at the account's newest
sample, 1 the window of equal length before it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from kpiwatch.kpi.compiled import Catalogue, CompiledKpi
from kpiwatch.kpi.expressions import Ref

PERIODS = (0, 1)
PERIOD_NAMES = ("current", "previous")
Column = tuple[Ref, int, int]  # reference, window index, period


@dataclass
class AccountMeta:
    """What aggregation needs to know of an account."""

    account: str
    platform: str
    labels: Mapping[str, str]
    competitor: bool = False
    currency: str | None = None
    at: float | None = None  # time of the newest sample the inputs were taken at


class InputTable:
    """Window inputs of many accounts: rows are accounts, columns (reference, window, period)."""

    def __init__(self, refs: Iterable[Ref], windows: int, capacity: int = 64) -> None:
        self.windows = windows
        self.columns: dict[Column, int] = {}
        for ref in sorted(set(refs)):
            for w in range(windows):
                for p in PERIODS:
                    self.columns[(ref, w, p)] = len(self.columns)
        self.data = np.full((capacity, len(self.columns)), np.nan)
        self.rows: dict[str, int] = {}
        self.meta: list[AccountMeta | None] = []
        self._free: list[int] = []

    def __len__(self) -> int:
        return len(self.rows)

    def set_row(self, meta: AccountMeta, values: Mapping[Column, float]) -> None:
        """Replace the account's inputs (columns not in ``values`` become absent)."""
        row = self.rows.get(meta.account)
        if row is None:
            row = self._free.pop() if self._free else len(self.meta)
            if row >= self.data.shape[0]:
                grown = np.full((max(64, row * 2), self.data.shape[1]), np.nan)
                grown[: self.data.shape[0]] = self.data
                self.data = grown
            if row == len(self.meta):
                self.meta.append(meta)
            self.rows[meta.account] = row
        self.meta[row] = meta
        line = self.data[row]
        line.fill(np.nan)
        columns = self.columns
        for column, value in values.items():
            index = columns.get(column)
            if index is not None:
                line[index] = value

    def drop(self, account: str) -> None:
        row = self.rows.pop(account, None)
        if row is not None:
            self.data[row].fill(np.nan)
            self.meta[row] = None
            self._free.append(row)

    def used(self) -> np.ndarray:
        """Indexes of the rows that hold an account."""
        return np.fromiter(sorted(self.rows.values()), dtype=np.int64, count=len(self.rows))


@dataclass
class KpiColumns:
    """One KPI's results per (window, period): value, numerator, denominator, basis index."""

    value: dict[tuple[int, int], np.ndarray] = field(default_factory=dict)
    numerator: dict[tuple[int, int], np.ndarray] = field(default_factory=dict)
    denominator: dict[tuple[int, int], np.ndarray] = field(default_factory=dict)
    basis: dict[tuple[int, int], np.ndarray] = field(default_factory=dict)  # -1: none


@dataclass
class Results:
    """Every KPI for every row of an InputTable (arrays indexed by row)."""

    catalogue: Catalogue
    windows: int
    rows: Mapping[str, int]
    meta: Sequence[AccountMeta | None]
    kpis: dict[str, KpiColumns]


def _getter(data: np.ndarray, columns: Mapping[Column, int], w: int, p: int):
    rows = data.shape[0]
    missing = np.full(rows, np.nan)

    def get(ref: Ref) -> np.ndarray:
        index = columns.get((ref, w, p))
        return missing if index is None else data[:, index]

    return get


def compute(table: InputTable, catalogue: Catalogue) -> Results:
    """Every KPI of ``catalogue`` for every account of ``table``."""
    data = table.data[: len(table.meta)]
    results: dict[str, KpiColumns] = {}
    rows = data.shape[0]
    platforms = np.array([m.platform if m else "" for m in table.meta[:rows]], dtype=object)
    for w in range(table.windows):
        for p in PERIODS:
            get = _getter(data, table.columns, w, p)
            values: dict[str, np.ndarray] = {}
            for kpi in catalogue.kpis:
                out = results.setdefault(kpi.name, KpiColumns())
                if kpi.derived_fn is not None:
                    value = kpi.derived_fn(_derived_getter(get, values))
                    out.value[(w, p)] = value
                    values[kpi.name] = value
                    continue
                num = kpi.numerator_fn(get)  # type: ignore[misc]
                if kpi.basis:
                    den, basis = _basis(kpi, get, rows)
                    out.basis[(w, p)] = basis
                elif kpi.definition.share_of_market:
                    den = _market(num, platforms)
                elif kpi.denominator_fn is not None:
                    den = kpi.denominator_fn(get)
                else:
                    den = None
                value = _ratio(num, den)
                out.value[(w, p)] = value
                out.numerator[(w, p)] = np.where(np.isnan(value), np.nan, num)
                if den is not None:
                    out.denominator[(w, p)] = np.where(np.isnan(value), np.nan, den)
                values[kpi.name] = value
    return Results(catalogue, table.windows, dict(table.rows), list(table.meta), results)


def _derived_getter(get, values: Mapping[str, np.ndarray]):
    def lookup(ref: Ref) -> np.ndarray:
        value = values.get(ref.name)
        return value if value is not None else get(ref)

    return lookup


def _basis(kpi: CompiledKpi, get, rows: int) -> tuple[np.ndarray, np.ndarray]:
    den = np.full(rows, np.nan)
    chosen = np.full(rows, -1, dtype=np.int8)
    for i, ref in enumerate(kpi.basis):
        candidate = get(ref)
        take = (chosen < 0) & (candidate > 0)
        den = np.where(take, candidate, den)
        chosen = np.where(take, np.int8(i), chosen)
    return den, chosen


def _market(num: np.ndarray, platforms: np.ndarray) -> np.ndarray:
    """Per row: the sum of ``num`` over every row (own or competitor) of the same platform."""
    den = np.full(num.shape, np.nan)
    present = ~np.isnan(num)
    for platform in set(platforms[present]):
        same = platforms == platform
        den[same] = np.nansum(np.where(same & present, num, 0.0))
    return den


def _ratio(num: np.ndarray, den: np.ndarray | None) -> np.ndarray:
    if den is None:
        return num.copy()
    with np.errstate(all="ignore"):
        value = num / np.where(den != 0, den, np.nan)
    return np.where(np.isfinite(value), value, np.nan)


# aggregation -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class GroupValue:
    """One KPI of one group of accounts for one window and period."""

    labels: Mapping[str, str]  # the grouping labels (plus basis/currency where they apply)
    value: float | None
    numerator: float | None
    denominator: float | None
    accounts: int  # accounts that contributed


def group_keys(
    meta: Sequence[AccountMeta | None], by: Sequence[str], include_competitors: bool = False
) -> list[tuple[str, ...] | None]:
    """Per row, its group (the values of ``by``), or None when the row is not aggregated.

    Competitor accounts form groups only when grouping by account, or on request.
    """
    out: list[tuple[str, ...] | None] = []
    for m in meta:
        if m is None or (m.competitor and not include_competitors and "account" not in by):
            out.append(None)
            continue
        values = []
        for name in by:
            if name == "account":
                values.append(m.account)
            elif name == "platform":
                values.append(m.platform)
            else:
                values.append(str(m.labels.get(name, "")))
        out.append(tuple(values))
    return out


def aggregate(
    results: Results,
    table: InputTable,
    kpi_name: str,
    by: Sequence[str],
    window: int,
    period: int,
    keys: Sequence[tuple[str, ...] | None] | None = None,
) -> list[GroupValue]:
    """The KPI per group of accounts sharing the values of the ``by`` labels.

    Ratios are the sum of the numerators over the sum of the denominators of the accounts that
    report both (or, for KPIs paired by group, the formula over each input summed across the
    group). KPIs with a basis are aggregated per basis, money KPIs per currency.
    """
    kpi = results.catalogue.by_name[kpi_name]
    keys = keys if keys is not None else group_keys(results.meta, by)
    columns = results.kpis[kpi_name]
    wp = (window, period)
    if (
        kpi.derived is None
        and kpi.definition.pairing != "group"
        and not kpi.definition.share_of_market
    ):
        return _aggregate_rows(results, kpi, columns, list(by), keys, wp)
    extra_names: list[str] = []
    extras: list[list[str]] = []
    if kpi.basis:
        extra_names.append("basis")
        basis = columns.basis[wp]
        extras.append([kpi.basis[b].name if b >= 0 else "" for b in basis])
    if kpi.money:
        extra_names.append("currency")
        extras.append([(m.currency or "") if m else "" for m in results.meta])
    full_keys: list[tuple[str, ...] | None] = []
    for row, key in enumerate(keys):
        if key is None:
            full_keys.append(None)
        else:
            full_keys.append(key + tuple(extra[row] for extra in extras))
    names = [*by, *extra_names]
    if kpi.derived is not None:
        return _aggregate_derived(results, table, kpi, names, full_keys, window, period, by)
    if kpi.definition.pairing == "group":
        return _aggregate_inputs(table, kpi, names, full_keys, window, period)
    return _aggregate_market(results, kpi_name, names, full_keys, wp)


def _aggregate_rows(
    results: Results,
    kpi: CompiledKpi,
    columns: KpiColumns,
    by: list[str],
    keys: Sequence[tuple[str, ...] | None],
    wp: tuple[int, int],
) -> list[GroupValue]:
    """Sums of numerators and denominators per group, in NumPy: one pass over the rows in
    Python to code the group keys, the rest vectorised (groups by basis and currency too)."""
    value = columns.value[wp]
    n = min(len(keys), len(value))
    index: dict[tuple[str, ...], int] = {}
    codes = np.fromiter(
        (-1 if k is None else index.setdefault(k, len(index)) for k in keys[:n]),
        dtype=np.int64,
        count=n,
    )
    names = list(by)
    parts: list[tuple[np.ndarray, list[str]]] = []  # per extra label: codes and their values
    if kpi.basis:
        names.append("basis")
        parts.append(
            (columns.basis[wp][:n].astype(np.int64) + 1, ["", *(r.name for r in kpi.basis)])
        )
    if kpi.money:
        names.append("currency")
        currencies: dict[str, int] = {}
        codes_c = np.fromiter(
            (
                currencies.setdefault((m.currency or "") if m else "", len(currencies))
                for m in results.meta[:n]
            ),
            dtype=np.int64,
            count=n,
        )
        parts.append((codes_c, list(currencies)))
    combined = codes.copy()
    for part_codes, values in parts:
        combined = combined * len(values) + part_codes
    take = (codes >= 0) & ~np.isnan(value[:n])
    if not take.any():
        return []
    found, inverse = np.unique(combined[take], return_inverse=True)
    count = np.bincount(inverse, minlength=len(found))
    num = columns.numerator[wp][:n][take]
    n_sum = np.bincount(inverse, weights=num, minlength=len(found))
    den_column = columns.denominator.get(wp)
    d_sum = (
        np.bincount(inverse, weights=den_column[:n][take], minlength=len(found))
        if den_column is not None
        else None
    )
    base_keys = list(index)
    out = []
    for i, code in enumerate(found.tolist()):
        extra_values: list[str] = []
        for _codes, values in reversed(parts):
            code, rest = divmod(code, len(values))
            extra_values.insert(0, values[rest])
        key = base_keys[code] + tuple(extra_values)
        labels = dict(zip(names, key, strict=True))
        total = float(n_sum[i])
        if d_sum is None:
            out.append(GroupValue(labels, total, total, None, int(count[i])))
        elif d_sum[i] != 0:  # denominators summing to zero: no value, as for one account
            d = float(d_sum[i])
            out.append(GroupValue(labels, total / d, total, d, int(count[i])))
    out.sort(key=lambda g: tuple(g.labels[k] for k in names))
    return out


def _aggregate_market(
    results: Results,
    kpi_name: str,
    names: list[str],
    keys: Sequence[tuple[str, ...] | None],
    wp: tuple[int, int],
) -> list[GroupValue]:
    num = results.kpis[kpi_name].numerator[wp]
    mentions: dict[str, float] = {}  # platform -> every account's mentions
    for row, m in enumerate(results.meta):
        if m is not None and not np.isnan(num[row]):
            mentions[m.platform] = mentions.get(m.platform, 0.0) + float(num[row])
    groups: dict[tuple[str, ...], tuple[float, set[str], int]] = {}
    for row, key in enumerate(keys):
        m = results.meta[row]
        if key is None or m is None or np.isnan(num[row]):
            continue
        own, platforms, count = groups.get(key, (0.0, set(), 0))
        groups[key] = (own + float(num[row]), platforms | {m.platform}, count + 1)
    out = []
    for key, (own, platforms, count) in sorted(groups.items()):
        market = sum(mentions[p] for p in platforms)
        value = own / market if market else None
        out.append(GroupValue(dict(zip(names, key, strict=True)), value, own, market, count))
    return out


def _group_input_table(
    table: InputTable, keys: Sequence[tuple[str, ...] | None], window: int, period: int
) -> tuple[list[tuple[str, ...]], dict[tuple[str, ...], np.ndarray], list[int]]:
    groups = sorted({k for k in keys if k is not None})
    index = {k: i for i, k in enumerate(groups)}
    rows = [i for i, k in enumerate(keys) if k is not None]
    codes = np.array([index[keys[i]] for i in rows], dtype=np.int64)
    counts = np.bincount(codes, minlength=len(groups)) if rows else np.zeros(0, dtype=np.int64)
    data = table.data[rows] if rows else np.zeros((0, table.data.shape[1]))
    sums: dict[tuple[str, ...], np.ndarray] = {}
    for (ref, w, p), column in table.columns.items():
        if w != window or p != period:
            continue
        values = data[:, column]
        present = ~np.isnan(values)
        total = np.bincount(codes[present], weights=values[present], minlength=len(groups))
        seen = np.bincount(codes[present], minlength=len(groups))
        sums[(ref,)] = np.where(seen > 0, total, np.nan)  # type: ignore[index]
    return groups, sums, list(counts)


def _aggregate_inputs(
    table: InputTable,
    kpi: CompiledKpi,
    names: list[str],
    keys: Sequence[tuple[str, ...] | None],
    window: int,
    period: int,
) -> list[GroupValue]:
    groups, sums, counts = _group_input_table(table, keys, window, period)
    if not groups:
        return []
    missing = np.full(len(groups), np.nan)

    def get(ref: Ref) -> np.ndarray:
        return sums.get((ref,), missing)  # type: ignore[arg-type]

    num = kpi.numerator_fn(get)  # type: ignore[misc]
    den = kpi.denominator_fn(get) if kpi.denominator_fn is not None else None
    value = _ratio(num, den)
    out = []
    for i, key in enumerate(groups):
        v = None if np.isnan(value[i]) else float(value[i])
        n = None if v is None else float(num[i])
        d = None if v is None or den is None else float(den[i])
        out.append(GroupValue(dict(zip(names, key, strict=True)), v, n, d, int(counts[i])))
    return [g for g in out if g.value is not None]


def _aggregate_derived(
    results: Results,
    table: InputTable,
    kpi: CompiledKpi,
    names: list[str],
    keys: Sequence[tuple[str, ...] | None],
    window: int,
    period: int,
    by: Sequence[str],
) -> list[GroupValue]:
    base_keys = [None if k is None else k[: len(by)] for k in keys]
    groups = sorted({k for k in base_keys if k is not None})
    referenced = {r.name for r in kpi.derived.refs()}  # type: ignore[union-attr]
    values: dict[str, np.ndarray] = {}
    for name in referenced:
        if name not in results.catalogue.by_name:
            continue
        found = {
            tuple(g.labels[n] for n in by): g.value
            for g in aggregate(results, table, name, by, window, period, base_keys)
        }
        values[name] = np.array(
            [np.nan if found.get(k) is None else found[k] for k in groups], dtype=float
        )
    _, sums, _ = _group_input_table(table, base_keys, window, period)
    missing = np.full(len(groups), np.nan)

    def get(ref: Ref) -> np.ndarray:
        if ref.name in values:
            return values[ref.name]
        return sums.get((ref,), missing)  # type: ignore[arg-type]

    value = kpi.derived_fn(get) if groups else np.zeros(0)  # type: ignore[misc]
    counts = {k: base_keys.count(k) for k in groups}
    return [
        GroupValue(dict(zip(by, key, strict=True)), float(v), None, None, counts[key])
        for key, v in zip(groups, value, strict=True)
        if not np.isnan(v)
    ]
