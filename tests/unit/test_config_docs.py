"""docs/configuration.md documents every key of the configuration, and its examples are valid.

Convention of the page: every key is a row of a table headed ``| Key | Type | Default |
Meaning |``, its first cell the key's full path in backticks: ``server.listen``,
``accounts[].id`` (each element of a list), ``platforms.<name>.max_concurrency`` (below a key
the user chooses).
"""

from __future__ import annotations

import re
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

import pytest
import yaml
from pydantic import BaseModel, ConfigDict

import kpiwatch
from kpiwatch.config import Config
from kpiwatch.config_loader import load_config_text

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
KEY_TABLE_HEADER = ["Key", "Type", "Default", "Meaning"]
KEY_ROW = re.compile(r"^\|\s*`([^`]+)`\s*\|")
YAML_BLOCK = re.compile(r"^( *)```yaml\n(.*?)^\1```", re.DOTALL | re.MULTILINE)


def documented_rows() -> dict[str, list[str]]:
    """Key path -> the cells of its row, from the tables headed Key, Type, Default, Meaning."""
    rows: dict[str, list[str]] = {}
    in_key_table = False
    for line in DOC.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if not line.startswith("|"):
            in_key_table = False
        elif cells == KEY_TABLE_HEADER:
            in_key_table = True
        elif in_key_table and (match := KEY_ROW.match(line)):
            assert match.group(1) not in rows, f"{match.group(1)} is documented twice"
            rows[match.group(1)] = cells
    return rows


def _types(annotation: Any) -> Iterator[Any]:
    """The types an annotation allows (through Annotated, Optional and unions)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        yield from _types(get_args(annotation)[0])
    elif origin is Union or origin is types.UnionType:
        for arg in get_args(annotation):
            if arg is not type(None):
                yield from _types(arg)
    else:
        yield annotation


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def key_paths(model: type[BaseModel], prefix: str = "") -> Iterator[str]:
    """Every key reachable from ``model``, written the way the page writes it."""
    for name, field in model.model_fields.items():
        path = prefix + (field.alias or name)
        yield path
        for option in _types(field.annotation):
            args = get_args(option)
            if _is_model(option):
                yield from key_paths(option, f"{path}.")
            elif get_origin(option) is list and args and _is_model(args[0]):
                yield from key_paths(args[0], f"{path}[].")
            elif get_origin(option) is dict and len(args) == 2 and _is_model(args[1]):
                yield from key_paths(args[1], f"{path}.<name>.")


def test_the_walk_reaches_nested_models() -> None:
    paths = set(key_paths(Config))
    # One key of each shape, so that a broken walk cannot pass the tests below vacuously.
    assert {"server.listen", "accounts[].settings", "platforms.<name>.max_concurrency"} <= paths


def test_every_configuration_key_is_documented() -> None:
    documented = documented_rows()
    missing = [path for path in key_paths(Config) if path not in documented]
    assert not missing, f"keys missing from {DOC.name} (add a table row `key` | ...): {missing}"


def test_every_documented_key_exists() -> None:
    known = set(key_paths(Config))
    stale = [path for path in documented_rows() if path not in known]
    assert not stale, f"{DOC.name} documents keys the configuration does not have: {stale}"


def test_every_documented_key_has_type_default_and_meaning() -> None:
    for path, cells in documented_rows().items():
        assert len(cells) == 4, f"{path}: expected | key | type | default | meaning |"
        assert cells[1] and cells[3], f"{path}: type and meaning must not be empty"


def _yaml_blocks() -> list[str]:
    return [
        "\n".join(line[len(indent) :] for line in body.splitlines())
        for indent, body in YAML_BLOCK.findall(DOC.read_text(encoding="utf-8"))
    ]


class _AnySettings(BaseModel):
    """Settings of a stand-in platform: the page's examples are checked for kpiwatch's keys."""

    model_config = ConfigDict(extra="allow")


async def _collect(ctx: kpiwatch.CollectContext) -> kpiwatch.CollectResult:
    return kpiwatch.CollectResult()


def _platforms_named_in(text: str) -> dict[str, kpiwatch.Platform]:
    data = yaml.safe_load(text)
    names = {a["platform"] for a in data.get("accounts", []) if "platform" in a}
    names.update(data.get("platforms", {}))
    return {n: kpiwatch.Platform(name=n, collect=_collect, settings=_AnySettings) for n in names}


@pytest.mark.parametrize("block", _yaml_blocks(), ids=lambda b: b.splitlines()[0][:40])
def test_yaml_examples_are_valid_configurations(block: str) -> None:
    env = {"MASTODON_TOKEN": "example-token"}
    load_config_text(block, DOC.name, _platforms_named_in(block), environ=env)


def test_full_example_sets_every_top_level_key() -> None:
    text = DOC.read_text(encoding="utf-8").split("## Full example", 1)[1]
    block = YAML_BLOCK.search(text)
    assert block is not None, "the Full example section has no yaml block"
    data = yaml.safe_load(block.group(2))
    assert {k for k in data if not k.startswith("x-")} == set(Config.model_fields)
