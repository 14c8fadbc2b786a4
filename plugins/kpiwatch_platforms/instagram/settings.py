"""Settings of an Instagram professional account (the ``settings:`` mapping)."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from kpiwatch_platforms.meta_graph.settings import GraphSettings

#: The host of the Instagram API with Instagram Login (Facebook Login uses graph.facebook.com).
INSTAGRAM_URL = "https://graph.instagram.com"

_USER_ID = re.compile(r"^\d{5,25}$")
_USERNAME = re.compile(r"^[A-Za-z0-9._]{1,30}$")


class InstagramSettings(GraphSettings):
    """One Instagram professional account: which one, the token, and how much to read."""

    ig_user_id: str = Field(
        description="The Instagram professional account's ID (the token's own account)."
    )
    login: Literal["facebook", "instagram"] = Field(
        "facebook",
        description=(
            "facebook: a Page or user token of Facebook Login (graph.facebook.com); "
            "instagram: an Instagram User token of Instagram Login (graph.instagram.com), "
            "refreshed by kpiwatch"
        ),
    )
    username: str | None = Field(
        None,
        description=(
            "A competitor's username, read through business discovery with ig_user_id's token."
        ),
    )
    recent_days: int = Field(
        28, ge=1, le=365, description="Media of the last N days are reported as posts."
    )
    max_posts: int = Field(25, ge=1, le=500, description="At most this many media, newest first.")
    media_insights: bool = Field(
        True, description="Ask each media's insights (views, reach, saves...): one call each."
    )
    token_refresh_days: int = Field(
        7,
        ge=1,
        le=50,
        description="Instagram Login: refresh the 60-day token when it is this many days old.",
    )

    @model_validator(mode="before")
    @classmethod
    def _host_of_the_login(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("login") == "instagram" and "base_url" not in data:
            return {**data, "base_url": INSTAGRAM_URL}
        return data

    @field_validator("ig_user_id", mode="before")
    @classmethod
    def _user_id(cls, value: object) -> object:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, str) and not _USER_ID.match(value.strip()):
            raise ValueError(
                f"ig_user_id {value!r} is not an Instagram account ID: write the number "
                "GET /{page-id}?fields=instagram_business_account answers (Facebook Login) or "
                "GET /me?fields=user_id (Instagram Login), quoted: ig_user_id: '17841400000000000'"
            )
        return value.strip() if isinstance(value, str) else value

    @field_validator("username", mode="before")
    @classmethod
    def _username(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        name = value.strip().removeprefix("@")
        if not _USERNAME.match(name):
            raise ValueError(
                f"username {value!r} is not an Instagram username: write it as on the profile, "
                "such as 'rival.brand' (letters, digits, '.' and '_')"
            )
        return name
