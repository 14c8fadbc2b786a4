"""Fixtures for end-to-end tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from processes import Kpiwatch, Prometheus, free_port


@pytest.fixture
def start_kpiwatch(tmp_path: Path) -> Iterator[Callable[..., Kpiwatch]]:
    started: list[Kpiwatch] = []

    def start(config: Path | None, extra: list[str] = (), env: dict[str, str] | None = None):
        daemon = Kpiwatch(tmp_path, config, free_port(), list(extra), env)
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        daemon.stop()


@pytest.fixture
def start_prometheus(tmp_path: Path) -> Iterator[Callable[[list[str]], Prometheus]]:
    started: list[Prometheus] = []

    def start(targets: list[str]) -> Prometheus:
        prom = Prometheus(tmp_path, targets)
        started.append(prom)
        return prom

    yield start
    for prom in started:
        prom.stop()
