"""Settings of a ``linkedin`` account (the ``settings:`` mapping of an account in the
configuration)."""

from __future__ import annotations

import re
from datetime import date

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from kpiwatch_platforms.linkedin.mapping import TARGET_VERSION

#: The real API; tests point ``base_url`` at a fake server.
API_URL = "https://api.linkedin.com/rest"
TOKEN_URL = "https://www.linkedin.com/oauth/v2/accessToken"
INTROSPECT_URL = "https://www.linkedin.com/oauth/v2/introspectToken"
#: LinkedIn keeps share statistics for a rolling 12 months.
MAX_HISTORY_DAYS = 365

_ORGANIZATION = re.compile(r"^(?:urn:li:organization:)?(\d{1,20})$")
_VERSION = re.compile(r"^(20\d\d)(0[1-9]|1[0-2])$")


class LinkedInSettings(BaseModel):
    """One LinkedIn organization page: which one, with which credentials, how much to read."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    organization_id: str = Field(
        description="The page's numeric organization id (or urn:li:organization:<id>)."
    )
    access_token: SecretStr | None = Field(
        None, description="A member access token (60 days) with rw_organization_admin."
    )
    access_token_expires: date | None = Field(
        None, description="The day access_token expires (YYYY-MM-DD), for warnings."
    )
    client_id: str | None = Field(None, description="The LinkedIn app's Client ID.")
    client_secret: SecretStr | None = Field(None, description="The LinkedIn app's Client Secret.")
    refresh_token: SecretStr | None = Field(
        None, description="A programmatic refresh token (365 days), where the app has them."
    )
    refresh_token_expires: date | None = Field(
        None, description="The day refresh_token expires (YYYY-MM-DD), for warnings."
    )
    expiry_warning_days: int = Field(
        14, ge=1, le=60, description="Warn this many days before the token expires."
    )
    linkedin_version: str = Field(
        TARGET_VERSION, description="The LinkedIn-Version header: the API version, YYYYMM."
    )
    history_days: int = Field(
        28, ge=1, le=MAX_HISTORY_DAYS, description="Days of daily statistics read on first contact."
    )
    post_days: int = Field(
        30, ge=1, le=MAX_HISTORY_DAYS, description="Posts published in the last N days."
    )
    max_posts: int = Field(50, ge=1, le=1000, description="At most this many recent posts.")
    page_size: int = Field(50, ge=1, le=100, description="Posts asked for per request.")
    base_url: str = Field(API_URL, description="API root, with /rest.")
    token_url: str = Field(TOKEN_URL, description="OAuth 2.0 token endpoint.")
    introspect_url: str = Field(INTROSPECT_URL, description="Token introspection endpoint.")

    @field_validator("organization_id", mode="before")
    @classmethod
    def _organization(cls, value: object) -> object:
        text = str(value).strip() if isinstance(value, int | str) else value
        if not isinstance(text, str):
            return value
        match = _ORGANIZATION.match(text)
        if not match:
            raise ValueError(
                f"{value!r} is not an organization id: write the number from the page's admin "
                "URL (https://www.linkedin.com/company/<id>/admin/), such as 2414183, or "
                "urn:li:organization:2414183"
            )
        return match.group(1)

    @field_validator("linkedin_version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not _VERSION.match(value):
            raise ValueError(
                f"linkedin_version {value!r} is not a LinkedIn API version: write the year and "
                f"month as YYYYMM, such as {TARGET_VERSION!r}"
            )
        return value

    @field_validator("base_url", "token_url", "introspect_url")
    @classmethod
    def _url(cls, value: str, info: ValidationInfo) -> str:
        if not re.match(r"^https?://[^/?#]+", value) or "?" in value or "#" in value:
            raise ValueError(
                f"{info.field_name} {value!r} must be an http(s) URL without a query string, "
                f"such as {API_URL!r}"
            )
        return value.rstrip("/")

    @field_validator("client_id", mode="before")
    @classmethod
    def _no_empty_id(cls, value: object) -> object:
        """``${LINKEDIN_CLIENT_ID:-}`` left empty means none."""
        return None if value == "" else value

    @field_validator("client_secret", "refresh_token", "access_token", mode="before")
    @classmethod
    def _no_empty_secret(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _credentials(self) -> LinkedInSettings:
        if self.access_token is None and self.refresh_token is None:
            raise ValueError(
                "no credentials: give access_token (a 60-day member token with the scopes "
                "rw_organization_admin and r_organization_social), or refresh_token with "
                "client_id and client_secret where the app has programmatic refresh tokens"
            )
        if self.refresh_token is not None and (self.client_id is None or not self.client_secret):
            raise ValueError(
                "refresh_token needs client_id and client_secret (the app's Client ID and "
                "Client Secret from the Developer Portal's Auth tab)"
            )
        if (self.client_id is None) != (self.client_secret is None):
            raise ValueError("give both client_id and client_secret, or neither")
        return self

    @property
    def organization_urn(self) -> str:
        return f"urn:li:organization:{self.organization_id}"

    @property
    def can_introspect(self) -> bool:
        """Whether the access token's expiry can be asked of LinkedIn (app credentials)."""
        return self.client_id is not None and self.client_secret is not None
