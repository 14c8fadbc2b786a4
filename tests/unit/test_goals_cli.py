"""`kpiwatch goals` as a user runs it, and the offline evaluation and table behind it.

The command runs in a subprocess, which a time-travel library in this process cannot move, so
its history and goal dates are laid out around today's real UTC midnight. The in-process tests
of :func:`evaluate_goals` travel to fixed dates instead.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import time_machine

from kpiwatch.config import Config
from kpiwatch.config_loader import load_config_text
from kpiwatch.goals.offline import evaluate_goals
from kpiwatch.goals.report import format_goal_value, goals_table, progress_bar
from kpiwatch.plugins import load_plugins
from kpiwatch.store import Store, StoredSample

DAY = 86400
PLATFORMS = load_plugins(environ={}).platforms
ACCOUNT = (
    "accounts:\n"
    "  - {id: acme-photo, platform: demo_photo, labels: {brand: acme}, objective: engagement}\n"
)


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


def write_history(db: Path, last_day: date, days: int = 61) -> None:
    """One sample a day at 00:00 UTC up to ``last_day``: followers 5,000 on the first day and
    10 more each day after; 300 engagements and 10,000 reach over 28d (a 3 % engagement rate).
    """
    last = datetime(last_day.year, last_day.month, last_day.day, tzinfo=UTC).timestamp()

    async def write() -> None:
        async with await Store.open(db) as store:
            rows = []
            for d in range(days):
                ts = last - (days - 1 - d) * DAY
                rows += [
                    StoredSample(
                        "acme-photo", "demo_photo", "followers", None, {}, ts, 5000 + 10 * d
                    ),
                    StoredSample("acme-photo", "demo_photo", "engagements", "28d", {}, ts, 300.0),
                    StoredSample("acme-photo", "demo_photo", "reach", "28d", {}, ts, 10000.0),
                ]
            await store.write(rows)

    asyncio.run(write())


# The command, on history that ends today ----------------------------------------------------
# Followers are 5,300 thirty days ago (the measured baseline of the goals starting then) and
# 5,600 today; the goals below run from 30 days ago to 30 days ahead, so half is elapsed.


def goals_yaml(today: date) -> str:
    def day(offset: int) -> str:
        return (today + timedelta(days=offset)).isoformat()

    now_period = f"start: {day(-30)}, deadline: {day(30)}"
    return (
        "goals:\n"
        # progress 300 / 600 = 50 %, as elapsed: on track
        f"  - {{name: pace, kpi: followers, target: 5900, {now_period}, owner: growth team}}\n"
        # progress 300 / 900 = 33 %, 17 points behind the path (bands 10 and 25): behind
        f"  - {{name: slipping, kpi: followers, target: 6200, {now_period}}}\n"
        # progress 300 / 2,700 = 11 %, 39 points behind and the trend reaches ~5,900: at risk;
        # it needs 45 followers a day where the history never gained more than 10
        f"  - {{name: stretch, kpi: followers, target: 8000, {now_period}}}\n"
        # 5,600 already beats 5,500; reviewed 100 days ago, every 90 days: review due
        f"  - {{name: done, kpi: followers, target: 5500, {now_period}, reviewed: {day(-100)}}}\n"
        # 3 % every day against a floor of 2 %: no day in breach, on track
        "  - {name: er-floor, kpi: engagement_rate, criterion: stay_above, target: 0.02, "
        f"{now_period}, owner: social team}}\n"
        # starts in 10 days
        "  - {name: later, kpi: engagement_rate, target: 0.04, baseline: 0.03, "
        f"start: {day(10)}, deadline: {day(40)}}}\n"
        # ended 10 days ago at 5,500 of 9,000
        f"  - {{name: lapsed, kpi: followers, target: 9000, start: {day(-50)}, "
        f"deadline: {day(-10)}}}\n"
    )


def goals_config(tmp_path: Path) -> tuple[Path, date]:
    today = datetime.fromtimestamp(time.time(), UTC).date()
    write_history(tmp_path / "state" / "kpiwatch.db", today)
    path = tmp_path / "kpiwatch.yaml"
    path.write_text(f"state_dir: {tmp_path / 'state'}\n{ACCOUNT}{goals_yaml(today)}")
    return path, today


EXPECTED_STATUS = {
    "pace": "on_track",
    "slipping": "behind",
    "stretch": "at_risk",
    "done": "achieved",
    "er-floor": "on_track",
    "later": "not_started",
    "lapsed": "missed",
}


HEADER = (
    "GOAL",
    "KPI",
    "STATUS",
    "PROGRESS",
    "CURRENT / TARGET",
    "EXPECTED",
    "PROJECTED",
    "DEADLINE",
    "OWNER",
)


def table_rows(stdout: str) -> dict[str, dict[str, str]]:
    """The table's cells by goal name and column (the lines before the blank line)."""
    header, *lines = stdout.split("\n\n")[0].splitlines()
    starts = [header.index(name) for name in HEADER]
    assert starts == sorted(starts), header
    bounds = list(zip(starts, [*starts[1:], None], strict=True))
    rows = [
        {name: line[a:b].strip() for name, (a, b) in zip(HEADER, bounds, strict=True)}
        for line in lines
    ]
    return {row["GOAL"]: row for row in rows}


def test_goals_table_shows_every_goal_with_status_bar_and_flags(tmp_path: Path):
    config, today = goals_config(tmp_path)
    result = kpiwatch("goals", "-c", str(config))
    assert result.returncode == 0, result.stderr
    assert "\x1b[" not in result.stdout  # stdout is a pipe: no colour codes
    rows = table_rows(result.stdout)
    assert list(rows) == list(EXPECTED_STATUS)
    for name, status in EXPECTED_STATUS.items():
        assert rows[name]["STATUS"] == status, rows[name]
        assert len(rows[name]["PROGRESS"].split()[0].replace("│", "")) == 20  # a bar of 20 cells
    pace = rows["pace"]
    # 10 of 20 cells filled, the path's mark after the 10th (elapsed 50-52 %)
    assert pace["PROGRESS"] == "██████████│░░░░░░░░░░ 50%"
    assert pace["KPI"] == "followers (28d)" and pace["CURRENT / TARGET"] == "5,600 / 5,900"
    period = f"{today - timedelta(days=30)}..{today + timedelta(days=30)}"
    assert pace["DEADLINE"] == f"{period} due {today + timedelta(days=30)}"
    assert pace["OWNER"] == "growth team" and rows["slipping"]["OWNER"] == "-"
    floor = rows["er-floor"]
    # 30 completed days since the start, none under 2 %
    assert floor["CURRENT / TARGET"] == "3.0% / ≥ 2.0%"
    assert floor["PROGRESS"] == "█" * 20 + "  0/30 days in breach"  # no path for a level
    assert rows["stretch"]["PROGRESS"].endswith(" 11%")
    assert rows["stretch"]["PROJECTED"].endswith("✗") and rows["done"]["PROJECTED"].endswith("✓")
    flags = result.stdout.split("\n\n")[1].splitlines()
    assert any(f.startswith("stretch: not achievable: needs 45/day") for f in flags), flags
    assert "pace: possible vanity metric: followers measures reach" in "\n".join(flags)
    assert f"done: due for review since {today - timedelta(days=10)}" in flags
    assert not any(f.startswith("er-floor:") for f in flags)  # aligned, not due, no problem


def test_goals_json_and_status_filter(tmp_path: Path):
    config, today = goals_config(tmp_path)
    result = kpiwatch("goals", "-c", str(config), "--json")
    assert result.returncode == 0, result.stderr
    goals = {g["name"]: g for g in json.loads(result.stdout)["goals"]}
    assert {name: g["status"] for name, g in goals.items()} == EXPECTED_STATUS
    pace = goals["pace"]
    assert (pace["baseline"], pace["current"], pace["target"]) == (5300, 5600, 5900)
    assert pace["progress_ratio"] == 0.5 and pace["owner"] == "growth team"
    assert pace["period"]["end"] == f"{today + timedelta(days=30)}T00:00:00Z"
    assert pace["relevance"]["status"] == "vanity"
    assert goals["stretch"]["achievability"]["flagged"] is True
    assert (goals["er-floor"]["breach_days"], goals["er-floor"]["judged_days"]) == (0, 30)
    assert goals["done"]["review_due"] is True and goals["pace"]["review_due"] is False

    at_risk = kpiwatch("goals", "-c", str(config), "--json", "--status", "at_risk")
    assert [g["name"] for g in json.loads(at_risk.stdout)["goals"]] == ["stretch"]
    behind = kpiwatch("goals", "-c", str(config), "--status", "behind")
    assert behind.returncode == 0, behind.stderr
    assert list(table_rows(behind.stdout)) == ["slipping"]


def test_goals_status_must_be_a_known_one(tmp_path: Path):
    config, _ = goals_config(tmp_path)
    result = kpiwatch("goals", "-c", str(config), "--status", "late")
    assert result.returncode == 2
    assert "invalid choice: 'late'" in result.stderr and "at_risk" in result.stderr


def test_goals_with_an_invalid_goal_exits_2_naming_the_line(tmp_path: Path):
    (tmp_path / "state").mkdir()
    path = tmp_path / "kpiwatch.yaml"
    path.write_text(
        f"state_dir: {tmp_path / 'state'}\n{ACCOUNT}goals:\n"
        "  - {name: g, kpi: folowers, target: 10, period: 2027-Q1}\n"
    )
    result = kpiwatch("goals", "-c", str(path))
    assert result.returncode == 2
    assert result.stderr.splitlines()[0] == "configuration invalid: 1 problem"
    assert "unknown KPI 'folowers'" in result.stderr and f"{path}:5:" in result.stderr


def test_goals_without_history_says_to_run_the_daemon_first(tmp_path: Path):
    path = tmp_path / "kpiwatch.yaml"
    path.write_text(f"state_dir: {tmp_path / 'state'}\n{ACCOUNT}{goals_yaml(date(2027, 1, 1))}")
    result = kpiwatch("goals", "-c", str(path))
    assert result.returncode == 2
    assert "no history database yet; run the daemon with this configuration first" in (
        result.stderr
    )


def test_goals_without_goals_says_so(tmp_path: Path):
    write_history(tmp_path / "state" / "kpiwatch.db", date(2027, 1, 1), days=3)
    path = tmp_path / "kpiwatch.yaml"
    path.write_text(f"state_dir: {tmp_path / 'state'}\n{ACCOUNT}")
    result = kpiwatch("goals", "-c", str(path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"no goals configured in {path}")


# evaluate_goals in this process, travelling in time ------------------------------------------
def quarter_config(tmp_path: Path) -> Config:
    """6,000 followers by the end of 2027-Q1; history from 2026-12-01 (5,000) to 2027-04-10."""
    write_history(tmp_path / "kpiwatch.db", date(2027, 4, 10), days=131)
    text = (
        f"state_dir: {tmp_path}\n{ACCOUNT}goals:\n"
        "  - {name: q1, kpi: followers, target: 6000, period: 2027-Q1}\n"
    )
    return load_config_text(text, "goals.yaml", PLATFORMS).config


def moment(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_evaluate_goals_reads_the_history_at_the_current_time(tmp_path: Path):
    config = quarter_config(tmp_path)
    # 2027-01-01 is day 31 of the history (followers 5,310): the measured baseline.
    # 2027-02-15: 5,760 of 6,000, 450 / 690 = 65 % of the way at 50 % of the quarter.
    with time_machine.travel(moment(2027, 2, 15, 0), tick=False):
        (mid,) = asyncio.run(evaluate_goals(config))
    assert mid.now == moment(2027, 2, 15).timestamp()
    assert (mid.baseline, mid.current, mid.status) == (5310, 5760, "on_track")
    # 2027-03-10: 5,990, still short of 6,000 but ahead of the path
    with time_machine.travel(moment(2027, 3, 10, 12), tick=False):
        (late,) = asyncio.run(evaluate_goals(config))
    assert (late.current, late.status) == (5990, "on_track")
    # After the quarter (6,210 on 2027-04-01): achieved
    (after,) = asyncio.run(evaluate_goals(config, now=moment(2027, 4, 5).timestamp()))
    assert after.status == "achieved" and after.current == 6210


def test_evaluate_goals_before_the_history_starts(tmp_path: Path):
    config = quarter_config(tmp_path)
    (early,) = asyncio.run(evaluate_goals(config, now=moment(2026, 11, 1).timestamp()))
    assert early.status == "not_started" and early.current is None


# The table's parts --------------------------------------------------------------------------
def test_progress_bar_clamps_and_marks_the_path():
    assert progress_bar(0.25, 0.5, cells=8) == "██░░│░░░░"
    assert progress_bar(1.7, 1.0, cells=4) == "████│"
    assert progress_bar(-0.3, 0.0, cells=4) == "│░░░░"
    assert progress_bar(None, None, cells=3) == "░░░ "


def test_values_print_in_their_unit():
    assert format_goal_value(0.0506, "ratio") == "5.1%"
    assert format_goal_value(10119.6, "count") == "10,120"
    assert format_goal_value(1234.5, "currency") == "1,234.50"
    assert format_goal_value(None, "count") == "-"


def test_table_colours_the_status_only_when_asked(tmp_path: Path):
    config = quarter_config(tmp_path)
    results = asyncio.run(evaluate_goals(config, now=moment(2027, 2, 15).timestamp()))
    assert "\x1b[" not in goals_table(results)
    coloured = goals_table(results, colour=True)
    assert "\x1b[32mon_track" in coloured
