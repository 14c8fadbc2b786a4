"""Profile counters from ``app.bsky.actor.getProfile`` on the public AppView."""

from __future__ import annotations

from dataclasses import dataclass, field

from kpiwatch.platform import CollectContext, Sample
from kpiwatch_platforms.bluesky import xrpc
from kpiwatch_platforms.bluesky.settings import BlueskySettings

GET_PROFILE = "app.bsky.actor.getProfile"
#: Vocabulary metric -> the profileViewDetailed counter.
PROFILE_COUNTERS = (
    ("followers", "followersCount"),
    ("following", "followsCount"),
    ("posts", "postsCount"),
)


@dataclass(frozen=True)
class Profile:
    """Who the account is and its counters as samples."""

    did: str
    handle: str | None
    samples: list[Sample] = field(default_factory=list)


async def read_profile(ctx: CollectContext, settings: BlueskySettings) -> Profile:
    """The account's DID, handle and counters; a counter the profile no longer carries is
    disabled for the account (``ctx.metric_removed``) and the others are still returned."""
    assert ctx.api is not None
    response = await ctx.api.request(
        "GET", xrpc.url(settings.appview_url, GET_PROFILE), params={"actor": settings.handle}
    )
    data = xrpc.object_body(response)
    did, handle = data.get("did"), data.get("handle")
    if not isinstance(did, str) or not did.startswith("did:"):
        raise xrpc.bad_shape(response, f"a profile without a DID (did={did!r})")
    samples = []
    for metric, key in PROFILE_COUNTERS:
        if not ctx.metric_enabled(metric):
            continue
        value = xrpc.count(response, data, key)
        if value is None:
            ctx.metric_removed(metric, f"{GET_PROFILE} no longer returns {key}")
            continue
        if metric in ctx.removed_metrics:
            ctx.metric_restored(metric)
        samples.append(Sample(metric, float(value)))
    return Profile(did, handle if isinstance(handle, str) else None, samples)
