"""The HTTP client session that every poll of the process shares."""

from __future__ import annotations

import aiohttp

from kpiwatch import __version__
from kpiwatch.config import HttpConfig


def client_session(config: HttpConfig) -> aiohttp.ClientSession:
    """One aiohttp session with the configured connection limits and User-Agent."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(
            limit=config.max_connections, limit_per_host=config.max_connections_per_host
        ),
        headers={"User-Agent": config.user_agent.format(version=__version__)},
    )
