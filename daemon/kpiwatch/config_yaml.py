"""Configuration YAML to plain Python values, with the line where every value was written.

Reads the file within size limits, composes the YAML safely within a nesting limit, then
converts the nodes: ``<<`` merges applied, duplicate keys and tags reported, ``${VAR}``
interpolated in strings. Values that came from the environment are recorded so that no problem
repeats them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.events import CollectionEndEvent, CollectionStartEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from kpiwatch.config_interpolation import interpolate
from kpiwatch.config_problems import ConfigError, ConfigProblem, Loc, fail, format_path, kind_of

#: Largest configuration file read, in bytes.
MAX_CONFIG_BYTES = 8 * 1024 * 1024
#: Deepest nesting of mappings and lists accepted.
MAX_DEPTH = 64
#: Most values a file may expand to (YAML aliases can multiply a small file).
MAX_VALUES = 1_000_000

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE_TAG = "tag:yaml.org,2002:merge"
_STR_TAG = "tag:yaml.org,2002:str"
_COLLECTION_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("map", "seq", "omap", "pairs", "set")
)
# Characters YAML 1.1 allows in a stream (everything else is a reader error).
_NOT_YAML_CHAR = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)


def read_config_file(path: Path, source: str) -> str:
    """The text of the configuration file at ``path`` (UTF-8, BOM allowed), or ConfigError."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise fail(
            source, None, "", "the file does not exist", "check the path given with -c/--config"
        ) from None
    except IsADirectoryError:
        raise fail(
            source, None, "", "this is a directory", "give the path of the YAML file itself"
        ) from None
    except PermissionError:
        raise fail(
            source,
            None,
            "",
            "permission denied",
            "make the file readable by the user kpiwatch runs as",
        ) from None
    except OSError as exc:
        raise fail(source, None, "", f"cannot read the file: {exc.strerror or exc}", None) from None
    if len(data) > MAX_CONFIG_BYTES:
        raise _too_large(source)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise fail(
            source,
            data[: exc.start].count(b"\n") + 1,
            "",
            f"the file is not UTF-8 text (byte 0x{data[exc.start]:02x} cannot be decoded)",
            "save the file as UTF-8",
        ) from None


def parse_config(
    text: str, source: str, environ: Mapping[str, str]
) -> tuple[Document, dict[str, Any]]:
    """The top-level mapping of configuration ``text`` and the Document that converted it.

    Raises ConfigError for what stops reading altogether (size, syntax, nesting, an empty file,
    a top level that is no mapping); lesser problems wait in ``Document.problems``.
    """
    if len(text) > MAX_CONFIG_BYTES:
        raise _too_large(source)
    root = _compose(text.removeprefix("\ufeff"), source)
    if root is None:
        raise fail(
            source,
            None,
            "",
            "the file is empty",
            "write the configuration (see docs/configuration.md); a file holding only {} "
            "runs with every default and no accounts",
        )
    document = Document(source, environ)
    data = document.convert(root)
    if not isinstance(data, dict):
        raise fail(
            source,
            node_line(root),
            "",
            f"the top level is {kind_of(data)}, not a mapping",
            "write key: value lines at the top level (server:, accounts:, ...)",
        )
    return document, data


def node_line(node: Node) -> int:
    """The 1-based line where ``node`` starts."""
    return node.start_mark.line + 1


def _too_large(source: str) -> ConfigError:
    return fail(
        source,
        None,
        "",
        f"the file is larger than {MAX_CONFIG_BYTES // (1024 * 1024)} MiB",
        "check that this is the configuration file; split very large account lists across shards",
    )


def _compose(text: str, source: str) -> Node | None:
    """Parse ``text`` into a YAML node tree (safe loading only), or raise ConfigError."""
    bad_char = _NOT_YAML_CHAR.search(text)
    if bad_char:
        raise fail(
            source,
            text.count("\n", 0, bad_char.start()) + 1,
            "",
            f"the character U+{ord(bad_char.group()):04X} is not allowed in YAML",
            "remove it (control characters may not appear, even inside quotes)",
        )
    try:
        # A first pass over the events bounds the nesting before the recursive composer runs.
        depth = 0
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    raise fail(
                        source,
                        event.start_mark.line + 1,
                        "",
                        f"values are nested more than {MAX_DEPTH} levels deep",
                        "check the brackets and the indentation",
                    )
            elif isinstance(event, CollectionEndEvent):
                depth -= 1
        return yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        raise ConfigError([_syntax_problem(exc, source, text)]) from None
    except yaml.YAMLError as exc:
        raise fail(source, None, "", f"YAML error: {exc}", "check the file's syntax") from None


def _syntax_problem(exc: yaml.MarkedYAMLError, source: str, source_text: str) -> ConfigProblem:
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or "invalid YAML"
    message = f"YAML syntax error: {problem}"
    if exc.context:
        message += f" ({exc.context})"
    if mark is not None:
        message += f" at column {mark.column + 1}"
    lines = source_text.splitlines()
    at = ""
    if mark is not None and mark.line < len(lines) and mark.column < len(lines[mark.line]):
        at = lines[mark.line][mark.column]
    text = f"{problem} {exc.context or ''}"
    if at == "\t" or "\\t" in text or "tab" in text:
        fix = "indent with spaces; YAML does not allow tabs for indentation"
    elif "another document" in text:
        fix = "keep a single document in the file (remove the second '---')"
    elif "mapping values are not allowed" in text:
        fix = "check the indentation, and put quotes around a value that contains ': '"
    elif "could not find expected ':'" in text or "simple key" in text:
        fix = "write key: value, with a space after the colon, or quote the text"
    else:
        fix = "check the indentation, brackets and quotes near this line"
    return ConfigProblem(source, mark.line + 1 if mark else None, "", message, fix)


class Document:
    """Plain Python data from the YAML nodes, with where every value was written.

    Interpolates ``${VAR}`` in string scalars while converting; records which values came from
    the environment so that no problem repeats them.
    """

    def __init__(self, source: str, environ: Mapping[str, str]) -> None:
        self.source = source
        self.environ = environ
        self.value_lines: dict[Loc, int] = {}
        self.key_lines: dict[Loc, int] = {}
        #: Value location -> the substituted environment values and the resulting text.
        self.from_environment: dict[Loc, list[str]] = {}
        #: Locations of values that could not be interpolated; their errors would be noise.
        self.uninterpolated: set[Loc] = set()
        self.problems: list[ConfigProblem] = []
        self._constructor = SafeConstructor()
        self._count = 0

    def line_of(self, loc: Loc, key: bool = False) -> int | None:
        """The line of the value at ``loc`` (of its key when ``key``), or of its nearest parent."""
        if key and loc in self.key_lines:
            return self.key_lines[loc]
        for end in range(len(loc), -1, -1):
            line = self.value_lines.get(loc[:end])
            if line is not None:
                return line
        return None

    def environment_values_under(self, loc: Loc) -> list[str]:
        """The environment values (and texts made from them) at or below ``loc``."""
        return [
            value
            for where, values in self.from_environment.items()
            if where[: len(loc)] == loc
            for value in values
        ]

    def problem(self, loc: Loc, line: int | None, message: str, fix: str | None) -> None:
        self.problems.append(ConfigProblem(self.source, line, format_path(loc), message, fix))

    def convert(self, node: Node, loc: Loc = (), depth: int = 0) -> Any:
        """The plain value of ``node`` at ``loc``; raises ConfigError past the size limits."""
        self._count += 1
        if self._count > MAX_VALUES:
            raise fail(
                self.source,
                node_line(node),
                format_path(loc),
                f"the file expands to more than {MAX_VALUES} values",
                "check the YAML aliases (*name): each one repeats what it refers to",
            )
        if depth > MAX_DEPTH:  # only an alias that refers to itself gets this deep
            raise fail(
                self.source,
                node_line(node),
                "",
                f"values are nested more than {MAX_DEPTH} levels deep",
                "check for a YAML alias (*name) inside the value it refers to",
            )
        self.value_lines[loc] = node_line(node)
        if not isinstance(node, ScalarNode) and node.tag not in _COLLECTION_TAGS:
            self.problem(
                loc,
                node_line(node),
                f"unknown YAML tag {node.tag!r}",
                "remove the tag; kpiwatch reads plain YAML values only",
            )
        if isinstance(node, SequenceNode):
            return [self.convert(item, (*loc, i), depth + 1) for i, item in enumerate(node.value)]
        if isinstance(node, MappingNode):
            result: dict[str, Any] = {}
            for key, key_node, value_node in self._pairs(node, loc):
                self.key_lines[(*loc, key)] = node_line(key_node)
                result[key] = self.convert(value_node, (*loc, key), depth + 1)
            return result
        return self._scalar(node, loc)

    def _pairs(self, node: MappingNode, loc: Loc) -> list[tuple[str, Node, Node]]:
        """The entries of a mapping with ``<<`` merges applied; reports duplicate keys."""
        explicit: dict[str, tuple[str, Node, Node]] = {}
        merged: list[tuple[str, Node, Node]] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merged.extend(self._merged(value_node, loc))
            elif not isinstance(key_node, ScalarNode):
                self.problem(
                    loc,
                    node_line(key_node),
                    "a key is a list or mapping",
                    "write plain text keys (quote the key if needed)",
                )
            else:
                key = key_node.value
                if key in explicit:
                    self.problem(
                        (*loc, key),
                        node_line(key_node),
                        f"the key {key!r} appears twice in this mapping "
                        f"(first on line {node_line(explicit[key][1])})",
                        "remove one of them; YAML would silently keep only the last",
                    )
                explicit[key] = (key, key_node, value_node)
        for key, key_node, value_node in merged:
            explicit.setdefault(key, (key, key_node, value_node))
        return list(explicit.values())

    def _merged(self, value_node: Node, loc: Loc) -> list[tuple[str, Node, Node]]:
        """The entries a ``<<`` key brings in: one mapping or a list of mappings."""
        sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
        entries: list[tuple[str, Node, Node]] = []
        for merge_source in sources:
            if isinstance(merge_source, MappingNode):
                entries.extend(self._pairs(merge_source, loc))
            else:
                self.problem(
                    loc,
                    node_line(merge_source),
                    "'<<' can merge only mappings",
                    "refer to a mapping with <<: *name",
                )
        return entries

    def _scalar(self, node: ScalarNode, loc: Loc) -> Any:
        if node.tag == _STR_TAG:
            value: Any = node.value
        else:
            try:
                value = self._constructor.construct_object(node)
            except ConstructorError as exc:
                self.problem(
                    loc,
                    node_line(node),
                    f"cannot read this value: {exc.problem}",
                    "remove the YAML tag (!name); kpiwatch reads plain values only",
                )
                self.uninterpolated.add(loc)
                return None
            except Exception:  # explicit tags such as !!int on text that is no number
                self.problem(
                    loc,
                    node_line(node),
                    f"this value is not a valid {node.tag.rsplit(':', 1)[-1]}",
                    "remove the YAML tag (!!name) or correct the value",
                )
                self.uninterpolated.add(loc)
                return None
        if isinstance(value, str) and "$" in value:
            return self._interpolate(value, loc, node_line(node))
        return value

    def _interpolate(self, text: str, loc: Loc, line: int) -> str:
        interpolation = interpolate(text, self.environ)
        for message, fix in interpolation.problems:
            self.problem(loc, line, message, fix)
        if interpolation.problems:
            self.uninterpolated.add(loc)
        if interpolation.used:
            self.from_environment[loc] = [*interpolation.used, interpolation.text]
        return interpolation.text
