"""Structured logging with structlog: JSON off a terminal, console on one, secrets redacted."""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Iterable
from typing import IO, Any
from urllib.parse import quote, quote_plus

import structlog

REDACTED = "***"


class SecretRedactor:
    """Replaces every known secret value in rendered text with ``***``.

    The set is replaced on each configuration (re)load; it also holds the URL-encoded forms of
    each secret, because secrets end up in query strings.
    """

    def __init__(self) -> None:
        self._secrets: tuple[str, ...] = ()
        self._lock = threading.Lock()

    def set_secrets(self, secrets: Iterable[str]) -> None:
        forms: set[str] = set()
        for secret in secrets:
            if len(secret) < 4:  # too short to redact without mangling ordinary text
                continue
            forms.update(
                {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]}
            )
        with self._lock:
            # longest first, so a secret containing another is replaced whole
            self._secrets = tuple(sorted(forms, key=len, reverse=True))

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def processor(self, _logger: Any, _method: str, event: Any) -> Any:
        """The last structlog processor: redacts the rendered line."""
        if isinstance(event, str):
            return self.redact(event)
        if isinstance(event, bytes):
            return self.redact(event.decode("utf-8", "replace")).encode()
        return event


#: The process-wide redactor; the daemon feeds it the secrets of the loaded configuration.
redactor = SecretRedactor()

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


def configure_logging(
    level: str = "info", fmt: str = "auto", stream: IO[str] | None = None
) -> None:
    """Set up structlog. ``fmt`` is auto (console on a terminal, else JSON), json or console."""
    out = stream or sys.stdout
    use_console = fmt == "console" or (fmt == "auto" and _isatty(out))
    renderer: Any
    if use_console:
        renderer = structlog.dev.ConsoleRenderer(colors=_isatty(out))
    else:
        renderer = structlog.processors.JSONRenderer(sort_keys=False)
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if not use_console:
        transformer = structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
        processors += [structlog.processors.ExceptionRenderer(transformer)]
    processors += [renderer, redactor.processor]
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS.get(level, logging.INFO)),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def get_logger(**bound: Any) -> structlog.typing.FilteringBoundLogger:
    return structlog.get_logger("kpiwatch").bind(**bound)
