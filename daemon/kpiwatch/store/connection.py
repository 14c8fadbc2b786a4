"""Opening a SQLite file kpiwatch keeps: folder, connection, pragmas, schema migrations.

The history database and the alert state file are opened the same way: WAL journal,
``synchronous=NORMAL``, a busy timeout, a refusal of files newer than the code, and migrations
applied in their own transactions. Errors name the file and what to do, in that file's terms.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import aiosqlite

from kpiwatch.store.models import StoreError
from kpiwatch.store.schema import apply_migrations, schema_version

BUSY_TIMEOUT_MS = 5000


@dataclass(frozen=True)
class FileRole:
    """How errors name one kind of file and the setting that moves it."""

    noun: str  # "history database"
    schema: str  # "schema": what "version N" is of
    folder: str  # "the state folder": what cannot be created
    check: str  # what to check when the file cannot be created or opened
    elsewhere: str  # how to use another file instead
    wal_fix: str  # what to do when SQLite refuses WAL mode


async def open_database(
    path: Path,
    role: FileRole,
    migrations: Sequence[Sequence[str]],
    pragmas: Sequence[str] = (),
    setup: Callable[[aiosqlite.Connection], Awaitable[None]] | None = None,
) -> aiosqlite.Connection:
    """The migrated connection to ``path`` (created with its folder if needed).

    ``pragmas`` run after the journal settings, ``setup`` after the migrations. Raises
    StoreError when the folder cannot be created, the file is not SQLite, or its schema is
    newer than ``len(migrations)``.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(
            f"{path.parent}: cannot create {role.folder} ({exc.strerror}); {role.check}"
        ) from None
    try:
        conn = await aiosqlite.connect(path, isolation_level=None)
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot open the {role.noun} ({exc}); {role.check}") from None
    try:
        await _prepare(conn, path, role, migrations, pragmas)
        if setup is not None:
            await setup(conn)
    except sqlite3.DatabaseError as exc:
        await conn.close()
        raise StoreError(
            f"{path} is not a usable kpiwatch {role.noun} ({exc}); "
            f"move the file away or {role.elsewhere}"
        ) from None
    except BaseException:
        await conn.close()
        raise
    return conn


async def _prepare(
    conn: aiosqlite.Connection,
    path: Path,
    role: FileRole,
    migrations: Sequence[Sequence[str]],
    pragmas: Sequence[str],
) -> None:
    await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS:d}")
    version = await schema_version(conn)
    if version > len(migrations):
        raise StoreError(
            f"{path} has {role.schema} version {version}, newer than this kpiwatch "
            f"understands ({len(migrations)}); upgrade kpiwatch or {role.elsewhere}"
        )
    async with conn.execute("PRAGMA journal_mode = WAL") as cursor:
        row = await cursor.fetchone()
    if not row or str(row[0]).lower() != "wal":
        raise StoreError(
            f"{path}: SQLite refused WAL mode (journal_mode is {row and row[0]}); {role.wal_fix}"
        )
    await conn.execute("PRAGMA synchronous = NORMAL")
    for pragma in pragmas:
        await conn.execute(pragma)
    await apply_migrations(conn, migrations)
