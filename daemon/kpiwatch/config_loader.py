"""Load a configuration file: YAML with line numbers, ``${VAR}`` interpolation, validation.

Every problem of a file is reported at once as a :class:`ConfigProblem` naming the file, the
line, the field path and a fix. Bad input never raises anything but :class:`ConfigError`, and a
problem never quotes a secret or a value that came from the environment.
docs/configuration.md describes the format. The steps live in ``config_yaml`` (reading and
converting), ``config_validation`` (checking) and ``config_problems`` (reporting).
"""

from __future__ import annotations

import os
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel

from kpiwatch.config import Config
from kpiwatch.config_annotations import secret_values
from kpiwatch.config_problems import HIDDEN, ConfigError, ConfigProblem, format_path
from kpiwatch.config_validation import validate
from kpiwatch.config_yaml import (
    MAX_CONFIG_BYTES,
    MAX_DEPTH,
    MAX_VALUES,
    parse_config,
    read_config_file,
)

if TYPE_CHECKING:
    from kpiwatch.alerting.notifiers.base import NotifierType
    from kpiwatch.platform import Platform

__all__ = [
    "EXTENSION_PREFIX",
    "HIDDEN",
    "MAX_CONFIG_BYTES",
    "MAX_DEPTH",
    "MAX_VALUES",
    "ConfigError",
    "ConfigProblem",
    "LoadedConfig",
    "format_path",
    "load_config",
    "load_config_text",
]

#: Top-level keys with this prefix are ignored: they hold YAML anchors (&name) to reuse.
EXTENSION_PREFIX = "x-"


@dataclass(frozen=True)
class LoadedConfig:
    """A validated configuration with each account's validated platform settings.

    ``config.accounts[i].settings`` holds the same validated values as a dict (secrets stay
    ``SecretStr``); ``secrets`` is every secret string, for the log redactor.
    """

    config: Config
    settings: Mapping[str, BaseModel]
    source: str
    secrets: frozenset[str] = frozenset()
    notifier_settings: Mapping[str, BaseModel] = field(
        default_factory=lambda: types.MappingProxyType({})
    )

    def account_settings(self, account_id: str) -> BaseModel:
        """The validated ``settings:`` of the account ``account_id``."""
        try:
            return self.settings[account_id]
        except KeyError:
            raise KeyError(f"no account {account_id!r} in {self.source}") from None


def load_config(
    path: str | Path,
    platforms: Mapping[str, Platform],
    environ: Mapping[str, str] | None = None,
    notifier_types: Mapping[str, NotifierType] | None = None,
) -> LoadedConfig:
    """Read, interpolate and validate the configuration file at ``path``.

    Blocking (file I/O and parsing): call it from a worker thread inside the event loop.
    """
    source = str(path)
    text = read_config_file(Path(path), source)
    return load_config_text(text, source, platforms, environ, notifier_types)


def load_config_text(
    text: str,
    source: str,
    platforms: Mapping[str, Platform],
    environ: Mapping[str, str] | None = None,
    notifier_types: Mapping[str, NotifierType] | None = None,
) -> LoadedConfig:
    """Interpolate and validate configuration ``text``; ``source`` names it in problems.

    ``notifier_types`` defaults to the built-in ones (webhook, alertmanager, apprise)."""
    document, data = parse_config(text, source, os.environ if environ is None else environ)
    # Top-level keys starting with "x-" only hold YAML anchors for use elsewhere.
    data = {key: value for key, value in data.items() if not key.startswith(EXTENSION_PREFIX)}
    config, settings, notifier_settings = validate(document, data, platforms, notifier_types)
    return _loaded(config, settings, source, notifier_settings)


def _loaded(
    config: Config,
    settings: dict[str, BaseModel],
    source: str,
    notifier_settings: dict[str, BaseModel] | None = None,
) -> LoadedConfig:
    """``config`` with each account's settings replaced by its validated values."""
    # The plain text of a secret is not kept in the Config: a SecretStr stays a SecretStr in the
    # settings dict.
    accounts = [
        account.model_copy(update={"settings": settings[account.id].model_dump()})
        if account.id in settings
        else account
        for account in config.accounts
    ]
    config = config.model_copy(update={"accounts": accounts})
    secrets = set(secret_values(config))
    notifier_settings = notifier_settings or {}
    for model in (*settings.values(), *notifier_settings.values()):
        secrets.update(secret_values(model))
    return LoadedConfig(
        config=config,
        settings=types.MappingProxyType(dict(settings)),
        source=source,
        secrets=frozenset(secrets),
        notifier_settings=types.MappingProxyType(dict(notifier_settings)),
    )
