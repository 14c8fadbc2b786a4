"""The ``csv`` platform: manual data from spreadsheet or CRM exports, files or URLs.

NPS and CSAT answers, revenue, ad spend, leads: each row's date says when its figures are
from, so a file's history becomes samples with their own timestamps. The file is imported
again when it changes. README.md in this folder describes the settings; sample.yaml is a
complete configuration.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import kpiwatch
from kpiwatch import vocabulary
from kpiwatch.toolkit.api import ApiPolicy
from kpiwatch_platforms.csv.collect import collect
from kpiwatch_platforms.csv.settings import CsvSettings

PLATFORM = kpiwatch.Platform(
    name="csv",
    collect=collect,
    settings=CsvSettings,
    description=(
        "CSV files or URLs of manual data (spreadsheet and CRM exports): columns mapped to "
        "vocabulary metrics, rows imported with their dates, re-read when changed."
    ),
    metrics=tuple(m.name for m in vocabulary.METRICS),
    default_interval=timedelta(minutes=5),
    api=ApiPolicy(retries=2, backoff=0.5),
)


@kpiwatch.hookimpl
def kpiwatch_register_platforms(register: Callable[[kpiwatch.Platform], None]) -> None:
    """Register csv."""
    register(PLATFORM)
