"""Batches what polls returned and writes it to the history store, off the poll path.

The scheduler hands every successful poll to :meth:`HistoryWriter.add` (cheap, on the loop);
:meth:`HistoryWriter.run` writes a poll at most one flush interval after it came in, together
with everything else that came in meanwhile, in one transaction (a group commit: under load a
batch also takes in what arrives while the previous one is written). Listeners learn which
accounts each committed batch held, so the KPI engine and the rules see new polls at once.
A failed write keeps the batch and retries it with the next one, so a full disk
or a locked file loses nothing while the daemon runs.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kpiwatch.logging import get_logger
from kpiwatch.platform import Post, Sample
from kpiwatch.store import Store, StoredPost, StoredSample


@dataclass
class PendingWrites:
    """What came in since the last flush."""

    samples: list[StoredSample] = field(default_factory=list)
    posts: list[StoredPost] = field(default_factory=list)
    states: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.samples) + len(self.posts) + len(self.states)

    def merge_older(self, older: PendingWrites) -> None:
        """Put ``older`` (a batch whose write failed) before what came in since."""
        self.samples[:0] = older.samples
        self.posts[:0] = older.posts
        self.states = {**older.states, **self.states}


class HistoryWriter:
    """Writes polls to the store at most ``flush_interval`` seconds after they come in."""

    def __init__(self, store: Store, flush_interval: float) -> None:
        self.store = store
        self.flush_interval = flush_interval
        self.pending = PendingWrites()
        self.rows_written = 0
        self.failed_writes = 0
        self.log = get_logger(component="history")
        self._lock = asyncio.Lock()
        self._arrived = asyncio.Event()
        self._listeners: list[Callable[[set[str]], None]] = []

    def on_commit(self, listener: Callable[[set[str]], None]) -> None:
        """Call ``listener(accounts)`` on the loop after each batch is committed."""
        self._listeners.append(listener)

    def add(
        self,
        account: str,
        platform: str,
        polled_at: datetime,
        samples: list[Sample],
        posts: list[Post],
        state: dict[str, Any],
    ) -> None:
        """Queue one successful poll; samples without a timestamp were true at ``polled_at``."""
        default_ts = polled_at.timestamp()
        now = time.time()
        self.pending.samples.extend(
            StoredSample(
                account,
                platform,
                s.metric,
                s.window,
                s.dims,
                s.timestamp.timestamp() if s.timestamp else default_ts,
                float(s.value),
            )
            for s in samples
        )
        self.pending.posts.extend(
            StoredPost(
                account,
                p.id,
                p.published_at.timestamp(),
                p.content_type,
                dict(p.metrics),
                p.url,
                now,
            )
            for p in posts
        )
        self.pending.states[account] = (platform, dict(state))
        self._arrived.set()

    async def run(self) -> None:
        """Flush ``flush_interval`` seconds after data arrives, until cancelled."""
        while True:
            await self._arrived.wait()
            await asyncio.sleep(self.flush_interval)
            self._arrived.clear()
            if not await self.flush() and len(self.pending):
                self._arrived.set()  # a failed write: try again after the next interval

    async def flush(self) -> int:
        """Write what is pending in one transaction; on failure keep it for the next flush."""
        async with self._lock:
            batch, self.pending = self.pending, PendingWrites()
            if not len(batch):
                return 0
            try:
                rows = await self.store.write(batch.samples, batch.posts, batch.states)
            except asyncio.CancelledError:
                self.pending.merge_older(batch)
                raise
            except Exception as exc:
                self.pending.merge_older(batch)
                self.failed_writes += 1
                self.log.error(
                    "history write failed; kept for the next attempt",
                    error=f"{type(exc).__name__}: {exc}",
                    pending=len(self.pending),
                )
                return 0
            self.rows_written += rows
        accounts = set(batch.states)
        for listener in self._listeners:
            try:
                listener(accounts)
            except Exception as exc:  # a listener's bug must not stop history writing
                self.log.error("history listener failed", error=f"{type(exc).__name__}: {exc}")
        return rows

    async def maintain_every(self, interval: float) -> None:
        """Downsample and prune old history every ``interval`` seconds until cancelled."""
        while True:
            try:
                stats = await self.store.maintain(time.time())
                self.log.info("history maintained", **_fields(stats))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.log.error("history maintenance failed", error=f"{type(exc).__name__}: {exc}")
            await asyncio.sleep(interval)


def _fields(stats: object) -> dict[str, Any]:
    if dataclasses.is_dataclass(stats) and not isinstance(stats, type):
        return dataclasses.asdict(stats)
    return {"result": str(stats)}
