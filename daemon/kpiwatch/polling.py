"""One poll of one account: context, timeout, error classification and result checks.

Used by the scheduler for every poll and by ``kpiwatch collect`` for a single one.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp

from kpiwatch.account_plan import AccountPlan
from kpiwatch.errors import CollectError
from kpiwatch.logging import get_logger, redactor
from kpiwatch.platform import CollectContext, Post, Sample
from kpiwatch.result_check import InvalidResult, check_result
from kpiwatch.toolkit.api import ApiClient, ApiLimits
from kpiwatch.toolkit.ratelimit import RateLimitState


@dataclass
class PollOutcome:
    """What one poll gave."""

    ok: bool
    started: datetime
    duration: float
    samples: list[Sample] = field(default_factory=list)
    posts: list[Post] = field(default_factory=list)
    dropped: int = 0
    reason: str | None = None
    message: str | None = None
    retry_after: float | None = None
    rate_limit: RateLimitState | None = None  # the platform's last rate-limit answer
    quota: tuple[int, int] | None = None  # (units left today, daily units)
    removed: dict[str, str] = field(default_factory=dict)  # disabled metrics, with why


async def poll_account(
    plan: AccountPlan,
    *,
    session: aiohttp.ClientSession,
    state: dict[str, Any],
    last_success: datetime | None = None,
    limits: ApiLimits | None = None,
    dry_run: bool = False,
) -> PollOutcome:
    """Call the platform's ``collect`` once for the account of ``plan``; classify the outcome.

    Never raises, except CancelledError when the caller is cancelled.
    """
    account, platform, timeout = plan.account, plan.platform, plan.timeout
    log = get_logger(platform=account.platform, account=account.id)
    now = datetime.now(UTC)
    api = ApiClient(session, account.platform, plan.platform.api, limits, dry_run=dry_run)
    ctx = CollectContext(
        account_id=account.id,
        platform=account.platform,
        settings=plan.settings,
        labels=dict(account.labels),
        competitor=account.competitor,
        http=session,
        state=state,
        log=log,
        now=now,
        last_success=last_success,
        api=api,
    )
    t0 = time.perf_counter()
    retrying = {m for m in ctx.removed_metrics if ctx.metric_enabled(m)}

    def failed(reason: str, message: str, retry_after: float | None = None) -> PollOutcome:
        return PollOutcome(
            False,
            now,
            time.perf_counter() - t0,
            reason=reason,
            message=redactor.redact(message)[:500],
            rate_limit=api.rate_limit,
            quota=_quota(api),
            removed=ctx.removed_metrics,
            retry_after=retry_after,
        )

    try:
        async with asyncio.timeout(timeout.total_seconds()):
            raw = await platform.collect(ctx)
    except TimeoutError:
        return failed("timeout", f"no answer within {timeout.total_seconds():g}s")
    except CollectError as exc:
        return failed(exc.reason, str(exc), exc.retry_after)
    except aiohttp.ClientError as exc:
        return failed("unavailable", f"{type(exc).__name__}: {exc}")
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        log.error("collect raised", exc_info=exc)
        return failed("exception", f"{type(exc).__name__}: {exc}")
    try:
        checked = check_result(raw, now)
    except InvalidResult as exc:
        return failed("invalid_result", str(exc))
    if checked.problems:
        log.warning("invalid items dropped", dropped=checked.dropped, first=checked.problems[:3])
    _restore_returned(ctx, retrying, checked.samples)
    return PollOutcome(
        True,
        now,
        time.perf_counter() - t0,
        checked.samples,
        checked.posts,
        checked.dropped,
        rate_limit=api.rate_limit,
        quota=_quota(api),
        removed=ctx.removed_metrics,
    )


def _restore_returned(ctx: CollectContext, retrying: set[str], samples: list[Sample]) -> None:
    """A disabled metric asked for again (its retry time had come when the poll began) that the
    poll returned as a sample is enabled again, also when the plugin did not call
    ``metric_restored`` itself. Per-post metrics of the same name do not count: a platform may
    drop an account-level figure and keep the per-post one."""
    returned = {s.metric for s in samples}
    for metric in retrying & returned & ctx.removed_metrics.keys():
        ctx.metric_restored(metric)


def _quota(api: ApiClient) -> tuple[int, int] | None:
    if api.quota is None:
        return None
    return api.quota.remaining(api.clock()), api.quota.daily_units
