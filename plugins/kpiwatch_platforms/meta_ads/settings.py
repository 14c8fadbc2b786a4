"""Settings of a Meta ad account (the ``settings:`` mapping in the configuration)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from kpiwatch_platforms.meta_graph.settings import GraphSettings

_ACCOUNT = re.compile(r"^(?:act_)?(\d{5,25})$")
_ACTION_TYPE = re.compile(r"^[a-z0-9_.]+$")
#: Prefixes under which Meta reports the same events again (all purchases: purchase,
#: omni_purchase, offsite_conversion.fb_pixel_purchase, onsite_web_purchase...).
ACTION_PREFIXES = (
    "omni_",
    "offsite_conversion.fb_pixel_",
    "onsite_conversion.",
    "onsite_web_app_",
    "onsite_web_",
    "onsite_app_",
    "web_app_in_store_",
    "web_in_store_",
    "app_custom_event.fb_mobile_",
)


def base_event(action_type: str) -> str:
    """The event an action type counts, without the channel prefix (``purchase``)."""
    for prefix in ACTION_PREFIXES:
        if action_type.startswith(prefix):
            return action_type[len(prefix) :]
    return action_type


class MetaAdsSettings(GraphSettings):
    """One ad account: which one, the token, and what counts as a conversion."""

    ad_account_id: str = Field(description="The ad account's ID, act_<number> or the number.")
    days: int = Field(
        28, ge=1, le=90, description="Days read each poll, up to yesterday (attribution revises)."
    )
    conversion_action_types: tuple[str, ...] = Field(
        ("purchase", "lead"),
        min_length=1,
        description="Action types of 'actions' counted as conversions.",
    )
    revenue_action_types: tuple[str, ...] = Field(
        ("purchase",),
        min_length=1,
        description="Action types of 'action_values' counted as revenue.",
    )
    campaign_label: Literal["name", "id"] = Field(
        "name", description="The campaign dimension of spend: the campaign's name or its ID."
    )

    @field_validator("ad_account_id", mode="before")
    @classmethod
    def _account(cls, value: object) -> object:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            return value
        match = _ACCOUNT.match(value.strip())
        if match is None:
            raise ValueError(
                f"ad_account_id {value!r} is not an ad account ID: write act_ and the number "
                "Ads Manager shows in its account menu, quoted: ad_account_id: 'act_1234567890'"
            )
        return f"act_{match.group(1)}"

    @field_validator("conversion_action_types", "revenue_action_types")
    @classmethod
    def _action_types(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        seen: dict[str, str] = {}
        for action_type in value:
            if not _ACTION_TYPE.match(action_type):
                raise ValueError(
                    f"{action_type!r} is not an action type: write Meta's name, such as "
                    "'purchase', 'lead' or 'offsite_conversion.fb_pixel_add_to_cart'"
                )
            event = base_event(action_type)
            if event in seen:
                raise ValueError(
                    f"{seen[event]!r} and {action_type!r} count the same {event} events twice: "
                    "keep one of them"
                )
            seen[event] = action_type
        return value
