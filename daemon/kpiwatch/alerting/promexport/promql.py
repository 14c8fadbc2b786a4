"""PromQL text: strings, literal regexes, numbers, selectors and label matchers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

#: A label matcher: (label name, operator, value).
Matcher = tuple[str, str, str]
#: The matcher that leaves competitor accounts out.
NOT_COMPETITOR: Matcher = ("competitor", "!=", "true")

_RE2_SPECIAL = set("\\.+*?()|[]{}^$")


def promql_string(value: str) -> str:
    """``value`` as a double-quoted PromQL string."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def regex_escape(value: str) -> str:
    """``value`` matched literally in an RE2 regular expression."""
    return "".join(f"\\{c}" if c in _RE2_SPECIAL else c for c in value)


def number(value: float) -> str:
    """A float as PromQL reads it."""
    return repr(float(value))


def selector(metric: str, matchers: Iterable[Matcher]) -> str:
    """``metric{name="value",...}`` with the matchers sorted."""
    inner = ",".join(f"{n}{op}{promql_string(v)}" for n, op, v in sorted(set(matchers)))
    return f"{metric}{{{inner}}}" if inner else metric


def scope_matchers(scope: Mapping[str, str | list[str]]) -> list[Matcher]:
    """A value: equality; a list of values: an anchored alternation of the escaped values."""
    out: list[Matcher] = []
    for name, wanted in sorted(scope.items()):
        values = wanted if isinstance(wanted, list) else [wanted]
        if len(values) == 1:
            out.append((name, "=", values[0]))
        else:
            out.append((name, "=~", "|".join(regex_escape(v) for v in values)))
    return out


def labels_text(labels: Mapping[str, str]) -> str:
    """``name="value",...`` sorted by name: the inside of a series' braces."""
    return ",".join(f"{k}={promql_string(v)}" for k, v in sorted(labels.items()))
