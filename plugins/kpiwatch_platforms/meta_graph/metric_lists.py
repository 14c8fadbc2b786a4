"""Versioned metric lists: which Graph insights metric feeds which vocabulary metric, per
Graph API version a plugin targets, and what to tell the user when Meta refuses one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from kpiwatch_platforms.meta_graph.version import API_VERSION, for_version, newest, version_key


@dataclass(frozen=True)
class InsightMetric:
    """A Graph insights metric and the vocabulary metric it feeds."""

    graph: str
    metric: str
    level: bool = False  # a level (a count of followers): only its daily series is read


MetricTable = Mapping[str, tuple[InsightMetric, ...]]


def replacement_hint(table: MetricTable, graph: str, version: str) -> str:
    """What to do about a refused metric: the newest list's metric for the same vocabulary
    metric, when that is another one (and the account asks an older list)."""
    latest, metrics = newest(table)
    if version_key(API_VERSION) > version_key(latest):
        latest = API_VERSION  # the version the plugins target uses the newest list
    current = {m.graph: m.metric for m in for_version(table, version)}
    metric = current.get(graph)
    for candidate in metrics:
        if metric is not None and candidate.metric == metric and candidate.graph != graph:
            return (
                f"; the metric list of {latest} asks {candidate.graph} for {metric} instead: "
                f"set api_version: {latest} (or later)"
            )
    return ""
