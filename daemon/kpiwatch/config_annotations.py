"""Walking pydantic model annotations: what a data location holds, its keys, its secrets."""

from __future__ import annotations

import types
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Union, get_args, get_origin

import pydantic
from pydantic import BaseModel, SecretBytes, SecretStr

from kpiwatch.config_problems import Loc
from kpiwatch.config_yaml import MAX_DEPTH

# pydantic.Secret[T] (pydantic 2.7+) is a secret too.
_Secret: type = getattr(pydantic, "Secret", SecretStr)
_SECRET_TYPES = (SecretStr, SecretBytes, _Secret)


@dataclass(frozen=True)
class Target:
    """Where a pydantic error points: the data location and the annotation there."""

    loc: Loc
    annotation: Any
    parent: Any
    is_key: bool = False


def resolve(model: type[BaseModel], error_loc: Loc) -> Target:
    """Follow a pydantic error location through the annotations of ``model``.

    Drops the union member tags pydantic adds to locations and notes dict key errors.
    """
    loc: list[str | int] = []
    annotation: Any = model
    parent: Any = None
    is_key = False
    for element in error_loc:
        if element == "[key]":
            is_key = True
            continue
        found, child = _child(annotation, element)
        if not found and isinstance(element, str) and len(_options(annotation)) > 1:
            for option in _options(annotation):  # a union member's tag, not a place
                if getattr(option, "__name__", None) == element:
                    annotation = option
            continue
        loc.append(element)
        parent, annotation = annotation, child
    return Target(tuple(loc), annotation, parent, is_key)


def is_secret(annotation: Any) -> bool:
    """True when ``annotation`` is (or may be) a pydantic secret type."""
    return any(
        (isinstance(option, type) and issubclass(option, _SECRET_TYPES))
        or get_origin(option) is _Secret
        for option in _options(annotation)
    )


def secret_inputs(annotation: Any, data: Any, depth: int = 0) -> Iterator[str]:
    """The raw values given for secret fields (to keep them out of problems)."""
    if depth > MAX_DEPTH:
        return
    if is_secret(annotation):
        if isinstance(data, str):
            yield data
        return
    if isinstance(data, dict):
        items: Any = data.items()
    elif isinstance(data, list):
        items = enumerate(data)
    else:
        return
    for element, value in items:
        found, child = _child(annotation, element)
        if found:
            yield from secret_inputs(child, value, depth + 1)


def secret_values(value: Any, depth: int = 0) -> Iterator[str]:
    """Every non-empty secret string held in a validated model."""
    if depth > MAX_DEPTH:
        return
    if isinstance(value, SecretStr | _Secret):
        secret = value.get_secret_value()
        if isinstance(secret, str) and secret:
            yield secret
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from secret_values(getattr(value, name, None), depth + 1)
    elif isinstance(value, dict):
        for item in value.values():
            yield from secret_values(item, depth + 1)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from secret_values(item, depth + 1)


def model_keys(annotation: Any) -> list[str]:
    """The keys (aliases where set) of every model ``annotation`` allows."""
    return [
        field.alias or name
        for option in _options(annotation)
        if _is_model(option)
        for name, field in option.model_fields.items()
    ]


def key_paths(model: type[BaseModel], prefix: str = "", depth: int = 0) -> Iterator[str]:
    """Dotted paths of every key below ``model`` (list items as ``[]``, dict keys as ``<name>``)."""
    if depth > 8:
        return
    for name, field in model.model_fields.items():
        path = f"{prefix}{field.alias or name}"
        yield path
        for option in _options(field.annotation):
            origin, args = get_origin(option), get_args(option)
            if _is_model(option):
                yield from key_paths(option, f"{path}.", depth + 1)
            elif origin is list and args and _is_model(args[0]):
                yield from key_paths(args[0], f"{path}[].", depth + 1)
            elif origin is dict and len(args) == 2 and _is_model(args[1]):
                yield from key_paths(args[1], f"{path}.<name>.", depth + 1)


def _options(annotation: Any) -> list[Any]:
    """The types an annotation allows, without Annotated, None and union wrappers."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _options(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        return [
            option
            for arg in get_args(annotation)
            if arg is not type(None)
            for option in _options(arg)
        ]
    return [annotation]


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _child(annotation: Any, element: str | int) -> tuple[bool, Any]:
    """The annotation one step down ``element``; (False, None) when there is none."""
    for option in _options(annotation):
        if _is_model(option) and isinstance(element, str):
            found, child = _field_annotation(option, element)
            if found:
                return True, child
        origin, args = get_origin(option), get_args(option)
        if origin in (list, set, frozenset, Sequence) and isinstance(element, int):
            return True, args[0] if args else Any
        if origin is tuple and isinstance(element, int):
            if len(args) == 2 and args[1] is Ellipsis:
                return True, args[0]
            return True, args[element] if element < len(args) else Any
        if origin in (dict, Mapping):
            return True, args[1] if len(args) == 2 else Any
    return False, None


def _field_annotation(model: type[BaseModel], key: str) -> tuple[bool, Any]:
    for name, field in model.model_fields.items():
        if key in (name, field.alias, field.validation_alias):
            return True, field.annotation
    return False, None
