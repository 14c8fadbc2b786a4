"""Settings of a ``tiktok`` account (its ``settings:`` mapping in the configuration)."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator

#: The real API; tests point ``base_url`` at a fake server.
API_URL = "https://open.tiktokapis.com"
#: Where TikTok refreshes user access tokens, below ``base_url``.
TOKEN_PATH = "/v2/oauth/token/"

_CLIENT_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


class TikTokSettings(BaseModel):
    """One TikTok account: the app's credentials and the account's authorisation."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    client_key: str = Field(description="Client key of the TikTok app (App credentials).")
    client_secret: SecretStr = Field(description="Client secret of the TikTok app.")
    refresh_token: SecretStr = Field(
        description="Refresh token from the account authorising the app (scopes "
        "user.info.basic, user.info.stats, video.list); TikTok rotates it on every refresh."
    )
    video_days: int = Field(
        28, ge=1, le=365, description="Videos published in the last N days are reported."
    )
    max_videos: int = Field(100, ge=1, le=1000, description="Read at most this many videos.")
    base_url: str = Field(API_URL, description="API root, without /v2.")
    token_url: str | None = Field(
        None, description=f"OAuth token endpoint; default: <base_url>{TOKEN_PATH}."
    )

    @field_validator("client_key")
    @classmethod
    def _client_key(cls, value: str) -> str:
        key = value.strip()
        if not _CLIENT_KEY.match(key):
            raise ValueError(
                f"{value!r} is not a TikTok client key; copy the Client key from the app's "
                "App credentials at developers.tiktok.com (letters and digits, no spaces)"
            )
        return key

    @field_validator("client_secret", "refresh_token")
    @classmethod
    def _not_empty(cls, value: SecretStr, info: ValidationInfo) -> SecretStr:
        if not value.get_secret_value().strip():
            name = info.field_name
            raise ValueError(
                f"{name} is empty; set it from the environment, e.g. {name}: "
                f"${{TIKTOK_{str(name).upper()}}} (README.md says where the value comes from)"
            )
        return value

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        return _http_url(value).rstrip("/")

    @field_validator("token_url")
    @classmethod
    def _token_url(cls, value: str | None) -> str | None:
        return None if value is None else _http_url(value)

    @property
    def oauth_token_url(self) -> str:
        """Where the account's access tokens are refreshed."""
        return self.token_url or f"{self.base_url}{TOKEN_PATH}"


def _http_url(value: str) -> str:
    if not re.match(r"^https?://[^/?#]+", value) or "?" in value or "#" in value:
        raise ValueError(
            f"{value!r} is not an http(s) URL without query string; write e.g. {API_URL!r}"
        )
    return value
