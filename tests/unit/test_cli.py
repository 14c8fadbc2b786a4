"""The `kpiwatch` command as a user runs it: exit codes, output, and no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

GOOD = """
defaults: {timeout: 5s}
accounts:
  - {id: acme-photo, platform: demo_photo, labels: {brand: acme}, settings: {seed: 3}}
  - {id: acme-web, platform: demo_web, labels: {brand: acme}}
  - {id: flaky, platform: demo_micro, settings: {fail_rate: 1}}
  - {id: paused, platform: demo_micro, enabled: false}
"""


def kpiwatch(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "kpiwatch", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    return result


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "kpiwatch.yaml"
    path.write_text(GOOD)
    return path


def test_version():
    result = kpiwatch("version")
    assert result.returncode == 0
    assert result.stdout.startswith("kpiwatch ")


def test_plugins_lists_the_demo_platforms_and_hooks():
    result = kpiwatch("plugins", "--json")
    assert result.returncode == 0
    demo = {p["name"]: p for p in json.loads(result.stdout)["plugins"]}["demo"]
    assert demo["distribution"] == "kpiwatch" and demo["version"]
    assert "demo_photo" in demo["platforms"]
    assert demo["hooks"] == ["kpiwatch_register_platforms"]
    table = kpiwatch("plugins").stdout
    assert table.splitlines()[0].split() == [
        "PLUGIN",
        "VERSION",
        "DISTRIBUTION",
        "PLATFORMS",
        "HOOKS",
    ]
    assert "demo_photo" in table


def test_check_config_valid(config: Path):
    result = kpiwatch("check-config", "-c", str(config))
    assert result.returncode == 0
    assert "valid; 3 enabled account(s) of 4" in result.stdout


def test_check_config_reports_every_problem_with_line_and_fix(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("defaults:\n  intervall: 5m\naccounts:\n  - {id: a, platform: demo_fotos}\n")
    result = kpiwatch("check-config", "-c", str(bad))
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert lines[0] == "configuration invalid: 2 problems"
    assert f"{bad}:2: defaults.intervall: unknown key 'intervall'; did you mean 'interval'?" in (
        result.stderr
    )
    assert f"{bad}:4: accounts[0].platform: unknown platform 'demo_fotos'" in result.stderr


def test_check_config_missing_file(tmp_path: Path):
    result = kpiwatch("check-config", "-c", str(tmp_path / "nope.yaml"))
    assert result.returncode == 2
    assert "does not exist" in result.stderr


def test_collect_json_reports_each_account(config: Path):
    result = kpiwatch("collect", "-c", str(config), "--json")
    assert result.returncode == 1  # one account failed
    accounts = {a["account"]: a for a in json.loads(result.stdout)["accounts"]}
    assert set(accounts) == {"acme-photo", "acme-web", "flaky"}  # disabled ones are left out
    photo = accounts["acme-photo"]
    assert photo["ok"] and photo["error"] is None and photo["platform"] == "demo_photo"
    followers = [s for s in photo["samples"] if s["metric"] == "followers"]
    assert len(followers) == 1 and followers[0]["value"] > 0 and followers[0]["window"] is None
    assert photo["posts"] and {"id", "published_at", "content_type"} <= set(photo["posts"][0])
    web = {
        (s["metric"], s["window"], s["dims"].get("source")) for s in accounts["acme-web"]["samples"]
    }
    assert any(m == "sessions" and w == "1d" and src for m, w, src in web)
    assert accounts["flaky"]["ok"] is False
    assert accounts["flaky"]["error"]["reason"] == "unavailable"


def test_collect_one_account_as_a_table(config: Path):
    result = kpiwatch("collect", "-c", str(config), "--account", "acme-photo")
    assert result.returncode == 0
    assert result.stdout.startswith("acme-photo (demo_photo): ")
    assert any(line.split()[:2] == ["followers", "-"] for line in result.stdout.splitlines())


def test_collect_unknown_account_names_the_configured_ones(config: Path):
    result = kpiwatch("collect", "-c", str(config), "--account", "nobody")
    assert result.returncode == 2
    assert "unknown account(s): nobody" in result.stderr and "acme-photo" in result.stderr


def test_collect_into_a_closed_pipe_is_quiet(config: Path):
    shell = f"{sys.executable} -m kpiwatch collect -c {config} --account acme-photo | head -1"
    result = subprocess.run(
        ["bash", "-o", "pipefail", "-c", shell], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and result.stdout.startswith("acme-photo")
    assert result.stderr == ""


def test_run_with_a_bad_listen_override(config: Path):
    result = kpiwatch("run", "-c", str(config), "--listen", "nowhere")
    assert result.returncode == 2
    assert "--listen" in result.stderr and "host:port" in result.stderr


def test_run_with_an_invalid_file_exits_2_before_starting(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("shard: {index: 3, count: 2}\n")
    result = kpiwatch("run", "-c", str(bad))
    assert result.returncode == 2
    assert "shard" in result.stderr


def test_run_with_a_history_file_that_is_not_sqlite(tmp_path: Path):
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "kpiwatch.db").write_text("not a database\n" * 100)
    path = tmp_path / "k.yaml"
    path.write_text(f"state_dir: '{tmp_path / 'state'}'\naccounts: []\n")
    result = kpiwatch("run", "-c", str(path), "--listen", "127.0.0.1:0", cwd=tmp_path)
    assert result.returncode == 1
    assert "kpiwatch.db" in result.stdout + result.stderr


# kpis ---------------------------------------------------------------------------------------
def stored_history(tmp_path: Path) -> Path:
    """A configuration whose history holds two 7d windows of one account, written by hand."""
    import asyncio
    import time

    from kpiwatch.store import Store, StoredSample

    now = time.time()
    week = 7 * 86400

    async def write() -> None:
        async with await Store.open(tmp_path / "state" / "kpiwatch.db") as store:
            rows = [
                ("engagements", now, 90.0),  # current 7d window: 90 / 1000 = 9 %
                ("reach", now, 1000.0),
                ("engagements", now - week, 60.0),  # previous window: 60 / 1200 = 5 %
                ("reach", now - week, 1200.0),
            ]
            await store.write(
                StoredSample("acme-photo", "demo_photo", m, "7d", {}, ts, v) for m, ts, v in rows
            )

    asyncio.run(write())
    path = tmp_path / "kpiwatch.yaml"
    path.write_text(
        f"state_dir: {tmp_path / 'state'}\n"
        "accounts:\n  - {id: acme-photo, platform: demo_photo, labels: {brand: acme}}\n"
    )
    return path


def test_kpis_json_from_the_stored_history(tmp_path: Path):
    config = stored_history(tmp_path)
    result = kpiwatch("kpis", "-c", str(config), "--window", "7d", "--by", "brand", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["window"] == "7d" and report["by"] == ["brand"]
    rate = next(r for r in report["kpis"] if r["kpi"] == "engagement_rate")
    assert rate["labels"] == {"brand": "acme", "basis": "reach"}
    assert rate["value"] == pytest.approx(0.09) and rate["previous"] == pytest.approx(0.05)
    assert rate["change"] == pytest.approx(0.04) and rate["change_ratio"] == pytest.approx(0.8)


def test_kpis_table_shows_percentage_points(tmp_path: Path):
    result = kpiwatch("kpis", "-c", str(stored_history(tmp_path)), "--window", "7d")
    assert result.returncode == 0, result.stderr
    line = next(x for x in result.stdout.splitlines() if "engagement_rate" in x)
    assert "9.00%" in line and "5.00%" in line and "+4.00 pp (+80.0%)" in line


def test_kpis_unknown_window_names_the_configured_ones(tmp_path: Path):
    result = kpiwatch("kpis", "-c", str(stored_history(tmp_path)), "--window", "5d")
    assert result.returncode == 2
    assert "window '5d' is not computed; use one of 1d, 7d, 28d, 90d" in result.stderr


def test_kpis_without_history_says_to_run_the_daemon_first(tmp_path: Path, config: Path):
    result = kpiwatch("kpis", "-c", str(config), cwd=tmp_path)
    assert result.returncode == 2
    assert "no history database yet; run the daemon with this configuration first" in (
        result.stderr
    )


# alerts and rules ---------------------------------------------------------------------------
EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "kpiwatch.example.yaml"


def test_alerts_lists_stored_alerts_by_state(tmp_path: Path):
    import asyncio

    from kpiwatch.alerting.model import AlertRecord, fingerprint
    from kpiwatch.alerting.store import AlertStore

    labels = {"alertname": "EngagementLow", "account": "acme-photo", "severity": "warning"}
    firing = AlertRecord(
        fingerprint(labels),
        "EngagementLow",
        labels,
        {"summary": "ER is 1.2%"},
        "firing",
        active_at=1_800_000_000,
        last_true_at=1_800_000_600,
        fired_at=1_800_000_000,
        value=0.012,
    )
    pending_labels = {**labels, "account": "acme-web"}
    pending = AlertRecord(
        fingerprint(pending_labels),
        "EngagementLow",
        pending_labels,
        {},
        "pending",
        active_at=1_800_000_500,
        last_true_at=1_800_000_600,
    )

    async def store() -> None:
        async with await AlertStore.open(tmp_path / "state" / "alerts.db") as alerts:
            await alerts.commit([firing, pending])

    asyncio.run(store())
    config = tmp_path / "kpiwatch.yaml"
    config.write_text(f"state_dir: {tmp_path / 'state'}\n{GOOD}")
    result = kpiwatch("alerts", "-c", str(config), "--json")
    assert result.returncode == 0, result.stderr
    alerts = json.loads(result.stdout)["alerts"]
    assert [(a["state"], a["labels"]["account"]) for a in alerts] == [
        ("firing", "acme-photo"),
        ("pending", "acme-web"),
    ]
    assert alerts[0]["startsAt"] == "2027-01-15T08:00:00.000Z" and alerts[0]["value"] == 0.012
    table = kpiwatch("alerts", "-c", str(config), "--state", "firing")
    assert table.returncode == 0, table.stderr
    rows = table.stdout.splitlines()
    assert rows[0].split()[:4] == ["STATE", "RULE", "SINCE", "VALUE"]
    assert len(rows) == 2 and "ER is 1.2%" in rows[1] and "acme-photo" in rows[1]


def test_alerts_without_a_store_says_so(tmp_path: Path, config: Path):
    result = kpiwatch("alerts", "-c", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "no alerts"


def test_rules_export_writes_files_promtool_accepts(tmp_path: Path):
    import shutil

    result = kpiwatch("rules", "export", "-c", str(EXAMPLE), "-o", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "not exported: ReachAnomaly" in result.stderr  # anomaly: no PromQL equivalent
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (make test installs it)")
    check = subprocess.run(
        [promtool, "check", "rules", "kpiwatch-rules.yml"], cwd=tmp_path, capture_output=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    test = subprocess.run(
        [promtool, "test", "rules", "kpiwatch-rules.test.yml"], cwd=tmp_path, capture_output=True
    )
    assert test.returncode == 0, test.stdout + test.stderr
