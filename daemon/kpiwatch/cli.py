"""The ``kpiwatch`` command: run, check-config, plugins, collect, kpis, alerts, goals, rules,
version."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import platform as python_platform
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from kpiwatch import __version__
from kpiwatch.config_loader import ConfigError, LoadedConfig, load_config, load_config_text
from kpiwatch.demo_config import demo_config_yaml
from kpiwatch.goals.model import STATUSES as GOAL_STATUSES
from kpiwatch.logging import configure_logging, redactor
from kpiwatch.plugins import PluginRegistry, load_plugins

DEMO_SOURCE = "<built-in demo configuration>"
EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kpiwatch",
        description="Monitoring daemon for social-media and marketing KPIs.",
    )
    parser.add_argument(
        "--plugins-dir",
        type=Path,
        metavar="DIR",
        help="also load every *.py file in DIR as a plugin",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the daemon (no -c: the built-in demo configuration)")
    run.add_argument("-c", "--config", type=Path, metavar="FILE", help="configuration file")
    run.add_argument("--listen", metavar="HOST:PORT", help="override server.listen")
    run.add_argument(
        "--demo-accounts",
        type=int,
        metavar="N",
        help="with the demo configuration: poll N synthetic accounts",
    )

    check = sub.add_parser("check-config", help="validate a configuration file")
    check.add_argument("-c", "--config", type=Path, metavar="FILE", required=True)

    plugins = sub.add_parser("plugins", help="list loaded plugins and their platforms")
    plugins.add_argument("--json", action="store_true", help="print JSON")

    collect = sub.add_parser("collect", help="poll once and print what each account returned")
    collect.add_argument("-c", "--config", type=Path, metavar="FILE", required=True)
    collect.add_argument(
        "--account", action="append", metavar="ID", help="only this account (repeatable)"
    )
    collect.add_argument("--json", action="store_true", help="print JSON")

    kpis = sub.add_parser("kpis", help="print the KPI table from the stored history")
    kpis.add_argument("-c", "--config", type=Path, metavar="FILE", required=True)
    kpis.add_argument("--window", metavar="WINDOW", help="one of kpis.windows (default: 28d)")
    kpis.add_argument(
        "--by",
        metavar="LABELS",
        default="account",
        help="group by these comma-separated labels (account, platform or account labels); "
        "'' for all accounts together (default: account)",
    )
    kpis.add_argument("--json", action="store_true", help="print JSON")

    alerts = sub.add_parser("alerts", help="list the alerts kept in the alert store")
    alerts.add_argument("-c", "--config", type=Path, metavar="FILE", required=True)
    alerts.add_argument(
        "--state",
        choices=("pending", "firing", "resolved"),
        help="only alerts in this state (default: all)",
    )
    alerts.add_argument("--json", action="store_true", help="print JSON")

    goals = sub.add_parser("goals", help="print the goals' status, progress and projection")
    goals.add_argument("-c", "--config", type=Path, metavar="FILE", required=True)
    goals.add_argument(
        "--status",
        choices=GOAL_STATUSES,
        help="only goals with this status (default: all)",
    )
    goals.add_argument("--json", action="store_true", help="print JSON")

    rules = sub.add_parser("rules", help="work with alert rules")
    rules_sub = rules.add_subparsers(dest="rules_command", required=True, metavar="ACTION")
    export = rules_sub.add_parser(
        "export", help="write Prometheus recording and alerting rules and their promtool tests"
    )
    export.add_argument("-c", "--config", type=Path, metavar="FILE", required=True)
    export.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="DIR",
        default=Path("."),
        help="directory to write kpiwatch-rules.yml and kpiwatch-rules.test.yml to (default: .)",
    )

    sub.add_parser("version", help="print the version")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:  # `kpiwatch collect ... | head`: the reader left; that is fine
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "version":
        print(f"kpiwatch {__version__} (Python {python_platform.python_version()})")
        return EXIT_OK
    # Commands other than `run` keep stdout for their output and log to stderr.
    configure_logging("warning", "auto", sys.stderr)
    registry = load_plugins(args.plugins_dir)
    handlers: dict[str, Callable[[argparse.Namespace, PluginRegistry], int]] = {
        "run": cmd_run,
        "check-config": cmd_check_config,
        "plugins": cmd_plugins,
        "collect": cmd_collect,
        "kpis": cmd_kpis,
        "alerts": cmd_alerts,
        "goals": cmd_goals,
        "rules": cmd_rules,
    }
    return handlers[args.command](args, registry)


def _report_plugin_errors(registry: PluginRegistry) -> None:
    for error in registry.errors:
        print(f"warning: {error}", file=sys.stderr)


def _print_config_error(exc: ConfigError) -> None:
    count = len(exc.problems)
    print(f"configuration invalid: {count} problem{'s' if count != 1 else ''}", file=sys.stderr)
    for problem in exc.problems:
        print(f"  {problem}", file=sys.stderr)


# run ----------------------------------------------------------------------------------------
def config_loader(args: argparse.Namespace, registry: PluginRegistry) -> Callable[[], LoadedConfig]:
    """A function that (re)reads the configuration the way ``run`` was asked to."""

    def load() -> LoadedConfig:
        if args.config is None:
            text = demo_config_yaml(accounts=args.demo_accounts, listen=args.listen)
            return load_config_text(
                text, DEMO_SOURCE, registry.platforms, notifier_types=registry.notifier_types
            )
        loaded = load_config(
            args.config, registry.platforms, notifier_types=registry.notifier_types
        )
        if args.listen:
            server = loaded.config.server.model_copy(update={"listen": args.listen})
            config = loaded.config.model_copy(update={"server": server})
            loaded = dataclasses.replace(loaded, config=config)
        return loaded

    return load


def cmd_run(args: argparse.Namespace, registry: PluginRegistry) -> int:
    from kpiwatch.daemon import Daemon  # the daemon's imports are only needed here

    if args.listen:
        try:
            _check_listen(args.listen)
        except ValueError as exc:
            print(f"--listen: {exc}", file=sys.stderr)
            return EXIT_CONFIG
    load = config_loader(args, registry)
    try:
        loaded = load()
    except ConfigError as exc:
        _print_config_error(exc)
        return EXIT_CONFIG
    configure_logging(loaded.config.log.level, loaded.config.log.format, sys.stdout)
    redactor.set_secrets(loaded.secrets)
    for error in registry.errors:
        from kpiwatch.logging import get_logger

        get_logger().error("plugin failed to load", error=error)
    daemon = Daemon(registry=registry, loaded=loaded, load=load, log_stream=sys.stdout)
    try:
        return asyncio.run(daemon.run())
    except KeyboardInterrupt:
        return EXIT_OK


def _check_listen(listen: str) -> None:
    from kpiwatch.config import ServerConfig

    try:
        ServerConfig(listen=listen)
    except Exception as exc:
        raise ValueError(f"{listen!r} is not host:port, e.g. 127.0.0.1:9877") from exc


# check-config -------------------------------------------------------------------------------
def _load_or_report(path: Path, registry: PluginRegistry) -> LoadedConfig | None:
    """The configuration at ``path``, or None after printing plugin and config problems."""
    _report_plugin_errors(registry)
    try:
        return load_config(path, registry.platforms, notifier_types=registry.notifier_types)
    except ConfigError as exc:
        _print_config_error(exc)
        return None


def cmd_check_config(args: argparse.Namespace, registry: PluginRegistry) -> int:
    loaded = _load_or_report(args.config, registry)
    if loaded is None:
        return EXIT_CONFIG
    config = loaded.config
    enabled = [a for a in config.accounts if a.enabled]
    platforms = sorted({a.platform for a in enabled})
    print(
        f"{loaded.source}: valid; {len(enabled)} enabled account(s) of "
        f"{len(config.accounts)}; platforms: {', '.join(platforms) or 'none'}"
    )
    return EXIT_OK


# plugins ------------------------------------------------------------------------------------
def cmd_plugins(args: argparse.Namespace, registry: PluginRegistry) -> int:
    plugins = [asdict(info) for info in sorted(registry.plugins.values(), key=lambda p: p.name)]
    if args.json:
        print(json.dumps({"plugins": plugins}, indent=2))
        return EXIT_OK
    if not plugins:
        print("no plugins loaded")
        return EXIT_OK
    rows = [("PLUGIN", "VERSION", "DISTRIBUTION", "PLATFORMS", "HOOKS")]
    for p in plugins:
        rows.append(
            (
                p["name"],
                p["version"] or "-",
                p["distribution"] or p["source"],
                ",".join(p["platforms"]) or "-",
                ",".join(p["hooks"]) or "-",
            )
        )
    _print_table(rows)
    for error in registry.errors:
        print(f"error: {error}", file=sys.stderr)
    return EXIT_OK


def _print_table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


# collect ------------------------------------------------------------------------------------
def cmd_collect(args: argparse.Namespace, registry: PluginRegistry) -> int:
    loaded = _load_or_report(args.config, registry)
    if loaded is None:
        return EXIT_CONFIG
    redactor.set_secrets(loaded.secrets)
    accounts = [a for a in loaded.config.accounts if a.enabled]
    if args.account:
        known = {a.id for a in loaded.config.accounts}
        unknown = [a for a in args.account if a not in known]
        if unknown:
            print(
                f"unknown account(s): {', '.join(unknown)}; configured: "
                f"{', '.join(sorted(known)) or 'none'}",
                file=sys.stderr,
            )
            return EXIT_CONFIG
        accounts = [a for a in loaded.config.accounts if a.id in args.account]
    results = asyncio.run(_collect(loaded, accounts, registry))
    if args.json:
        print(json.dumps({"accounts": results}, indent=2, default=_json_default))
    else:
        _print_collect_table(results)
    return EXIT_OK if all(r["ok"] for r in results) else EXIT_FAILED


async def _stored_states(config) -> dict[str, tuple[str, dict]]:
    """The plugin states the daemon stored, when its history database exists (read-only)."""
    from kpiwatch.kpi.offline import history_path
    from kpiwatch.store import StoreError
    from kpiwatch.store.reader import HistoryReader, plugin_states

    path = history_path(config)
    if not path.exists():
        return {}
    try:
        async with await HistoryReader.open(path) as reader:
            return await reader.run(plugin_states)
    except StoreError:
        return {}


async def _collect(loaded: LoadedConfig, accounts: list, registry: PluginRegistry) -> list[dict]:
    from kpiwatch.account_plan import AccountPlan
    from kpiwatch.http_client import client_session
    from kpiwatch.polling import poll_account

    config = loaded.config
    states = await _stored_states(config)
    async with client_session(config.http) as session:
        semaphores: dict[str, asyncio.Semaphore] = {}

        async def one(account) -> dict[str, Any]:
            plan = AccountPlan.build(
                account, loaded.settings[account.id], registry.platforms[account.platform], config
            )
            semaphore = semaphores.setdefault(
                plan.platform.name, asyncio.Semaphore(plan.max_concurrency)
            )
            async with semaphore:
                # a copy of the daemon's stored state (cursors, access tokens): used, never
                # written back; credentials are not refreshed (dry run)
                stored = states.get(account.id)
                state = stored[1] if stored and stored[0] == account.platform else {}
                outcome = await poll_account(plan, session=session, state=state, dry_run=True)
            return {
                "account": account.id,
                "platform": account.platform,
                "ok": outcome.ok,
                "error": None
                if outcome.ok
                else {"reason": outcome.reason, "message": outcome.message},
                "duration_seconds": round(outcome.duration, 6),
                "invalid_items": outcome.dropped,
                "samples": [
                    {
                        "metric": s.metric,
                        "value": s.value,
                        "window": s.window,
                        "dims": dict(s.dims),
                        "timestamp": s.timestamp,
                    }
                    for s in outcome.samples
                ],
                "posts": [
                    {
                        "id": p.id,
                        "published_at": p.published_at,
                        "content_type": p.content_type,
                        "metrics": dict(p.metrics),
                        "url": p.url,
                    }
                    for p in outcome.posts
                ],
            }

        return list(await asyncio.gather(*(one(a) for a in accounts)))


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _print_collect_table(results: list[dict]) -> None:
    for r in results:
        head = f"{r['account']} ({r['platform']})"
        if not r["ok"]:
            print(f"{head}: FAILED {r['error']['reason']}: {r['error']['message']}")
            continue
        print(
            f"{head}: {len(r['samples'])} samples, {len(r['posts'])} posts "
            f"in {r['duration_seconds']:.3f}s"
        )
        rows = [("  METRIC", "WINDOW", "DIMENSIONS", "VALUE")]
        for s in sorted(
            r["samples"], key=lambda s: (s["metric"], s["window"] or "", sorted(s["dims"].items()))
        ):
            dims = ",".join(f"{k}={v}" for k, v in sorted(s["dims"].items()))
            rows.append((f"  {s['metric']}", s["window"] or "-", dims or "-", f"{s['value']:g}"))
        _print_table(rows)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


# kpis ---------------------------------------------------------------------------------------
def cmd_kpis(args: argparse.Namespace, registry: PluginRegistry) -> int:
    loaded = _load_or_report(args.config, registry)
    if loaded is None:
        return EXIT_CONFIG
    from kpiwatch.kpi.offline import compute_offline
    from kpiwatch.kpi.report import table_lines
    from kpiwatch.store import StoreError

    by = [b for b in args.by.split(",") if b]
    try:
        report = asyncio.run(compute_offline(loaded.config, args.window, by))
    except (StoreError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if args.json:
        print(json.dumps(report, indent=2))
        return EXIT_OK
    if not report["kpis"]:
        print(f"no KPI has a value for the {report['window']} window yet")
        return EXIT_OK
    print(f"window {report['window']} (previous: the {report['window']} before it)")
    for line in table_lines(report["kpis"], by):
        print(line)
    return EXIT_OK


def cmd_alerts(args: argparse.Namespace, registry: PluginRegistry) -> int:
    loaded = _load_or_report(args.config, registry)
    if loaded is None:
        return EXIT_CONFIG
    from kpiwatch.alerting.offline import alerts_table, read_alerts
    from kpiwatch.store import StoreError

    try:
        alerts = asyncio.run(read_alerts(loaded.config))
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if args.state:
        alerts = [a for a in alerts if a["state"] == args.state]
    if args.json:
        print(json.dumps({"alerts": alerts}, indent=2))
        return EXIT_OK
    if not alerts:
        print("no alerts" + (f" in state {args.state}" if args.state else ""))
        return EXIT_OK
    for line in alerts_table(alerts):
        print(line)
    return EXIT_OK


def cmd_goals(args: argparse.Namespace, registry: PluginRegistry) -> int:
    loaded = _load_or_report(args.config, registry)
    if loaded is None:
        return EXIT_CONFIG
    from kpiwatch.goals.offline import evaluate_goals
    from kpiwatch.goals.report import goals_table, kpi_units
    from kpiwatch.kpi.compiled import build_catalogue
    from kpiwatch.store import StoreError

    try:
        results = asyncio.run(evaluate_goals(loaded.config))
    except (StoreError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if args.status:
        results = [r for r in results if r.status == args.status]
    if args.json:
        print(json.dumps({"goals": [r.to_json() for r in results]}, indent=2))
        return EXIT_OK
    if not results:
        if not loaded.config.goals:
            print(f"no goals configured in {loaded.source} (docs/goals.md explains goals:)")
        else:
            print("no goals" + (f" with status {args.status}" if args.status else ""))
        return EXIT_OK
    units = kpi_units(build_catalogue(loaded.config.kpis))
    print(goals_table(results, units, colour=sys.stdout.isatty()))
    return EXIT_OK


def cmd_rules(args: argparse.Namespace, registry: PluginRegistry) -> int:
    loaded = _load_or_report(args.config, registry)
    if loaded is None:
        return EXIT_CONFIG
    from kpiwatch.alerting.promexport import export_rules, write_export
    from kpiwatch.kpi.compiled import build_catalogue

    exported = export_rules(loaded.config, build_catalogue(loaded.config.kpis), loaded.source)
    try:
        paths = write_export(exported, args.output)
    except OSError as exc:
        print(f"error: cannot write to {args.output}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_CONFIG
    for path in paths:
        print(f"wrote {path}")
    for rule, reason in exported.skipped:
        print(f"not exported: {rule}: {reason}", file=sys.stderr)
    return EXIT_OK
