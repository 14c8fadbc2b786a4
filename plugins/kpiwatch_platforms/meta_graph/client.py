"""Graph API calls through ``ctx.api``: the versioned URL, the access token (and the
``appsecret_proof`` when the app requires one), and cursor paging.

Paging follows Meta's ``paging.next``: while an answer names a next page, its query (cursor
``after``, time bounds...) is asked of the same endpoint again, with this account's token in
place of the one Meta wrote into the link. The link's host is never called, so a token only
ever goes to the configured ``base_url``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import kpiwatch
from kpiwatch.toolkit.api import ApiClient, ApiResponse
from kpiwatch_platforms.meta_graph.reading import GraphBody
from kpiwatch_platforms.meta_graph.settings import GraphSettings

#: Query parameters of a ``paging.next`` link that are replaced by this account's own.
CREDENTIAL_PARAMS = frozenset({"access_token", "appsecret_proof"})
#: At most this many pages of one edge per poll (a safety net against a looping cursor).
MAX_PAGES = 50

Accept = Callable[[ApiResponse], bool]


class GraphClient:
    """Requests of one poll to one Graph API host and version, with one access token."""

    def __init__(
        self,
        api: ApiClient,
        *,
        base_url: str,
        version: str,
        token: str,
        app_secret: str | None = None,
    ) -> None:
        self.api = api
        self.base_url = base_url.rstrip("/")
        self.version = version
        self.token = token
        self.app_secret = app_secret

    def url(self, path: str) -> str:
        return f"{self.base_url}/{self.version}/{path.lstrip('/')}"

    def credentials(self) -> dict[str, str]:
        """``access_token`` and, with an app secret, ``appsecret_proof`` (HMAC-SHA256 of the
        token keyed with the secret, hex)."""
        params = {"access_token": self.token}
        if self.app_secret:
            proof = hmac.new(self.app_secret.encode(), self.token.encode(), hashlib.sha256)
            params["appsecret_proof"] = proof.hexdigest()
        return params

    async def get(
        self, path: str, params: Mapping[str, str] | None = None, *, accept: Accept | None = None
    ) -> ApiResponse:
        """GET ``path`` below the version; ctx.api raises the error class of a failure
        (``accept`` decides success instead of 2xx)."""
        query = {**(params or {}), **self.credentials()}
        return await self.api.request(
            "GET", self.url(path), params=query, credential=self.token, accept=accept
        )

    async def body(self, path: str, params: Mapping[str, str] | None = None) -> GraphBody:
        """GET ``path`` and read its JSON object."""
        return GraphBody(await self.get(path, params))

    async def edge(
        self,
        path: str,
        params: Mapping[str, str],
        *,
        keep: Callable[[GraphBody, dict[str, Any]], bool] | None = None,
        max_items: int | None = None,
        first: GraphBody | None = None,
    ) -> list[tuple[GraphBody, dict[str, Any]]]:
        """The items of an edge (``data`` lists), page after page along ``paging.next``.

        Paging stops at the last page, after ``max_items`` items, or at the first page where
        ``keep`` refuses an item (an edge sorted newest first, read back to a date). Each
        item comes with the body it was read from, for error messages. ``first`` is the
        answer to ``params`` when the caller already has it.
        """
        items: list[tuple[GraphBody, dict[str, Any]]] = []
        query: dict[str, str] = dict(params)
        seen: set[tuple[tuple[str, str], ...]] = set()
        for _ in range(MAX_PAGES):
            seen.add(tuple(sorted(query.items())))
            body = first if first is not None else await self.body(path, query)
            first = None
            stop = False
            for item in body.data_list():
                if keep is not None and not keep(body, item):
                    stop = True
                    continue
                items.append((body, item))
            if max_items is not None and len(items) >= max_items:
                return items[:max_items]
            following = next_query(body)
            if stop or following is None or tuple(sorted(following.items())) in seen:
                break
            query = following
        return items


def account_client(
    ctx: kpiwatch.CollectContext, settings: GraphSettings, token: str | None = None
) -> GraphClient:
    """The Graph client of one poll, from the account's settings (``token`` replaces the
    configured one, such as a refreshed Instagram token)."""
    if ctx.api is None:
        raise kpiwatch.CollectError(f"{ctx.platform}: the poll has no ctx.api (run it in kpiwatch)")
    secret = settings.app_secret.get_secret_value() if settings.app_secret else None
    return GraphClient(
        ctx.api,
        base_url=settings.base_url,
        version=settings.api_version,
        token=token or settings.access_token.get_secret_value(),
        app_secret=secret,
    )


def next_query(body: GraphBody) -> dict[str, str] | None:
    """The query of the answer's ``paging.next`` link without credentials; None at the end."""
    paging = body.obj(body.data, "paging", "")
    link = paging.get("next")
    if link is None:
        return None
    if not isinstance(link, str) or not link:
        raise body.bad("paging.next", link, "the URL of the next page")
    pairs = parse_qsl(urlsplit(link).query, keep_blank_values=True)
    return {key: value for key, value in pairs if key not in CREDENTIAL_PARAMS}
