"""The daemon in process: start-up and shutdown hooks, reload outcomes, serving while polling."""

from __future__ import annotations

import asyncio
import types

import aiohttp
import pytest

import kpiwatch
from kpiwatch.config_loader import load_config_text
from kpiwatch.daemon import Daemon, StartupError
from kpiwatch.plugins import PluginRegistry


def make_registry(events: list[str]) -> PluginRegistry:
    async def collect(ctx):
        return [kpiwatch.Sample("followers", 10)]

    class Lifecycle:
        @kpiwatch.hookimpl
        def kpiwatch_register_platforms(self, register):
            register(kpiwatch.Platform(name="tiny", collect=collect))

        @kpiwatch.hookimpl
        async def kpiwatch_startup(self, app):
            await asyncio.sleep(0)
            events.append(f"startup:{type(app).__name__}:{app.http is not None}")

        @kpiwatch.hookimpl
        def kpiwatch_shutdown(self, app):
            events.append(f"shutdown:{len(app.runtime.accounts)}")

    broken = types.SimpleNamespace()

    @kpiwatch.hookimpl
    def kpiwatch_startup(app):
        raise RuntimeError("a plugin's start-up failed")

    broken.kpiwatch_startup = kpiwatch_startup
    registry = PluginRegistry()
    registry.register_module(Lifecycle(), "lifecycle")
    registry.register_module(broken, "broken")
    registry.finish()
    return registry


def text(accounts: str, state_dir, listen: str = "127.0.0.1:0") -> str:
    return (
        f"state_dir: '{state_dir}'\n"
        f"server: {{listen: '{listen}'}}\n"
        "defaults: {interval: 0.2s, timeout: 1s, jitter: 0}\n"
        f"shutdown_grace: 2s\naccounts:\n{accounts}"
    )


@pytest.fixture
def events() -> list[str]:
    return []


async def test_lifecycle_hooks_serving_and_reload(events, tmp_path):
    registry = make_registry(events)
    current = {"text": text("  - {id: a, platform: tiny}\n", tmp_path)}

    def load():
        return load_config_text(current["text"], "<test>", registry.platforms)

    daemon = Daemon(registry=registry, loaded=load(), load=load)
    await daemon.start()
    try:
        assert events == ["startup:Daemon:True"]  # the broken plugin's failure stayed local
        base = f"http://127.0.0.1:{daemon.port}"
        async with aiohttp.ClientSession() as client:
            for _ in range(50):
                async with client.get(f"{base}/readyz") as response:
                    if response.status == 200:
                        break
                await asyncio.sleep(0.05)
            assert response.status == 200
            async with client.get(f"{base}/api/v1/status") as response:
                accounts = (await response.json())["accounts"]
            assert [a["id"] for a in accounts] == ["a"] and accounts[0]["state"] == "up"

            current["text"] = text(
                "  - {id: a, platform: tiny}\n  - {id: b, platform: tiny}\n", tmp_path
            )
            outcome = await daemon.reload()
            assert outcome.ok and outcome.changes["started"] == ["b"]
            assert outcome.changes["restarted"] == []

            current["text"] = text("  - {id: a, platform: nope}\n", tmp_path)
            async with client.post(f"{base}/-/reload") as response:
                assert response.status == 400
                answer = await response.json()
            assert "unknown platform 'nope'" in answer["problems"][0]
            assert set(daemon.runtime.accounts) == {"a", "b"}  # the old configuration runs on
            assert daemon.runtime.reload.failures == 1
            assert daemon.runtime.reload.last_successful is False
    finally:
        await daemon.stop()
    assert events[-1] == "shutdown:2"


async def test_a_taken_address_is_a_startup_error(events, tmp_path):
    registry = make_registry(events)
    with __import__("socket").socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        loaded = load_config_text(
            text("  []\n", tmp_path, f"127.0.0.1:{port}"), "<t>", registry.platforms
        )
        daemon = Daemon(registry=registry, loaded=loaded, load=lambda: loaded)
        with pytest.raises(StartupError, match=f"cannot listen on 127.0.0.1:{port}"):
            await daemon.start()
