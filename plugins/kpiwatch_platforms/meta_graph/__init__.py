"""What the Meta plugins (``facebook``, ``instagram``, ``meta_ads``) share: the Graph API
version, the error classification by ``error.code``, the usage headers, cursor paging and the
insights edge. Not a plugin itself: it registers no platform.
"""

from __future__ import annotations

from kpiwatch.toolkit.api import ApiPolicy
from kpiwatch_platforms.meta_graph.errors import classify
from kpiwatch_platforms.meta_graph.version import API_VERSION

__all__ = ["API_VERSION", "graph_policy"]


def graph_policy() -> ApiPolicy:
    """How kpiwatch talks to the Graph API: Meta's usage headers (``X-App-Usage``,
    ``X-Business-Use-Case-Usage``, ``X-Ad-Account-Usage``: percentages used), errors classified
    by ``error.code`` (throttling comes as HTTP 400/403 too), at most 10 calls a second per
    token, and two retries of 5xx, timeouts and transient Graph errors (codes 1 and 2)."""
    return ApiPolicy(rate=(10, 1.0), rate_limit_headers="meta", classify=classify)
