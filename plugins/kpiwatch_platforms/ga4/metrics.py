"""Which GA4 metrics each vocabulary metric comes from, for the Data API version targeted.

Versioned with the API: when Google renames or removes a metric, this table changes with
``API_VERSION`` and the README's table of API changes.
"""

from __future__ import annotations

from kpiwatch_platforms.ga4.settings import GA4Settings

#: The Data API version the names below belong to (``<api_url>`` ends in it).
API_VERSION = "v1beta"

#: Vocabulary metrics the plugin produces, in the order samples are made.
VOCABULARY = ("sessions", "engaged_sessions", "bounces", "conversions", "revenue")


def ga4_metrics(settings: GA4Settings) -> dict[str, tuple[str, ...]]:
    """Vocabulary metric -> the GA4 metrics it is computed from (v1beta, since the 2024 rename
    of conversions to key events)."""
    return {
        "sessions": ("sessions",),
        "engaged_sessions": ("engagedSessions",),
        # GA4's bounce rate is 1 - engagement rate: a bounce is a session that was not engaged
        "bounces": ("sessions", "engagedSessions"),
        "conversions": (settings.conversions_metric,),
        "revenue": (settings.revenue_metric,),
    }


def asked_for(plan: dict[str, tuple[str, ...]], wanted: list[str]) -> list[str]:
    """The GA4 metrics ``wanted`` vocabulary metrics need, each once, in plan order."""
    asked: list[str] = []
    for metric in wanted:
        for name in plan[metric]:
            if name not in asked:
                asked.append(name)
    return asked


def removal_detail(metric: str, message: str) -> str:
    """Why GA4 ``metric`` is gone and what to write instead, with what GA4 said."""
    base, _, event = metric.partition(":")
    said = f" GA4 said: {message}" if message else ""
    if base == "conversions":
        replacement = f"keyEvents:{event}" if event else "keyEvents"
        return (
            f"GA4 no longer serves {metric}: conversions were renamed key events in 2024; "
            f"write conversions_metric: {replacement}.{said}"
        )
    if base == "keyEvents" and event:
        return (
            f"GA4 does not know {metric}: check that {event} is still marked as a key event "
            f"of the property (Admin > Data display > Events).{said}"
        )
    return f"GA4 no longer serves {metric}.{said}"
