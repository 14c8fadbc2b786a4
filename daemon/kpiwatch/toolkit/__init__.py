"""The plugin toolkit: what ``ctx.api`` does for a platform plugin.

- :mod:`kpiwatch.toolkit.api`: ``ApiPolicy`` (how a platform's API is called) and ``ApiClient``
  (``ctx.api``: token buckets, quotas, retries, error classes);
- :mod:`kpiwatch.toolkit.ratelimit`: the platforms' rate-limit headers read into
  ``RateLimitState``;
- :mod:`kpiwatch.toolkit.quota`: ``QuotaBudget``, daily units reset at midnight in a time zone;
- :mod:`kpiwatch.toolkit.oauth`: ``OAuth2`` access tokens from a rotating refresh token.
"""

from kpiwatch.toolkit.api import ApiClient, ApiPolicy, ApiResponse
from kpiwatch.toolkit.oauth import OAuth2, OAuth2Config
from kpiwatch.toolkit.quota import QuotaBudget
from kpiwatch.toolkit.ratelimit import RateLimitState

__all__ = [
    "ApiClient",
    "ApiPolicy",
    "ApiResponse",
    "OAuth2",
    "OAuth2Config",
    "QuotaBudget",
    "RateLimitState",
]
