"""Settings every Meta plugin shares: the token, the app secret, the API version and host."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from kpiwatch_platforms.meta_graph.version import API_VERSION, normalise_version

GRAPH_URL = "https://graph.facebook.com"


def base_url(value: str, example: str = GRAPH_URL) -> str:
    """An http(s) URL without query or fragment, without a trailing slash."""
    if not re.match(r"^https?://[^/?#]+", value):
        raise ValueError(f"base_url {value!r} must be an http(s) URL such as {example}")
    if "?" in value or "#" in value:
        raise ValueError("base_url must not carry a query string or fragment")
    if re.search(r"/v\d+(\.\d+)?/?$", value):
        raise ValueError(
            f"base_url {value!r} ends in a version: write the host alone ({example}) and the "
            "version in api_version"
        )
    return value.rstrip("/")


class GraphSettings(BaseModel):
    """The connection to the Graph API: subclassed by each Meta plugin's settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    access_token: SecretStr = Field(description="Access token (see the plugin's README).")
    app_secret: SecretStr | None = Field(
        None,
        description="The app's secret, when the app requires appsecret_proof on every call.",
    )
    api_version: str = Field(API_VERSION, description="Graph API version, such as v24.0.")
    base_url: str = Field(GRAPH_URL, description="The Graph API host (tests point it elsewhere).")

    @field_validator("access_token")
    @classmethod
    def _token(cls, value: SecretStr) -> SecretStr:
        token = value.get_secret_value().strip()
        if not token:
            raise ValueError("access_token is empty: write access_token: ${META_ACCESS_TOKEN}")
        if any(c.isspace() for c in token):
            raise ValueError("access_token contains spaces: copy the token alone")
        return SecretStr(token)

    @field_validator("app_secret", mode="before")
    @classmethod
    def _no_empty_secret(cls, value: object) -> object:
        """``${META_APP_SECRET:-}`` left empty means no appsecret_proof."""
        return None if value == "" else value

    @field_validator("api_version", mode="before")
    @classmethod
    def _version(cls, value: object) -> object:
        return normalise_version(value) if isinstance(value, str) else value

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        return base_url(value)
