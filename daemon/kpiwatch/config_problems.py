"""Configuration problems (where, what, how to fix) and the wording helpers they share.

A problem never quotes a secret: :func:`scrub` replaces known secret values by ``<hidden>``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

#: A place in the configuration data: mapping keys and list indexes from the top.
Loc = tuple[str | int, ...]
#: What a secret value is replaced with in a problem.
HIDDEN = "<hidden>"

_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with a configuration: where, what and how to fix it."""

    source: str
    line: int | None
    path: str
    message: str
    fix: str | None = None

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        text = f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"
        return f"{text}; {self.fix}" if self.fix else text


class EntryProblem(ValueError):
    """A problem of one entry of a list section (``rules:``, ``goals:``) that a model alone
    cannot see: ``index`` in the list, ``field`` the key at fault, and how to fix it."""

    def __init__(self, index: int, field: tuple[str | int, ...], message: str, fix: str) -> None:
        super().__init__(message)
        self.index = index
        self.field = field
        self.message = message
        self.fix = fix


class EntryProblems(ValueError):
    """Every :class:`EntryProblem` found in the list section ``section``."""

    section = ""

    def __init__(self, problems: list[EntryProblem]) -> None:
        super().__init__("; ".join(f"{self.section}[{p.index}]: {p.message}" for p in problems))
        self.problems = problems


class ConfigError(Exception):
    """A configuration was rejected; ``problems`` lists every reason found."""

    def __init__(self, problems: Sequence[ConfigProblem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


def fail(source: str, line: int | None, path: str, message: str, fix: str | None) -> ConfigError:
    """A ConfigError with one problem."""
    return ConfigError([ConfigProblem(source, line, path, message, fix)])


def format_path(loc: Loc) -> str:
    """``("accounts", 2, "settings", "token")`` as ``accounts[2].settings.token``."""
    text = ""
    for element in loc:
        if isinstance(element, int):
            text += f"[{element}]"
        elif _PLAIN_KEY.match(element):
            text += f".{element}" if text else element
        else:
            text += f"[{element!r}]"
    return text


def kind_of(value: Any) -> str:
    """What ``value`` is, in the words of a problem: "a number", "a mapping", ..."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__}"


def close_matches(word: str, candidates: Sequence[str]) -> list[str]:
    """Up to three of ``candidates`` that look like ``word`` (ignoring case), best first."""
    by_lower = {candidate.lower(): candidate for candidate in candidates}
    close = difflib.get_close_matches(word.lower(), list(by_lower), n=3, cutoff=0.6)
    return [by_lower[match] for match in close]


def quoted(words: Sequence[str]) -> str:
    """``['a', 'b', 'c']`` as ``'a', 'b' or 'c'``."""
    marked = [f"'{word}'" for word in words]
    return marked[0] if len(marked) == 1 else f"{', '.join(marked[:-1])} or {marked[-1]}"


def scrub(text: str, values: Collection[str]) -> str:
    """``text`` with every one of ``values`` (as a whole word or quoted) replaced by HIDDEN."""
    for value in sorted(values, key=len, reverse=True):
        if not value:
            continue
        text = text.replace(repr(value), HIDDEN)
        text = re.sub(rf"(?<![\w.]){re.escape(value)}(?!\w|\.\d)", HIDDEN, text)
    return text
