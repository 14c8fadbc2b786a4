"""One poll of a ``csv`` account: re-import the file when it changed, else return nothing.

Unchanged source: an empty result. Every row was stored by the import that read it (samples
carry the rows' own timestamps and replace equal ones), so nothing is lost and the history
is not written again each poll. The last import's fingerprint is kept in ``ctx.state`` with a
hash of the settings (a changed mapping re-imports) and the time the first row still waiting
for its day to end is due (the file is then read again even if unchanged).
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import datetime
from typing import Any

import kpiwatch
from kpiwatch_platforms.csv.settings import CsvSettings
from kpiwatch_platforms.csv.source import Document, Fetched, read_files, read_url
from kpiwatch_platforms.csv.table import FileError, Table, TableReader

STATE_KEY = "csv_import"
#: Row errors quoted in the log and in the failure message.
SHOWN_ERRORS = 5


def settings_hash(settings: CsvSettings) -> str:
    """Changes when the mapping changes (secrets are masked in the dump)."""
    return hashlib.sha256(settings.model_dump_json().encode()).hexdigest()[:16]


def read_table(settings: CsvSettings, documents: list[Document], now: datetime) -> Table:
    """Every document's rows (CPU-bound: call it with ``asyncio.to_thread``)."""
    reader = TableReader(settings, now)
    for document in documents:
        try:
            text = document.data.decode(settings.encoding)
        except UnicodeDecodeError as exc:
            raise kpiwatch.BadResponse(
                f"csv: {document.name}: byte {exc.start + 1} is not {settings.encoding} text; "
                "set encoding: cp1252 (Excel on Windows) or latin-1"
            ) from None
        try:
            reader.read(document.name, text)
        except FileError as exc:
            raise kpiwatch.BadResponse(f"csv: {exc}") from None
    return reader.table


async def collect(ctx: kpiwatch.CollectContext) -> kpiwatch.CollectResult:
    """Import the rows of the account's file(s) or URL when they changed."""
    settings: CsvSettings = ctx.settings
    saved: dict[str, Any] = ctx.state.get(STATE_KEY) or {}
    due = saved.get("reread_at") is not None and ctx.now.timestamp() >= saved["reread_at"]
    fresh = saved.get("settings") == settings_hash(settings) and not due
    previous = saved if fresh and saved.get("fingerprint") else None
    fetched: Fetched
    if settings.path is not None:
        known = previous["fingerprint"] if previous else None
        fetched = await asyncio.to_thread(read_files, settings.path, known)
    else:
        fetched = await read_url(ctx, settings, previous)
    if fetched.documents is None:
        ctx.state[STATE_KEY] = {**saved, **fetched.validators}
        return kpiwatch.CollectResult()
    table = await asyncio.to_thread(read_table, settings, fetched.documents, ctx.now)
    first = [str(error) for error in table.errors[:SHOWN_ERRORS]]
    if table.errors and len(table.errors) == table.rows:
        raise kpiwatch.BadResponse(
            f"csv: none of the {table.rows} rows could be read; first: " + " | ".join(first)
        )
    if table.errors:
        ctx.log.warning("csv rows skipped", skipped=len(table.errors), rows=table.rows, first=first)
    if table.waiting:
        ctx.log.info(
            "csv rows wait for their days to end",
            rows=table.waiting,
            until=table.reread_at.isoformat() if table.reread_at else None,
        )
    ctx.state[STATE_KEY] = {
        "fingerprint": fetched.fingerprint,
        "settings": settings_hash(settings),
        "reread_at": table.reread_at.timestamp() if table.reread_at else None,
        "rows": table.rows,
        "skipped": len(table.errors),
        **fetched.validators,
    }
    return kpiwatch.CollectResult(table.samples())
