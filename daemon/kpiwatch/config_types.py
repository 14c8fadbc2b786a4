"""Building blocks shared by the configuration models: durations, strict models, label names."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer

from kpiwatch.durations import format_duration, parse_duration

Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
]

LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


class Strict(BaseModel):
    """Base of every configuration model: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def check_label_name(name: str) -> None:
    """Raise ValueError unless ``name`` is a Prometheus label name kpiwatch lets users set."""
    if not LABEL_NAME.match(name) or name.startswith("__"):
        raise ValueError(
            f"label name {name!r} is not a Prometheus label name; use letters, digits "
            "and underscores, not starting with a digit or '__'"
        )


def positive(value: timedelta, key: str, example: str) -> timedelta:
    """``value`` when longer than 0s, else ValueError naming ``key`` and an example."""
    if value <= timedelta(0):
        raise ValueError(f"{key} must be longer than 0s; write for example {example}")
    return value
