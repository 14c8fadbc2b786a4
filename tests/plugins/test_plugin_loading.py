"""Loading plugins: real modules in a folder, the real ``demo`` entry point, broken plugins."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import kpiwatch
from kpiwatch.platform import Platform
from kpiwatch.plugins import PluginRegistry, load_plugins

NO_ENTRY_POINTS = {"KPIWATCH_LOAD_PLUGINS": ""}

PLATFORM_PLUGIN = """
import kpiwatch

async def collect(ctx):
    return [kpiwatch.Sample("followers", 1)]

@kpiwatch.hookimpl
def kpiwatch_register_platforms(register):
    for name in {names!r}:
        register(kpiwatch.Platform(name=name, collect=collect))
"""


def write_plugin(directory: Path, name: str, source: str) -> Path:
    path = directory / f"{name}.py"
    path.write_text(textwrap.dedent(source).lstrip())
    return path


def platform_plugin(directory: Path, name: str, *platforms: str) -> Path:
    return write_plugin(directory, name, PLATFORM_PLUGIN.format(names=list(platforms)))


def load_directory(directory: Path) -> PluginRegistry:
    registry = PluginRegistry()
    registry.load_directory(directory)
    registry.finish()
    return registry


def error_of(registry: PluginRegistry, plugin: str) -> str:
    """The single entry of ``registry.errors`` about ``plugin``."""
    found = [e for e in registry.errors if e.startswith(f"plugin {plugin}")]
    assert len(found) == 1, registry.errors
    return found[0]


# a working plugin ---------------------------------------------------------------------------


async def test_plugin_registering_two_platforms(tmp_path: Path) -> None:
    path = platform_plugin(tmp_path, "acme", "acme_social", "acme_shop")
    registry = load_directory(tmp_path)

    assert registry.errors == []
    assert set(registry.platforms) == {"acme_social", "acme_shop"}
    assert registry.platform_owner == {"acme_social": "acme", "acme_shop": "acme"}
    info = registry.plugins["acme"]
    assert info.source == str(path)
    assert info.platforms == ["acme_social", "acme_shop"]
    assert info.error is None
    platform = registry.platforms["acme_shop"]
    assert isinstance(platform, Platform)
    assert list(await platform.collect(None)) == [kpiwatch.Sample("followers", 1)]


def test_plugin_info_lists_the_hooks_a_plugin_implements(tmp_path: Path) -> None:
    write_plugin(
        tmp_path,
        "lifecycle",
        """
        import kpiwatch

        @kpiwatch.hookimpl
        def kpiwatch_startup(app):
            app.append("started")

        @kpiwatch.hookimpl
        def kpiwatch_shutdown(app):
            app.append("stopped")

        def kpiwatch_helper():  # not marked: not a hook
            pass
        """,
    )
    platform_plugin(tmp_path, "only_platforms", "solo")
    registry = load_directory(tmp_path)

    assert registry.errors == []
    assert registry.plugins["lifecycle"].hooks == ["kpiwatch_shutdown", "kpiwatch_startup"]
    assert registry.plugins["only_platforms"].hooks == ["kpiwatch_register_platforms"]
    app: list[str] = []
    registry.pm.hook.kpiwatch_startup(app=app)
    registry.pm.hook.kpiwatch_shutdown(app=app)
    assert app == ["started", "stopped"]
    assert [i.plugin_name for i in registry.hook_implementations("kpiwatch_startup")] == [
        "lifecycle"
    ]


def test_register_module_accepts_an_imported_plugin_object() -> None:
    class InProcess:
        @kpiwatch.hookimpl
        def kpiwatch_register_platforms(self, register):
            register(kpiwatch.Platform(name="in_process", collect=_collect))

    registry = PluginRegistry()
    registry.register_module(InProcess(), "inproc")
    registry.finish()

    assert registry.errors == []
    assert registry.platform_owner == {"in_process": "inproc"}
    assert registry.plugins["inproc"].source == "in process"


async def _collect(ctx: kpiwatch.CollectContext) -> list[kpiwatch.Sample]:
    return []


# broken plugins never stop the others -------------------------------------------------------


def test_typo_in_a_hook_name_is_caught_by_check_pending(tmp_path: Path) -> None:
    write_plugin(
        tmp_path,
        "typo",
        """
        import kpiwatch

        async def collect(ctx):
            return []

        @kpiwatch.hookimpl
        def kpiwatch_register_platform(register):
            register(kpiwatch.Platform(name="typo_platform", collect=collect))
        """,
    )
    platform_plugin(tmp_path, "fine", "fine_platform")
    registry = load_directory(tmp_path)

    error = error_of(registry, "typo")
    assert "unknown hook 'kpiwatch_register_platform'" in error
    assert "kpiwatch_register_platforms" in error  # the hook the author meant
    assert registry.plugins["typo"].error
    assert registry.pm.get_plugin("typo") is None  # unregistered
    assert set(registry.platforms) == {"fine_platform"}
    assert registry.plugins["fine"].error is None


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import kpiwatch\nraise RuntimeError('needs FOO_HOME')\n", "RuntimeError: needs FOO_HOME"),
        ("def broken(:\n", "SyntaxError"),
        ("import kpiwatch_no_such_dependency\n", "ModuleNotFoundError"),
    ],
)
def test_plugin_that_fails_to_import(tmp_path: Path, source: str, expected: str) -> None:
    write_plugin(tmp_path, "broken", source)
    platform_plugin(tmp_path, "fine", "fine_platform")
    registry = load_directory(tmp_path)

    error = error_of(registry, "broken")
    assert "import failed" in error
    assert expected in error
    assert registry.plugins["broken"].error == error.removeprefix("plugin broken: ")
    assert registry.pm.get_plugin("broken") is None
    assert set(registry.platforms) == {"fine_platform"}


def test_register_hook_that_raises(tmp_path: Path) -> None:
    write_plugin(
        tmp_path,
        "raises",
        """
        import os
        import kpiwatch

        @kpiwatch.hookimpl
        def kpiwatch_register_platforms(register):
            os.environ["KPIWATCH_TEST_SURELY_UNSET_VARIABLE"]
        """,
    )
    platform_plugin(tmp_path, "fine", "fine_platform")
    registry = load_directory(tmp_path)

    error = error_of(registry, "raises")
    assert "kpiwatch_register_platforms failed: KeyError" in error
    assert "KPIWATCH_TEST_SURELY_UNSET_VARIABLE" in error
    assert registry.plugins["raises"].platforms == []
    assert set(registry.platforms) == {"fine_platform"}


def test_hook_with_an_argument_the_spec_does_not_have(tmp_path: Path) -> None:
    write_plugin(
        tmp_path,
        "wrong_args",
        """
        import kpiwatch

        @kpiwatch.hookimpl
        def kpiwatch_startup(app, loop):
            pass
        """,
    )
    platform_plugin(tmp_path, "fine", "fine_platform")
    registry = load_directory(tmp_path)

    error = error_of(registry, "wrong_args")
    assert "loop" in error
    assert registry.pm.get_plugin("wrong_args") is None
    assert registry.hook_implementations("kpiwatch_startup") == []
    assert set(registry.platforms) == {"fine_platform"}


def test_same_platform_name_from_two_plugins(tmp_path: Path) -> None:
    platform_plugin(tmp_path, "a_first", "shared", "first_only")
    platform_plugin(tmp_path, "b_second", "second_only", "shared")
    registry = load_directory(tmp_path)

    error = error_of(registry, "b_second")
    assert "'shared'" in error
    assert "a_first" in error
    assert registry.platform_owner["shared"] == "a_first"
    assert registry.plugins["a_first"].platforms == ["shared", "first_only"]
    # what b_second registered before the clash stays; the clashing name is refused
    assert registry.plugins["b_second"].platforms == ["second_only"]
    assert registry.plugins["a_first"].error is None


def test_register_given_something_that_is_not_a_platform(tmp_path: Path) -> None:
    write_plugin(
        tmp_path,
        "dict_platform",
        """
        import kpiwatch

        @kpiwatch.hookimpl
        def kpiwatch_register_platforms(register):
            register({"name": "as_dict", "collect": None})
        """,
    )
    registry = load_directory(tmp_path)

    error = error_of(registry, "dict_platform")
    assert "kpiwatch.Platform" in error
    assert "dict" in error
    assert registry.platforms == {}


@pytest.mark.parametrize("name", ["Acme", "9lives", "with-dash", "", "_private", "a" * 64])
def test_invalid_platform_names_are_refused(tmp_path: Path, name: str) -> None:
    platform_plugin(tmp_path, "bad_name", name)
    registry = load_directory(tmp_path)

    error = error_of(registry, "bad_name")
    assert repr(name) in error
    assert "lower-case letters, digits and underscores" in error
    assert registry.platforms == {}


@pytest.mark.parametrize("name", ["a", "acme", "acme_2", "a" * 63])
def test_valid_platform_names(tmp_path: Path, name: str) -> None:
    platform_plugin(tmp_path, "good_name", name)
    registry = load_directory(tmp_path)

    assert registry.errors == []
    assert list(registry.platforms) == [name]


def test_directory_plugin_cannot_take_the_name_of_a_loaded_plugin(tmp_path: Path) -> None:
    path = platform_plugin(tmp_path, "demo", "impostor")
    registry = load_plugins(plugins_dir=tmp_path, environ={"KPIWATCH_LOAD_PLUGINS": "demo"})

    error = error_of(registry, "demo")
    assert str(path) in error
    assert "rename" in error
    info = registry.plugins["demo"]
    assert info.source == "entry point"  # the loaded plugin keeps its record
    assert info.error is None
    assert "impostor" not in registry.platforms


def test_missing_plugins_directory_is_an_error(tmp_path: Path) -> None:
    registry = load_plugins(plugins_dir=tmp_path / "no-such-dir", environ=NO_ENTRY_POINTS)

    assert len(registry.errors) == 1
    assert "no-such-dir" in registry.errors[0]
    assert list(registry.plugins) == ["kpiwatch.notifiers"]  # only the built-in notifier types


def test_non_python_files_in_the_directory_are_ignored(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("# my plugins\n")
    (tmp_path / "notes.txt").write_text("kpiwatch_register_platforms\n")
    platform_plugin(tmp_path, "only", "only_platform")
    registry = load_directory(tmp_path)

    assert registry.errors == []
    assert list(registry.plugins) == ["only"]


# the environment selects entry-point plugins ------------------------------------------------


def assert_demo_loaded(registry: PluginRegistry) -> None:
    info = registry.plugins["demo"]
    assert info.source == "entry point"
    assert info.distribution == "kpiwatch"
    assert info.version == kpiwatch.__version__
    assert info.error is None
    assert all(registry.platform_owner[name] == "demo" for name in info.platforms)
    assert all(name.startswith("demo_") for name in info.platforms)
    if "kpiwatch_register_platforms" in info.hooks:
        assert info.platforms, "the demo plugin implements the hook but registered nothing"


def test_entry_point_plugins_load_by_default() -> None:
    registry = load_plugins(environ={})
    assert_demo_loaded(registry)


@pytest.mark.parametrize(
    "environ",
    [
        {"KPIWATCH_DISABLE_PLUGINS": "demo"},
        {"KPIWATCH_DISABLE_PLUGINS": "something_else, demo"},
        {"KPIWATCH_DISABLE_PLUGINS": "kpiwatch"},  # the distribution name
        {"KPIWATCH_LOAD_PLUGINS": "nothing"},
        {"KPIWATCH_LOAD_PLUGINS": ""},
        {"KPIWATCH_LOAD_PLUGINS": "demo", "KPIWATCH_DISABLE_PLUGINS": "demo"},
    ],
)
def test_environment_blocks_the_demo_plugin(environ: dict[str, str]) -> None:
    registry = load_plugins(environ=environ)

    assert "demo" not in registry.plugins
    assert not any(name.startswith("demo_") for name in registry.platforms)
    assert registry.errors == []


@pytest.mark.parametrize(
    "environ",
    [
        {"KPIWATCH_LOAD_PLUGINS": "demo"},
        {"KPIWATCH_LOAD_PLUGINS": " nothing ,demo,"},
        {"KPIWATCH_LOAD_PLUGINS": "kpiwatch"},
        {"KPIWATCH_DISABLE_PLUGINS": "nothing"},
    ],
)
def test_environment_selects_the_demo_plugin(environ: dict[str, str]) -> None:
    registry = load_plugins(environ=environ)
    assert_demo_loaded(registry)


def test_process_environment_is_read_when_none_is_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("KPIWATCH_LOAD_PLUGINS", raising=False)
    monkeypatch.setenv("KPIWATCH_DISABLE_PLUGINS", "demo")
    assert "demo" not in load_plugins().plugins
    monkeypatch.delenv("KPIWATCH_DISABLE_PLUGINS")
    assert "demo" in load_plugins().plugins
