"""kpiwatch: a monitoring daemon for social-media and marketing KPIs.

Plugin authors import everything they need from here::

    import kpiwatch

    @kpiwatch.hookimpl
    def kpiwatch_register_platforms(register):
        register(kpiwatch.Platform(name="example", collect=collect))
"""

import pluggy

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("kpiwatch")
hookspec = pluggy.HookspecMarker("kpiwatch")

from kpiwatch.alerting.notifiers.base import (  # noqa: E402
    DeliveryError,
    Notification,
    NotifierSetup,
    NotifierType,
)
from kpiwatch.errors import (  # noqa: E402
    AuthError,
    BadResponse,
    CollectError,
    MetricRemoved,
    NotFound,
    QuotaExhausted,
    RateLimited,
    Unavailable,
)
from kpiwatch.platform import CollectContext, CollectResult, Platform, Post, Sample  # noqa: E402
from kpiwatch.toolkit.api import ApiPolicy, ApiResponse  # noqa: E402
from kpiwatch.toolkit.oauth import OAuth2, OAuth2Config  # noqa: E402

__all__ = [
    "ApiPolicy",
    "ApiResponse",
    "AuthError",
    "BadResponse",
    "CollectContext",
    "CollectError",
    "CollectResult",
    "DeliveryError",
    "MetricRemoved",
    "NotFound",
    "Notification",
    "NotifierSetup",
    "NotifierType",
    "OAuth2",
    "OAuth2Config",
    "Platform",
    "Post",
    "QuotaExhausted",
    "RateLimited",
    "Sample",
    "Unavailable",
    "__version__",
    "hookimpl",
    "hookspec",
]
