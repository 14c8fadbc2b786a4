"""Graph API versions: the one kpiwatch targets, how a setting spells one, and picking the
entry of a table keyed by version (the metric lists each plugin keeps per version)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TypeVar

#: The Graph API version the Meta plugins target (released 2025-10-08; v25.0 came 2026-02-18).
API_VERSION = "v24.0"
#: The oldest version the plugins keep a metric list for.
OLDEST_VERSION = "v21.0"

_VERSION = re.compile(r"^v?(\d{1,3})(?:\.(\d))?$")

T = TypeVar("T")


def version_key(version: str) -> tuple[int, int]:
    """``"v24.0"`` as ``(24, 0)``, for comparing versions."""
    match = _VERSION.match(version.strip())
    if match is None:
        raise ValueError(f"{version!r} is not a Graph API version such as {API_VERSION!r}")
    return int(match.group(1)), int(match.group(2) or 0)


def normalise_version(value: str) -> str:
    """A version setting as ``vNN.0``; ``24``, ``24.0`` and ``v24`` are accepted too."""
    try:
        major, minor = version_key(value)
    except ValueError:
        raise ValueError(
            f"api_version {value!r} is not a Graph API version: write it as {API_VERSION!r}"
        ) from None
    version = f"v{major}.{minor}"
    if version_key(version) < version_key(OLDEST_VERSION):
        raise ValueError(
            f"api_version {version} is older than {OLDEST_VERSION}, the oldest the Meta plugins "
            f"know the metrics of; write {API_VERSION!r} (or leave it out)"
        )
    return version


def for_version(table: Mapping[str, T], version: str) -> T:
    """The entry of ``table`` for the newest version that is not newer than ``version``."""
    wanted = version_key(version)
    known = sorted(table, key=version_key)
    eligible = [v for v in known if version_key(v) <= wanted]
    if not eligible:
        raise ValueError(f"no entry for Graph API {version}; the oldest is {known[0]}")
    return table[eligible[-1]]


def newest(table: Mapping[str, T]) -> tuple[str, T]:
    """The newest version of ``table`` and its entry."""
    version = max(table, key=version_key)
    return version, table[version]
