"""Settings of an ``x`` account (the ``settings:`` mapping of an account in the configuration)."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

#: The real API; tests point ``base_url`` at a fake server.
API_URL = "https://api.x.com"
#: X serves non-public metrics only for posts younger than 30 days.
MAX_POST_DAYS = 29

_USERNAME = re.compile(r"^[A-Za-z0-9_]{1,15}$")


class UserAuth(BaseModel):
    """OAuth 2.0 user context of the account itself (Authorization Code with PKCE)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    client_id: str = Field(min_length=1, description="OAuth 2.0 Client ID of the X app.")
    client_secret: SecretStr | None = Field(
        None, description="Client Secret, for a confidential client (sent as HTTP Basic auth)."
    )
    refresh_token: SecretStr = Field(
        description="Refresh token from authorising the app with the offline.access scope."
    )

    @field_validator("client_secret", mode="before")
    @classmethod
    def _no_empty_secret(cls, value: object) -> object:
        """``${X_CLIENT_SECRET:-}`` left empty means a public client."""
        return None if value == "" else value


class XSettings(BaseModel):
    """Settings of an ``x`` account."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    username: str = Field(description="The account's username (handle), with or without '@'.")
    bearer_token: SecretStr | None = Field(
        None, description="App-only Bearer token: public data of any account."
    )
    user_auth: UserAuth | None = Field(
        None, description="OAuth 2.0 user context of this account: adds link clicks."
    )
    base_url: str = Field(API_URL, description="API root, without /2.")
    token_url: str | None = Field(
        None, description="OAuth 2.0 token endpoint; default: <base_url>/2/oauth2/token."
    )
    post_days: int = Field(
        7, ge=1, le=MAX_POST_DAYS, description="Read the posts of the last N days (1 to 29)."
    )
    max_posts: int = Field(100, ge=5, le=3200, description="Read at most this many posts.")
    include_replies: bool = Field(False, description="Count the account's replies as posts.")

    @field_validator("username", mode="before")
    @classmethod
    def _username(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        name = value.strip().removeprefix("@")
        if not _USERNAME.match(name):
            raise ValueError(
                f"{value!r} is not an X username; write the handle as shown on the profile, "
                "1 to 15 letters, digits or underscores, such as 'XDevelopers'"
            )
        return name

    @field_validator("base_url", "token_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("https://", "http://")):
            raise ValueError(f"{value!r} is not an http(s) URL; write e.g. {API_URL!r}")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _credentials(self) -> XSettings:
        if self.bearer_token is None and self.user_auth is None:
            raise ValueError(
                "no credentials: give bearer_token (the app's Bearer token, public data) or "
                "user_auth {client_id, refresh_token} (this account's authorisation, which also "
                "reads link clicks), or both"
            )
        return self

    @property
    def oauth_token_url(self) -> str:
        """Where user tokens are refreshed."""
        return self.token_url or f"{self.base_url}/2/oauth2/token"
