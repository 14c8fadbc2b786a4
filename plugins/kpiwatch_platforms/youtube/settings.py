"""Settings of a YouTube account (the ``settings:`` mapping of an account in the configuration)."""

from __future__ import annotations

import re

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

DATA_API_URL = "https://www.googleapis.com/youtube/v3"
ANALYTICS_API_URL = "https://youtubeanalytics.googleapis.com/v2"
GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"

CHANNEL_ID = re.compile(r"^UC[0-9A-Za-z_-]{22}$")
HANDLE = re.compile(r"^@?[0-9A-Za-z._-]{3,30}$")


def _base_url(value: str, name: str) -> str:
    if not re.match(r"^https?://[^/?#]+", value):
        raise ValueError(f"{name} must be an http(s) URL such as {DATA_API_URL}")
    if "?" in value or "#" in value:
        raise ValueError(f"{name} must not carry a query string or fragment")
    return value.rstrip("/")


class GoogleOAuth(BaseModel):
    """An OAuth client of the Google Cloud project and the channel owner's refresh token."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    client_id: str = Field(
        min_length=1, description="OAuth client ID (ends in .apps.googleusercontent.com)."
    )
    client_secret: SecretStr = Field(description="OAuth client secret.")
    refresh_token: SecretStr = Field(
        description="Refresh token of the channel's owner, from an offline authorisation."
    )
    token_url: str = Field(GOOGLE_TOKEN_URL, description="Google's token endpoint.")

    @field_validator("token_url")
    @classmethod
    def _token_url(cls, value: str) -> str:
        return _base_url(value, "oauth.token_url")


class YouTubeSettings(BaseModel):
    """One YouTube channel: which one, with which credentials, and how much to read."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    channel_id: str | None = Field(
        None, description="The channel's ID, 24 characters starting with UC."
    )
    handle: str | None = Field(None, description="The channel's handle, such as @acme.")
    api_key: SecretStr | None = Field(
        None, description="API key of a Google Cloud project with YouTube Data API v3 enabled."
    )
    oauth: GoogleOAuth | None = Field(
        None, description="OAuth credentials of the channel's owner, for YouTube Analytics."
    )
    daily_quota: int = Field(
        10_000, ge=1, description="Data API units the key's project may spend per day."
    )
    recent_days: int = Field(
        28, ge=1, le=365, description="Videos published in the last N days are reported as posts."
    )
    max_videos: int = Field(50, ge=1, le=500, description="At most this many recent videos.")
    history_days: int = Field(
        28, ge=1, le=365, description="Days of Analytics history read on first contact."
    )
    api_url: str = Field(DATA_API_URL, description="Base URL of the YouTube Data API v3.")
    analytics_url: str = Field(
        ANALYTICS_API_URL, description="Base URL of the YouTube Analytics API v2."
    )

    @field_validator("channel_id")
    @classmethod
    def _channel_id(cls, value: str | None) -> str | None:
        if value is not None and not CHANNEL_ID.match(value):
            raise ValueError(
                f"channel_id {value!r} is not a channel ID: write the 24 characters starting "
                "with UC shown at https://www.youtube.com/account_advanced (or use handle: '@name')"
            )
        return value

    @field_validator("handle")
    @classmethod
    def _handle(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not HANDLE.match(value):
            raise ValueError(
                f"handle {value!r} is not a YouTube handle: write it as on the channel page, "
                "such as '@acme' (3 to 30 letters, digits, '.', '_' or '-')"
            )
        return value if value.startswith("@") else f"@{value}"

    @field_validator("api_url", "analytics_url")
    @classmethod
    def _urls(cls, value: str, info: ValidationInfo) -> str:
        return _base_url(value, str(info.field_name))

    @model_validator(mode="after")
    def _complete(self) -> YouTubeSettings:
        if (self.channel_id is None) == (self.handle is None):
            raise ValueError(
                "name the channel with exactly one of channel_id: UC... or handle: '@name'"
            )
        if self.api_key is None and self.oauth is None:
            raise ValueError(
                "give api_key: ${YOUTUBE_API_KEY} (public statistics) and/or oauth: {client_id, "
                "client_secret, refresh_token} (the owner's Analytics); see the plugin's README"
            )
        return self
