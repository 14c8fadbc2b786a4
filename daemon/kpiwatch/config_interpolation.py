"""``${VAR}``, ``${VAR:-default}`` and ``$$`` interpolation of configuration text."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

_REFERENCE = re.compile(r"\$(\$|\{[^}]*\}|\{)")
_VARIABLE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?", re.DOTALL)


@dataclass
class Interpolation:
    """The interpolated text, the environment values put into it, and what went wrong."""

    text: str = ""
    #: Values substituted from the environment (defaults are not included).
    used: list[str] = field(default_factory=list)
    #: (message, fix) for each reference that could not be resolved.
    problems: list[tuple[str, str]] = field(default_factory=list)


def interpolate(text: str, environ: Mapping[str, str]) -> Interpolation:
    """Replace the references in ``text``; an unresolved reference becomes ""."""
    result = Interpolation()

    def substitute(match: re.Match[str]) -> str:
        body = match.group(1)
        if body == "$":
            return "$"
        reference = _VARIABLE.fullmatch(body[1:-1]) if body.endswith("}") else None
        if reference is None:
            result.problems.append(
                (
                    f"malformed reference ${body}",
                    "write ${NAME} or ${NAME:-default} (NAME: letters, digits, _), "
                    "or $$ for a literal $",
                )
            )
            return ""
        name, default = reference.group(1), reference.group(2)
        value = environ.get(name)
        if value is not None and (value != "" or default is None):
            result.used.append(value)
            return value
        if default is not None:
            return default
        result.problems.append(
            (
                f"the environment variable {name} is not set",
                f"set {name} in the environment or write ${{{name}:-default}}",
            )
        )
        return ""

    result.text = _REFERENCE.sub(substitute, text)
    return result
