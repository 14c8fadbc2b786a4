"""Plugin loading: entry points of the group ``kpiwatch``, filtered by environment variables."""

from __future__ import annotations

import difflib
import importlib.metadata
import importlib.util
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import pluggy

from kpiwatch import hookspecs
from kpiwatch.alerting.notifiers.base import NotifierType
from kpiwatch.platform import Platform

ENTRY_POINT_GROUP = "kpiwatch"
DISABLE_ENV = "KPIWATCH_DISABLE_PLUGINS"
LOAD_ENV = "KPIWATCH_LOAD_PLUGINS"


@dataclass
class PluginInfo:
    """A plugin the manager knows of, loaded or not."""

    name: str
    source: str  # "entry point" or the file it came from
    distribution: str | None = None
    version: str | None = None
    hooks: list[str] = field(default_factory=list)
    platforms: list[str] = field(default_factory=list)
    notifier_types: list[str] = field(default_factory=list)
    error: str | None = None


class PluginRegistry:
    """Loads plugins and holds what they registered."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self.platforms: dict[str, Platform] = {}
        self.platform_owner: dict[str, str] = {}
        self.notifier_types: dict[str, NotifierType] = {}
        self.notifier_type_owner: dict[str, str] = {}
        self.errors: list[str] = []

    # loading ------------------------------------------------------------------------------
    def load_entry_points(self, environ: dict[str, str] | None = None) -> None:
        """Register every plugin of the entry-point group that the environment allows."""
        env = os.environ if environ is None else environ
        blocked = _names(env.get(DISABLE_ENV, ""))
        selected = _names(env.get(LOAD_ENV, "")) if env.get(LOAD_ENV) is not None else None
        for ep in sorted(
            importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name
        ):
            dist = ep.dist.name if ep.dist else None
            if _named(ep.name, dist, blocked):
                continue
            if selected is not None and not _named(ep.name, dist, selected):
                continue
            if ep.name in self.plugins:
                continue  # the same distribution seen twice on sys.path
            info = PluginInfo(ep.name, "entry point", dist, ep.dist.version if ep.dist else None)
            try:
                module = ep.load()
            except Exception as exc:  # a broken plugin must not stop the others
                self._fail(info, f"import failed: {type(exc).__name__}: {exc}")
                continue
            self._register(module, info)

    def load_builtins(self) -> None:
        """Register the notifier types that ship with kpiwatch (through the same hook)."""
        from kpiwatch.alerting.notifiers import builtin

        self._register(builtin, PluginInfo("kpiwatch.notifiers", "built in", "kpiwatch"))

    def load_directory(self, directory: Path) -> None:
        """Register every ``*.py`` file of ``directory`` as a plugin (like datasette's)."""
        directory = Path(directory)
        if not directory.is_dir():
            self.errors.append(
                f"plugins directory {directory}: not found or not a directory; "
                "give a folder holding plugin *.py files"
            )
            return
        for path in sorted(directory.glob("*.py")):
            name = path.stem
            info = PluginInfo(name, str(path))
            if self._name_taken(info):
                continue
            spec = importlib.util.spec_from_file_location(f"kpiwatch_local_plugin_{name}", path)
            try:
                assert spec is not None and spec.loader is not None
                module = importlib.util.module_from_spec(spec)
                sys.modules[spec.name] = module
                spec.loader.exec_module(module)
            except Exception as exc:
                if spec is not None:
                    sys.modules.pop(spec.name, None)
                self._fail(info, f"import failed: {type(exc).__name__}: {exc}")
                continue
            self._register(module, info)

    def register_module(self, module: ModuleType | object, name: str) -> None:
        """Register an already imported plugin object under ``name``."""
        self._register(module, PluginInfo(name, "in process"))

    def _register(self, module: object, info: PluginInfo) -> None:
        if self._name_taken(info):
            return
        try:
            self.pm.register(module, name=info.name)
        except Exception as exc:
            self._fail(info, f"could not register: {exc}")
            return
        self.plugins[info.name] = info

    def _name_taken(self, info: PluginInfo) -> bool:
        """Report ``info`` when another plugin already has its name; the first one keeps it."""
        other = self.plugins.get(info.name)
        if other is None:
            return False
        self.errors.append(
            f"plugin {info.name} ({info.source}): not loaded, the name is taken by the plugin "
            f"from {other.source}; rename the file or module"
        )
        return True

    def _fail(self, info: PluginInfo, message: str) -> None:
        info.error = message
        self.plugins[info.name] = info
        self.errors.append(f"plugin {info.name}: {message}")

    # validation and registration -----------------------------------------------------------
    def finish(self) -> None:
        """Check hook names (``check_pending``), then collect the platforms plugins register."""
        while True:
            try:
                self.pm.check_pending()
                break
            except pluggy.PluginValidationError as exc:
                name = self.pm.get_name(exc.plugin) or "?"
                self.pm.unregister(exc.plugin)
                self._fail(self.plugins.get(name) or PluginInfo(name, "?"), _unknown_hook(exc))
        for name, plugin in self.pm.list_name_plugin():
            info = self.plugins.setdefault(name, PluginInfo(name, "in process"))
            info.hooks = sorted(
                impl_caller.name for impl_caller in self.pm.get_hookcallers(plugin) or []
            )
        for impl in self.pm.hook.kpiwatch_register_platforms.get_hookimpls():
            self._call_register(impl, "kpiwatch_register_platforms", self._add_platform)
        for impl in self.pm.hook.kpiwatch_register_notifiers.get_hookimpls():
            self._call_register(impl, "kpiwatch_register_notifiers", self._add_notifier_type)

    def _add_platform(self, owner: str, platform: Platform) -> None:
        if not isinstance(platform, Platform):
            raise TypeError(f"register() takes a kpiwatch.Platform, not {type(platform).__name__}")
        if platform.name in self.platforms:
            raise ValueError(
                f"platform {platform.name!r} is already registered by plugin "
                f"{self.platform_owner[platform.name]!r}"
            )
        self.platforms[platform.name] = platform
        self.platform_owner[platform.name] = owner
        self.plugins[owner].platforms.append(platform.name)

    def _add_notifier_type(self, owner: str, kind: NotifierType) -> None:
        if not isinstance(kind, NotifierType):
            raise TypeError(f"register() takes a kpiwatch.NotifierType, not {type(kind).__name__}")
        if kind.name in self.notifier_types:
            raise ValueError(
                f"notifier type {kind.name!r} is already registered by plugin "
                f"{self.notifier_type_owner[kind.name]!r}"
            )
        self.notifier_types[kind.name] = kind
        self.notifier_type_owner[kind.name] = owner
        self.plugins[owner].notifier_types.append(kind.name)

    def _call_register(self, impl: pluggy.HookImpl, hook: str, add) -> None:
        owner = impl.plugin_name
        info = self.plugins[owner]

        def register(item: object) -> None:
            add(owner, item)

        try:
            impl.function(**({"register": register} if "register" in impl.argnames else {}))
        except Exception as exc:
            message = f"{hook} failed: {type(exc).__name__}: {exc}"
            info.error = message
            self.errors.append(f"plugin {owner}: {message}")

    # hooks -------------------------------------------------------------------------------
    def hook_implementations(self, hook_name: str) -> list[pluggy.HookImpl]:
        return getattr(self.pm.hook, hook_name).get_hookimpls()


def _names(text: str) -> set[str]:
    return {part.strip() for part in text.split(",") if part.strip()}


def _named(entry_point: str, distribution: str | None, names: set[str]) -> bool:
    """Whether ``names`` holds the entry point's name or (normalised) its distribution's."""
    if entry_point in names:
        return True
    return distribution is not None and _distribution_key(distribution) in {
        _distribution_key(name) for name in names
    }


def _distribution_key(name: str) -> str:
    """A distribution name as pip compares it (PEP 503): ``My_Plugin`` is ``my-plugin``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _unknown_hook(exc: pluggy.PluginValidationError) -> str:
    """The message for a hook name no spec knows, with the nearest real hook name."""
    known = [name for name in dir(hookspecs) if name.startswith(f"{ENTRY_POINT_GROUP}_")]
    hook = re.search(r"unknown hook '(\w+)'", str(exc))
    if hook is None:
        return str(exc)
    close = difflib.get_close_matches(hook.group(1), known, n=1)
    hint = f"did you mean {close[0]}?" if close else f"hooks: {', '.join(known)}"
    return f"unknown hook {hook.group(1)!r}; {hint}"


def load_plugins(
    plugins_dir: Path | None = None, environ: dict[str, str] | None = None
) -> PluginRegistry:
    """Load entry-point plugins (and those of ``plugins_dir``) and collect their platforms."""
    registry = PluginRegistry()
    registry.load_builtins()
    registry.load_entry_points(environ)
    if plugins_dir is not None:
        registry.load_directory(plugins_dir)
    registry.finish()
    return registry
