"""Settings of a Mastodon account (the ``settings:`` mapping of an account in the configuration)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, field_validator

from kpiwatch.durations import format_duration, parse_duration

#: A handle as Mastodon's lookup takes it: ``acme`` (local) or ``acme@example.social``.
_HANDLE = re.compile(r"^[A-Za-z0-9_]+(?:@[A-Za-z0-9.-]+\.[A-Za-z0-9-]+)?$")
#: A hashtag name without ``#``: letters, digits and underscores in any script.
_HASHTAG = re.compile(r"^\w+$")
MIN_LOOKBACK = timedelta(days=1)
MAX_LOOKBACK = timedelta(days=400)


def _duration(value: object) -> object:
    """Accept ``28d`` or ``2w`` (a bare number is seconds); pydantic checks the timedelta."""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return parse_duration(value)
    return value


Duration = Annotated[timedelta, BeforeValidator(_duration)]


class MastodonSettings(BaseModel):
    """Where the account lives, how to read it, and how far back to look."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    instance: str = Field(
        "https://mastodon.social",
        description="Base URL of the account's home server, such as https://mastodon.social.",
    )
    account: str = Field(description="The account's handle on that server: acme or @acme.")
    token: SecretStr | None = Field(
        None,
        description="Access token of an application on the instance (read scopes); optional.",
    )
    max_posts: int = Field(
        200, ge=1, le=2000, description="Most recent statuses read per poll (40 per request)."
    )
    lookback: Duration = Field(
        timedelta(days=28),
        description="Statuses published this long ago or later are read; windows up to it.",
    )
    include_replies: bool = Field(
        False, description="Count the account's replies to others as posts."
    )
    mention_hashtags: tuple[str, ...] = Field(
        (),
        description="Brand hashtags: mentions are the public statuses using them (not the "
        "notifications); the same for own and competitor accounts.",
    )
    max_mention_pages: int = Field(
        10, ge=1, le=100, description="Most pages of mentions read per poll and source."
    )

    @field_validator("instance")
    @classmethod
    def _instance_url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
            raise ValueError(
                f"{value!r} is not the base URL of a Mastodon server; write one such as "
                "https://mastodon.social"
            )
        return value.strip().rstrip("/")

    @field_validator("account")
    @classmethod
    def _handle(cls, value: str) -> str:
        handle = value.strip().removeprefix("@")
        if not _HANDLE.match(handle):
            raise ValueError(
                f"{value!r} is not a Mastodon handle; write the account's handle such as acme "
                "or acme@mastodon.social"
            )
        return handle

    @field_validator("lookback")
    @classmethod
    def _lookback_range(cls, value: timedelta) -> timedelta:
        if not MIN_LOOKBACK <= value <= MAX_LOOKBACK:
            raise ValueError(
                f"lookback {format_duration(value)} is out of range; write a duration from 1d "
                "to 400d such as 28d"
            )
        return value

    @field_validator("mention_hashtags", mode="before")
    @classmethod
    def _hashtags(cls, value: object) -> object:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list | tuple):
            return value  # pydantic reports the type
        tags: dict[str, str] = {}  # lower-case name -> first spelling (tags ignore case)
        for item in value:
            tag = str(item).strip().removeprefix("#")
            if not _HASHTAG.match(tag):
                raise ValueError(
                    f"{item!r} is not a hashtag; write hashtag names such as [acme, acmecoffee]"
                )
            tags.setdefault(tag.lower(), tag)
        return tuple(tags.values())

    def secret_token(self) -> str | None:
        """The token, or None when there is none."""
        return self.token.get_secret_value() if self.token is not None else None
