"""The KPI catalogue in executable form: built-in and custom KPIs parsed, checked and inlined.

Load-time checks (each a :class:`KpiDefinitionError` naming the KPI and the fix): unknown names,
``start()``/``delta()`` on metrics that are totals over a window, filters on dimensions a
metric does not have, constant divisions by zero, custom KPIs that depend on themselves.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property

from kpiwatch import vocabulary
from kpiwatch.kpi.catalogue import (
    INLINED,
    Direction,
    KpiDefinition,
    KpiUnit,
    Objective,
    builtin_kpis,
)
from kpiwatch.kpi.expressions import Expression, ExpressionError, Ref, parse
from kpiwatch.kpi.vector import VectorFunction, compile_vector
from kpiwatch.vocabulary import Kind, Unit

#: Names a formula may use besides metrics and KPIs.
BASIS = "basis"


class KpiDefinitionError(ValueError):
    """A KPI definition cannot be used; ``kpi`` names it, the message says why and the fix."""

    def __init__(self, kpi: str, message: str, key: str = "expr") -> None:
        super().__init__(message)
        self.kpi = kpi
        self.key = key  # the key of a custom KPI the problem is about: "name" or "expr"


@dataclass(frozen=True, eq=False)
class CompiledKpi:
    """One KPI ready to compute.

    ``numerator``/``denominator`` are over vocabulary metrics only (count KPIs inlined); for a
    KPI with a basis chain the denominator is None and ``basis`` lists the candidate metrics.
    A *derived* KPI (a custom formula using other KPIs that are ratios) has ``derived`` set:
    it is computed from those KPIs' values, group by group, and has no numerator/denominator.
    """

    definition: KpiDefinition
    numerator: Expression | None
    denominator: Expression | None
    basis: tuple[Ref, ...]
    derived: Expression | None
    money: bool  # reads money metrics: aggregated per currency, exported with its label
    numerator_fn: VectorFunction | None
    denominator_fn: VectorFunction | None
    derived_fn: VectorFunction | None

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def refs(self) -> frozenset[Ref]:
        """Every vocabulary reference the KPI reads (basis candidates included)."""
        out: set[Ref] = set(self.basis)
        for expression in (self.numerator, self.denominator):
            if expression is not None:
                out |= expression.refs()
        if self.derived is not None:
            out |= {r for r in self.derived.refs() if vocabulary.get(r.name)}
        return frozenset(out)

    @property
    def has_ratio(self) -> bool:
        return self.denominator is not None or bool(self.basis) or self.definition.share_of_market


@dataclass(frozen=True, eq=False)
class Catalogue:
    """Every KPI of one configuration, in dependency order (a derived KPI after its inputs)."""

    kpis: tuple[CompiledKpi, ...]

    @cached_property
    def by_name(self) -> Mapping[str, CompiledKpi]:
        return {k.name: k for k in self.kpis}

    @property
    def refs(self) -> frozenset[Ref]:
        """Every vocabulary reference any KPI reads."""
        out: set[Ref] = set()
        for kpi in self.kpis:
            out |= kpi.refs
        return frozenset(out)


def build_catalogue(settings: object | None = None) -> Catalogue:
    """Compile the built-in KPIs with ``settings`` (a KpiSettings) and its custom KPIs.

    Raises KpiDefinitionError for the first definition that cannot be used.
    """
    definitions = list(builtin_kpis(settings))  # type: ignore[arg-type]
    builtin_names = {d.name for d in definitions}
    seen: set[str] = set()
    for custom in getattr(settings, "custom", ()) or ():
        if custom.name in seen:
            raise KpiDefinitionError(
                custom.name,
                f"custom KPI {custom.name!r} is defined twice; give each custom KPI its own name",
                "name",
            )
        seen.add(custom.name)
        definitions.append(_custom_definition(custom, builtin_names))
    return compile_definitions(definitions)


def _custom_definition(custom: object, builtin: set[str]) -> KpiDefinition:
    name = custom.name  # type: ignore[attr-defined]
    if name in builtin:
        raise KpiDefinitionError(
            name,
            f"custom KPI {name!r} has the name of a built-in KPI; choose another name",
            "name",
        )
    if vocabulary.get(name):
        raise KpiDefinitionError(
            name,
            f"custom KPI {name!r} has the name of a vocabulary metric; choose another name",
            "name",
        )
    expr = custom.expr  # type: ignore[attr-defined]
    try:
        parsed = parse(expr)
    except ExpressionError as exc:
        raise KpiDefinitionError(name, f"custom KPI {name!r}: {exc}") from None
    numerator, denominator = parsed.split_ratio()
    return KpiDefinition(
        name=name,
        title=custom.title or name.replace("_", " ").capitalize(),  # type: ignore[attr-defined]
        unit=KpiUnit(custom.unit),  # type: ignore[attr-defined]
        direction=Direction(custom.direction),  # type: ignore[attr-defined]
        objective=Objective(custom.objective),  # type: ignore[attr-defined]
        numerator=str(numerator),
        denominator=None if denominator is None else str(denominator),
        description=custom.description or f"Custom KPI: {expr}",  # type: ignore[attr-defined]
        example={},
        custom=True,
    )


def compile_definitions(definitions: Iterable[KpiDefinition]) -> Catalogue:
    """Check and compile ``definitions`` (see the module docstring for the checks)."""
    definitions = list(definitions)
    by_name = {d.name: d for d in definitions}
    parsed: dict[str, tuple[Expression, Expression | None]] = {}
    for d in definitions:
        try:
            num = parse(d.numerator)
            den = parse(d.denominator) if d.denominator is not None else None
        except ExpressionError as exc:
            raise KpiDefinitionError(d.name, f"KPI {d.name!r}: {exc}") from None
        parsed[d.name] = (num, den)
    order = _dependency_order(definitions, parsed)
    inline: dict[str, Expression] = {}
    ratio_kpis: set[str] = set()
    compiled: list[CompiledKpi] = []
    for name in order:
        d = by_name[name]
        num, den = parsed[name]
        kpi_refs = {
            n
            for e in (num, den)
            if e is not None
            for n in e.names()
            if n in by_name and vocabulary.get(n) is None
        }
        derived = bool(kpi_refs & ratio_kpis)
        if derived:
            whole = num if den is None else parse(f"({num}) / ({den})")
            _check_refs(d, whole, by_name, allow_kpis=True)
            _check_zero(d, whole)
            kpi = _make(d, None, None, (), whole)
        else:
            try:
                num = num.substitute(inline)
                den = den.substitute(inline) if den is not None else None
            except ExpressionError as exc:
                raise KpiDefinitionError(name, f"KPI {name!r}: {exc}") from None
            basis: tuple[Ref, ...] = ()
            if d.basis:
                if den is None or str(den) != BASIS:
                    raise KpiDefinitionError(name, f"KPI {name!r}: a basis needs `/ basis`")
                basis = tuple(Ref(b) for b in d.basis)
                for ref in basis:
                    _check_metric(d, ref)
                den = None
            for expression, is_den in ((num, False), (den, True)):
                if expression is not None:
                    _check_refs(d, expression, by_name, allow_kpis=False)
                    _check_zero(d, expression, is_den)
            kpi = _make(d, num, den, basis, None)
        if kpi.has_ratio or derived:
            ratio_kpis.add(name)
        elif name in INLINED or d.custom:
            inline[name] = kpi.numerator  # type: ignore[assignment]
        compiled.append(kpi)
    position = {d.name: i for i, d in enumerate(definitions)}
    compiled.sort(key=lambda k: (k.derived is not None, position[k.name]))
    return Catalogue(tuple(compiled))


def _make(
    d: KpiDefinition,
    num: Expression | None,
    den: Expression | None,
    basis: tuple[Ref, ...],
    derived: Expression | None,
) -> CompiledKpi:
    refs: set[Ref] = set(basis)
    for e in (num, den, derived):
        if e is not None:
            refs |= e.refs()
    money = any((m := vocabulary.get(r.name)) and m.unit is Unit.CURRENCY for r in refs)
    return CompiledKpi(
        definition=d,
        numerator=num,
        denominator=den,
        basis=basis,
        derived=derived,
        money=money or d.unit is KpiUnit.CURRENCY,
        numerator_fn=compile_vector(num) if num is not None else None,
        denominator_fn=compile_vector(den) if den is not None else None,
        derived_fn=compile_vector(derived) if derived is not None else None,
    )


def _dependency_order(
    definitions: list[KpiDefinition], parsed: Mapping[str, tuple[Expression, Expression | None]]
) -> list[str]:
    names = {d.name for d in definitions}
    deps = {
        n: {
            m
            for e in pair
            if e is not None
            for m in e.names()
            if m in names and m != BASIS and vocabulary.get(m) is None
        }
        for n, pair in parsed.items()
    }
    order: list[str] = []
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = " -> ".join([*path[path.index(name) :], name])
            raise KpiDefinitionError(
                name, f"KPI {name!r} depends on itself ({cycle}); remove one of the references"
            )
        state[name] = 1
        for dep in sorted(deps[name]):
            visit(dep, [*path, name])
        state[name] = 2
        order.append(name)

    for d in definitions:
        visit(d.name, [])
    return order


def _check_refs(
    d: KpiDefinition, expression: Expression, kpis: Mapping[str, KpiDefinition], allow_kpis: bool
) -> None:
    for ref in expression.refs():
        if ref.name == BASIS:
            raise KpiDefinitionError(d.name, f"KPI {d.name!r}: `basis` needs a basis chain")
        if vocabulary.get(ref.name) is not None:
            _check_metric(d, ref)
            continue
        if ref.name in kpis:
            if not allow_kpis or ref.filters or ref.mode != "value":
                raise KpiDefinitionError(
                    d.name,
                    f"KPI {d.name!r}: {ref.name!r} is a KPI; use it by name alone, without "
                    "filters or start()/delta()",
                )
            continue
        known = sorted({m.name for m in vocabulary.METRICS} | set(kpis))
        close = difflib.get_close_matches(ref.name, known, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise KpiDefinitionError(
            d.name,
            f"KPI {d.name!r} uses {ref.name!r}, which is neither a vocabulary metric nor a KPI; "
            f"{hint}see docs/metrics.md and docs/kpis.md for the names",
        )


def _check_metric(d: KpiDefinition, ref: Ref) -> None:
    metric = vocabulary.get(ref.name)
    if metric is None:
        raise KpiDefinitionError(
            d.name, f"KPI {d.name!r}: basis {ref.name!r} is not a vocabulary metric"
        )
    if ref.mode != "value" and metric.kind is Kind.PERIOD:
        raise KpiDefinitionError(
            d.name,
            f"KPI {d.name!r}: {ref.mode}({ref.name}) is not possible: {ref.name} is a total over "
            "the window; start() and delta() take level metrics such as followers",
        )
    for key, _ in ref.filters:
        if key not in metric.dimensions:
            dims = ", ".join(metric.dimensions) or "none"
            raise KpiDefinitionError(
                d.name,
                f"KPI {d.name!r}: {ref.name} has no dimension {key!r} (its dimensions: {dims})",
            )


def _check_zero(d: KpiDefinition, expression: Expression, denominator: bool = False) -> None:
    zeros = expression.zero_divisors()
    if denominator and expression.is_constant() and expression.evaluate(lambda ref: None) == 0:
        zeros = [str(expression), *zeros]
    if zeros:
        raise KpiDefinitionError(
            d.name, f"KPI {d.name!r} divides by {zeros[0]}, which is always 0; fix the formula"
        )
