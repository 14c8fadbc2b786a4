"""/api/v1/goals over real HTTP, serving goals evaluated from a history store at a fixed date."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from kpiwatch.config_loader import load_config_text
from kpiwatch.exposition import ExpositionCache
from kpiwatch.goals.model import STATUSES
from kpiwatch.goals.offline import evaluate_goals
from kpiwatch.http_api import GoalsFunction, create_app
from kpiwatch.plugins import load_plugins
from kpiwatch.runtime import Runtime
from kpiwatch.store import Store, StoredSample

DAY = 86400
FIRST_DAY = datetime(2026, 12, 1, tzinfo=UTC).timestamp()
NOW = datetime(2027, 2, 15, tzinfo=UTC).timestamp()  # half of 2027-Q1 has elapsed
# Followers: 5,000 on 2026-12-01 and 10 more each day, so 5,310 on 2027-01-01 (the measured
# baseline of the Q1 goals) and 5,760 on 2027-02-15.
CONFIG = """
accounts:
  - {id: acme-photo, platform: demo_photo, objective: reach}
goals:
  # 450 of 690 (65 %) at 50 % elapsed: on track
  - {name: q1-pace, kpi: followers, target: 6000, period: 2027-Q1, owner: growth team}
  # 450 of 3,690 (12 %), and the trend reaches ~6,200 of 9,000: at risk
  - {name: q1-stretch, kpi: followers, target: 9000, period: 2027-Q1}
  # 5,760 beats 5,700: achieved
  - {name: q1-done, kpi: followers, target: 5700, period: 2027-Q1}
  - {name: q2, kpi: followers, target: 7000, period: 2027-Q2}
"""
EXPECTED_STATUS = {
    "q1-pace": "on_track",
    "q1-stretch": "at_risk",
    "q1-done": "achieved",
    "q2": "not_started",
}


async def evaluated(directory: Path) -> list[dict]:
    async with await Store.open(directory / "kpiwatch.db") as store:
        await store.write(
            StoredSample(
                "acme-photo",
                "demo_photo",
                "followers",
                None,
                {},
                FIRST_DAY + d * DAY,
                5000 + 10 * d,
            )
            for d in range(131)
        )
    platforms = load_plugins(environ={}).platforms
    config = load_config_text(f"state_dir: {directory}\n{CONFIG}", "goals.yaml", platforms).config
    return [r.to_json() for r in await evaluate_goals(config, now=NOW)]


@pytest.fixture(scope="module")
def goals_json(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    """The goals as the tracker computes them (once: reading the history takes a while)."""
    return asyncio.run(evaluated(tmp_path_factory.mktemp("goals")))


async def client_for(goals: GoalsFunction | None) -> TestClient:
    runtime = Runtime()
    runtime.config_loaded = True
    cache = ExpositionCache(runtime, build_info={"version": "1.0.0", "python": "3.11.4"})
    app = create_app(runtime=runtime, exposition=cache, reload=None, info=dict, goals=goals)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    return client


@pytest.fixture
async def client(goals_json: list[dict]) -> AsyncIterator[TestClient]:
    async def goals() -> list[dict]:
        return goals_json

    client = await client_for(goals)
    yield client
    await client.close()


async def test_goals_serves_every_goal_as_computed(client: TestClient, goals_json: list[dict]):
    resp = await client.get("/api/v1/goals")
    assert resp.status == 200 and resp.content_type == "application/json"
    body = await resp.json()
    assert body["status"] == "success"
    goals = {g["name"]: g for g in body["data"]["goals"]}
    assert {name: g["status"] for name, g in goals.items()} == EXPECTED_STATUS
    pace = goals["q1-pace"]
    assert (pace["baseline"], pace["current"], pace["target"]) == (5310, 5760, 6000)
    assert pace["period"] == {
        "label": "2027-Q1",
        "start": "2027-01-01T00:00:00Z",
        "end": "2027-04-01T00:00:00Z",
    }
    assert pace["elapsed_ratio"] == 0.5 and pace["owner"] == "growth team"
    assert pace["relevance"]["status"] == "aligned"  # followers serve reach, as declared
    assert goals["q1-stretch"]["projected_met"] is False
    assert body["data"]["goals"] == goals_json  # served as the tracker's JSON, nothing lost


@pytest.mark.parametrize("status", STATUSES)
async def test_goals_status_filter(client: TestClient, status: str):
    resp = await client.get("/api/v1/goals", params={"status": status})
    assert resp.status == 200
    names = [g["name"] for g in (await resp.json())["data"]["goals"]]
    assert names == [n for n, s in EXPECTED_STATUS.items() if s == status]


async def test_goals_unknown_status_is_a_400_naming_the_allowed_ones(client: TestClient):
    resp = await client.get("/api/v1/goals?status=late")
    assert resp.status == 400
    body = await resp.json()
    assert body["status"] == "error"
    assert body["error"] == f"status 'late' is not one of {', '.join(STATUSES)}"


async def test_goals_not_computed_yet_is_a_503():
    async def not_yet() -> list[dict]:
        raise ValueError("goals have not been computed yet; try again in a moment")

    client = await client_for(not_yet)
    try:
        resp = await client.get("/api/v1/goals")
        assert resp.status == 503
        assert (await resp.json())["error"] == (
            "goals have not been computed yet; try again in a moment"
        )
    finally:
        await client.close()


async def test_goals_without_goal_tracking_is_a_503():
    client = await client_for(None)
    try:
        resp = await client.get("/api/v1/goals")
        assert resp.status == 503
        assert (await resp.json())["error"] == "goal tracking is not running"
    finally:
        await client.close()
