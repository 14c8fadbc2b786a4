"""Settings of a Facebook Page account (the ``settings:`` mapping in the configuration)."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from kpiwatch_platforms.meta_graph.settings import GraphSettings

_PAGE_ID = re.compile(r"^\d{5,25}$")


class FacebookSettings(GraphSettings):
    """One Facebook Page: which one, the Page access token, and how much to read."""

    page_id: str = Field(description="The Page's numeric ID.")
    history_days: int = Field(
        28, ge=1, le=89, description="Days of daily insights read on first contact (1 to 89)."
    )
    revisit_days: int = Field(
        3, ge=0, le=28, description="Days before the last one read that are read again."
    )
    recent_days: int = Field(
        28, ge=1, le=365, description="Posts of the last N days are reported as posts."
    )
    max_posts: int = Field(25, ge=1, le=500, description="At most this many posts, newest first.")
    post_insights: bool = Field(
        True, description="Ask each post's insights (views, reach, clicks): one call per post."
    )

    @field_validator("page_id", mode="before")
    @classmethod
    def _page_id(cls, value: object) -> object:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, str) and not _PAGE_ID.match(value.strip()):
            raise ValueError(
                f"page_id {value!r} is not a Page ID: write the number shown under the Page's "
                "About > Page transparency, or by GET /me?fields=id with the Page token "
                "(quote it: page_id: '104xxxxxxxxxxxx')"
            )
        return value.strip() if isinstance(value, str) else value
