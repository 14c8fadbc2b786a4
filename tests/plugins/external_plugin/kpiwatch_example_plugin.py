"""kpiwatch platform ``static_example``: reports the figures written in its settings.

It calls no API: a way to try kpiwatch without credentials and a template for real plugins.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, SecretStr

import kpiwatch

KEY_PREFIX = "sk_"


class StaticPost(BaseModel):
    """One post to report, with its lifetime likes."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    published_at: AwareDatetime
    content_type: Literal["text", "image", "video", "link"] = "text"
    likes: int = Field(0, ge=0)
    url: str | None = None


class StaticSettings(BaseModel):
    """The ``settings:`` of a ``static_example`` account."""

    model_config = ConfigDict(extra="forbid")

    api_key: SecretStr = Field(description=f"Account key; starts with {KEY_PREFIX!r}.")
    followers: int = Field(ge=0)
    likes_per_day: int | None = Field(None, ge=0, description="Leave out when unknown.")
    posts: list[StaticPost] = Field(default_factory=list)


async def collect(ctx: kpiwatch.CollectContext) -> kpiwatch.CollectResult:
    """Return the configured figures; refuse a key of the wrong form as a real API would."""
    settings: StaticSettings = ctx.settings
    if not settings.api_key.get_secret_value().startswith(KEY_PREFIX):
        raise kpiwatch.AuthError(f"api_key refused: static_example keys start with {KEY_PREFIX!r}")
    ctx.state["polls"] = ctx.state.get("polls", 0) + 1
    samples = [kpiwatch.Sample("followers", settings.followers)]
    if settings.likes_per_day is not None:  # missing is not zero: no sample when unknown
        samples.append(kpiwatch.Sample("likes", settings.likes_per_day, window="1d"))
    posts = [
        kpiwatch.Post(
            id=post.id,
            published_at=post.published_at,
            content_type=post.content_type,
            metrics={"likes": post.likes},
            url=post.url,
        )
        for post in settings.posts
    ]
    ctx.log.debug("static figures read", samples=len(samples), posts=len(posts))
    return kpiwatch.CollectResult(samples=samples, posts=posts)


@kpiwatch.hookimpl
def kpiwatch_register_platforms(register):
    register(
        kpiwatch.Platform(
            name="static_example",
            collect=collect,
            settings=StaticSettings,
            description="Fixed figures from the account's settings (no API).",
            metrics=("followers", "likes"),
            max_concurrency=4,
        )
    )
