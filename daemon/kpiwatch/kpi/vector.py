"""Formula evaluation over columns of many accounts at once (NumPy arrays, NaN for absent).

A formula already checked by :func:`kpiwatch.kpi.expressions.parse` is compiled here into a
function of a column getter, so one call computes a KPI for every account (or every group).
The semantics are those of ``Expression.evaluate``: an absent operand makes the result absent,
``first`` takes the first present operand, ``total`` sums the present ones, a division by zero
and a non-finite result are absent.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import Any

import numpy as np

from kpiwatch.kpi.expressions import Expression, Ref

Vector = np.ndarray
#: Returns the column of one reference (float64, NaN where absent).
Getter = Callable[[Ref], Vector]
VectorFunction = Callable[[Getter], Vector]


def compile_vector(expression: Expression) -> VectorFunction:
    """A function computing ``expression`` for whole columns."""
    tree = ast.parse(str(expression), mode="eval").body
    build = _compile(tree)

    def run(get: Getter) -> Vector:
        with np.errstate(all="ignore"):
            result = np.asarray(build(get), dtype=np.float64)
        return np.where(np.isfinite(result), result, np.nan)

    return run


def _ref(node: ast.AST, mode: str = "value") -> Ref:
    if isinstance(node, ast.Name):
        return Ref(node.id, (), mode)  # type: ignore[arg-type]
    assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    filters = tuple(sorted((k.arg or "", k.value.value) for k in node.keywords))  # type: ignore[attr-defined]
    return Ref(node.func.id, filters, mode)  # type: ignore[arg-type]


_FUNCTIONS = {"first", "total", "min", "max", "abs", "start", "delta"}


def _compile(node: ast.AST) -> Callable[[Getter], Any]:
    if isinstance(node, ast.Constant):
        value = float(node.value)
        return lambda get: value
    if isinstance(node, ast.Name):
        ref = _ref(node)
        return lambda get: get(ref)
    if isinstance(node, ast.UnaryOp):
        operand = _compile(node.operand)
        if isinstance(node.op, ast.USub):
            return lambda get: -operand(get)
        return operand
    if isinstance(node, ast.BinOp):
        left, right = _compile(node.left), _compile(node.right)
        op = node.op
        if isinstance(op, ast.Add):
            return lambda get: left(get) + right(get)
        if isinstance(op, ast.Sub):
            return lambda get: left(get) - right(get)
        if isinstance(op, ast.Mult):
            return lambda get: left(get) * right(get)
        return lambda get: _divide(left(get), right(get))
    assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    name = node.func.id
    if name not in _FUNCTIONS:
        ref = _ref(node)
        return lambda get: get(ref)
    if name in ("start", "delta"):
        ref = _ref(node.args[0], name)
        return lambda get: get(ref)
    args = [_compile(arg) for arg in node.args]
    if name == "first":
        return lambda get: _first([arg(get) for arg in args])
    if name == "total":
        return lambda get: _total([arg(get) for arg in args])
    if name == "abs":
        return lambda get: np.abs(args[0](get))
    reduce = np.minimum if name == "min" else np.maximum
    return lambda get: _reduce(reduce, [arg(get) for arg in args])


def _divide(num: Any, den: Any) -> Any:
    den = np.asarray(den, dtype=np.float64)
    return np.where(
        den != 0, np.asarray(num, dtype=np.float64) / np.where(den != 0, den, 1), np.nan
    )


def _first(values: list[Any]) -> Any:
    result = np.asarray(values[0], dtype=np.float64)
    for value in values[1:]:
        result = np.where(np.isnan(result), value, result)
    return result


def _total(values: list[Any]) -> Any:
    arrays = np.broadcast_arrays(*[np.asarray(v, dtype=np.float64) for v in values])
    stacked = np.stack(arrays)
    present = ~np.isnan(stacked)
    return np.where(present.any(axis=0), np.where(present, stacked, 0.0).sum(axis=0), np.nan)


def _reduce(reduce: Any, values: list[Any]) -> Any:
    result = np.asarray(values[0], dtype=np.float64)
    for value in values[1:]:
        result = reduce(result, value)
    return result
