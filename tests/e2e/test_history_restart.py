"""After `kill -9`, a restarted daemon serves what was committed before, without polling."""

from __future__ import annotations

import json
import re
import signal
import textwrap
import time
from pathlib import Path

import pytest
from processes import wait_for

pytestmark = pytest.mark.e2e


def config(path: Path, startup_spread: str) -> Path:
    path.write_text(
        textwrap.dedent(f"""
        state_dir: ./state
        history: {{flush_interval: 0.2s}}
        kpis: {{interval: 0.3s}}
        defaults: {{interval: 1h, timeout: 5s, startup_spread: {startup_spread}}}
        accounts:
          - {{id: acme-photo, platform: demo_photo, labels: {{brand: acme}}}}
          - {{id: acme-web, platform: demo_web, labels: {{brand: acme}}}}
    """)
    )
    return path


def series(body: str, name: str, account: str) -> dict[str, str]:
    """Label text -> value of the series ``name`` of ``account``."""
    found = {}
    for line in body.splitlines():
        if line.startswith(name + "{") and f'account="{account}"' in line:
            labels, value = line.rsplit(" ", 1)
            found[labels] = value
    return found


def kpi_table(daemon) -> list[dict]:
    status, _, body = daemon.get("/api/v1/kpis?window=7d&by=account")
    assert status == 200
    return json.loads(body)["kpis"]


def test_history_survives_sigkill(tmp_path, start_kpiwatch):
    # One poll per account right after start (interval 1h), committed within 0.2 s.
    first = start_kpiwatch(config(tmp_path / "first.yaml", "0.1s"))
    first.wait_ready()
    before = wait_for(
        lambda: (
            "kpiwatch_followers{" in (b := first.get("/metrics")[2].decode())
            and "kpiwatch_sessions{" in b
            and b
        ),
        10,
        "followers and sessions in /metrics",
    )
    wait_for(lambda: (tmp_path / "state" / "kpiwatch.db").exists(), 5, "the history file")
    time.sleep(2.0)  # several flush intervals, and KPI cycles after the samples settled
    kpis_before = kpi_table(first)
    assert {"engagement_rate", "bounce_rate", "referral_traffic"} <= {r["kpi"] for r in kpis_before}
    first.proc.send_signal(signal.SIGKILL)
    assert first.proc.wait(10) == -signal.SIGKILL

    # Restarted with a start-up spread of an hour: no poll happens during the test, so every
    # raw series it serves comes from the store.
    second = start_kpiwatch(config(tmp_path / "second.yaml", "1h"))
    after = wait_for(
        lambda: "kpiwatch_followers{" in (b := second.get("/metrics")[2].decode()) and b,
        15,
        "restored followers in /metrics",
    )
    status = second.status()
    assert {a["id"]: a["polls"] for a in status["accounts"]} == {"acme-photo": 0, "acme-web": 0}
    for name, account in [
        ("kpiwatch_followers", "acme-photo"),
        ("kpiwatch_impressions", "acme-photo"),
        ("kpiwatch_sessions", "acme-web"),
    ]:
        old, new = series(before, name, account), series(after, name, account)
        assert old and new == old, (name, account)
    assert re.search(r'kpiwatch_sessions\{.*source="', after)
    # The KPIs come back from the stored history alone, the same as before the kill.
    kpis_after = wait_for(lambda: kpi_table(second) or None, 15, "KPIs after the restart")
    assert kpis_after == kpis_before
    status, _, body = second.get("/api/v1/kpis?window=5d")
    assert status == 400 and "use one of 1d, 7d, 28d, 90d" in json.loads(body)["error"]
    log = second.log()
    assert "history restored" in log and "Traceback" not in log
    assert second.stop() == 0
