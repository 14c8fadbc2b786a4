"""Notifier types registered by plugins through ``kpiwatch_register_notifiers``."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from kpiwatch.config_loader import ConfigError, load_config_text
from kpiwatch.plugins import load_plugins

NO_ENTRY_POINTS = {"KPIWATCH_LOAD_PLUGINS": ""}

PAGER_PLUGIN = """
import kpiwatch
from pydantic import BaseModel, ConfigDict, SecretStr


class PagerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    service_key: SecretStr
    urgency: str = "high"


class Pager:
    def __init__(self, setup):
        self.setup = setup

    async def send(self, notification):
        pass


@kpiwatch.hookimpl
def kpiwatch_register_notifiers(register):
    register(kpiwatch.NotifierType("pager", Pager, PagerSettings, "Pages someone."))
"""


def load(tmp_path: Path, source: str):
    (tmp_path / "pager.py").write_text(textwrap.dedent(source).lstrip())
    return load_plugins(plugins_dir=tmp_path, environ=NO_ENTRY_POINTS)


def test_builtin_notifier_types_come_through_the_hook() -> None:
    registry = load_plugins(environ=NO_ENTRY_POINTS)
    assert sorted(registry.notifier_types) == ["alertmanager", "apprise", "webhook"]
    assert set(registry.notifier_type_owner.values()) == {"kpiwatch.notifiers"}
    assert registry.errors == []


def test_a_plugin_notifier_type_is_registered_and_its_settings_checked(tmp_path: Path) -> None:
    registry = load(tmp_path, PAGER_PLUGIN)
    assert registry.errors == []
    assert registry.notifier_type_owner["pager"] == "pager"
    assert registry.plugins["pager"].notifier_types == ["pager"]
    text = "notifiers:\n  - {name: oncall, type: pager, service_key: k-123456789}\n"
    loaded = load_config_text(text, "p.yaml", {}, notifier_types=registry.notifier_types)
    assert loaded.notifier_settings["oncall"].urgency == "high"
    assert "k-123456789" in loaded.secrets
    bad = "notifiers:\n  - {name: oncall, type: pager, urgencyy: low}\n"
    with pytest.raises(ConfigError) as info:
        load_config_text(bad, "p.yaml", {}, notifier_types=registry.notifier_types)
    found = [str(p) for p in info.value.problems]
    assert any("notifiers[0].service_key" in p for p in found), found
    assert any("notifiers[0].urgencyy" in p for p in found), found


def test_a_notifier_type_name_taken_by_another_plugin_is_refused(tmp_path: Path) -> None:
    registry = load(
        tmp_path, PAGER_PLUGIN.replace('NotifierType("pager"', 'NotifierType("webhook"')
    )
    assert any(
        "notifier type 'webhook' is already registered by plugin 'kpiwatch.notifiers'" in e
        for e in registry.errors
    ), registry.errors
    assert registry.notifier_type_owner["webhook"] == "kpiwatch.notifiers"


def test_registering_something_else_is_an_error(tmp_path: Path) -> None:
    registry = load(
        tmp_path,
        PAGER_PLUGIN.replace(
            'register(kpiwatch.NotifierType("pager", Pager, PagerSettings, "Pages someone."))',
            'register("pager")',
        ),
    )
    assert any("register() takes a kpiwatch.NotifierType, not str" in e for e in registry.errors)
    assert "pager" not in registry.notifier_types
