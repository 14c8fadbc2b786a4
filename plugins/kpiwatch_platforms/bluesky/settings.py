"""Settings of a Bluesky account (the ``settings:`` mapping of an account in the configuration)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from kpiwatch.durations import parse_duration

#: A handle is a domain name (``acme.bsky.social``); a DID is ``did:plc:...`` or ``did:web:...``.
HANDLE = re.compile(r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")
DID = re.compile(r"^did:[a-z]+:[a-zA-Z0-9._:%-]{1,2048}$")

FeedFilter = Literal[
    "posts_no_replies",
    "posts_with_replies",
    "posts_and_author_threads",
    "posts_with_media",
    "posts_with_video",
]


def _base_url(value: str, key: str, example: str) -> str:
    """``value`` without a trailing ``/`` or ``/xrpc``; it must be an http(s) URL."""
    text = value.strip().rstrip("/")
    if text.endswith("/xrpc"):
        text = text[: -len("/xrpc")]
    if not re.match(r"^https?://[^/\s?#]+(/[^\s?#]*)?$", text):
        raise ValueError(f"{key} {value!r} is not an http(s) URL; write it like {example}")
    return text


class BlueskySettings(BaseModel):
    """Which Bluesky account to read, where from, and the optional app password."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    handle: str = Field(
        description="The account's handle (acme.bsky.social, without @) or its DID (did:plc:...)."
    )
    appview_url: str = Field(
        "https://public.api.bsky.app",
        description="The AppView serving public data without a login (with or without /xrpc).",
    )
    pds_url: str = Field(
        "https://bsky.social",
        description="Where the app password logs in: the account's PDS or bsky.social.",
    )
    identifier: str | None = Field(
        None,
        description="Login name for the app password: handle, DID or e-mail; default: handle.",
    )
    app_password: SecretStr | None = Field(
        None,
        description="An app password (Settings > Privacy and security > App passwords); "
        "enables mention counts. Never the account's main password.",
    )
    lookback: timedelta = Field(
        timedelta(days=28),
        description="Posts published this far back are read with their counters (e.g. 28d); "
        "windows longer than it are not produced.",
    )
    feed_filter: FeedFilter = Field(
        "posts_no_replies",
        description="Which posts of the author feed count (getAuthorFeed's filter).",
    )
    max_pages: int = Field(
        10, ge=1, le=100, description="At most this many pages of 100 posts per poll."
    )

    @field_validator("handle")
    @classmethod
    def _handle(cls, value: str) -> str:
        text = value.strip().removeprefix("@")
        if DID.match(text):
            return text
        text = text.lower()
        if not HANDLE.match(text):
            raise ValueError(
                f"handle {value!r} is not a Bluesky handle or DID; write it like "
                "acme.bsky.social (without @) or as the account's did:plc:... DID"
            )
        return text

    @field_validator("appview_url")
    @classmethod
    def _appview(cls, value: str) -> str:
        return _base_url(value, "appview_url", "https://public.api.bsky.app")

    @field_validator("pds_url")
    @classmethod
    def _pds(cls, value: str) -> str:
        return _base_url(value, "pds_url", "https://bsky.social")

    @field_validator("lookback", mode="before")
    @classmethod
    def _lookback(cls, value: object) -> timedelta:
        try:
            duration = parse_duration(value)  # type: ignore[arg-type]
        except ValueError as exc:
            raise ValueError(f"lookback: {exc}") from None
        if not timedelta(hours=1) <= duration <= timedelta(days=365):
            raise ValueError(
                f"lookback {value!r} is out of range; write a duration from 1h to 365d, such as 14d"
            )
        return duration

    @model_validator(mode="after")
    def _login(self) -> BlueskySettings:
        if self.identifier is not None and self.app_password is None:
            raise ValueError(
                "identifier is set without app_password; add app_password: "
                '"${BLUESKY_APP_PASSWORD}" or remove identifier'
            )
        if self.app_password is not None and not self.app_password.get_secret_value().strip():
            raise ValueError(
                "app_password is empty; create an app password in Bluesky (Settings > Privacy "
                "and security > App passwords) and put it in the environment variable"
            )
        return self

    @property
    def login(self) -> str | None:
        """The name createSession logs in with, when an app password is set."""
        if self.app_password is None:
            return None
        return self.identifier or self.handle
