"""The built-in ``demo`` plugin: deterministic synthetic accounts on several pretend platforms.

Every value is a pure function of (seed, account id, poll time), so the demo needs no network,
shows the same numbers after a restart, and can poll thousands of accounts. README.md in this
folder describes the platforms, the metrics they produce and their settings.
"""

from __future__ import annotations

from collections.abc import Callable

import kpiwatch
from kpiwatch_platforms.demo.platforms import GENERATORS


@kpiwatch.hookimpl
def kpiwatch_register_platforms(register: Callable[[kpiwatch.Platform], None]) -> None:
    """Register demo_photo, demo_video, demo_micro, demo_pro, demo_web, demo_ads, demo_crm."""
    for generator in GENERATORS:
        register(generator.platform())
