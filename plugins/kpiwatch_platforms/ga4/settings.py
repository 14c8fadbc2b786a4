"""Settings of a ``ga4`` account (the ``settings:`` mapping of an account in the configuration)."""

from __future__ import annotations

import importlib.util
import re
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from kpiwatch_platforms.ga4.service_key import ServiceKey, parse_service_key

#: The real Data API; tests point ``api_url`` at a fake server.
DATA_API_URL = "https://analyticsdata.googleapis.com/v1beta"
GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"
#: Property token quotas of a standard property (Analytics 360: 2,000,000 and 400,000).
STANDARD_TOKENS_PER_DAY = 200_000
STANDARD_TOKENS_PER_HOUR = 40_000

_PROPERTY_ID = re.compile(r"^(?:properties/)?(\d{1,20})$")
#: ``keyEvents``, ``keyEvents:<event>``, or the names before the 2024 rename.
_CONVERSIONS = re.compile(r"^(?:keyEvents|conversions)(?::[A-Za-z][A-Za-z0-9_]{0,39})?$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


def _http_url(value: str, name: str, example: str) -> str:
    if not re.match(r"^https?://[^/?#]+", value):
        raise ValueError(f"{name} must be an http(s) URL such as {example}")
    if "?" in value or "#" in value:
        raise ValueError(f"{name} must not carry a query string or fragment")
    return value.rstrip("/")


def cryptography_installed() -> bool:
    """Whether RS256 signatures (service-account keys) are possible here."""
    return importlib.util.find_spec("cryptography") is not None


class GoogleOAuth(BaseModel):
    """An OAuth client of the Google Cloud project and a refresh token of a Google user who
    may read the property."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    client_id: str = Field(
        min_length=1, description="OAuth client ID (ends in .apps.googleusercontent.com)."
    )
    client_secret: SecretStr = Field(description="OAuth client secret.")
    refresh_token: SecretStr = Field(
        description="Refresh token from an offline authorisation with the analytics.readonly scope."
    )
    token_url: str = Field(GOOGLE_TOKEN_URL, description="Google's token endpoint.")

    @field_validator("token_url")
    @classmethod
    def _token_url(cls, value: str) -> str:
        return _http_url(value, "oauth.token_url", GOOGLE_TOKEN_URL)


class ServiceAccount(BaseModel):
    """A service account's JSON key, as a file or as the JSON text itself."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key_file: str | None = Field(
        None, description="Path of the JSON key file downloaded from the Cloud console."
    )
    key_json: SecretStr | None = Field(
        None, description="The JSON key itself (e.g. ${GA4_SERVICE_ACCOUNT_KEY})."
    )

    @model_validator(mode="after")
    def _one_key(self) -> ServiceAccount:
        if (self.key_file is None) == (self.key_json is None):
            raise ValueError(
                "give the service account's JSON key with exactly one of key_file: "
                "/path/to/key.json or key_json: ${GA4_SERVICE_ACCOUNT_KEY}"
            )
        if self.key_json is not None:
            parse_service_key(self.key_json.get_secret_value(), "service_account.key_json")
        return self

    def inline_key(self) -> ServiceKey | None:
        """The key given as JSON text (a key file is read at poll time)."""
        if self.key_json is None:
            return None
        return parse_service_key(self.key_json.get_secret_value(), "service_account.key_json")


class GA4Settings(BaseModel):
    """One GA4 property: which one, with which credentials, and which traffic to report."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    property_id: str = Field(
        description="The numeric GA4 property ID (Admin > Property details), not the G- ID."
    )
    oauth: GoogleOAuth | None = Field(
        None, description="OAuth client and a user's refresh token (analytics.readonly)."
    )
    service_account: ServiceAccount | None = Field(
        None, description="A service account key; the account needs Viewer on the property."
    )
    traffic: Literal["social", "all"] = Field(
        "social",
        description="social: sessions of the Organic Social and Paid Social channel groups; "
        "all: every session.",
    )
    sources: dict[str, list[str]] = Field(
        default_factory=dict,
        description="More session sources per social platform, such as "
        "{mastodon: [mastodon.social, fosstodon.org]}; added to the built-in table.",
    )
    conversions_metric: str = Field(
        "keyEvents",
        description="GA4 metric counted as conversions: keyEvents (every key event) or "
        "keyEvents:<event name> (one key event).",
    )
    revenue_metric: Literal["totalRevenue", "purchaseRevenue"] = Field(
        "totalRevenue", description="GA4 metric reported as revenue."
    )
    currency: str | None = Field(
        None,
        description="ISO 4217 code revenue is reported in; default the property's currency.",
    )
    timezone: str | None = Field(
        None,
        description="IANA time zone of the property's reporting days; default the one the "
        "report names (the property's).",
    )
    history_days: int = Field(
        28, ge=1, le=365, description="Days of history read on first contact (1 to 365)."
    )
    page_size: int = Field(10_000, ge=1, le=100_000, description="Rows per runReport page (limit).")
    tokens_per_day: int = Field(
        STANDARD_TOKENS_PER_DAY,
        ge=1,
        description="The property's daily token quota (Analytics 360: 2000000).",
    )
    tokens_per_hour: int = Field(
        STANDARD_TOKENS_PER_HOUR,
        ge=1,
        description="The property's hourly token quota (Analytics 360: 400000).",
    )
    api_url: str = Field(DATA_API_URL, description="Base URL of the GA4 Data API.")

    @field_validator("property_id", mode="before")
    @classmethod
    def _property_id(cls, value: object) -> object:
        text = str(value).strip() if isinstance(value, str | int) else value
        match = _PROPERTY_ID.match(text) if isinstance(text, str) else None
        if match is None:
            raise ValueError(
                f"property_id {value!r} is not a GA4 property ID: write the number shown in "
                "Admin > Property details, such as 123456789 (not the measurement ID G-...)"
            )
        return match.group(1)

    @field_validator("conversions_metric")
    @classmethod
    def _conversions(cls, value: str) -> str:
        if not _CONVERSIONS.match(value):
            raise ValueError(
                f"conversions_metric {value!r} is not a key-event metric: write keyEvents, or "
                "keyEvents:<event name> such as keyEvents:purchase (an event name starts with "
                "a letter and has at most 40 letters, digits and underscores)"
            )
        return value

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str | None) -> str | None:
        if value is not None and not _CURRENCY.match(value):
            raise ValueError(
                f"currency {value!r} is not an ISO 4217 code: write three capital letters "
                "such as EUR or USD, or leave it out for the property's currency"
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"timezone {value!r} is not an IANA time zone: write the property's reporting "
                "time zone such as Europe/Berlin or America/New_York, or leave it out"
            ) from None
        return value

    @field_validator("sources")
    @classmethod
    def _sources(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for name, sources in value.items():
            if not _SOURCE_NAME.match(name):
                raise ValueError(
                    f"sources: {name!r} is not a source name: write a lower-case name such as "
                    "mastodon (letters, digits, '.', '_' or '-')"
                )
            if not sources or not all(isinstance(s, str) and s.strip() for s in sources):
                raise ValueError(
                    f"sources.{name} must list GA4 session sources, such as "
                    "[mastodon.social, fosstodon.org]"
                )
        return value

    @field_validator("api_url")
    @classmethod
    def _api_url(cls, value: str, info: ValidationInfo) -> str:
        return _http_url(value, str(info.field_name), DATA_API_URL)

    @model_validator(mode="after")
    def _credentials(self) -> GA4Settings:
        if (self.oauth is None) == (self.service_account is None):
            raise ValueError(
                "give exactly one of oauth: {client_id, client_secret, refresh_token} (a Google "
                "user who can read the property) and service_account: {key_file: ...} (a "
                "service account added as Viewer to the property); see the plugin's README"
            )
        if self.service_account is not None and not cryptography_installed():
            raise ValueError(
                "service_account: signing the service account's token request (RS256) needs "
                "the Python package 'cryptography', which is not installed here: install it "
                "(pip install cryptography) or use oauth: with a refresh token instead"
            )
        return self
