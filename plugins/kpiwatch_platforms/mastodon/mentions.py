"""Mentions of an account: from its notifications (own accounts with a token), or from the
public timelines of brand hashtags (any account, competitors too)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kpiwatch.errors import AuthError, BadResponse, NotFound
from kpiwatch.platform import CollectContext
from kpiwatch.toolkit.api import credential_key
from kpiwatch_platforms.mastodon.client import (
    NOTIFICATIONS,
    PLATFORM,
    VERIFY_CREDENTIALS,
    MastodonClient,
)
from kpiwatch_platforms.mastodon.recent import Recent, read_recent

#: ctx.state key: the id of the account the token belongs to, per token (hashed).
TOKEN_OWNER_KEY = "token_account"
NOTIFICATIONS_PER_PAGE = "80"
STATUSES_PER_PAGE = "40"


def _is_mention(notification: dict[str, Any]) -> bool:
    """A mention in a status others can see (direct messages are not mentions)."""
    status = notification.get("status")
    visibility = status.get("visibility") if isinstance(status, dict) else None
    return notification.get("type") == "mention" and visibility != "direct"


async def token_owner(ctx: CollectContext, client: MastodonClient) -> str:
    """The id of the account the token belongs to (asked once per token, then kept)."""
    key = credential_key(client.token)
    known = ctx.state.get(TOKEN_OWNER_KEY)
    if isinstance(known, dict) and known.get("credential") == key:
        return str(known.get("id"))
    me = await client.object(VERIFY_CREDENTIALS)
    ident = me.get("id")
    if not isinstance(ident, str | int) or isinstance(ident, bool):
        raise BadResponse(f"{PLATFORM}: {VERIFY_CREDENTIALS} answered without an account id")
    ctx.state[TOKEN_OWNER_KEY] = {"credential": key, "id": str(ident), "acct": me.get("acct")}
    return str(ident)


async def notification_mentions(
    ctx: CollectContext, client: MastodonClient, account_id: str, since: datetime, pages: int
) -> Recent | None:
    """Mention notifications since ``since``; None when the token is another account's, or
    when the server no longer serves notifications (``mentions`` is then disabled)."""
    owner = await token_owner(ctx, client)
    if owner != account_id:
        known = ctx.state.get(TOKEN_OWNER_KEY, {})
        ctx.log.warning(
            "mentions not collected: settings.token belongs to another account; use a token "
            "of this account, or mention_hashtags",
            token_account=known.get("acct"),
        )
        return None
    params = {"types[]": "mention", "limit": NOTIFICATIONS_PER_PAGE}
    try:
        recent = await read_recent(
            client,
            client.url(NOTIFICATIONS),
            params,
            since=since,
            max_pages=pages,
            keep=_is_mention,
        )
    except NotFound as exc:
        ctx.metric_removed("mentions", f"{NOTIFICATIONS} is not served any more: {exc}")
        return None
    ctx.metric_restored("mentions")
    return recent


async def hashtag_mentions(
    ctx: CollectContext,
    client: MastodonClient,
    tags: tuple[str, ...],
    account_id: str,
    since: datetime,
    pages: int,
) -> Recent | None:
    """Public statuses by others using any of ``tags`` since ``since``, each counted once;
    None when the server shows hashtag timelines only to logged-in users and there is no
    token (``mentions`` is then disabled)."""
    found: dict[str, tuple[datetime, dict[str, Any]]] = {}
    covered = since
    params = {"limit": STATUSES_PER_PAGE}

    def by_others(status: dict[str, Any]) -> bool:
        author = status.get("account")
        return not (isinstance(author, dict) and str(author.get("id")) == account_id)

    for tag in tags:
        try:
            recent = await read_recent(
                client, client.tag_url(tag), params, since=since, max_pages=pages, keep=by_others
            )
        except NotFound:
            continue  # a hashtag nobody has used yet: no mentions
        except AuthError as exc:
            if client.token is not None:
                raise
            ctx.metric_removed("mentions", f"hashtag timelines need a token here: {exc}")
            return None
        covered = max(covered, recent.covered_since)
        for when, status in recent.items:
            key = str(status.get("uri") or status.get("id"))
            found.setdefault(key, (when, status))
    ctx.metric_restored("mentions")
    items = sorted(found.values(), key=lambda pair: pair[0], reverse=True)
    return Recent(items, covered)
