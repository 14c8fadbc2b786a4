"""The ``settings:`` of a ``hello`` account."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, SecretStr


class HelloSettings(BaseModel):
    """What one account needs; ``kpiwatch check-config`` validates it before any poll."""

    model_config = ConfigDict(extra="forbid")  # a mistyped key is an error, not ignored

    api_url: HttpUrl = Field(
        HttpUrl("https://api.hello.example"), description="Base URL of the Hello API."
    )
    handle: str = Field(
        pattern=r"^[A-Za-z0-9_]{1,30}$", description="The account's handle, without the @."
    )
    token: SecretStr = Field(description="Read-only API token (Hello > Settings > Developer).")
    posts: int = Field(20, ge=0, le=100, description="Recent posts to read per poll (0: none).")
