"""Sending the configured requests through ``ctx.api``: authentication, headers and pages."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit

import kpiwatch
from kpiwatch.toolkit.api import ApiResponse
from kpiwatch_platforms.http_json.expressions import SearchError, described, search
from kpiwatch_platforms.http_json.settings import (
    AuthSettings,
    HttpJsonSettings,
    Pagination,
    RequestSettings,
)

_LINK = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,]*)*)")
_REL_NEXT = re.compile(r"""(?:^|;)\s*rel\s*=\s*"?([^";]*)"?""", re.IGNORECASE)


@dataclass
class Answer:
    """Every page a request answered, in order; ``where`` names it in messages."""

    where: str
    pages: list[Any] = field(default_factory=list)


def _params(values: dict[str, Any]) -> dict[str, str]:
    return {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in values.items()}


@dataclass(frozen=True)
class Credentials:
    """What goes with every request of an account: headers (shared ones and the auth header),
    shared query parameters, and the query parameter of an API key (also on next pages)."""

    headers: dict[str, str]
    params: dict[str, str]
    key_param: dict[str, str]
    secret: str  # selects the rate-limit window (hashed by ctx.api)

    @classmethod
    def of(cls, settings: HttpJsonSettings) -> Credentials:
        headers = {k: v.get_secret_value() for k, v in settings.headers.items()}
        params = _params(settings.params)
        key_param: dict[str, str] = {}
        auth: AuthSettings | None = settings.auth
        if auth is not None and auth.bearer is not None:
            headers["Authorization"] = f"Bearer {auth.bearer.get_secret_value()}"
        elif auth is not None and auth.basic is not None:
            pair = f"{auth.basic.username}:{auth.basic.password.get_secret_value()}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        elif auth is not None and auth.api_key is not None:
            key = auth.api_key.value.get_secret_value()
            if auth.api_key.header is not None:
                headers[auth.api_key.header] = key
            elif auth.api_key.query is not None:
                key_param[auth.api_key.query] = key
        # accounts with other keys (in auth or in headers) get their own rate-limit window
        secret = "\n".join(sorted(f"{k}:{v}" for k, v in {**headers, **key_param}.items()))
        return cls(headers, params, key_param, secret)


async def fetch(
    ctx: kpiwatch.CollectContext, request: RequestSettings, credentials: Credentials
) -> Answer:
    """Send ``request`` and follow its pagination up to ``max_pages``; every page's JSON."""
    assert ctx.api is not None
    headers = {
        **credentials.headers,
        **{k: v.get_secret_value() for k, v in request.headers.items()},
    }
    params = {**credentials.params, **_params(request.params), **credentials.key_param}
    origin = _origin(request.url)
    answer = Answer(f"{request.method} {urlsplit(request.url).path or '/'}")
    url: str | None = request.url
    seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
    pagination = request.pagination
    while url is not None:
        seen.add((url, tuple(sorted(params.items()))))
        response = await ctx.api.request(
            request.method,
            url,
            params=params,
            headers=headers,
            json=request.body,
            credential=f"{origin}\n{credentials.secret}",
        )
        answer.pages.append(response.json())
        if pagination is None:
            break
        following = _next_page(pagination, answer, response, url, params, credentials)
        if following is None or (following[0], tuple(sorted(following[1].items()))) in seen:
            break
        if len(answer.pages) >= pagination.max_pages:
            ctx.log.warning(
                "more pages than max_pages: the rest is not read",
                request=request.name,
                max_pages=pagination.max_pages,
            )
            break
        url, params = following
        if _origin(url) != origin:
            raise kpiwatch.BadResponse(
                f"http_json: {answer.where}: the next page is on another host "
                f"({_origin(url)}); kpiwatch sends credentials only to {origin}"
            )
    return answer


def _next_page(
    pagination: Pagination,
    answer: Answer,
    response: ApiResponse,
    url: str,
    params: dict[str, str],
    credentials: Credentials,
) -> tuple[str, dict[str, str]] | None:
    """The URL and query parameters of the next page, or None on the last page."""
    page = answer.pages[-1]
    if pagination.next_cursor is not None and pagination.cursor_param is not None:
        cursor = _found(pagination.next_cursor, page, answer)
        if cursor is None or cursor == "":
            return None
        if not isinstance(cursor, str | int):
            raise kpiwatch.BadResponse(
                f"http_json: {answer.where}: next_cursor {pagination.next_cursor!r} gave "
                f"{described(cursor)}; it should give the cursor text"
            )
        return url, {**params, pagination.cursor_param: str(cursor)}
    if pagination.next_url is not None:
        target = _found(pagination.next_url, page, answer)
        if target is None or target == "":
            return None
        if not isinstance(target, str):
            raise kpiwatch.BadResponse(
                f"http_json: {answer.where}: next_url {pagination.next_url!r} gave "
                f"{described(target)}; it should give the next page's URL"
            )
    else:
        target = link_next(_link_header(response))
        if target is None:
            return None
    absolute = urljoin(url, target)
    # the next URL carries its own query; only a query API key must go again
    present = {k for k, _ in parse_qsl(urlsplit(absolute).query)}
    return absolute, {k: v for k, v in credentials.key_param.items() if k not in present}


def _found(expression: str, page: Any, answer: Answer) -> Any:
    try:
        return search(expression, page)
    except SearchError as exc:
        raise kpiwatch.BadResponse(
            f"http_json: {answer.where}: pagination path {expression!r} failed: {exc}"
        ) from None


def link_next(header: str) -> str | None:
    """The ``rel="next"`` URL of an RFC 8288 Link header, or None."""
    for match in _LINK.finditer(header):
        for rel in _REL_NEXT.findall(match.group(2)):
            if "next" in rel.lower().split():
                return match.group(1).strip()
    return None


def _link_header(response: ApiResponse) -> str:
    headers = response.headers
    getall = getattr(headers, "getall", None)
    return ", ".join(getall("Link", [])) if getall is not None else headers.get("Link", "")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()
