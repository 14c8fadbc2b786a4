"""Settings of demo accounts (the ``settings:`` mapping of an account in the configuration)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from kpiwatch.durations import parse_duration


def _seconds(value: object) -> object:
    """Accept ``0.25``, ``"250ms"`` or ``"2s"``; pydantic then checks the float."""
    if isinstance(value, str | timedelta):
        return parse_duration(value).total_seconds()
    return value


Seconds = Annotated[float, BeforeValidator(_seconds)]


class DemoSettings(BaseModel):
    """Settings every demo platform takes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int = Field(0, description="Changes every generated value; same seed, same data.")
    size: float = Field(
        1.0, gt=0, le=10_000, description="Scale of the account: 1 is a mid-sized brand."
    )
    fail_rate: float = Field(
        0.0, ge=0, le=1, description="Probability that a poll fails as 'unavailable'."
    )
    latency: Seconds = Field(0.0, ge=0, le=300, description="Simulated API latency (seconds).")
    history_days: int = Field(
        0, ge=0, le=400, description="On first contact, also return the values of past midnights."
    )


class SocialSettings(DemoSettings):
    """Settings of the social demo platforms."""

    followers: int | None = Field(
        None, ge=0, description="Audience on 2026-01-01; default: the platform's times size."
    )


class BusinessSettings(DemoSettings):
    """Settings of the web, ads and CRM demo platforms (money is in ``currency``)."""

    currency: str = Field("EUR", pattern=r"^[A-Z]{3}$", description="ISO 4217 code.")
