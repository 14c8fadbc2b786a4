"""The alert store: alert state, router group state and the notification outbox in SQLite.

A file of its own (``alerting.state_file``, default ``alerts.db`` in ``state_dir``), apart from
the history database, so a long history write never delays a notification. Same durability as
the history store: WAL with ``synchronous=NORMAL``; a committed transaction survives ``kill -9``.

Layout (schema version 1, in ``PRAGMA user_version``; JSON is canonical: sorted keys, no spaces):

- ``alerts``: one row per alert record by ``fingerprint``; ``labels``, ``annotations``,
  ``extra`` and ``notifiers`` (NULL: every notifier) as JSON.
- ``groups``: router state per (``notifier``, ``group_key``): ``group_labels`` (JSON),
  ``created_at``, ``next_flush_at``, ``last_sent_at`` and ``sent`` (JSON list of
  [fingerprint, status] the receiver was last told about), ``digest``.
- ``outbox``: one row per notification: ``id`` (ascending in commit order), ``notifier``,
  ``idempotency_key`` (UNIQUE per notifier), ``kind``, ``group_key``, ``body`` (the
  Notification JSON), ``created_at``, ``due_at``, ``attempts``, ``last_error``, ``state``
  (pending, delivered, dead or superseded), ``finished_at`` (when it left pending) and
  ``superseded_by`` (the id of the newer ``state`` message that replaced it).
- ``counters``: totals per (``notifier``, ``outcome``) since the file was created: delivered,
  retry, dead, superseded.

All times are REAL unix seconds. ``commit`` writes alerts, groups and notifications in ONE
``BEGIN IMMEDIATE`` transaction: after a ``kill -9`` either the alerts' new state and the
notifications it causes are both stored, or neither is.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import sqlite3
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import aiosqlite

from kpiwatch.alerting.model import AlertRecord
from kpiwatch.alerting.notifiers.base import Notification
from kpiwatch.alerting.router import GroupState
from kpiwatch.config_alerting import AlertingSettings
from kpiwatch.store.connection import FileRole, open_database

#: Delivered, dead and superseded notifications are kept this long (for inspection), then pruned.
FINISHED_RETENTION = 86400.0

Outcome = Literal["delivered", "retry", "dead", "superseded"]

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # version 1
    (
        """CREATE TABLE alerts (
            fingerprint TEXT PRIMARY KEY,
            rule TEXT NOT NULL,
            labels TEXT NOT NULL,
            annotations TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('pending', 'firing', 'resolved')),
            active_at REAL NOT NULL,
            last_true_at REAL NOT NULL,
            fired_at REAL,
            resolved_at REAL,
            value REAL,
            notifiers TEXT,
            generator_url TEXT NOT NULL,
            extra TEXT NOT NULL
        ) WITHOUT ROWID""",
        """CREATE TABLE groups (
            notifier TEXT NOT NULL,
            group_key TEXT NOT NULL,
            group_labels TEXT NOT NULL,
            created_at REAL NOT NULL,
            next_flush_at REAL NOT NULL,
            last_sent_at REAL,
            sent TEXT NOT NULL,
            digest TEXT NOT NULL,
            PRIMARY KEY (notifier, group_key)
        ) WITHOUT ROWID""",
        """CREATE TABLE outbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            notifier TEXT NOT NULL,
            idempotency_key TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('group', 'state')),
            group_key TEXT NOT NULL,
            body TEXT NOT NULL,
            created_at REAL NOT NULL,
            due_at REAL NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            state TEXT NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'delivered', 'dead', 'superseded')),
            finished_at REAL,
            superseded_by INTEGER,
            UNIQUE (notifier, idempotency_key)
        )""",
        # the head of each (notifier, group) queue, and the due pending messages
        "CREATE INDEX outbox_queue ON outbox (notifier, group_key, id) WHERE state = 'pending'",
        "CREATE INDEX outbox_due ON outbox (due_at) WHERE state = 'pending'",
        "CREATE INDEX outbox_finished ON outbox (finished_at) WHERE state != 'pending'",
        """CREATE TABLE counters (
            notifier TEXT NOT NULL,
            outcome TEXT NOT NULL,
            count INTEGER NOT NULL,
            PRIMARY KEY (notifier, outcome)
        ) WITHOUT ROWID""",
    ),
)

#: The schema version this code writes and understands.
SCHEMA_VERSION = len(MIGRATIONS)

ALERT_STATE_FILE = FileRole(
    noun="alert state file",
    schema="alert schema",
    folder="the folder of the alert state file",
    check="check state_dir, alerting.state_file and their permissions",
    elsewhere="set alerting.state_file to another file",
    wal_fix="put the alert state file on a local file system",
)

_COUNT = """INSERT INTO counters (notifier, outcome, count) VALUES (?, ?, ?)
ON CONFLICT (notifier, outcome) DO UPDATE SET count = count + excluded.count"""

# Pending messages that are the oldest pending one of their (notifier, group) queue.
_HEADS = """FROM outbox AS o WHERE o.state = 'pending' AND NOT EXISTS (
    SELECT 1 FROM outbox AS p WHERE p.state = 'pending' AND p.notifier = o.notifier
    AND p.group_key = o.group_key AND p.id < o.id)"""

_ITEM_COLUMNS = (
    "o.id, o.notifier, o.kind, o.group_key, o.idempotency_key, o.body, o.created_at, o.due_at,"
    " o.attempts, o.last_error"
)


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One pending notification as the delivery worker takes it from the outbox."""

    id: int
    notifier: str
    kind: str
    group_key: str
    idempotency_key: str
    notification: Notification
    created_at: float
    due_at: float
    attempts: int
    last_error: str | None


@dataclass(frozen=True)
class CommitResult:
    """What ``commit`` stored: new outbox ids (in message order; a message whose idempotency
    key was already stored is skipped) and the older ``state`` messages superseded, per notifier.
    """

    message_ids: list[int] = field(default_factory=list)
    superseded: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class OutboxStats:
    """The outbox for metrics: pending messages and the age of the oldest per notifier, and
    the outcome totals since the file was created, by (notifier, outcome)."""

    depth: dict[str, int]
    oldest_age: dict[str, float]
    outcomes: dict[tuple[str, str], int]

    @property
    def dead(self) -> dict[str, int]:
        """Dead-lettered messages per notifier (total)."""
        return {n: c for (n, outcome), c in self.outcomes.items() if outcome == "dead"}


def alert_state_path(state_dir: Path, settings: AlertingSettings) -> Path:
    """The alert store's file: ``alerting.state_file``, relative to ``state_dir`` unless
    absolute."""
    return Path(state_dir) / Path(settings.state_file).expanduser()


def _json(value: Any, what: str) -> str:
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} cannot be stored as JSON ({exc}); use plain values") from None


def _alert_row(record: AlertRecord) -> tuple[Any, ...]:
    what = f"alert {record.rule} {record.fingerprint}"
    value = record.value
    if value is not None and math.isnan(value):
        value = None  # SQLite stores NaN as NULL anyway
    return (
        record.fingerprint,
        record.rule,
        _json(record.labels, f"{what}: labels"),
        _json(record.annotations, f"{what}: annotations"),
        record.state,
        record.active_at,
        record.last_true_at,
        record.fired_at,
        record.resolved_at,
        value,
        None if record.notifiers is None else _json(list(record.notifiers), what),
        record.generator_url,
        _json(record.extra, f"{what}: extra"),
    )


def _alert_from_row(row: Sequence[Any]) -> AlertRecord:
    (fp, rule, labels, annotations, state, active_at, last_true_at) = row[:7]
    (fired_at, resolved_at, value, notifiers, generator_url, extra) = row[7:]
    return AlertRecord(
        fingerprint=fp,
        rule=rule,
        labels=json.loads(labels),
        annotations=json.loads(annotations),
        state=state,
        active_at=active_at,
        last_true_at=last_true_at,
        fired_at=fired_at,
        resolved_at=resolved_at,
        value=value,
        notifiers=None if notifiers is None else tuple(json.loads(notifiers)),
        generator_url=generator_url,
        extra=json.loads(extra),
    )


def _group_row(state: GroupState) -> tuple[Any, ...]:
    return (
        state.notifier,
        state.group_key,
        _json(dict(state.group_labels), f"group {state.group_key}"),
        state.created_at,
        state.next_flush_at,
        state.last_sent_at,
        _json([list(pair) for pair in state.sent], f"group {state.group_key}"),
        state.digest,
    )


def _group_from_row(row: Sequence[Any]) -> GroupState:
    notifier, key, labels, created_at, next_flush_at, last_sent_at, sent, digest = row
    return GroupState(
        notifier=notifier,
        group_key=key,
        group_labels=json.loads(labels),
        created_at=created_at,
        next_flush_at=next_flush_at,
        last_sent_at=last_sent_at,
        sent=tuple((fp, status) for fp, status in json.loads(sent)),
        digest=digest,
    )


def _message_row(message: Notification) -> tuple[Any, ...]:
    return (
        message.notifier,
        message.idempotency_key,
        message.kind,
        message.group_key,
        message.to_json(),
        message.created_at,
        message.created_at,
    )


def _item_from_row(row: Sequence[Any]) -> OutboxItem:
    item_id, notifier, kind, key, idem, body, created_at, due_at, attempts, error = row
    return OutboxItem(
        item_id,
        notifier,
        kind,
        key,
        idem,
        Notification.from_json(body),
        created_at,
        due_at,
        attempts,
        error,
    )


class AlertStore:
    """Alert state, group state and the outbox, used from the event loop; all SQL runs in
    aiosqlite's thread, one transaction at a time."""

    def __init__(self, path: Path, conn: aiosqlite.Connection) -> None:
        self.path = path
        self._conn = conn
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path) -> AlertStore:
        """Open (creating it and its folder if needed) and migrate the alert store at ``path``.

        Raises StoreError when the folder cannot be created, the file is not SQLite, or its
        schema is newer than this code understands.
        """
        path = Path(path)
        conn = await open_database(path, ALERT_STATE_FILE, MIGRATIONS)
        return cls(path, conn)

    async def close(self) -> None:
        """Close the connection (the WAL is checkpointed into the main file)."""
        with contextlib.suppress(sqlite3.Error):
            await self._conn.execute("PRAGMA optimize")
        await self._conn.close()

    async def __aenter__(self) -> AlertStore:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @contextlib.asynccontextmanager
    async def _transaction(self) -> Any:
        conn = self._conn
        await conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            await conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                await conn.execute("ROLLBACK")
            raise

    # -- alert and group state -----------------------------------------------------------------

    async def load_alerts(self) -> list[AlertRecord]:
        """Every stored alert record, by fingerprint."""
        async with self._lock:
            rows = await self._conn.execute_fetchall(
                "SELECT fingerprint, rule, labels, annotations, state, active_at, last_true_at,"
                " fired_at, resolved_at, value, notifiers, generator_url, extra"
                " FROM alerts ORDER BY fingerprint"
            )
        return await asyncio.to_thread(lambda: [_alert_from_row(row) for row in rows])

    async def load_groups(self) -> list[GroupState]:
        """Every stored router group state, by notifier and group key."""
        async with self._lock:
            rows = await self._conn.execute_fetchall(
                "SELECT notifier, group_key, group_labels, created_at, next_flush_at,"
                " last_sent_at, sent, digest FROM groups ORDER BY notifier, group_key"
            )
        return [_group_from_row(row) for row in rows]

    async def commit(
        self,
        alerts: Sequence[AlertRecord] = (),
        removed: Sequence[str] = (),
        groups: Sequence[GroupState] = (),
        messages: Sequence[Notification] = (),
        forgotten: Sequence[tuple[str, str]] = (),
    ) -> CommitResult:
        """Store in ONE transaction: alert records (upserted), removed alerts (fingerprints),
        group rows (upserted), forgotten groups (notifier, group key) and new notifications.

        A notification whose idempotency key its notifier already has is skipped. A ``state``
        notification supersedes its notifier's older pending ``state`` notifications (only the
        newest snapshot matters). Raises ValueError (before any SQL) for a value that is not
        JSON.
        """
        alert_rows, group_rows, message_rows = await asyncio.to_thread(
            lambda: (
                [_alert_row(r) for r in alerts],
                [_group_row(g) for g in groups],
                [_message_row(m) for m in messages],
            )
        )
        ids: list[int] = []
        newest_state: dict[str, tuple[int, float]] = {}
        superseded: dict[str, int] = {}
        async with self._lock, self._transaction() as conn:
            await conn.executemany(
                "INSERT OR REPLACE INTO alerts (fingerprint, rule, labels, annotations, state,"
                " active_at, last_true_at, fired_at, resolved_at, value, notifiers,"
                " generator_url, extra) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                alert_rows,
            )
            await conn.executemany(
                "DELETE FROM alerts WHERE fingerprint = ?", [(fp,) for fp in removed]
            )
            await conn.executemany(
                "DELETE FROM groups WHERE notifier = ? AND group_key = ?", list(forgotten)
            )
            await conn.executemany(
                "INSERT OR REPLACE INTO groups (notifier, group_key, group_labels, created_at,"
                " next_flush_at, last_sent_at, sent, digest) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                group_rows,
            )
            for row in message_rows:
                async with conn.execute(
                    "INSERT INTO outbox (notifier, idempotency_key, kind, group_key, body,"
                    " created_at, due_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (notifier, idempotency_key) DO NOTHING RETURNING id",
                    row,
                ) as cursor:
                    inserted = await cursor.fetchone()
                if inserted is None:
                    continue
                ids.append(int(inserted[0]))
                if row[2] == "state":
                    newest_state[row[0]] = (int(inserted[0]), row[5])
            for notifier, (newest, created_at) in newest_state.items():
                cursor = await conn.execute(
                    "UPDATE outbox SET state = 'superseded', superseded_by = ?, finished_at = ?"
                    " WHERE notifier = ? AND kind = 'state' AND state = 'pending' AND id < ?",
                    (newest, created_at, notifier, newest),
                )
                if cursor.rowcount > 0:
                    superseded[notifier] = cursor.rowcount
                    await conn.execute(_COUNT, (notifier, "superseded", cursor.rowcount))
        return CommitResult(ids, superseded)

    # -- the outbox ----------------------------------------------------------------------------

    async def due(self, now: float, limit: int, notifier: str | None = None) -> list[OutboxItem]:
        """Pending messages due at ``now``, oldest due first, at most ``limit``.

        Only the oldest pending message of each (notifier, group key) is returned, so a later
        message never overtakes an earlier one of its group (a resolve never overtakes its
        firing notification, even while that one waits for a retry).
        """
        sql = f"SELECT {_ITEM_COLUMNS} {_HEADS} AND o.due_at <= ?"
        params: list[Any] = [now]
        if notifier is not None:
            sql += " AND o.notifier = ?"
            params.append(notifier)
        sql += " ORDER BY o.due_at, o.id LIMIT ?"
        params.append(limit)
        async with self._lock:
            rows = await self._conn.execute_fetchall(sql, params)
        return await asyncio.to_thread(lambda: [_item_from_row(row) for row in rows])

    async def next_due(self, now: float) -> float | None:
        """The earliest due time after ``now`` of a queue head (None: nothing scheduled)."""
        async with self._lock:
            rows = list(
                await self._conn.execute_fetchall(
                    f"SELECT MIN(o.due_at) {_HEADS} AND o.due_at > ?", (now,)
                )
            )
        return rows[0][0] if rows and rows[0][0] is not None else None

    async def delivered(self, item_id: int, now: float) -> None:
        """Mark a message delivered (also one superseded while it was being sent)."""
        async with self._lock, self._transaction() as conn:
            notifier = await self._finish(
                conn, item_id, "delivered", now, None, ("pending", "superseded"), 1
            )
            if notifier is not None:
                await conn.execute(_COUNT, (notifier, "delivered", 1))

    async def retry(self, item_id: int, due_at: float, error: str) -> bool:
        """Schedule another attempt at ``due_at`` and count the failed one. False when the
        message is no longer pending (superseded meanwhile): then nothing changes."""
        async with self._lock, self._transaction() as conn:
            rows = list(
                await conn.execute_fetchall(
                    "UPDATE outbox SET due_at = ?, attempts = attempts + 1, last_error = ?"
                    " WHERE id = ? AND state = 'pending' RETURNING notifier",
                    (due_at, error, item_id),
                )
            )
            if not rows:
                return False
            await conn.execute(_COUNT, (rows[0][0], "retry", 1))
            return True

    async def dead(self, item_id: int, reason: str, now: float, attempted: bool = True) -> None:
        """Dead-letter a message: it is never sent (again); counted per notifier.
        ``attempted``: whether a delivery attempt failed just now (counted in ``attempts``)."""
        async with self._lock, self._transaction() as conn:
            notifier = await self._finish(
                conn, item_id, "dead", now, reason, ("pending",), int(attempted)
            )
            if notifier is not None:
                await conn.execute(_COUNT, (notifier, "dead", 1))

    async def _finish(
        self,
        conn: aiosqlite.Connection,
        item_id: int,
        state: str,
        now: float,
        error: str | None,
        from_states: tuple[str, ...],
        attempts: int,
    ) -> str | None:
        marks = ", ".join("?" for _ in from_states)
        rows = list(
            await conn.execute_fetchall(
                "UPDATE outbox SET state = ?, finished_at = ?, attempts = attempts + ?,"
                f" last_error = coalesce(?, last_error) WHERE id = ? AND state IN ({marks})"
                " RETURNING notifier",
                (state, now, attempts, error, item_id, *from_states),
            )
        )
        return rows[0][0] if rows else None

    async def drop_unknown(
        self, notifiers: Collection[str], reason: str, now: float
    ) -> dict[str, int]:
        """Dead-letter the pending messages of notifiers not in ``notifiers`` (no longer
        configured); returns how many per notifier."""
        known = list(notifiers)
        marks = ", ".join("?" for _ in known) or "NULL"
        async with self._lock, self._transaction() as conn:
            rows = list(
                await conn.execute_fetchall(
                    "UPDATE outbox SET state = 'dead', finished_at = ?, last_error = ?"
                    f" WHERE state = 'pending' AND notifier NOT IN ({marks}) RETURNING notifier",
                    (now, reason, *known),
                )
            )
            dropped: dict[str, int] = {}
            for (notifier,) in rows:
                dropped[notifier] = dropped.get(notifier, 0) + 1
            await conn.executemany(_COUNT, [(n, "dead", c) for n, c in dropped.items()])
        return dropped

    async def prune(self, now: float, keep: float = FINISHED_RETENTION) -> int:
        """Delete delivered, dead and superseded messages finished before ``now - keep``."""
        async with self._lock, self._transaction() as conn:
            cursor = await conn.execute(
                "DELETE FROM outbox WHERE state != 'pending' AND finished_at < ?", (now - keep,)
            )
            return max(cursor.rowcount, 0)

    async def stats(self, now: float) -> OutboxStats:
        """Pending depth and oldest pending age per notifier, and the outcome totals."""
        async with self._lock:
            pending = await self._conn.execute_fetchall(
                "SELECT notifier, count(*), min(created_at) FROM outbox"
                " WHERE state = 'pending' GROUP BY notifier"
            )
            counts = await self._conn.execute_fetchall(
                "SELECT notifier, outcome, count FROM counters"
            )
        return OutboxStats(
            depth={n: int(c) for n, c, _ in pending},
            oldest_age={n: max(now - oldest, 0.0) for n, _, oldest in pending},
            outcomes={(n, o): int(c) for n, o, c in counts},
        )

    async def items(self, notifier: str | None = None) -> list[tuple[OutboxItem, str]]:
        """Every stored message with its state, in id order (for inspection and tests)."""
        sql = f"SELECT {_ITEM_COLUMNS}, o.state FROM outbox AS o"
        params: Iterable[Any] = ()
        if notifier is not None:
            sql += " WHERE o.notifier = ?"
            params = (notifier,)
        async with self._lock:
            rows = await self._conn.execute_fetchall(sql + " ORDER BY o.id", params)
        return [(_item_from_row(row[:-1]), row[-1]) for row in rows]
