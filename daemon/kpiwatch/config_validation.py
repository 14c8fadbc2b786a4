"""Validation of converted configuration data against Config and each platform's settings.

Collects every problem (pydantic errors translated, unknown platforms, duplicate account ids)
at the line it was written and raises them together, with secrets and environment values hidden.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from kpiwatch.config import AccountConfig, Config
from kpiwatch.config_alerting import NotifierConfig
from kpiwatch.config_annotations import (
    Target,
    is_secret,
    key_paths,
    model_keys,
    resolve,
    secret_inputs,
)
from kpiwatch.config_messages import explain
from kpiwatch.config_problems import (
    ConfigError,
    ConfigProblem,
    EntryProblems,
    Loc,
    close_matches,
    format_path,
    quoted,
    scrub,
)
from kpiwatch.config_yaml import Document

if TYPE_CHECKING:
    from kpiwatch.alerting.notifiers.base import NotifierType
    from kpiwatch.kpi.compiled import Catalogue
    from kpiwatch.platform import Platform

#: Secret values shorter than this are hidden only where they are known to appear.
_MIN_GLOBAL_SCRUB = 8


def validate(
    document: Document,
    data: dict[str, Any],
    platforms: Mapping[str, Platform],
    notifier_types: Mapping[str, NotifierType] | None = None,
) -> tuple[Config, dict[str, BaseModel], dict[str, BaseModel]]:
    """The validated Config, each account's and each notifier's validated settings, or
    ConfigError. Without ``notifier_types`` the built-in notifier types are used.

    ``document`` converted ``data`` and knows its lines; its problems are reported too.
    """
    if notifier_types is None:
        from kpiwatch.alerting.notifiers.builtin import BUILTIN_NOTIFIER_TYPES

        notifier_types = {t.name: t for t in BUILTIN_NOTIFIER_TYPES}
    return _Validation(document, data, platforms, notifier_types).run()


class _Validation:
    """One validation run: the data, the platforms, and the problems found so far."""

    def __init__(
        self,
        document: Document,
        data: dict[str, Any],
        platforms: Mapping[str, Platform],
        notifier_types: Mapping[str, NotifierType],
    ) -> None:
        self.doc = document
        self.data = data
        self.platforms = platforms
        self.notifier_types = notifier_types
        self.problems: list[ConfigProblem] = list(document.problems)
        self.settings: dict[str, BaseModel] = {}
        self.notifier_settings: dict[str, BaseModel] = {}
        #: Raw values given for secret fields, hidden wherever they appear.
        self.given_secrets: set[str] = set()

    def run(self) -> tuple[Config, dict[str, BaseModel], dict[str, BaseModel]]:
        config = None
        try:
            config = Config.model_validate(self.data)
        except ValidationError as exc:
            self._translate(exc, (), Config)
        self._collect_secret_inputs(Config, self.data)
        self._check_platform_options()
        self._check_accounts()
        self._check_notifiers()
        if config is not None:
            catalogue = self._check_kpis(config)
            if catalogue is not None:
                self._check_rules(config, catalogue)
                self._check_goals(config, catalogue)
        if self.problems or config is None:
            raise ConfigError(self._final_problems())
        return config, self.settings, self.notifier_settings

    # problems ---------------------------------------------------------------------------
    def _add(self, loc: Loc, message: str, fix: str | None, *, key: bool = False) -> None:
        """Record a problem at ``loc`` (at its key's line when ``key``), hiding env values."""
        hidden = self.doc.environment_values_under(loc)
        self.problems.append(
            ConfigProblem(
                self.doc.source,
                self.doc.line_of(loc, key),
                format_path(loc),
                scrub(message, hidden),
                scrub(fix, hidden) if fix else None,
            )
        )

    def _final_problems(self) -> list[ConfigProblem]:
        """Every problem once, in line order, with every known secret hidden."""
        hidden = set(self.given_secrets)
        for values in self.doc.from_environment.values():
            hidden.update(v for v in values if len(v) >= _MIN_GLOBAL_SCRUB)
        unique: dict[ConfigProblem, None] = {}
        for problem in self.problems:
            message = scrub(problem.message, hidden)
            fix = scrub(problem.fix, hidden) if problem.fix else None
            unique.setdefault(replace(problem, message=message, fix=fix), None)
        return sorted(unique, key=lambda p: (p.line is None, p.line or 0))

    def _collect_secret_inputs(self, model: type[BaseModel], data: Any) -> None:
        self.given_secrets.update(value for value in secret_inputs(model, data) if value)

    # pydantic errors ----------------------------------------------------------------------
    def _translate(self, exc: ValidationError, prefix: Loc, model: type[BaseModel]) -> None:
        for error in exc.errors(include_url=False):
            target = resolve(model, tuple(error["loc"]))
            loc = (*prefix, *target.loc)
            if any(_related(loc, bad) for bad in self.doc.uninterpolated):
                continue  # the missing variable is already reported
            sensitive = is_secret(target.annotation) or bool(self.doc.environment_values_under(loc))
            message, fix = explain(error, target, sensitive)
            if error["type"] == "extra_forbidden":
                fix = self._suggest_key(prefix, target) or fix
            self._add(loc, message, fix, key=target.is_key or error["type"] == "extra_forbidden")

    def _suggest_key(self, prefix: Loc, target: Target) -> str | None:
        """Say where an unknown key belongs when it is a settings key or a key of elsewhere."""
        unknown = target.loc[-1]
        if prefix != () or not isinstance(unknown, str):
            return None
        if target.parent is AccountConfig and len(target.loc) == 3:
            platform = self.platforms.get(str(self._account_value(target.loc[1], "platform")))
            if platform is not None and unknown in model_keys(platform.settings):
                return f"move {unknown!r} under settings: (it is a {platform.name} setting)"
        if not close_matches(unknown, model_keys(target.parent)):
            homes = [path for path in key_paths(Config) if path.rsplit(".", 1)[-1] == unknown]
            if homes:
                return f"{unknown!r} belongs at {' or '.join(homes)}"
        return None

    def _account_value(self, index: str | int, key: str) -> Any:
        accounts = self.data.get("accounts")
        if isinstance(accounts, list) and isinstance(index, int) and index < len(accounts):
            account = accounts[index]
            if isinstance(account, dict):
                return account.get(key)
        return None

    # checks beyond the models -------------------------------------------------------------
    def _check_platform_options(self) -> None:
        options = self.data.get("platforms")
        if not isinstance(options, dict):
            return
        for name in options:
            if name not in self.platforms:
                self._add(
                    ("platforms", name),
                    f"unknown platform {name!r}",
                    self._platform_fix(name),
                    key=True,
                )

    def _platform_fix(self, name: str) -> str:
        available = sorted(self.platforms)
        if not available:
            return (
                "no platform is installed; install a platform plugin or check "
                "KPIWATCH_DISABLE_PLUGINS and KPIWATCH_LOAD_PLUGINS"
            )
        close = close_matches(name, available)
        hint = f"did you mean {quoted(close)}? " if close else ""
        return f"{hint}available: {', '.join(available)}"

    def _check_accounts(self) -> None:
        accounts = self.data.get("accounts")
        if not isinstance(accounts, list):
            return
        first_use: dict[str, tuple[int, int | None]] = {}
        for index, account in enumerate(accounts):
            if not isinstance(account, dict):
                continue
            loc: Loc = ("accounts", index)
            account_id = account.get("id")
            if isinstance(account_id, str) and account_id in first_use:
                first_index, line = first_use[account_id]
                self._add(
                    (*loc, "id"),
                    f"the account id {account_id!r} is used twice "
                    f"(first by accounts[{first_index}] on line {line})",
                    "give every account its own id",
                )
            elif isinstance(account_id, str):
                first_use[account_id] = (index, self.doc.line_of((*loc, "id")))
            self._check_settings(loc, account, account_id)

    def _check_settings(self, loc: Loc, account: dict[str, Any], account_id: Any) -> None:
        name = account.get("platform")
        if not isinstance(name, str):
            return  # Config reports the missing or wrong platform
        platform = self.platforms.get(name)
        if platform is None:
            self._add((*loc, "platform"), f"unknown platform {name!r}", self._platform_fix(name))
            return
        raw = account.get("settings", {})
        if not isinstance(raw, dict):
            return  # Config reports that settings is not a mapping
        prefix = (*loc, "settings")
        model = self._plugin_settings(prefix, platform.settings, raw, name, "platform")
        if model is not None and isinstance(account_id, str):
            self.settings[account_id] = model

    def _plugin_settings(
        self, loc: Loc, model_class: type[BaseModel], raw: dict[str, Any], name: str, kind: str
    ) -> BaseModel | None:
        """``raw`` validated by a plugin's settings model, or None with the problems recorded.

        ``name`` and ``kind`` name what the model belongs to: "demo", "platform"."""
        self._collect_secret_inputs(model_class, raw)
        try:
            return model_class.model_validate(raw)
        except ValidationError as exc:
            self._translate(exc, loc, model_class)
        except Exception as exc:  # a plugin's validator failing is the plugin's bug
            self._add(
                loc,
                f"the {name} {kind} could not check these settings ({type(exc).__name__})",
                f"report this to the authors of the plugin providing the {kind}",
            )
        return None

    def _check_kpis(self, config: Config) -> Catalogue | None:
        """Compile the KPI catalogue: bad custom formulas and basis metrics fail at load."""
        from kpiwatch.kpi.compiled import KpiDefinitionError, build_catalogue

        try:
            return build_catalogue(config.kpis)
        except KpiDefinitionError as exc:
            names = [c.name for c in config.kpis.custom]
            if exc.kpi in names:
                index = names.index(exc.kpi)
                if exc.key == "name" and names.count(exc.kpi) > 1:
                    index = len(names) - 1 - names[::-1].index(exc.kpi)
                loc: Loc = ("kpis", "custom", index, exc.key)
                fix = "correct the formula; docs/kpis.md describes the formula language"
            else:
                loc = ("kpis",)
                fix = "correct the kpis settings; docs/kpis.md lists the metrics"
            self._add(loc, str(exc), fix)
            return None

    def _check_notifiers(self) -> None:
        """Each notifier's type exists and its type-specific keys pass the type's model."""
        notifiers = self.data.get("notifiers")
        if not isinstance(notifiers, list):
            return
        first_use: dict[str, int] = {}
        common = set(NotifierConfig.model_fields)
        for index, entry in enumerate(notifiers):
            if not isinstance(entry, dict):
                continue
            loc: Loc = ("notifiers", index)
            name = entry.get("name")
            if isinstance(name, str) and name in first_use:
                self._add(
                    (*loc, "name"),
                    f"the notifier name {name!r} is used twice (first by "
                    f"notifiers[{first_use[name]}])",
                    "give every notifier its own name",
                )
            elif isinstance(name, str):
                first_use[name] = index
            kind = entry.get("type")
            if not isinstance(kind, str):
                continue  # Config reports the missing type
            notifier_type = self.notifier_types.get(kind)
            if notifier_type is None:
                available = sorted(self.notifier_types)
                close = close_matches(kind, available)
                hint = f"did you mean {quoted(close)}? " if close else ""
                self._add(
                    (*loc, "type"),
                    f"unknown notifier type {kind!r}",
                    f"{hint}available: {', '.join(available) or 'none'}",
                )
                continue
            raw = {k: v for k, v in entry.items() if k not in common}
            model = self._plugin_settings(loc, notifier_type.settings, raw, kind, "notifier type")
            if model is not None and isinstance(name, str):
                self.notifier_settings[name] = model

    def _check_rules(self, config: Config, catalogue: Catalogue) -> None:
        """Rules against the KPI catalogue, the windows, the templates and the notifiers."""
        from kpiwatch.alerting.rules import compile_rules

        names = [n.name for n in config.notifiers]
        goals = [g.name for g in config.goals]
        self._check_entries(
            "rules",
            "rule",
            [r.name for r in config.rules],
            lambda: compile_rules(config.rules, catalogue, config.kpis.windows, names, goals),
        )

    def _check_goals(self, config: Config, catalogue: Catalogue) -> None:
        """Goals against the KPI catalogue and the windows."""
        from kpiwatch.goals.compile import compile_goals

        self._check_entries(
            "goals",
            "goal",
            [g.name for g in config.goals],
            lambda: compile_goals(config.goals, catalogue, config.kpis.windows),
        )

    def _check_entries(
        self, section: str, noun: str, names: list[str], check: Callable[[], object]
    ) -> None:
        """Run ``check`` and report each problem it raises at its entry's line and key."""
        try:
            check()
        except EntryProblems as exc:
            for problem in exc.problems:
                loc: Loc = (section, problem.index, *problem.field)
                self._add(loc, f"{noun} {names[problem.index]}: {problem.message}", problem.fix)


def _related(loc: Loc, other: Loc) -> bool:
    """True when one location contains the other."""
    shorter = min(len(loc), len(other))
    return loc[:shorter] == other[:shorter]
