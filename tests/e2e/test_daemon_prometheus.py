"""kpiwatch as a real process, scraped by a real Prometheus; reload and stop by signal."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import textwrap
import time
from pathlib import Path

import pytest
from processes import http_post, wait_for

pytestmark = pytest.mark.e2e

SECRET = "kw-e2e-Secret-0xC0FFEE"

TROUBLE_PLUGIN = """
import asyncio

from pydantic import BaseModel, ConfigDict, SecretStr

import kpiwatch


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    api_key: SecretStr
    mode: str = "ok"


async def collect(ctx):
    key = ctx.settings.api_key.get_secret_value()
    url = f"https://api.example.invalid/v1/me?key={key}"
    if ctx.settings.mode == "raise":
        raise RuntimeError(f"request to {url} failed")
    if ctx.settings.mode == "hang":
        await asyncio.sleep(3600)
    if ctx.settings.mode == "garbage":
        return {"followers": "lots"}
    ctx.log.info("fetched", url=url)
    return [kpiwatch.Sample("followers", 42)]


@kpiwatch.hookimpl
def kpiwatch_register_platforms(register):
    register(kpiwatch.Platform(name="trouble", collect=collect, settings=Settings))
"""


def write_config(path: Path, *, extra_accounts: str = "", demo: bool = True) -> Path:
    demo_accounts = (
        textwrap.dedent("""
      - {id: acme-photo, platform: demo_photo, labels: {brand: acme}, settings: {seed: 1}}
      - {id: acme-web, platform: demo_web, labels: {brand: acme}}
      - {id: rival-photo, platform: demo_photo, competitor: true, labels: {brand: rival}}
    """)
        if demo
        else ""
    )
    path.write_text(
        textwrap.dedent("""
        state_dir: ./state
        defaults: {interval: 1s, timeout: 1s, jitter: 0.1, backoff_initial: 1s, backoff_max: 2s}
        shutdown_grace: 5s
        accounts:
        """)
        + textwrap.indent(demo_accounts + extra_accounts, "  ")
    )
    return path


TROUBLE_ACCOUNTS = textwrap.dedent("""
  - {id: t-ok, platform: trouble, settings: {api_key: "${TROUBLE_KEY}"}}
  - {id: t-raise, platform: trouble, settings: {api_key: "${TROUBLE_KEY}", mode: raise}}
  - {id: t-hang, platform: trouble, settings: {api_key: "${TROUBLE_KEY}", mode: hang}}
  - {id: t-garbage, platform: trouble, settings: {api_key: "${TROUBLE_KEY}", mode: garbage}}
""")


@pytest.fixture
def plugins_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "trouble.py").write_text(TROUBLE_PLUGIN)
    return folder


def test_prometheus_scrapes_demo_followers_reload_and_stop(
    tmp_path, start_kpiwatch, start_prometheus, plugins_dir
):
    config = write_config(tmp_path / "kpiwatch.yaml", extra_accounts=TROUBLE_ACCOUNTS)
    daemon = start_kpiwatch(config, ["--plugins-dir", str(plugins_dir)], {"TROUBLE_KEY": SECRET})
    daemon.wait_ready()

    # Prometheus scrapes it and answers PromQL with the demo followers series.
    prom = start_prometheus([f"127.0.0.1:{daemon.port}"])
    series = wait_for(
        lambda: prom.query('kpiwatch_followers{account="acme-photo"}'),
        30,
        "the demo followers series in Prometheus",
    )
    labels = series[0]["metric"]
    assert labels["platform"] == "demo_photo" and labels["brand"] == "acme"
    assert labels["job"] == "kpiwatch"
    assert float(series[0]["value"][1]) > 0
    rival = wait_for(lambda: prom.query('kpiwatch_followers{competitor="true"}'), 10, "rival")
    assert rival[0]["metric"]["account"] == "rival-photo"
    assert prom.query('up{job="kpiwatch"}')[0]["value"][1] == "1"

    # A raising, a hanging and a garbage-returning account fail alone; the others keep polling.
    def failures_seen():
        accounts = {a["id"]: a for a in daemon.status()["accounts"]}
        wanted = {"t-raise": "exception", "t-hang": "timeout", "t-garbage": "invalid_result"}
        return (
            all((accounts[i]["last_error"] or {}).get("reason") == r for i, r in wanted.items())
            and accounts
        )

    accounts = wait_for(failures_seen, 20, "each trouble account to fail with its reason")
    assert accounts["t-ok"]["state"] == "up" and accounts["acme-photo"]["state"] == "up"
    assert accounts["t-raise"]["state"] == "down"
    # The plugin put the key in its error; the status API shows the error without it.
    raise_error = accounts["t-raise"]["last_error"]["message"]
    assert "request to https://api.example.invalid" in raise_error and SECRET not in raise_error
    assert SECRET.encode() not in daemon.get("/api/v1/status")[2]
    down = wait_for(lambda: prom.query("kpiwatch_up == 0"), 15, "kpiwatch_up == 0 in Prometheus")
    assert {s["metric"]["account"] for s in down} == {"t-raise", "t-hang", "t-garbage"}
    reasons = wait_for(lambda: prom.query("kpiwatch_collect_failures_total > 0"), 15, "failures")
    assert {s["metric"]["reason"] for s in reasons} >= {"exception", "timeout", "invalid_result"}
    polls_before = accounts["acme-photo"]["polls"]
    wait_for(
        lambda: (
            daemon.status()["accounts"][0]["polls"] >= 0
            and {a["id"]: a for a in daemon.status()["accounts"]}["acme-photo"]["polls"]
            > polls_before + 1
        ),
        10,
        "the demo account to keep polling",
    )

    # promtool finds nothing to complain about in the real exposition.
    status, headers, body = daemon.get("/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert SECRET.encode() not in body
    lint = subprocess.run(
        [shutil.which("promtool") or "promtool", "check", "metrics"],
        input=body,
        capture_output=True,
        timeout=60,
    )
    assert lint.returncode == 0 and not lint.stdout.strip() and not lint.stderr.strip(), lint
    status, headers, body = daemon.get(
        "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
    )
    assert headers["Content-Type"].startswith("application/openmetrics-text")
    assert body.rstrip().endswith(b"# EOF")

    # SIGHUP with a broken file: rejected, counted, still serving the old configuration.
    good_text = config.read_text()
    config.write_text(good_text + "  - {id: broken, platform: no_such_platform}\nnot_a_key: 1\n")
    daemon.send(signal.SIGHUP)
    wait_for(
        lambda: b"kpiwatch_config_last_reload_successful 0.0" in daemon.get("/metrics")[2],
        10,
        "the failed reload to show in /metrics",
    )
    assert daemon.proc.poll() is None
    assert daemon.get("/readyz")[0] == 200
    assert "no_such_platform" in daemon.log()
    assert {a["id"] for a in daemon.status()["accounts"]} >= {"acme-photo", "t-ok"}
    assert prom.query('kpiwatch_followers{account="acme-photo"}')

    # POST /-/reload with a valid file: the new account starts, the others are left running.
    config.write_text(
        good_text + "  - {id: acme-video, platform: demo_video, labels: {brand: acme}}\n"
    )
    code, body = http_post(daemon.base + "/-/reload")
    answer = json.loads(body)
    assert code == 200 and answer["changes"]["started"] == ["acme-video"], answer
    assert answer["changes"]["restarted"] == [] and answer["changes"]["stopped"] == []
    wait_for(lambda: prom.query('kpiwatch_followers{account="acme-video"}'), 20, "new account")
    assert b"kpiwatch_config_last_reload_successful 1.0" in daemon.get("/metrics")[2]

    # SIGTERM ends it with exit code 0 within the grace time.
    t0 = time.monotonic()
    assert daemon.stop(timeout=10) == 0
    assert time.monotonic() - t0 < 6

    # The planted secret appears nowhere in the log, though the plugin logged and raised it.
    log = daemon.log()
    assert "fetched" in log and "request to https://api.example.invalid" in log
    assert SECRET not in log


def test_demo_configuration_without_file(tmp_path, start_kpiwatch):
    daemon = start_kpiwatch(None)
    daemon.wait_ready()
    # /metrics is re-rendered at most once a second after changes: the first polls show soon
    body = wait_for(
        lambda: "kpiwatch_followers{" in (b := daemon.get("/metrics")[2].decode()) and b,
        5,
        "demo followers in /metrics",
    )
    assert "kpiwatch_build_info{" in body
    landing = daemon.get("/")[2].decode()
    assert "/metrics" in landing and "/api/v1/status" in landing
    assert daemon.stop(sig=signal.SIGINT) == 0  # Ctrl-C stops it cleanly too
    log = daemon.log()
    assert "kpiwatch started" in log and "kpiwatch stopped" in log
    assert "Traceback" not in log


def test_invalid_configuration_at_start_exits_with_the_problems(tmp_path, start_kpiwatch):
    config = tmp_path / "bad.yaml"
    config.write_text("defaults: {intervall: 5m}\naccounts:\n  - {id: a, platform: demo_fotos}\n")
    daemon = start_kpiwatch(config)
    assert daemon.proc.wait(30) == 2
    log = daemon.log()
    assert "intervall" in log and "interval" in log and "demo_fotos" in log
    assert "Traceback" not in log


def test_listen_address_in_use_is_a_clear_error(tmp_path):
    import socket
    import sys

    config = write_config(tmp_path / "k.yaml")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "kpiwatch",
                "run",
                "-c",
                str(config),
                "--listen",
                f"127.0.0.1:{port}",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
        )
    assert proc.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
