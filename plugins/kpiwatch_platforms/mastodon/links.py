"""The ``Link`` header of Mastodon's paged answers (RFC 8288): where the next page is."""

from __future__ import annotations

import re
from collections.abc import Mapping

_LINK = re.compile(r"<([^>]*)>([^<]*)")
_REL = re.compile(r"""\brel\s*=\s*(?:"([^"]*)"|([^\s;,]+))""", re.IGNORECASE)


def link_values(headers: Mapping[str, str]) -> list[str]:
    """Every ``Link`` header value (a server may send several)."""
    getall = getattr(headers, "getall", None)
    if getall is not None:
        return list(getall("Link", []))
    return [value for name, value in headers.items() if name.lower() == "link"]


def next_link(headers: Mapping[str, str]) -> str | None:
    """The target of ``rel="next"``, or None when there is no next page."""
    for value in link_values(headers):
        for target, params in _LINK.findall(value):
            rel = _REL.search(params)
            if rel and "next" in (rel.group(1) or rel.group(2) or "").lower().split():
                return target.strip()
    return None
