"""Every goal of a configuration evaluated at one instant, from the history store."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence

from kpiwatch.config_goals import GoalTrackingSettings
from kpiwatch.goals.compute import GoalSpec, evaluate_goal, needed_instants
from kpiwatch.goals.history import GoalHistory, in_scope
from kpiwatch.goals.model import GoalResult
from kpiwatch.kpi.compiled import Catalogue
from kpiwatch.kpi.engine import AccountMeta


class GoalTracker:
    """Evaluates goals cycle after cycle, keeping the KPI history it has read."""

    def __init__(
        self, specs: Sequence[GoalSpec], catalogue: Catalogue, settings: GoalTrackingSettings
    ) -> None:
        self.specs = list(specs)
        self.history = GoalHistory(catalogue)
        self.lookback = settings.history.total_seconds()
        self.errors: dict[str, str] = {}

    def replace(
        self, specs: Sequence[GoalSpec], catalogue: Catalogue, settings: GoalTrackingSettings
    ) -> None:
        """A new configuration: the cache is kept for KPIs the new goals still read."""
        self.specs = list(specs)
        self.lookback = settings.history.total_seconds()
        if catalogue is not self.history.catalogue:
            self.history = GoalHistory(catalogue)
        else:
            self.history.forget(specs)

    @staticmethod
    def _covers(spec: GoalSpec, meta: AccountMeta) -> bool:
        return in_scope(meta, spec.config.scope, spec.config.include_competitors)

    def evaluate(
        self,
        conn: sqlite3.Connection,
        accounts: Sequence[AccountMeta],
        objectives: Mapping[str, str | None],
        now: float,
        elsewhere: Sequence[AccountMeta] = (),
    ) -> list[GoalResult]:
        """Every goal at ``now`` (runs in a reader's thread). A goal that fails is reported in
        ``errors`` and left out; it never stops the others.

        ``elsewhere`` are the accounts other shards poll (``shard.count`` > 1): a goal whose
        scope has some is tracked by the shard that polls the first of its accounts (by id),
        from the accounts it has, and says how many it lacks.
        """
        self.errors = {}
        out = []
        for spec in self.specs:
            remote = [m.account for m in elsewhere if self._covers(spec, m)]
            shard_problem = None
            if remote:
                local = [m.account for m in accounts if self._covers(spec, m)]
                if not local or min(local) > min(remote):
                    continue  # another shard tracks this goal
                shard_problem = (
                    f"{len(remote)} of the {len(remote) + len(local)} accounts in scope are "
                    "polled by other shards and are left out of this goal's value"
                )
            try:
                instants = needed_instants(spec, now, self.lookback)
                points, problems = self.history.points(conn, spec, accounts, instants, now)
                scope = {
                    m.account: objectives.get(m.account)
                    for m in accounts
                    if in_scope(m, spec.config.scope, spec.config.include_competitors)
                }
                result = evaluate_goal(spec, points, now, scope, self.lookback)
                if shard_problem:
                    problems.append(shard_problem)
                result.problems = sorted({*problems, *result.problems})
                out.append(result)
            except Exception as exc:  # one goal's bad data must not stop the others
                self.errors[spec.name] = f"{type(exc).__name__}: {exc}"
        return out
