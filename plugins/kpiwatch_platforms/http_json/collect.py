"""One poll of an ``http_json`` account: send the needed requests, map the answers."""

from __future__ import annotations

from dataclasses import replace

import kpiwatch
from kpiwatch.toolkit.api import ApiClient
from kpiwatch.toolkit.ratelimit import READERS, Headers, RateLimitState
from kpiwatch_platforms.http_json.fetch import Answer, Credentials, fetch
from kpiwatch_platforms.http_json.mapping import read_posts, read_samples
from kpiwatch_platforms.http_json.settings import HttpJsonSettings


def any_rate_limit_headers(headers: Headers, now: float) -> RateLimitState | None:
    """The first rate-limit headers found: X's, Mastodon's, the IETF draft's, Meta's.

    ``X-RateLimit-Reset`` is read as an ISO-8601 time (Mastodon) or, failing that, as unix
    seconds or seconds from now (GitHub, many others).
    """
    for name in ("x", "mastodon", "ietf", "meta"):
        state = READERS[name](headers, now)
        if state is None:
            continue
        if name == "mastodon" and state.reset_at is None:
            reset = _seconds(headers.get("X-RateLimit-Reset"))
            if reset is not None:
                state = replace(state, reset_at=reset if reset >= 1e9 else now + reset)
        return state
    return None


def _seconds(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def _use_rate_limit_headers(api: ApiClient, choice: str) -> None:
    """Read the rate-limit headers the account's settings name, for this poll's requests.

    ``ctx.api`` is made per poll from the platform's policy (auto); the choice is per account.
    """
    reader = {"auto": any_rate_limit_headers, "none": None}.get(choice, READERS.get(choice))
    api.reader = reader


async def collect(ctx: kpiwatch.CollectContext) -> kpiwatch.CollectResult:
    """Fetch the requests that enabled metrics (or posts) read, and map their answers."""
    settings: HttpJsonSettings = ctx.settings
    assert ctx.api is not None
    _use_rate_limit_headers(ctx.api, settings.rate_limit_headers)
    enabled = [m for m in settings.metrics if ctx.metric_enabled(m.metric)]
    needed = {settings.request_of(m.request) for m in enabled}
    if settings.posts is not None:
        needed.add(settings.request_of(settings.posts.request))
    credentials = Credentials.of(settings)
    answers: dict[str, Answer] = {}
    for request in settings.all_requests():
        if request.name in needed:
            answers[request.name] = await fetch(ctx, request, credentials)
    samples = read_samples(ctx, settings, answers)
    posts = []
    if settings.posts is not None:
        answer = answers[settings.request_of(settings.posts.request)]
        posts = read_posts(ctx, settings.posts, answer)
    return kpiwatch.CollectResult(samples, posts)
