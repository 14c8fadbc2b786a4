"""A plain message and fix for one pydantic validation error, never quoting a sensitive value."""

from __future__ import annotations

import re
from typing import Any

from kpiwatch.config_annotations import Target, model_keys
from kpiwatch.config_problems import close_matches, kind_of, quoted

_WHOLE_NUMBER = ("a whole number", "write a whole number such as 10")
_NUMBER = ("a number", "write a number such as 0.5")
_BOOL = ("true or false", "write true or false")
_MAPPING = ("a mapping", "write key: value lines indented below the key")
_LIST = ("a list", "write one '- item' line per element, or [a, b]")
_URL = ("a URL", "write a URL such as https://example.com")
_DATE = ("a date", "write a date such as 2026-05-01")
_DATETIME = ("a date and time", "write a time such as 2026-05-01T09:00:00Z")
#: pydantic error type -> (what was expected, the fix).
_EXPECTED: dict[str, tuple[str, str]] = {
    "int_type": _WHOLE_NUMBER,
    "int_parsing": _WHOLE_NUMBER,
    "int_from_float": _WHOLE_NUMBER,
    "float_type": _NUMBER,
    "float_parsing": _NUMBER,
    "bool_type": _BOOL,
    "bool_parsing": _BOOL,
    "string_type": ("text", "write text"),
    "dict_type": _MAPPING,
    "model_type": _MAPPING,
    "model_attributes_type": _MAPPING,
    "list_type": _LIST,
    "tuple_type": _LIST,
    "set_type": _LIST,
    "path_type": ("a file path", "write a path such as ./state"),
    "url_type": _URL,
    "url_parsing": _URL,
    "date_type": _DATE,
    "date_parsing": _DATE,
    "date_from_datetime_parsing": _DATE,
    "datetime_type": _DATETIME,
    "datetime_parsing": _DATETIME,
}
#: pydantic error type -> (the bound's key in the error context, its words).
_BOUNDS = {
    "greater_than_equal": ("ge", "at least"),
    "greater_than": ("gt", "more than"),
    "less_than_equal": ("le", "at most"),
    "less_than": ("lt", "less than"),
}


def explain(error: Any, target: Target, sensitive: bool) -> tuple[str, str | None]:
    """A plain message and fix for one pydantic error; ``sensitive`` hides the value given."""
    kind = error["type"]
    ctx = error.get("ctx") or {}
    given = error.get("input")
    last = target.loc[-1] if target.loc else ""
    if kind == "missing":
        return "a required key is missing", f"add '{last}: ...' here"
    if kind == "extra_forbidden":
        keys = model_keys(target.parent)
        close = close_matches(str(last), keys)
        if close:
            return f"unknown key {last!r}", f"did you mean {quoted(close)}?"
        allowed = ", ".join(sorted(keys)) or "none"
        return f"unknown key {last!r}", f"remove it; keys allowed here: {allowed}"
    if kind in ("value_error", "assertion_error") and "error" in ctx:
        message, _, fix = str(ctx["error"]).partition("; ")
        return message, fix or None
    if kind in ("literal_error", "enum"):
        expected = str(ctx.get("expected", ""))
        fix = f"write one of {expected}"
        if isinstance(given, str) and not sensitive:
            close = close_matches(given, re.findall(r"'([^']*)'", expected))
            if close:
                fix = f"did you mean {quoted(close)}?"
        return f"{_shown(given, sensitive)} is not one of {expected}", fix
    if kind in _BOUNDS:
        name, words = _BOUNDS[kind]
        return f"{_shown(given, sensitive)} is out of range", f"use {words} {ctx.get(name)}"
    if kind in _EXPECTED:
        expected, fix = _EXPECTED[kind]
        if kind == "string_type" and isinstance(given, int | float | bool):
            fix = "put the value in quotes to make it text"
        if kind in ("model_type", "dict_type", "list_type") and given is None:
            fix += ", or remove the key to keep the defaults"
        return f"expected {expected}, got {_described(given, sensitive)}", fix
    message = str(error.get("msg", "invalid value"))
    return message[:1].lower() + message[1:], None


def _described(value: Any, sensitive: bool) -> str:
    """What ``value`` is, followed by the value itself when it is a short plain one."""
    kind = kind_of(value)
    if sensitive or not isinstance(value, str | int | float) or isinstance(value, bool):
        return kind
    return f"{kind} {_short_repr(value)}"


def _shown(value: Any, sensitive: bool) -> str:
    """``value`` quoted for a message, or "the value" when it may be a secret."""
    if sensitive or not isinstance(value, str | int | float):
        return "the value"
    return _short_repr(value)


def _short_repr(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."
