"""JMESPath expressions of the settings: checked when the configuration is read, then searched.

An expression is compiled at settings validation, and its function calls are checked against
the JMESPath function table (name and number of arguments), so a typo is a ``check-config``
error at the key that holds it rather than a failed poll.
"""

from __future__ import annotations

import functools
import math
from datetime import UTC, datetime
from typing import Annotated, Any

import jmespath
from jmespath.exceptions import IncompleteExpressionError, JMESPathError, LexerError
from jmespath.functions import Functions
from jmespath.parser import ParsedResult
from pydantic import AfterValidator

from kpiwatch_platforms.http_json.vocabulary_checks import did_you_mean

_FUNCTIONS: dict[str, Any] = Functions().FUNCTION_TABLE
SPEC = "https://jmespath.org/specification.html"


@functools.lru_cache(maxsize=4096)
def compiled(expression: str) -> ParsedResult:
    """The parsed ``expression`` (cached: settings are validated before every poll uses them)."""
    return jmespath.compile(expression)


def check_expression(expression: str) -> str:
    """``expression`` when it parses and calls only known functions with the right number of
    arguments; ValueError naming the problem and the fix otherwise."""
    if not expression.strip():
        raise ValueError("the expression is empty; write a JMESPath such as data.followers_count")
    try:
        parsed = compiled(expression)
    except JMESPathError as exc:
        raise ValueError(
            f"{expression!r} is not a JMESPath expression ({_syntax_problem(exc)}); "
            f"write for example data.followers_count (syntax: {SPEC})"
        ) from None
    _check_functions(expression, parsed.parsed)
    return expression


def _syntax_problem(exc: JMESPathError) -> str:
    """Where and what the syntax error is, in a few words."""
    column = getattr(exc, "lex_position", None)
    if isinstance(exc, IncompleteExpressionError):
        return "it ends too early"
    if isinstance(exc, LexerError):
        what = str(getattr(exc, "message", "")).lower() or "unreadable text"
    else:
        what = f"unexpected {getattr(exc, 'token_value', '?')!r}"
    return f"{what} at character {column + 1}" if isinstance(column, int) else what


def _check_functions(expression: str, node: dict[str, Any]) -> None:
    if node.get("type") == "function_expression":
        name = node["value"]
        entry = _FUNCTIONS.get(name)
        if entry is None:
            hint = did_you_mean(name, _FUNCTIONS) or f"see the functions of {SPEC}"
            raise ValueError(f"{expression!r} calls the unknown function {name}(); {hint}")
        signature = entry["signature"]
        given = len(node["children"])
        variadic = bool(signature) and signature[-1].get("variadic", False)
        if (given < len(signature)) if variadic else (given != len(signature)):
            wanted = f"at least {len(signature)}" if variadic else str(len(signature))
            raise ValueError(
                f"{expression!r} calls {name}() with {given} argument(s); {name}() takes {wanted}"
            )
    for child in node.get("children", ()):
        if isinstance(child, dict):
            _check_functions(expression, child)


#: A settings field holding a JMESPath expression (checked at validation).
JmesPath = Annotated[str, AfterValidator(check_expression)]


class SearchError(Exception):
    """Searching an answer failed at run time (a function got a value of the wrong type)."""


def search(expression: str, data: Any) -> Any:
    """``expression`` evaluated on ``data``; SearchError when JMESPath refuses the data."""
    try:
        return compiled(expression).search(data)
    except JMESPathError as exc:
        raise SearchError(str(exc).splitlines()[0]) from None


def as_number(value: Any) -> float | None:
    """``value`` as a finite number: JSON numbers and numeric text (``"1234"``, as YouTube
    sends counts); None for anything else (booleans, lists, objects, other text)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def as_time(value: Any) -> datetime | None:
    """``value`` as an aware datetime: ISO-8601 text (naive is UTC; ``Z`` allowed) or unix
    seconds (milliseconds when above 10**11); None when it is neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        if not math.isfinite(value):
            return None
        seconds = value / 1000 if abs(value) > 1e11 else value
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            number = as_number(value)
            return as_time(number) if number is not None else None
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    return None


def described(value: Any) -> str:
    """A short description of a JSON value for an error message."""
    kinds = {bool: "a boolean", str: "the text", list: "a list", dict: "an object"}
    kind = next((k for t, k in kinds.items() if isinstance(value, t)), type(value).__name__)
    if isinstance(value, list | dict):
        return f"{kind} of {len(value)} item(s)"
    shown = repr(value)
    return f"{kind} {shown if len(shown) <= 40 else shown[:37] + '...'}"
