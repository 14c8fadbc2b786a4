"""A third-party plugin package, installed offline, found through its entry point and polled.

The package in ``external_plugin/`` is built with pip into a temporary target directory; each
check runs in a subprocess whose PYTHONPATH holds that directory, so ``importlib.metadata``
finds the installed dist-info and its ``entry_points.txt`` exactly as after ``pip install``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PACKAGE_DIR = Path(__file__).parent / "external_plugin"
DISTRIBUTION = "kpiwatch-static-example"
PLATFORM = "static_example"
GOOD_KEY = "sk_live_4f9a2c81d7"
BAD_KEY = "pk_test_93be10aa"


@pytest.fixture(scope="module")
def site_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory the example package is installed into (offline, no dependencies)."""
    root = tmp_path_factory.mktemp("external_plugin")
    source = root / "src"  # a copy: building writes build/ and *.egg-info next to the sources
    shutil.copytree(
        PACKAGE_DIR, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__")
    )
    site = root / "site"
    command = [
        sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation",
        "--no-index", "--no-cache-dir", "--disable-pip-version-check", "--quiet",
        "--target", str(site), str(source),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, (
        f"pip could not install {PACKAGE_DIR} (setuptools>=77 from the [test] extra builds it "
        f"without network):\n{done.stdout}\n{done.stderr}"
    )
    assert list(site.glob("kpiwatch_static_example-1.2.0.dist-info/entry_points.txt"))
    return site


def run(
    site: Path, args: list[str], cwd: Path, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python <args>`` with the installed package on the path and no plugin filter."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KPIWATCH_")}
    env["PYTHONPATH"] = str(site)
    env.update(extra_env or {})
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
        check=False,
    )


LOAD_AND_POLL = textwrap.dedent(
    """
    import asyncio, json, sys
    from datetime import UTC, datetime

    import aiohttp
    import structlog

    import kpiwatch
    from kpiwatch.plugins import load_plugins

    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    registry = load_plugins()
    report = {
        "errors": registry.errors,
        "owners": registry.platform_owner,
        "plugins": {
            name: {"source": i.source, "distribution": i.distribution, "version": i.version,
                   "hooks": i.hooks, "platforms": i.platforms, "error": i.error}
            for name, i in registry.plugins.items()
        },
    }
    platform = registry.platforms.get("static_example")
    if platform is not None:
        settings = platform.settings.model_validate({
            "api_key": "sk_live_4f9a2c81d7", "followers": 1200, "likes_per_day": 85,
            "posts": [{"id": "p1", "published_at": "2026-01-05T10:00:00Z",
                       "content_type": "image", "likes": 40}],
        })

        async def poll():
            state = {}
            async with aiohttp.ClientSession() as http:
                for _ in range(2):
                    ctx = kpiwatch.CollectContext(
                        account_id="shop", platform=platform.name, settings=settings,
                        labels={}, competitor=False, http=http, state=state,
                        log=structlog.get_logger(), now=datetime.now(UTC))
                    result = await platform.collect(ctx)
            return result, state

        result, state = asyncio.run(poll())
        report["state"] = state
        report["max_concurrency"] = platform.max_concurrency
        report["samples"] = [[s.metric, s.value, s.window] for s in result.samples]
        report["posts"] = [[p.id, p.published_at.isoformat(), p.content_type, dict(p.metrics)]
                           for p in result.posts]
    print(json.dumps(report))
    """
)


def load_report(site: Path, cwd: Path, extra_env: dict[str, str] | None = None) -> dict:
    done = run(site, ["-c", LOAD_AND_POLL], cwd, extra_env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_entry_point_plugin_is_loaded_and_polls(site_dir: Path, tmp_path: Path) -> None:
    report = load_report(site_dir, tmp_path)

    assert report["errors"] == []
    assert report["owners"][PLATFORM] == PLATFORM  # the entry point's name is the plugin's
    info = report["plugins"][PLATFORM]
    assert info == {
        "source": "entry point",
        "distribution": DISTRIBUTION,
        "version": "1.2.0",
        "hooks": ["kpiwatch_register_platforms"],
        "platforms": [PLATFORM],
        "error": None,
    }
    assert "demo" in report["plugins"]  # built-ins load through the same group
    assert report["max_concurrency"] == 4
    assert report["samples"] == [["followers", 1200, None], ["likes", 85, "1d"]]
    assert report["posts"] == [["p1", "2026-01-05T10:00:00+00:00", "image", {"likes": 40}]]
    assert report["state"] == {"polls": 2}  # the same dict came back on the second poll


@pytest.mark.parametrize(
    "environ",
    [
        {"KPIWATCH_DISABLE_PLUGINS": PLATFORM},
        {"KPIWATCH_DISABLE_PLUGINS": DISTRIBUTION},
        {"KPIWATCH_DISABLE_PLUGINS": "Kpiwatch_Static_Example"},  # compared as pip does
        {"KPIWATCH_LOAD_PLUGINS": "demo"},
    ],
)
def test_environment_blocks_the_external_plugin(
    site_dir: Path, tmp_path: Path, environ: dict[str, str]
) -> None:
    report = load_report(site_dir, tmp_path, environ)

    assert PLATFORM not in report["plugins"]
    assert PLATFORM not in report["owners"]
    assert report["errors"] == []


def test_environment_selects_only_the_external_plugin(site_dir: Path, tmp_path: Path) -> None:
    report = load_report(site_dir, tmp_path, {"KPIWATCH_LOAD_PLUGINS": DISTRIBUTION})

    # the built-in notifier types load whatever the environment says
    assert list(report["plugins"]) == ["kpiwatch.notifiers", PLATFORM]
    assert report["samples"][0] == ["followers", 1200, None]


# through the command line -------------------------------------------------------------------

CONFIG = """
state_dir: {state_dir}
accounts:
  - id: shop-static
    platform: static_example
    labels: {{brand: acme}}
    settings:
      api_key: "${{STATIC_EXAMPLE_KEY}}"
      followers: 1200
      likes_per_day: 85
      posts:
        - id: p1
          published_at: "2026-01-05T10:00:00Z"
          content_type: image
          likes: 40
          url: https://static.example/p/1
  - id: shop-revoked
    platform: static_example
    settings:
      api_key: "${{STATIC_EXAMPLE_BAD_KEY}}"
      followers: 5
"""

KEYS = {"STATIC_EXAMPLE_KEY": GOOD_KEY, "STATIC_EXAMPLE_BAD_KEY": BAD_KEY}


def write_config(tmp_path: Path) -> Path:
    path = tmp_path / "kpiwatch.yaml"
    path.write_text(CONFIG.format(state_dir=tmp_path / "state"))
    return path


def json_output(done: subprocess.CompletedProcess[str]) -> dict:
    """The JSON the command printed; on anything else, a failure showing its stderr."""
    try:
        return json.loads(done.stdout)
    except ValueError:
        pytest.fail(f"exit {done.returncode}, no JSON on stdout:\n{done.stdout}\n{done.stderr}")


def assert_no_secret(done: subprocess.CompletedProcess[str]) -> None:
    for key in KEYS.values():
        assert key not in done.stdout
        assert key not in done.stderr


def test_cli_collect_polls_with_the_external_plugin(site_dir: Path, tmp_path: Path) -> None:
    config = write_config(tmp_path)
    command = ["-m", "kpiwatch", "collect", "-c", str(config), "--json"]

    done = run(site_dir, command, tmp_path, KEYS)
    assert done.returncode != 0, "one account failed, so collect must not exit 0"
    assert_no_secret(done)
    accounts = {a["account"]: a for a in json_output(done)["accounts"]}
    assert set(accounts) == {"shop-static", "shop-revoked"}

    good = accounts["shop-static"]
    assert good["platform"] == PLATFORM
    assert good["ok"] is True
    assert good["error"] is None
    assert good["duration_seconds"] >= 0
    samples = {(s["metric"], s["window"]): s for s in good["samples"]}
    assert set(samples) == {("followers", None), ("likes", "1d")}
    assert samples["followers", None]["value"] == 1200
    assert samples["likes", "1d"]["value"] == 85
    assert all(s["dims"] == {} and s["timestamp"] is None for s in good["samples"])
    [post] = good["posts"]
    assert post["id"] == "p1"
    assert post["published_at"] in ("2026-01-05T10:00:00Z", "2026-01-05T10:00:00+00:00")
    assert post["content_type"] == "image"
    assert post["metrics"] == {"likes": 40}
    assert post["url"] == "https://static.example/p/1"

    revoked = accounts["shop-revoked"]
    assert revoked["ok"] is False
    assert revoked["error"]["reason"] == "auth"
    assert "sk_" in revoked["error"]["message"]
    assert revoked["samples"] == []

    done = run(site_dir, [*command, "--account", "shop-static"], tmp_path, KEYS)
    assert done.returncode == 0, done.stderr
    assert_no_secret(done)
    [only] = json_output(done)["accounts"]
    assert only["account"] == "shop-static"
    assert only["ok"] is True


def test_cli_plugins_lists_the_external_plugin(site_dir: Path, tmp_path: Path) -> None:
    done = run(site_dir, ["-m", "kpiwatch", "plugins", "--json"], tmp_path)
    assert done.returncode == 0, done.stderr
    plugins = {p["name"]: p for p in json_output(done)["plugins"]}
    assert plugins[PLATFORM]["distribution"] == DISTRIBUTION
    assert plugins[PLATFORM]["version"] == "1.2.0"
    assert plugins[PLATFORM]["platforms"] == [PLATFORM]

    done = run(site_dir, ["-m", "kpiwatch", "plugins"], tmp_path)
    assert done.returncode == 0, done.stderr
    [row] = [line for line in done.stdout.splitlines() if line.startswith(f"{PLATFORM} ")]
    assert row.split()[:4] == [PLATFORM, "1.2.0", DISTRIBUTION, PLATFORM]


def test_cli_collect_without_the_plugin_names_the_unknown_platform(
    site_dir: Path, tmp_path: Path
) -> None:
    config = write_config(tmp_path)
    done = run(
        site_dir,
        ["-m", "kpiwatch", "collect", "-c", str(config), "--json"],
        tmp_path,
        {**KEYS, "KPIWATCH_DISABLE_PLUGINS": DISTRIBUTION},
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr, done.stderr
    assert PLATFORM in done.stderr
    assert_no_secret(done)
