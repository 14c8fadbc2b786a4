"""Getting the CSV bytes, only when they changed since the last import.

Files: their modification time and size (``path`` may be a pattern: any file added, removed
or changed re-reads them all), checked and read in a worker thread. URLs: a conditional GET
with the ``ETag`` / ``Last-Modified`` of the last import (304: unchanged), and the body's
SHA-256 when the server sends neither.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import kpiwatch
from kpiwatch_platforms.csv.settings import CsvSettings


@dataclass(frozen=True)
class Document:
    """One file's bytes; ``name`` says where it came from in messages (no query string)."""

    name: str
    data: bytes


@dataclass
class Fetched:
    """The source's fingerprint and, when it changed, its documents (None: unchanged)."""

    fingerprint: str
    documents: list[Document] | None
    validators: dict[str, str] = field(default_factory=dict)  # etag, last_modified


def _paths(pattern: str) -> list[str]:
    expanded = os.path.expanduser(pattern)
    if glob.has_magic(expanded):
        found = sorted(p for p in glob.glob(expanded) if os.path.isfile(p))
        if not found:
            raise kpiwatch.NotFound(
                f"csv: no file matches {pattern!r}; check the path (relative paths start at "
                f"the daemon's working directory, {os.getcwd()})"
            )
        return found
    return [expanded]


def read_files(pattern: str, previous: str | None) -> Fetched:
    """The files ``pattern`` names, read unless their fingerprint is ``previous``.

    Blocking: call it with ``asyncio.to_thread``.
    """
    paths = _paths(pattern)
    try:
        stats = [(p, os.stat(p)) for p in paths]
        marks = [(p, s.st_mtime_ns, s.st_size) for p, s in stats]
        fingerprint = "files:" + hashlib.sha256(json.dumps(marks).encode()).hexdigest()
        if fingerprint == previous:
            return Fetched(fingerprint, None)
        documents = []
        for path in paths:
            with open(path, "rb") as handle:
                documents.append(Document(path, handle.read()))
    except FileNotFoundError as exc:
        raise kpiwatch.NotFound(
            f"csv: {exc.filename} does not exist; check the path (relative paths start at the "
            f"daemon's working directory, {os.getcwd()})"
        ) from None
    except PermissionError as exc:
        raise kpiwatch.AuthError(
            f"csv: {exc.filename} cannot be read (permission denied); "
            "let the user kpiwatch runs as read it"
        ) from None
    except IsADirectoryError as exc:
        raise kpiwatch.NotFound(
            f"csv: {exc.filename} is a folder; name a file, or files with a pattern: dir/*.csv"
        ) from None
    except OSError as exc:
        raise kpiwatch.Unavailable(f"csv: {pattern} cannot be read: {exc.strerror}") from None
    return Fetched(fingerprint, documents)


async def read_url(
    ctx: kpiwatch.CollectContext, settings: CsvSettings, previous: dict[str, str] | None
) -> Fetched:
    """GET the settings' URL; conditional on ``previous`` (the last import's fingerprint and
    validators) when given, so an unchanged export costs a 304."""
    assert ctx.api is not None and settings.url is not None
    headers = {k: v.get_secret_value() for k, v in settings.headers.items()}
    if previous:
        if previous.get("etag"):
            headers["If-None-Match"] = previous["etag"]
        if previous.get("last_modified"):
            headers["If-Modified-Since"] = previous["last_modified"]
    parts = urlsplit(settings.url)
    secret = "\n".join(f"{k}:{v}" for k, v in sorted(headers.items()) if not k.startswith("If-"))
    response = await ctx.api.request(
        "GET",
        settings.url,
        headers=headers,
        credential=f"{parts.scheme}://{parts.netloc}\n{secret}",
        accept=lambda r: 200 <= r.status < 300 or (r.status == 304 and bool(previous)),
    )
    validators = {
        key: value
        for key, value in (
            ("etag", response.headers.get("ETag")),
            ("last_modified", response.headers.get("Last-Modified")),
        )
        if value
    }
    if response.status == 304 and previous:
        kept = {k: previous[k] for k in ("etag", "last_modified") if previous.get(k)}
        return Fetched(previous["fingerprint"], None, validators or kept)
    fingerprint = "url:" + hashlib.sha256(response.body).hexdigest()
    if previous and fingerprint == previous.get("fingerprint"):
        return Fetched(fingerprint, None, validators)
    name = f"{parts.scheme}://{parts.netloc}{parts.path}"
    return Fetched(fingerprint, [Document(name, response.body)], validators)
