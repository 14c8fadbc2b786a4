"""The built-in demo configuration that ``kpiwatch run`` uses when no ``-c`` file is given.

It polls accounts of the built-in ``demo`` plugin (platforms ``demo_photo``, ``demo_video``,
``demo_micro``, ``demo_pro``, ``demo_web``, ``demo_ads``, ``demo_crm``), which generate
deterministic synthetic data, so ``make run`` shows KPIs within seconds and without
credentials. This module only writes YAML text; it does not import the plugin.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence

#: Short name and platform of each pretend platform, in account order.
DEMO_PLATFORMS: tuple[tuple[str, str], ...] = (
    ("photo", "demo_photo"),
    ("video", "demo_video"),
    ("micro", "demo_micro"),
    ("pro", "demo_pro"),
    ("web", "demo_web"),
    ("ads", "demo_ads"),
    ("crm", "demo_crm"),
)
#: Platforms whose accounts a rival can be watched on (public profiles).
PUBLIC_PLATFORMS = frozenset({"demo_photo", "demo_video", "demo_micro"})
#: Brands of generated configurations (``accounts=N``); the last two are rivals.
BRANDS = (
    "acme",
    "globex",
    "hooli",
    "initrode",
    "stark",
    "wayne",
    "wonka",
    "cyberdyne",
    "initech",
    "umbrella",
)
RIVALS = frozenset({"initech", "umbrella"})

#: Days of history each default demo account returns on first contact: enough for the
#: baselines of the quarterly demo goals, measured at the start of the quarter.
HISTORY_DAYS = 95

_DEMO_GOALS = """\
# SMART goals on the demo accounts (docs/goals.md): `kpiwatch goals -c FILE` and /api/v1/goals
# show their status. Recurring periods, so they have a current period whatever the date.
goals:
  - name: acme-new-followers
    description: "300 new followers each month (the Danish seed's example)"
    kpi: followers
    measure: change
    scope: {account: acme-photo}
    target: 300
    every: month
    owner: social-team
  - name: acme-engagement-up
    description: "Engagement rate of brand acme up by a fifth each quarter"
    kpi: engagement_rate
    scope: {brand: acme}
    target: "+20%"
    every: quarter
    owner: social-team
  - name: acme-cpa-ceiling
    description: "Cost per acquisition of acme's ads below 40 on nine days in ten"
    kpi: cost_per_acquisition
    window: 7d
    scope: {account: acme-ads}
    criterion: stay_below
    target: 40
    every: quarter
    owner: performance-team
"""

_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_./-]*$")
_YAML_WORDS = frozenset({"y", "n", "yes", "no", "true", "false", "on", "off", "null", "none"})

_HEADER = """\
# The built-in demo configuration of kpiwatch (`kpiwatch run` without -c).
#
# Every account below belongs to the built-in `demo` plugin, which generates deterministic
# synthetic data: the same seed, account id and time always give the same values, so no
# network or credentials are needed. See plugins/kpiwatch_platforms/demo/README.md.
# To monitor real accounts, write your own file and run `kpiwatch run -c your.yaml`.
"""


def demo_config_yaml(accounts: int | None = None, listen: str | None = None) -> str:
    """The YAML text of the demo configuration.

    Without ``accounts``: two brands (acme, globex) with one account on each demo platform,
    plus three competitor accounts. With ``accounts=N``: exactly N generated accounts that
    cycle through the platforms and brands (for benchmarks). ``listen`` overrides
    ``server.listen``.
    """
    if accounts is not None and accounts < 0:
        raise ValueError(f"accounts must be 0 or more, not {accounts}")
    lines = [_HEADER]
    lines += [
        f"server:\n  listen: {_scalar(listen or '127.0.0.1:9877')}",
        "state_dir: ./state",
        "log:\n  level: info\n  format: auto   # console on a terminal, JSON otherwise",
        "# Short intervals so that dashboards fill within seconds.",
        "defaults:\n  interval: 30s\n  timeout: 10s\n  jitter: 0.1",
        "shard:\n  index: 0\n  count: 1",
        "shutdown_grace: 10s",
        "",
    ]
    if accounts is None:
        lines += _default_accounts()
        lines += ["", _DEMO_GOALS]
    else:
        lines += _generated_accounts(accounts)
    return "\n".join(lines) + "\n"


def _default_accounts() -> list[str]:
    lines = ["accounts:"]
    brands = (
        ("acme", {"region": "eu"}, {"size": 1.0}, "EUR"),
        ("globex", {"region": "us"}, {"size": 0.6, "seed": 7}, "USD"),
    )
    for brand, labels, settings, currency in brands:
        lines.append(
            f"  # {brand}: one account on each demo platform, {HISTORY_DAYS} days of history"
        )
        for short, platform in DEMO_PLATFORMS:
            extra: dict[str, object] = {**settings, "history_days": HISTORY_DAYS}
            if platform in {"demo_web", "demo_ads", "demo_crm"}:
                extra["currency"] = currency
            if brand == "globex" and platform == "demo_ads":
                # a flaky ad API: polls fail 5 % of the time and answer slowly
                extra.update(fail_rate=0.05, latency="300ms")
            lines += _account(f"{brand}-{short}", platform, {"brand": brand, **labels}, extra)
    lines.append("  # rivals, watched through their public profiles")
    competitors = (
        ("initech-photo", "demo_photo", "initech", 1.4),
        ("initech-micro", "demo_micro", "initech", 0.8),
        ("umbrella-video", "demo_video", "umbrella", 2.0),
    )
    for account_id, platform, brand, size in competitors:
        settings = {"size": size, "history_days": HISTORY_DAYS}
        lines += _account(account_id, platform, {"brand": brand}, settings, competitor=True)
    return lines


def _generated_accounts(count: int) -> list[str]:
    if count == 0:
        return ["accounts: []"]
    lines = [f"# {count} generated accounts, cycling through the demo platforms and brands", ""]
    lines.append("accounts:")
    for index in range(count):
        short, platform = DEMO_PLATFORMS[index % len(DEMO_PLATFORMS)]
        brand = BRANDS[(index // len(DEMO_PLATFORMS)) % len(BRANDS)]
        competitor = brand in RIVALS and platform in PUBLIC_PLATFORMS
        account_id = f"{brand}-{short}-{index:05d}"
        lines += _account(account_id, platform, {"brand": brand}, {}, competitor=competitor)
    return lines


def _account(
    account_id: str,
    platform: str,
    labels: Mapping[str, str],
    settings: Mapping[str, object],
    *,
    competitor: bool = False,
) -> list[str]:
    lines = [
        f"  - id: {_scalar(account_id)}",
        f"    platform: {_scalar(platform)}",
        f"    labels: {_flow(labels)}",
    ]
    if competitor:
        lines.append("    competitor: true")
    if settings:
        lines.append(f"    settings: {_flow(settings)}")
    return lines


def _flow(mapping: Mapping[str, object]) -> str:
    return "{" + ", ".join(f"{_scalar(k)}: {_scalar(v)}" for k, v in mapping.items()) + "}"


def _scalar(value: object) -> str:
    """A YAML scalar: plain when that is unambiguous, double-quoted (JSON) otherwise."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, Sequence) and not isinstance(value, str):
        raise TypeError(f"no sequences in the demo configuration: {value!r}")
    text = str(value)
    if _PLAIN.match(text) and text.lower() not in _YAML_WORDS and not _looks_numeric(text):
        return text
    return json.dumps(text)


def _looks_numeric(text: str) -> bool:
    try:
        float(text.replace("_", ""))
    except ValueError:
        return False
    return True
