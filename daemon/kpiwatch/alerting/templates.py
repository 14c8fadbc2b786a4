"""Alert labels and annotations rendered from templates in Jinja2's sandbox.

A template sees ``value``, ``threshold``, ``previous``, ``change``, ``account``, ``platform``,
``kpi``, ``metric``, ``window``, ``rule``, ``severity``, ``labels`` (every label of the
alert), ``detail`` (data-quality and goal rules), ``z`` and ``median`` (anomaly rules),
``accounts`` (rules by group), ``goal``, ``status``, ``progress``, ``expected``, ``projected``,
``elapsed``, ``baseline``, ``period``, ``deadline``, ``owner`` and ``objective`` (goal rules),
and has the filters ``percent`` (0.0123 → "1.23%"), ``number`` (12345.6 →
"12,346"; small values keep three significant digits) and ``signed_percent`` (a change,
"+12.5%").
The sandbox refuses attribute access to Python internals; an undefined name is an error, found
by ``check-config`` before the rule ever fires.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

#: Names a template may use, with the value check-config renders them with.
SAMPLE_CONTEXT: dict[str, Any] = {
    "value": 0.0123,
    "threshold": 0.02,
    "previous": 0.015,
    "change": -0.18,
    "account": "acme-x",
    "platform": "x",
    "kpi": "engagement_rate",
    "metric": "",
    "window": "7d",
    "rule": "EngagementLow",
    "severity": "warning",
    "labels": {"brand": "acme"},
    "detail": "followers went from 1200 to 12 (÷100)",
    "z": -4.2,
    "median": 0.031,
    "accounts": 3,
    "goal": "ig-engagement-h1",
    "status": "behind",
    "progress": 0.35,
    "expected": 0.041,
    "projected": 0.046,
    "elapsed": 0.55,
    "baseline": 0.03,
    "period": "2027-H1",
    "deadline": "2027-07-01T00:00:00Z",
    "owner": "social-team",
    "objective": "engagement",
}


def percent(value: Any, digits: int = 2) -> str:
    """0.0123 → "1.23%"; absent → "n/a"."""
    number = _number(value)
    if number is None:
        return "n/a"
    text = f"{number * 100:.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text + "%"


def signed_percent(value: Any, digits: int = 1) -> str:
    """0.125 → "+12.5%", -0.05 → "-5%"."""
    number = _number(value)
    if number is None:
        return "n/a"
    text = percent(number, digits)
    return text if number < 0 else f"+{text}"


def number(value: Any) -> str:
    """12345.6 → "12,346"; 0.01234 → "0.0123"; absent → "n/a"."""
    n = _number(value)
    if n is None:
        return "n/a"
    if abs(n) >= 100 or n == int(n):
        return f"{n:,.0f}"
    return f"{n:.3g}"


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        n = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(n) else n


def _environment() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
    env.filters.update(percent=percent, signed_percent=signed_percent, number=number)
    return env


ENVIRONMENT = _environment()


class TemplateProblem(ValueError):
    """A template that does not compile or render; the message says where in it."""


def check(text: str) -> None:
    """Compile ``text`` and render it with SAMPLE_CONTEXT; raise TemplateProblem if it fails."""
    try:
        ENVIRONMENT.from_string(text).render(SAMPLE_CONTEXT)
    except TemplateError as exc:
        where = f" (line {exc.lineno})" if getattr(exc, "lineno", None) else ""
        raise TemplateProblem(f"template error{where}: {exc.message or exc}") from None
    except Exception as exc:  # a filter given a wrong argument, a sandbox refusal
        raise TemplateProblem(f"template error: {type(exc).__name__}: {exc}") from None


class Templates:
    """Compiled templates of one rule's labels and annotations."""

    def __init__(self, labels: Mapping[str, str], annotations: Mapping[str, str]) -> None:
        self.labels = {k: _compile(v) for k, v in labels.items()}
        self.annotations = {k: _compile(v) for k, v in annotations.items()}
        self.empty = not labels and not annotations

    def render(self, context: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, str], str]:
        """Rendered labels and annotations, and an error text ("" if none).

        A template failing at run time (a value of an unexpected type) leaves its raw text in
        place rather than dropping the alert.
        """
        errors: list[str] = []
        return (
            _render_all(self.labels, context, errors),
            _render_all(self.annotations, context, errors),
            "; ".join(errors),
        )


def _compile(text: str) -> tuple[str, Template | None]:
    if "{" not in text:
        return text, None
    try:
        return text, ENVIRONMENT.from_string(text)
    except TemplateError:
        return text, None  # check-config reports it; never fail at run time


def _render_all(
    templates: Mapping[str, tuple[str, Template | None]],
    context: Mapping[str, Any],
    errors: list[str],
) -> dict[str, str]:
    out = {}
    for key, (source, template) in templates.items():
        if template is None:
            out[key] = source
            continue
        try:
            out[key] = template.render(context)
        except Exception as exc:
            out[key] = source
            errors.append(f"{key}: {type(exc).__name__}: {exc}")
    return out
