"""Rest.li 2.0 query encoding (``X-Restli-Protocol-Version: 2.0.0``), and sending it as is.

Rest.li 2.0 writes structured values in the query itself: a record as
``(key:value,key:value)``, a list as ``List(a,b)``, and strings percent-encoded so that their
own ``:``, ``,``, ``(`` and ``)`` cannot be read as structure. LinkedIn insists: "All URNs must
be URL Encoded", ``urn:li:organization:123`` as ``urn%3Ali%3Aorganization%3A123`` in paths and
queries. For example::

    timeIntervals=(timeRange:(start:1704067200000,end:1704153600000),timeGranularityType:DAY)
    shares=List(urn%3Ali%3Ashare%3A1,urn%3Ali%3Ashare%3A2)

aiohttp re-quotes a URL given as a string and decodes ``%3A`` back to ``:`` (LinkedIn then
answers "Syntax exception in path variables"), so :func:`send_as_encoded` makes the poll's
``ctx.api`` pass its URLs to aiohttp as already encoded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import aiohttp
from yarl import URL

from kpiwatch.toolkit.api import ApiClient

RestliValue = str | int | float | bool | Sequence[Any] | Mapping[str, Any]


def encode(value: RestliValue) -> str:
    """One value in Rest.li 2.0 URL encoding."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return quote(value, safe="")
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, Mapping):
        return "(" + ",".join(f"{encode(k)}:{encode(v)}" for k, v in value.items()) + ")"
    return "List(" + ",".join(encode(item) for item in value) + ")"


def query(params: Mapping[str, RestliValue]) -> str:
    """``params`` as a Rest.li 2.0 query string (in the order given)."""
    return "&".join(f"{quote(name, safe='')}={encode(value)}" for name, value in params.items())


def day_intervals(start_ms: int, end_ms: int) -> dict[str, Any]:
    """The ``timeIntervals`` value of daily statistics from ``start_ms`` to ``end_ms``."""
    return {"timeRange": {"start": start_ms, "end": end_ms}, "timeGranularityType": "DAY"}


class EncodedUrlSession:
    """An aiohttp session whose ``request`` sends the URL string exactly as written."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session

    def request(self, method: str, url: str | URL, **options: Any) -> Any:
        if isinstance(url, str):
            url = URL(url, encoded=True)
        return self.session.request(method, url, **options)

    def __getattr__(self, name: str) -> Any:  # post() for token refreshes, closed...
        return getattr(self.session, name)


def send_as_encoded(api: ApiClient) -> ApiClient:
    """Make ``api`` (one poll's ``ctx.api``) send its URLs without re-quoting them."""
    if not isinstance(api.session, EncodedUrlSession):
        api.session = EncodedUrlSession(api.session)  # type: ignore[assignment]
    return api
