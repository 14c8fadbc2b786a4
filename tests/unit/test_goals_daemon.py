"""Goals in the running daemon: computed from the store, served, exported, alerted, reloaded.

The daemon runs in process with a tiny platform; its history store is written beforehand with
60 days of follower counts, so the goal's baseline is measured from history. A goal rule's
notification goes to a webhook receiver on loopback. Dates are relative to today (the daemon
reads the real clock): the goal started 60 days ago and is due in 120.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

import kpiwatch
from kpiwatch.config_loader import load_config_text
from kpiwatch.daemon import Daemon
from kpiwatch.plugins import PluginRegistry
from kpiwatch.store import Store, StoredSample

DAY = 86400.0
#: Followers the platform reports now; the stored history grows by 2 a day up to 5,100.
NOW_FOLLOWERS = 5100.0


def registry() -> PluginRegistry:
    async def collect(ctx):
        return [kpiwatch.Sample("followers", NOW_FOLLOWERS)]

    class Tiny:
        @kpiwatch.hookimpl
        def kpiwatch_register_platforms(self, register):
            register(kpiwatch.Platform(name="tiny", collect=collect))

    out = PluginRegistry()
    out.register_module(Tiny(), "tiny")
    out.load_builtins()
    out.finish()
    return out


async def write_history(state: Path, today: float) -> None:
    # 5,100 - 2 per day back from today: 4,980 at the start (60 days ago)
    async with await Store.open(state / "kpiwatch.db") as store:
        await store.write(
            StoredSample("acme", "tiny", "followers", None, {}, today - d * DAY, 5100.0 - 2 * d)
            for d in range(91)
        )


def config(state: Path, hook: str, start: str, deadline: str, target: float) -> str:
    return f"""
state_dir: '{state}'
server: {{listen: '127.0.0.1:0'}}
defaults: {{interval: 0.5s, timeout: 1s, jitter: 0}}
shutdown_grace: 2s
accounts:
  - {{id: acme, platform: tiny, objective: reach}}
goals:
  - {{name: acme-10k, kpi: followers, target: {target}, start: {start}, deadline: {deadline},
     owner: social-team}}
rules:
  - {{name: GoalOffPace, condition: {{goal: off_pace}}, severity: warning,
     annotations: {{summary: "{{{{ goal }}}} is {{{{ status }}}}"}}}}
notifiers:
  - {{name: hook, type: webhook, url: '{hook}', group_wait: 0s, group_interval: 1s}}
alerting: {{interval: 1s}}
"""


class Receiver:
    def __init__(self) -> None:
        self.payloads: list[dict[str, Any]] = []
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        async def hook(request: web.Request) -> web.Response:
            self.payloads.append(await request.json())
            return web.Response(status=200)

        app = web.Application()
        app.router.add_post("/hook", hook)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/hook"

    async def wait_for(self, status: str, timeout: float = 20) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for payload in self.payloads:
                if payload["status"] == status:
                    return payload
            await asyncio.sleep(0.05)
        raise AssertionError(f"no {status} notification; got {self.payloads}")


async def get_json(client: aiohttp.ClientSession, url: str, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        async with client.get(url) as response:
            if response.status == 200:
                return await response.json()
            assert response.status == 503, await response.text()
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} kept answering 503")
        await asyncio.sleep(0.05)


async def goal_samples(
    client: aiohttp.ClientSession, url: str, timeout: float = 20
) -> dict[tuple[str, str], float]:
    """The goal series of /metrics, by (name, status label), once the goal section is there
    (the exposition renders at most once a second)."""
    deadline = time.monotonic() + timeout
    while True:
        async with client.get(url) as response:
            text = await response.text()
        out = {
            (s.name, s.labels.get("status", "")): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
            if s.name.startswith("kpiwatch_goal_") and s.labels.get("goal") == "acme-10k"
        }
        if out or time.monotonic() > deadline:
            return out
        await asyncio.sleep(0.1)


@pytest.fixture
async def receiver():
    out = Receiver()
    await out.start()
    yield out
    assert out.runner is not None
    await out.runner.cleanup()


async def test_a_goal_is_computed_served_exported_alerted_and_reloaded(tmp_path, receiver):
    today_midnight = (time.time() // DAY) * DAY
    await write_history(tmp_path, today_midnight)
    day = datetime.fromtimestamp(today_midnight, UTC).date()
    start, deadline = str(day - timedelta(days=60)), str(day + timedelta(days=120))
    reg = registry()
    current = {"text": config(tmp_path, receiver.url, start, deadline, 10000)}

    def load():
        return load_config_text(current["text"], "<test>", reg.platforms)

    daemon = Daemon(registry=reg, loaded=load(), load=load)
    await daemon.start()
    try:
        base = f"http://127.0.0.1:{daemon.port}"
        async with aiohttp.ClientSession() as client:
            answer = await get_json(client, f"{base}/api/v1/goals")
            (goal,) = answer["data"]["goals"]
            # baseline: 5,100 - 2 x 60 = 4,980 at the start; now 5,100 (history and polls);
            # elapsed 60 of 180 days = 1/3 (plus today's hours); progress 120 / 5,020 = 0.024;
            # gap 0.31 > at_risk 0.25, and 2 a day for 120 days projects about 5,340 < 10,000
            assert goal["baseline"] == pytest.approx(4980.0)
            assert goal["current"] == pytest.approx(NOW_FOLLOWERS)
            assert goal["progress_ratio"] == pytest.approx(120 / 5020)
            assert 1 / 3 <= goal["elapsed_ratio"] < 1 / 3 + 1 / 180
            assert goal["projected"] == pytest.approx(5100 + 2 * 120, rel=0.01)
            assert goal["status"] == "at_risk" and goal["judged"] is True
            assert goal["relevance"]["status"] == "aligned"

            firing = await receiver.wait_for("firing")
            (alert,) = firing["alerts"]
            assert alert["labels"]["alertname"] == "GoalOffPace"
            assert alert["labels"]["goal"] == "acme-10k"
            assert alert["labels"]["period"] == f"{start}..{deadline}"
            assert alert["labels"]["owner"] == "social-team"
            assert alert["annotations"]["summary"] == "acme-10k is at_risk"

            samples = await goal_samples(client, f"{base}/metrics")
            assert samples[("kpiwatch_goal_status", "at_risk")] == 1.0
            assert samples[("kpiwatch_goal_status", "on_track")] == 0.0
            assert samples[("kpiwatch_goal_target", "")] == 10000.0
            assert samples[("kpiwatch_goal_baseline", "")] == pytest.approx(4980.0)

            # a reachable target after a reload: achieved at once, and the alert resolves
            current["text"] = config(tmp_path, receiver.url, start, deadline, 5050)
            outcome = await daemon.reload()
            assert outcome.ok, outcome.problems
            resolved = await receiver.wait_for("resolved")
            assert resolved["alerts"][0]["labels"]["goal"] == "acme-10k"
            answer = await get_json(client, f"{base}/api/v1/goals")
            assert answer["data"]["goals"][0]["status"] == "achieved"
            assert answer["data"]["goals"][0]["target"] == 5050.0
    finally:
        await daemon.stop()
