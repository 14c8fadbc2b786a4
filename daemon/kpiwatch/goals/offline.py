"""Goals evaluated from a history database without a running daemon (``kpiwatch goals``)."""

from __future__ import annotations

import time

from kpiwatch.config import Config
from kpiwatch.goals.compile import compile_goals
from kpiwatch.goals.model import GoalResult
from kpiwatch.goals.service import goal_accounts, other_shards_accounts
from kpiwatch.goals.tracker import GoalTracker
from kpiwatch.kpi.compiled import build_catalogue
from kpiwatch.kpi.offline import history_path
from kpiwatch.logging import get_logger
from kpiwatch.store import StoreError
from kpiwatch.store.reader import HistoryReader


async def evaluate_goals(config: Config, now: float | None = None) -> list[GoalResult]:
    """Every goal of ``config`` at ``now`` (default: the current time), from the stored history.

    Raises StoreError when there is no usable history database, and GoalProblems (a
    ValueError) when a goal does not compile. A goal whose evaluation fails is logged as an
    error and left out, as the daemon does.
    """
    path = history_path(config)
    if not path.exists():
        raise StoreError(
            f"{path}: no history database yet; run the daemon with this configuration first "
            "(or check state_dir and history.file)"
        )
    catalogue = build_catalogue(config.kpis)
    specs = compile_goals(config.goals, catalogue, config.kpis.windows)
    tracker = GoalTracker(specs, catalogue, config.goal_tracking)
    metas, objectives = goal_accounts(config)
    elsewhere = other_shards_accounts(config)
    at = time.time() if now is None else now
    async with await HistoryReader.open(path) as reader:
        results = await reader.run(
            lambda conn: tracker.evaluate(conn, metas, objectives, at, elsewhere)
        )
    log = get_logger(component="goals")
    for name, error in tracker.errors.items():
        log.error("goal evaluation failed", goal=name, error=error)
    return results
