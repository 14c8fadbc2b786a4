"""The formula language of KPIs: a safe subset of Python arithmetic, compiled to closures.

A formula such as ``engagements / first(reach, impressions)`` is parsed with
``ast.parse(text, mode="eval")`` and only numbers, lower-case names, filtered references
(``sessions(medium="social")``), ``+ - * /``, unary ``-``/``+``, parentheses and the functions
first, total, min, max, abs, start and delta are accepted. The text is never evaluated by
Python: the checked tree is turned into nested closures once, at parse time.

Evaluation treats missing inputs as absent (``None``): arithmetic with an absent operand,
division by zero and non-finite results (overflow) are absent, never exceptions.
"""

from __future__ import annotations

import ast
import difflib
import json
import math
import re
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal, NoReturn, TypeAlias

#: The longest formula text accepted by :func:`parse`.
MAX_LENGTH = 1000
#: The most operators and function calls nested inside one another.
MAX_DEPTH = 50
#: The functions a formula may call.
FUNCTIONS = ("abs", "delta", "first", "max", "min", "start", "total")

ALLOWED = (
    "a formula may use numbers, lower-case metric and KPI names, filtered references like "
    'sessions(medium="social"), + - * /, parentheses and the functions '
    "first, total, min, max, abs, start and delta"
)

_NAME = re.compile(r"[a-z_][a-z0-9_]*")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_REFERENCE_MODES = ("delta", "start")


class ExpressionError(ValueError):
    """A formula was refused; the message says what is wrong and how to fix it.

    ``column`` is the 1-based character position in ``text`` (line breaks count as one
    character), or None when no position applies.
    """

    def __init__(self, message: str, *, column: int | None = None, text: str | None = None):
        super().__init__(message)
        self.message = message
        self.column = column
        self.text = text


@dataclass(frozen=True, slots=True, order=True)
class Ref:
    """A reference to a raw metric or a KPI, optionally filtered by labels.

    ``mode`` is ``"start"`` for the value at the start of the window and ``"delta"`` for the
    change over the window; the KPI engine resolves both.
    """

    name: str
    filters: tuple[tuple[str, str], ...] = ()
    mode: Literal["value", "start", "delta"] = "value"
    # Refs key the engine's value dicts; the generated dataclass hash costs ~250 ns a call.
    _hash: int = field(default=0, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_hash", hash((self.name, self.filters, self.mode)))

    def __hash__(self) -> int:
        return self._hash

    def __str__(self) -> str:
        text = self.name
        if self.filters:
            labels = ", ".join(f"{key}={_quote(value)}" for key, value in self.filters)
            text = f"{self.name}({labels})"
        return text if self.mode == "value" else f"{self.mode}({text})"


# --- the tree -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Number:
    value: int | float


@dataclass(frozen=True, slots=True)
class _Reference:
    ref: Ref


@dataclass(frozen=True, slots=True)
class _Negation:
    operand: _Node


@dataclass(frozen=True, slots=True)
class _Binary:
    operator: str
    left: _Node
    right: _Node


@dataclass(frozen=True, slots=True)
class _Call:
    function: str
    operands: tuple[_Node, ...]


_Node: TypeAlias = "_Number | _Reference | _Negation | _Binary | _Call"
Lookup: TypeAlias = Callable[[Ref], "float | None"]
_Evaluator: TypeAlias = Callable[[Lookup], "float | None"]


def _negate(node: _Node) -> _Node:
    """``-node``; a negated number literal becomes a negative number."""
    if isinstance(node, _Number):
        return _Number(-node.value)
    return _Negation(node)


def _depth(node: _Node) -> int:
    """How many operators and calls are nested on the deepest path of ``node``."""
    if isinstance(node, _Negation):
        return 1 + _depth(node.operand)
    if isinstance(node, _Binary):
        return 1 + max(_depth(node.left), _depth(node.right))
    if isinstance(node, _Call):
        return 1 + max(_depth(operand) for operand in node.operands)
    return 0


def _iter_refs(node: _Node) -> Iterator[Ref]:
    if isinstance(node, _Reference):
        yield node.ref
    elif isinstance(node, _Negation):
        yield from _iter_refs(node.operand)
    elif isinstance(node, _Binary):
        yield from _iter_refs(node.left)
        yield from _iter_refs(node.right)
    elif isinstance(node, _Call):
        for operand in node.operands:
            yield from _iter_refs(operand)


def _is_constant(node: _Node) -> bool:
    return next(_iter_refs(node), None) is None


# --- canonical text -------------------------------------------------------------------------

_SUM, _PRODUCT, _UNARY, _ATOM = 1, 2, 3, 4


def _quote(value: str) -> str:
    """A double-quoted string literal that Python's parser reads back as ``value``."""
    return json.dumps(value, ensure_ascii=False)


def _precedence(node: _Node) -> int:
    if isinstance(node, _Binary):
        return _SUM if node.operator in "+-" else _PRODUCT
    if isinstance(node, _Negation):
        return _UNARY
    if isinstance(node, _Number) and math.copysign(1, node.value) < 0:
        return _UNARY
    return _ATOM


def _render(node: _Node) -> str:
    """Canonical text: re-parsable to the same tree, with the fewest parentheses."""
    if isinstance(node, _Number):
        return str(node.value) if isinstance(node.value, int) else repr(node.value)
    if isinstance(node, _Reference):
        return str(node.ref)
    if isinstance(node, _Negation):
        return "-" + _render_operand(node.operand, _UNARY)
    if isinstance(node, _Binary):
        level = _precedence(node)
        left = _render_operand(node.left, level)
        right = _render_operand(node.right, level + 1)
        return f"{left} {node.operator} {right}"
    return f"{node.function}({', '.join(_render(operand) for operand in node.operands)})"


def _render_operand(node: _Node, least: int) -> str:
    text = _render(node)
    return text if _precedence(node) >= least else f"({text})"


# --- closures -------------------------------------------------------------------------------


def _no_lookup(ref: Ref) -> NoReturn:
    raise AssertionError(f"a constant expression looked up {ref}")


def _compile(node: _Node) -> _Evaluator:
    """Nested closures computing ``node``; constant subtrees are computed once, here."""
    if isinstance(node, _Reference):
        return _reference_evaluator(node.ref)
    if isinstance(node, _Number):
        return _constant_evaluator(float(node.value))
    if isinstance(node, _Negation):
        evaluator = _negation_evaluator(_compile(node.operand))
    elif isinstance(node, _Binary):
        evaluator = _BINARY[node.operator](_compile(node.left), _compile(node.right))
    else:
        evaluator = _FUNCTION[node.function](tuple(_compile(op) for op in node.operands))
    if _is_constant(node):
        return _constant_evaluator(evaluator(_no_lookup))
    return evaluator


def _constant_evaluator(value: float | None) -> _Evaluator:
    def constant(lookup: Lookup) -> float | None:
        return value

    return constant


def _reference_evaluator(ref: Ref) -> _Evaluator:
    def reference(lookup: Lookup) -> float | None:
        return lookup(ref)

    return reference


def _negation_evaluator(operand: _Evaluator) -> _Evaluator:
    def negation(lookup: Lookup) -> float | None:
        value = operand(lookup)
        return None if value is None else -value

    return negation


def _add(left: _Evaluator, right: _Evaluator) -> _Evaluator:
    def add(lookup: Lookup) -> float | None:
        a = left(lookup)
        if a is None:
            return None
        b = right(lookup)
        return None if b is None else a + b

    return add


def _subtract(left: _Evaluator, right: _Evaluator) -> _Evaluator:
    def subtract(lookup: Lookup) -> float | None:
        a = left(lookup)
        if a is None:
            return None
        b = right(lookup)
        return None if b is None else a - b

    return subtract


def _multiply(left: _Evaluator, right: _Evaluator) -> _Evaluator:
    def multiply(lookup: Lookup) -> float | None:
        a = left(lookup)
        if a is None:
            return None
        b = right(lookup)
        return None if b is None else a * b

    return multiply


def _divide(left: _Evaluator, right: _Evaluator) -> _Evaluator:
    def divide(lookup: Lookup) -> float | None:
        a = left(lookup)
        if a is None:
            return None
        b = right(lookup)
        # ``b - b != 0`` holds for inf and NaN: x / inf would hide an overflow as 0.
        if b is None or b == 0 or b - b != 0:
            return None
        return a / b

    return divide


def _first(operands: tuple[_Evaluator, ...]) -> _Evaluator:
    if len(operands) == 1:
        return operands[0]
    if len(operands) == 2:
        preferred, fallback = operands

        def first_of_two(lookup: Lookup) -> float | None:
            value = preferred(lookup)
            return fallback(lookup) if value is None else value

        return first_of_two

    def first(lookup: Lookup) -> float | None:
        for operand in operands:
            value = operand(lookup)
            if value is not None:
                return value
        return None

    return first


def _total(operands: tuple[_Evaluator, ...]) -> _Evaluator:
    def total(lookup: Lookup) -> float | None:
        result = None
        for operand in operands:
            value = operand(lookup)
            if value is not None:
                result = value if result is None else result + value
        return result

    return total


def _minimum(operands: tuple[_Evaluator, ...]) -> _Evaluator:
    def minimum(lookup: Lookup) -> float | None:
        result = None
        for operand in operands:
            value = operand(lookup)
            # Non-finite operands make the result absent: min(inf, 5) would hide an overflow.
            if value is None or value - value != 0:
                return None
            if result is None or value < result:
                result = value
        return result

    return minimum


def _maximum(operands: tuple[_Evaluator, ...]) -> _Evaluator:
    def maximum(lookup: Lookup) -> float | None:
        result = None
        for operand in operands:
            value = operand(lookup)
            if value is None or value - value != 0:
                return None
            if result is None or value > result:
                result = value
        return result

    return maximum


def _absolute(operands: tuple[_Evaluator, ...]) -> _Evaluator:
    (operand,) = operands

    def absolute(lookup: Lookup) -> float | None:
        value = operand(lookup)
        return None if value is None else abs(value)

    return absolute


_BINARY: dict[str, Callable[[_Evaluator, _Evaluator], _Evaluator]] = {
    "+": _add,
    "-": _subtract,
    "*": _multiply,
    "/": _divide,
}
_FUNCTION: dict[str, Callable[[tuple[_Evaluator, ...]], _Evaluator]] = {
    "abs": _absolute,
    "first": _first,
    "max": _maximum,
    "min": _minimum,
    "total": _total,
}


# --- the expression -------------------------------------------------------------------------


class Expression:
    """A parsed, checked formula; immutable and hashable. Build it with :func:`parse`."""

    __slots__ = ("_evaluator", "_node", "_refs", "text")

    text: str

    def __init__(self, node: _Node) -> None:
        object.__setattr__(self, "_node", node)
        object.__setattr__(self, "text", _render(node))
        object.__setattr__(self, "_refs", frozenset(_iter_refs(node)))
        object.__setattr__(self, "_evaluator", _compile(node))

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(f"Expression is immutable; cannot set {name!r}")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"Expression is immutable; cannot delete {name!r}")

    def __reduce__(self) -> tuple[type[Expression], tuple[_Node]]:
        return (Expression, (self._node,))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Expression):
            return NotImplemented
        return self.text == other.text

    def __hash__(self) -> int:
        return hash(self.text)

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"Expression({self.text!r})"

    def refs(self) -> frozenset[Ref]:
        """Every metric and KPI reference, with its filters and mode."""
        return self._refs

    def names(self) -> frozenset[str]:
        """The names of the references."""
        return frozenset(ref.name for ref in self._refs)

    def is_constant(self) -> bool:
        """True when the formula references nothing."""
        return not self._refs

    def evaluate(self, lookup: Lookup) -> float | None:
        """The value, ``lookup`` giving each reference's value or None when it is absent.

        Absent operands, division by zero and non-finite results give None.
        """
        try:
            value = self._evaluator(lookup)
            if value is None:
                return None
            value = float(value)
        except OverflowError:  # integers from ``lookup`` too large for a float
            return None
        return value if value - value == 0 else None

    def split_ratio(self) -> tuple[Expression, Expression | None]:
        """``(numerator, denominator)`` when the formula is a division, else ``(self, None)``."""
        node = self._node
        if isinstance(node, _Binary) and node.operator == "/":
            return Expression(node.left), Expression(node.right)
        return self, None

    def substitute(self, replacements: Mapping[str, Expression]) -> Expression:
        """Replace each plain reference to a name in ``replacements`` by that formula.

        One pass: names inside the replacements are not replaced again. A filtered reference
        or start()/delta() of a replaced name raises ExpressionError.
        """
        for name, replacement in replacements.items():
            if not isinstance(replacement, Expression):
                raise TypeError(
                    f"the replacement for {name!r} must be an Expression, "
                    f"not {type(replacement).__name__}"
                )
        if not self.names() & replacements.keys():
            return self
        node = self._replace(self._node, replacements)
        if _depth(node) > MAX_DEPTH:
            raise ExpressionError(
                f"'{self.text}' nests deeper than {MAX_DEPTH} levels once the formulas of "
                f"{', '.join(sorted(self.names() & replacements.keys()))} are put in; "
                "simplify the formulas or reference fewer KPIs inside each other",
                text=self.text,
            )
        return Expression(node)

    def _replace(self, node: _Node, replacements: Mapping[str, Expression]) -> _Node:
        if isinstance(node, _Reference):
            ref = node.ref
            replacement = replacements.get(ref.name)
            if replacement is None:
                return node
            if ref.filters or ref.mode != "value":
                raise ExpressionError(
                    f"'{ref.name}' is a formula ({replacement.text}), so it cannot take filters "
                    f"or start()/delta() as in '{ref}' of '{self.text}'; apply the filter or "
                    "start()/delta() to the metrics inside its formula instead",
                    text=self.text,
                )
            return replacement._node
        if isinstance(node, _Negation):
            return _negate(self._replace(node.operand, replacements))
        if isinstance(node, _Binary):
            left = self._replace(node.left, replacements)
            return _Binary(node.operator, left, self._replace(node.right, replacements))
        if isinstance(node, _Call):
            operands = tuple(self._replace(op, replacements) for op in node.operands)
            return _Call(node.function, operands)
        return node

    def zero_divisors(self) -> list[str]:
        """The canonical text of each divisor that is a constant equal to 0, left to right."""
        found: list[str] = []
        self._collect_zero_divisors(self._node, found)
        return found

    def _collect_zero_divisors(self, node: _Node, found: list[str]) -> None:
        if isinstance(node, _Negation):
            self._collect_zero_divisors(node.operand, found)
        elif isinstance(node, _Binary):
            self._collect_zero_divisors(node.left, found)
            self._collect_zero_divisors(node.right, found)
            right = node.right
            if node.operator == "/" and _is_constant(right) and _compile(right)(_no_lookup) == 0:
                found.append(_render(right))
        elif isinstance(node, _Call):
            for operand in node.operands:
                self._collect_zero_divisors(operand, found)


def parse(text: str) -> Expression:
    """Parse and check a formula; raises ExpressionError saying what is wrong and the fix."""
    if not isinstance(text, str):
        raise ExpressionError(
            f"a formula must be text, got {type(text).__name__} {text!r}; "
            'write it as a string, e.g. "engagements / reach"'
        )
    if not text.strip():
        raise ExpressionError(
            'the formula is empty; write an expression such as "engagements / reach"', text=text
        )
    if len(text) > MAX_LENGTH:
        raise ExpressionError(
            f"the formula is {len(text)} characters long, over the limit of {MAX_LENGTH}; "
            "split it into KPIs that reference each other",
            text=text,
        )
    control = _CONTROL.search(text)
    if control:
        raise ExpressionError(
            f"the formula contains the control character {control.group()!r} at column "
            f"{control.start() + 1}; remove it",
            column=control.start() + 1,
            text=text,
        )
    return Expression(_Parser(text).parse())


# --- parsing --------------------------------------------------------------------------------

_OPERATORS: dict[type[ast.AST], str] = {
    ast.Pow: "**",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.MatMult: "@",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.BitOr: "|",
    ast.BitXor: "^",
    ast.BitAnd: "&",
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.Is: "is",
    ast.IsNot: "is not",
    ast.In: "in",
    ast.NotIn: "not in",
    ast.And: "and",
    ast.Or: "or",
    ast.Not: "not",
    ast.Invert: "~",
}
_OPERATOR_HINTS = {
    "**": "write a square as x * x",
    "//": "use / for division",
    "%": "use / for division",
}
_CONSTRUCTS: dict[type[ast.AST], str] = {
    ast.Lambda: "a lambda",
    ast.IfExp: "a conditional expression (x if c else y)",
    ast.JoinedStr: "an f-string",
    ast.List: "a list",
    ast.Tuple: "a tuple",
    ast.Set: "a set",
    ast.Dict: "a dict",
    ast.ListComp: "a comprehension",
    ast.SetComp: "a comprehension",
    ast.DictComp: "a comprehension",
    ast.GeneratorExp: "a generator expression",
    ast.NamedExpr: "an assignment (:=)",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
    ast.Starred: "'*' unpacking",
    ast.Slice: "a slice",
}
_COMPARISON_HINT = "a formula computes a number; put thresholds in alert conditions"


class _Parser:
    """Turns the ast of one formula into checked tree nodes, or raises ExpressionError."""

    def __init__(self, text: str) -> None:
        self.text = text
        # ast.parse refuses leading indentation; positions are shifted back by ``lead``.
        self.lead = len(text) - len(text.lstrip())
        self.source = text[self.lead :]
        self.line_starts = [0] + [match.end() for match in _LINE_BREAK.finditer(self.source)]

    def parse(self) -> _Node:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # invalid escapes in strings, for one
                tree = ast.parse(self.source, mode="eval")
        except SyntaxError as error:
            column = self._syntax_error_column(error)
            message = f"syntax error at column {column}: {error.msg}; {ALLOWED}"
            raise self._error(message, column) from None
        except (RecursionError, MemoryError):
            raise self._error(
                f"the formula nests deeper than {MAX_DEPTH} levels; "
                "split it into KPIs that reference each other",
                None,
            ) from None
        return self._convert(tree.body, 0)

    # positions

    def _line(self, lineno: int) -> str:
        start = self.line_starts[lineno - 1]
        end = self.line_starts[lineno] if lineno < len(self.line_starts) else len(self.source)
        return self.source[start:end].rstrip("\r\n")

    def _offset(self, lineno: int, byte_column: int) -> int:
        """0-based character offset in ``source`` of an ast (line, UTF-8 byte column)."""
        line = self._line(lineno).encode()
        return self.line_starts[lineno - 1] + len(line[:byte_column].decode(errors="ignore"))

    def _column(self, node: ast.expr | ast.keyword) -> int:
        return self.lead + self._offset(node.lineno, node.col_offset) + 1

    def _column_after(self, node: ast.expr) -> int:
        """Column of the first token after ``node`` (its operator, '.', '[' or '(')."""
        assert node.end_lineno is not None and node.end_col_offset is not None
        index = self._offset(node.end_lineno, node.end_col_offset)
        source = self.source
        while index < len(source):
            char = source[index]
            if char == "#":
                while index < len(source) and source[index] not in "\r\n":
                    index += 1
            elif char.isspace() or char in ")\\":
                index += 1
            else:
                break
        return self.lead + index + 1

    def _syntax_error_column(self, error: SyntaxError) -> int:
        lineno = min(max(error.lineno or 1, 1), len(self.line_starts))
        line = self._line(lineno)
        offset = error.offset if error.offset and error.offset >= 1 else len(line) + 1
        return self.lead + self.line_starts[lineno - 1] + min(offset, len(line) + 1)

    def _error(self, message: str, column: int | None) -> ExpressionError:
        return ExpressionError(message, column=column, text=self.text)

    # nodes

    def _convert(self, node: ast.expr, enclosing: int) -> _Node:
        """Check ``node``, nested in ``enclosing`` operators and calls, and convert it."""
        if isinstance(node, ast.Constant):
            return self._number(node)
        if isinstance(node, ast.Name):
            return _Reference(Ref(self._plain_name(node)))
        if isinstance(node, ast.Call):
            return self._call(node, enclosing)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            self._check_depth(node, enclosing)
            operand = self._convert(node.operand, enclosing + 1)
            return _negate(operand) if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.BinOp) and type(node.op) in _ARITHMETIC:
            self._check_depth(node, enclosing)
            left = self._convert(node.left, enclosing + 1)
            right = self._convert(node.right, enclosing + 1)
            return _Binary(_ARITHMETIC[type(node.op)], left, right)
        raise self._refused(node)

    def _check_depth(self, node: ast.expr, enclosing: int) -> None:
        if enclosing >= MAX_DEPTH:
            column = self._column(node)
            raise self._error(
                f"the formula nests deeper than {MAX_DEPTH} levels at column {column}; split it "
                "into KPIs that reference each other, or use total(a, b, ...) for long sums",
                column,
            )

    def _number(self, node: ast.Constant) -> _Number:
        value = node.value
        column = self._column(node)
        if isinstance(value, str):
            raise self._error(
                f"a string at column {column} is only allowed as a filter value, "
                f'like sessions(medium="social"); {ALLOWED}',
                column,
            )
        if isinstance(value, bool) or not isinstance(value, int | float):
            construct = {bytes: "a bytes string", complex: "a complex number"}.get(
                type(value), "'...'" if value is Ellipsis else f"'{value!r}'"
            )
            raise self._error(f"{construct} at column {column} is not allowed; {ALLOWED}", column)
        try:
            finite = math.isfinite(value)
        except OverflowError:
            finite = False
        if not finite:
            raise self._error(
                f"the number at column {column} is too large; numbers must fit a float "
                "(at most about 1.8e308)",
                column,
            )
        return _Number(value)

    def _checked_name(self, node: ast.Name) -> str:
        """``node.id`` when it is written as a lower-case ASCII name."""
        written = ast.get_source_segment(self.source, node) or node.id
        return self._checked_identifier(written, node.id, self._column(node))

    def _checked_identifier(self, written: str, name: str, column: int) -> str:
        if written == name and _NAME.fullmatch(name):
            return name
        if _NAME.fullmatch(written.lower()):
            raise self._error(
                f"'{written}' at column {column} has upper-case letters; names are lower-case: "
                f"write '{written.lower()}'",
                column,
            )
        raise self._error(
            f"'{written}' at column {column} is not a valid name; names use lower-case letters "
            "a-z, digits and _ and do not start with a digit",
            column,
        )

    def _plain_name(self, node: ast.Name) -> str:
        name = self._checked_name(node)
        if name in FUNCTIONS:
            column = self._column(node)
            example = f"{name}(followers)" if name in _REFERENCE_MODES else f"{name}(a, b)"
            raise self._error(
                f"'{name}' at column {column} is a function, not a metric; call it like {example}",
                column,
            )
        return name

    def _call(self, node: ast.Call, enclosing: int) -> _Node:
        if not isinstance(node.func, ast.Name):
            self._check_depth(node, enclosing)
            self._convert(node.func, enclosing + 1)  # names the refused construct, if any
            column = self._column_after(node.func)
            raise self._error(
                f"the call at column {column} is not allowed: only the functions "
                f"{', '.join(FUNCTIONS)} and metric names with filters can be called; {ALLOWED}",
                column,
            )
        name = self._checked_name(node.func)
        column = self._column(node)
        if name in _REFERENCE_MODES:
            if node.keywords or len(node.args) != 1:
                raise self._error(
                    f"{name}() at column {column} takes exactly one metric reference, like "
                    f'{name}(followers) or {name}(sessions(medium="social"))',
                    column,
                )
            ref = self._reference_argument(node.args[0], name)
            return _Reference(Ref(ref.name, ref.filters, mode=name))  # type: ignore[arg-type]
        if name in FUNCTIONS:
            return self._function(node, name, column, enclosing)
        if not node.args and not node.keywords:
            raise self._error(
                f"'{name}()' at column {column} has no filters; write {name} without "
                f'parentheses, or filter it like {name}(medium="social")',
                column,
            )
        if node.args:
            raise self._unknown_function(name, column)
        return _Reference(self._filtered_reference(node, name))

    def _function(self, node: ast.Call, name: str, column: int, enclosing: int) -> _Call:
        if node.keywords:
            raise self._error(
                f"{name}() at column {column} takes no keyword arguments; "
                f'filter the metrics inside it instead, like {name}(sessions(medium="social"))',
                column,
            )
        for argument in node.args:
            if isinstance(argument, ast.Starred):
                raise self._refused(argument)
        if name == "abs" and len(node.args) != 1:
            raise self._error(
                f"abs() at column {column} takes exactly one argument, got {len(node.args)}",
                column,
            )
        if not node.args:
            raise self._error(
                f"{name}() at column {column} needs at least one argument, like {name}(a, b)",
                column,
            )
        self._check_depth(node, enclosing)
        return _Call(name, tuple(self._convert(arg, enclosing + 1) for arg in node.args))

    def _unknown_function(self, name: str, column: int) -> ExpressionError:
        close = difflib.get_close_matches(name, FUNCTIONS, n=1)
        suggestion = f"did you mean '{close[0]}'? " if close else ""
        return self._error(
            f"unknown function '{name}' at column {column}; {suggestion}the functions are "
            f"{', '.join(FUNCTIONS)}; to filter a metric by labels write "
            f'{name}(label="value"), with keyword arguments only',
            column,
        )

    def _reference_argument(self, node: ast.expr, function: str) -> Ref:
        """The (possibly filtered) reference inside start() or delta()."""
        if isinstance(node, ast.Name):
            return Ref(self._plain_name(node))
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id not in FUNCTIONS
            and node.keywords
            and not node.args
        ):
            return self._filtered_reference(node, self._checked_name(node.func))
        column = self._column(node)
        raise self._error(
            f"{function}() takes a metric reference, but its argument at column {column} is "
            f"'{ast.get_source_segment(self.source, node)}'; write {function}(followers) or "
            f'{function}(sessions(medium="social")), one reference only',
            column,
        )

    def _filtered_reference(self, node: ast.Call, name: str) -> Ref:
        filters: dict[str, str] = {}
        for keyword in node.keywords:
            column = self._column(keyword)
            if keyword.arg is None:
                raise self._error(
                    f"'**' unpacking at column {column} is not allowed; write each filter "
                    'as label="value"',
                    column,
                )
            written = (ast.get_source_segment(self.source, keyword) or keyword.arg).split("=")[0]
            label = self._checked_identifier(written.strip(), keyword.arg, column)
            if label in filters:
                raise self._error(
                    f"filter '{label}' at column {column} is given twice; give each label once",
                    column,
                )
            value = keyword.value
            if not (isinstance(value, ast.Constant) and isinstance(value.value, str)):
                value_column = self._column(value)
                raise self._error(
                    f"the filter value for '{label}' at column {value_column} must be a quoted "
                    f'string, like {label}="social"',
                    value_column,
                )
            filters[label] = value.value
        return Ref(name, tuple(sorted(filters.items())))

    def _refused(self, node: ast.expr) -> ExpressionError:
        """The error for a construct outside the language, naming it and its column."""
        hint = ""
        if isinstance(node, ast.BinOp | ast.Compare | ast.BoolOp):
            first = node.left if isinstance(node, ast.BinOp | ast.Compare) else node.values[0]
            column = self._column_after(first)
            operator = node.ops[0] if isinstance(node, ast.Compare) else node.op
            symbol = _OPERATORS.get(type(operator), type(operator).__name__)
            construct = f"'{symbol}'"
            hint = _OPERATOR_HINTS.get(symbol, "")
            if not isinstance(node, ast.BinOp):
                hint = _COMPARISON_HINT
        elif isinstance(node, ast.UnaryOp):
            column = self._column(node)
            construct = f"'{_OPERATORS.get(type(node.op), type(node.op).__name__)}'"
            hint = _COMPARISON_HINT if isinstance(node.op, ast.Not) else ""
        elif isinstance(node, ast.Attribute):
            column = self._column_after(node.value)
            construct = f"attribute access '.{node.attr}'"
        elif isinstance(node, ast.Subscript):
            column = self._column_after(node.value)
            construct = "a subscript '[...]'"
        elif isinstance(node, ast.IfExp):
            column = self._column_after(node.body)
            construct = _CONSTRUCTS[ast.IfExp]
            hint = _COMPARISON_HINT
        else:
            column = self._column(node)
            construct = _CONSTRUCTS.get(type(node), type(node).__name__)
        hint = f" ({hint})" if hint else ""
        return self._error(
            f"{construct} at column {column} is not allowed{hint}; {ALLOWED}", column
        )


_ARITHMETIC: dict[type[ast.operator], str] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
}
