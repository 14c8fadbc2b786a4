"""GA4 session sources and mediums named as kpiwatch's ``source`` and ``medium`` dimensions.

``source`` names the social platform a session came from, with the kpiwatch platform names
where there is one (``facebook`` for facebook.com, l.facebook.com, m.facebook.com, fb...), so
referral traffic and conversions line up with the platform's own account. Sources not in the
table keep GA4's name. ``medium`` is ``social`` for GA4's Organic Social channel group and
``paid_social`` for Paid Social (the mediums ``kpis.referral_traffic.mediums`` counts), and
GA4's session medium otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping

#: Social platform -> GA4 session sources (matched without case and a leading "www.").
SOCIAL_SOURCES: dict[str, tuple[str, ...]] = {
    "facebook": (
        "facebook.com",
        "m.facebook.com",
        "l.facebook.com",
        "lm.facebook.com",
        "web.facebook.com",
        "mbasic.facebook.com",
        "facebook",
        "fb",
    ),
    "instagram": ("instagram.com", "l.instagram.com", "instagram", "ig"),
    "x": ("t.co", "x.com", "twitter.com", "mobile.twitter.com", "twitter", "x"),
    "linkedin": ("linkedin.com", "lnkd.in", "linkedin"),
    "youtube": ("youtube.com", "m.youtube.com", "youtu.be", "youtube"),
    "tiktok": ("tiktok.com", "tiktok"),
    "bluesky": ("bsky.app", "bluesky", "bsky"),
    "mastodon": ("mastodon.social", "mastodon"),
    "threads": ("threads.net", "l.threads.net", "threads.com", "threads"),
    "pinterest": ("pinterest.com", "pinterest"),
    "reddit": ("reddit.com", "out.reddit.com", "old.reddit.com", "reddit"),
}

#: GA4 default channel group -> the kpiwatch medium of its sessions.
CHANNEL_MEDIUMS = {"Organic Social": "social", "Paid Social": "paid_social"}
NOT_SET = "(not set)"


def _key(source: str) -> str:
    return source.strip().lower().removeprefix("www.")


class SourceNames:
    """The built-in table with the account's own ``sources`` added."""

    def __init__(self, extra: Mapping[str, list[str]]) -> None:
        self.names: dict[str, str] = {}
        for name, sources in (*SOCIAL_SOURCES.items(), *extra.items()):
            for source in sources:
                self.names[_key(source)] = name

    def source(self, ga4_source: str) -> str:
        """The ``source`` dimension of a GA4 session source."""
        key = _key(ga4_source)
        return self.names.get(key, key or NOT_SET)


def medium(ga4_medium: str, channel_group: str) -> str:
    """The ``medium`` dimension of a GA4 session medium and default channel group."""
    return CHANNEL_MEDIUMS.get(channel_group) or ga4_medium.strip().lower() or NOT_SET
