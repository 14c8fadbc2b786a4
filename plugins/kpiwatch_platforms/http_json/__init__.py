"""The ``http_json`` platform: any JSON API mapped to vocabulary metrics with JMESPath.

The escape hatch for platforms without a plugin: the account's settings say which requests
to send (headers, authentication, pagination) and where each metric is in the answers.
README.md in this folder describes the settings; sample.yaml is a complete configuration.
"""

from __future__ import annotations

from collections.abc import Callable

import kpiwatch
from kpiwatch import vocabulary
from kpiwatch.toolkit.api import ApiPolicy
from kpiwatch_platforms.http_json.collect import any_rate_limit_headers, collect
from kpiwatch_platforms.http_json.settings import HttpJsonSettings

PLATFORM = kpiwatch.Platform(
    name="http_json",
    collect=collect,
    settings=HttpJsonSettings,
    description=(
        "Any JSON API: requests, headers and auth from the settings; metrics and posts read "
        "from the answers with JMESPath expressions."
    ),
    metrics=tuple(m.name for m in vocabulary.METRICS),
    api=ApiPolicy(rate_limit_headers=any_rate_limit_headers, retries=2, backoff=0.5),
)


@kpiwatch.hookimpl
def kpiwatch_register_platforms(register: Callable[[kpiwatch.Platform], None]) -> None:
    """Register http_json."""
    register(PLATFORM)
