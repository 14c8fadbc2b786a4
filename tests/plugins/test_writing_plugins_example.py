"""The tutorial's plugin package, examples/kpiwatch-hello, built and used from outside kpiwatch.

docs/writing-plugins.md shows the package's files; the first tests check that every code block
is the file it names, so the tutorial cannot drift from the code. The package is then installed
offline into a temporary directory (as test_external_plugin.py installs its package) and used
through subprocesses whose PYTHONPATH holds that directory, as after ``pip install``: its own
tests pass with kpiwatch's test kit, ``kpiwatch plugins`` and ``check-config`` print what the
tutorial says, and ``kpiwatch run`` polls the accounts of the example's hello.yaml against a
fake Hello API and exports the plugin's metrics on /metrics.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from kpiwatch.testing import FakeApi, Reply

ROOT = Path(__file__).resolve().parents[2]
TUTORIAL = ROOT / "docs" / "writing-plugins.md"
EXAMPLE = ROOT / "examples" / "kpiwatch-hello"
#: What building, testing or running the example may leave in its folder.
BUILD_LEFTOVERS = (
    "build", "*.egg-info", "__pycache__", ".pytest_cache", ".ruff_cache", ".venv", "state",
)  # fmt: skip
TOKEN = "hello_tok_e2e_51c0a9"

# docs/writing-plugins.md -------------------------------------------------------------------

FENCE = re.compile(r"^```(\S*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
FILE_MARKER = re.compile(r"# file: (\S+)\n")
OUTPUT_BLOCK = re.compile(r"^<!-- output: (\S+) -->\n```text\n(.*?)^```$", re.MULTILINE | re.DOTALL)
#: Languages of blocks that are not files of the example: commands and what they print.
UNMARKED_LANGUAGES = {"sh", "text"}


def shown_files(markdown: str) -> dict[str, list[str]]:
    """The example's files the tutorial shows: path -> the parts shown, in order."""
    shown: dict[str, list[str]] = {}
    for language, body in FENCE.findall(markdown):
        marker = FILE_MARKER.match(body)
        if marker is None:
            assert language in UNMARKED_LANGUAGES, (
                f"a ```{language} block of {TUTORIAL.name} does not start with '# file: PATH' "
                f"naming the file of examples/kpiwatch-hello it shows:\n{body[:300]}"
            )
            continue
        shown.setdefault(marker.group(1), []).append(body[marker.end() :])
    return shown


def assert_parts_make_up(path: str, parts: list[str], text: str) -> None:
    """The parts, in order, are the whole file; only blank lines between parts may differ."""
    lines = text.splitlines()
    at = 0
    for number, part in enumerate(parts, 1):
        while at < len(lines) and not lines[at].strip():
            at += 1
        part_lines = part.rstrip("\n").splitlines()
        assert lines[at : at + len(part_lines)] == part_lines, (
            f"part {number} of {path} in {TUTORIAL.name} is not the file's text from line "
            f"{at + 1}: copy the file into the tutorial again"
        )
        at += len(part_lines)
    rest = [line for line in lines[at:] if line.strip()]
    assert not rest, f"{TUTORIAL.name} does not show the end of {path}: {rest[:3]}"


def example_files() -> list[str]:
    """The example's code and configuration files, relative to its folder."""
    found = []
    for path in sorted(EXAMPLE.rglob("*")):
        relative = path.relative_to(EXAMPLE)
        if any(fnmatch(part, p) for part in relative.parts for p in BUILD_LEFTOVERS):
            continue
        if path.is_file() and path.suffix in (".py", ".toml", ".yaml"):
            found.append(relative.as_posix())
    return found


def outputs() -> dict[str, list[str]]:
    """The command outputs the tutorial shows, by name (``<!-- output: NAME -->``)."""
    return {
        name: body.rstrip("\n").splitlines()
        for name, body in OUTPUT_BLOCK.findall(TUTORIAL.read_text())
    }


def test_the_tutorial_shows_every_file_of_the_example_as_it_is() -> None:
    shown = shown_files(TUTORIAL.read_text())

    assert sorted(shown) == example_files()
    for path, parts in shown.items():
        assert_parts_make_up(path, parts, (EXAMPLE / path).read_text())


def test_a_changed_or_unmarked_block_is_caught() -> None:
    text = (EXAMPLE / "src/kpiwatch_hello/settings.py").read_text()
    changed = text.replace("le=100", "le=200")
    with pytest.raises(AssertionError, match=r"part 1 of settings\.py"):
        assert_parts_make_up("settings.py", [changed], text)
    with pytest.raises(AssertionError, match="does not show the end"):
        assert_parts_make_up("settings.py", [text[: len(text) // 2].rsplit("\n", 1)[0]], text)
    with pytest.raises(AssertionError, match="does not start with '# file: PATH'"):
        shown_files("```python\nimport kpiwatch\n```\n")


# the package, installed ---------------------------------------------------------------------


@dataclass(frozen=True)
class Installed:
    """The example's sources (a copy) and the directory the package was installed into."""

    source: Path
    site: Path


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """examples/kpiwatch-hello installed offline, without dependencies (kpiwatch is here)."""
    root = tmp_path_factory.mktemp("kpiwatch_hello")
    source = root / "kpiwatch-hello"  # a copy: building writes build/ and *.egg-info
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns(*BUILD_LEFTOVERS))
    site = root / "site"
    command = [
        sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation",
        "--no-index", "--no-cache-dir", "--disable-pip-version-check", "--quiet",
        "--target", str(site), str(source),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, (
        f"pip could not install {EXAMPLE} (setuptools>=77 from the [test] extra builds it "
        f"without network):\n{done.stdout}\n{done.stderr}"
    )
    assert (site / "kpiwatch_hello-0.1.0.dist-info" / "entry_points.txt").is_file()
    return Installed(source, site)


def environment(example: Installed, **extra: str) -> dict[str, str]:
    """The environment of a subprocess: the package on the path, no plugin filter, no options
    of the pytest running this test."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("KPIWATCH_", "PYTEST_", "HELLO_"))
    }
    env["PYTHONPATH"] = str(example.site)
    env.update(extra)
    return env


def run(
    example: Installed, args: list[str], cwd: Path, **extra: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        env=environment(example, **extra),
        cwd=cwd,
        timeout=120,
        check=False,
    )


def test_the_example_passes_its_own_tests_with_the_kit(example: Installed) -> None:
    done = run(example, ["-m", "pytest", "-q", "-p", "no:cacheprovider"], example.source)

    report = f"{done.stdout}\n{done.stderr}"
    assert done.returncode == 0, report
    summary = done.stdout.strip().splitlines()[-1]
    # every test ran and passed: none skipped, deselected or expected to fail
    assert re.fullmatch(r"\d+ passed(, \d+ warnings?)? in [\d.]+s( \([\d:]+\))?", summary), report


def test_kpiwatch_plugins_lists_hello_from_its_distribution(example: Installed) -> None:
    done = run(example, ["-m", "kpiwatch", "plugins", "--json"], example.source)
    assert done.returncode == 0, done.stderr
    plugins = {p["name"]: p for p in json.loads(done.stdout)["plugins"]}
    hello = plugins["hello"]
    assert (hello["source"], hello["distribution"], hello["version"]) == (
        "entry point",
        "kpiwatch-hello",
        "0.1.0",
    )
    assert hello["platforms"] == ["hello"]
    assert hello["hooks"] == ["kpiwatch_register_platforms"]
    assert hello["error"] is None

    done = run(example, ["-m", "kpiwatch", "plugins"], example.source)
    assert done.returncode == 0, done.stderr
    [row] = [line for line in done.stdout.splitlines() if line.startswith("hello ")]
    [shown] = [line for line in outputs()["plugins"] if line.startswith("hello ")]
    assert row.split() == shown.split()


def test_check_config_accepts_the_example_configuration(example: Installed) -> None:
    command = ["-m", "kpiwatch", "check-config", "-c", "hello.yaml"]

    done = run(example, command, example.source, HELLO_TOKEN=TOKEN)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == outputs()["check-config"]

    missing = run(example, command, example.source)  # HELLO_TOKEN not set
    assert missing.returncode == 2
    assert "Traceback" not in missing.stderr
    assert "accounts[0].settings.token: the environment variable HELLO_TOKEN" in missing.stderr


# the daemon ---------------------------------------------------------------------------------

ACME_RATE = {"RateLimit-Limit": "300", "RateLimit-Remaining": "297", "RateLimit-Reset": "42"}
RIVAL_RATE = {"RateLimit-Limit": "300", "RateLimit-Remaining": "250", "RateLimit-Reset": "42"}


def serve_hello(api: FakeApi) -> None:
    """Hello's answers for the two accounts of hello.yaml: @acme (own) and @rival."""
    post = {"created_at": "2026-03-02T09:30:00Z", "kind": "video", "replies": 2, "reposts": 1}
    for handle, user_id, followers, rate in (
        ("acme", "u_42", 1200, ACME_RATE),
        ("rival", "u_77", 3100, RIVAL_RATE),
    ):
        user = {"id": user_id, "followers": followers, "following": 15, "post_count": 90}
        posts = {"posts": [{**post, "id": f"{user_id}_p1", "likes": followers // 100}]}
        api.add("GET", f"/v1/users/by-handle/{handle}", Reply(json={"id": user_id}, headers=rate))
        api.add("GET", f"/v1/users/{user_id}", Reply(json=user, headers=rate))
        api.add("GET", f"/v1/users/{user_id}/posts", Reply(json=posts, headers=rate))
    views = {"metric": "views", "period": "7d", "value": 5400}
    api.add("GET", "/v1/users/u_42/insights/views", Reply(json=views, headers=ACME_RATE))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def scrape_until(
    url: str, wanted: list[str], daemon: asyncio.subprocess.Process, log: Path, timeout: float = 20
) -> str:
    """The /metrics body once it has every line of ``wanted``."""
    deadline = time.monotonic() + timeout
    missing = wanted
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            if daemon.returncode is not None:
                pytest.fail(f"kpiwatch exited {daemon.returncode}:\n{log.read_text()}")
            try:
                async with http.get(url) as response:
                    body = await response.text()
            except aiohttp.ClientError:
                body = ""
            lines = set(body.splitlines())
            missing = [line for line in wanted if line not in lines]
            if not missing:
                return body
            await asyncio.sleep(0.2)
    pytest.fail(f"not on /metrics after {timeout}s: {missing}\n{log.read_text()}")


def series(body: str) -> dict[tuple[str, frozenset], float]:
    """(name, labels) -> value of every sample of an exposition."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
    }


async def test_the_daemon_polls_hello_and_exports_its_metrics(
    example: Installed, fake_api: FakeApi, tmp_path: Path
) -> None:
    serve_hello(fake_api)
    port = free_port()
    log = tmp_path / "kpiwatch.log"
    command = [
        "-m", "kpiwatch", "run", "-c", str(example.source / "hello.yaml"),
        "--listen", f"127.0.0.1:{port}",
    ]  # fmt: skip
    env = environment(example, HELLO_API_URL=fake_api.url, HELLO_TOKEN=TOKEN)
    with log.open("wb") as output:
        daemon = await asyncio.create_subprocess_exec(
            sys.executable, *command, env=env, cwd=tmp_path, stdout=output, stderr=output
        )
    try:
        # every account polled once, and the lines the tutorial shows, as it shows them
        wanted = ['kpiwatch_accounts_pending{platform="hello"} 0.0', *outputs()["metrics"]]
        body = await scrape_until(f"http://127.0.0.1:{port}/metrics", wanted, daemon, log)
    finally:
        if daemon.returncode is None:
            daemon.terminate()
        try:
            await asyncio.wait_for(daemon.wait(), 15)
        except TimeoutError:
            daemon.kill()
            await daemon.wait()

    values = series(body)
    acme = {"platform": "hello", "account": "acme-hello", "brand": "acme"}
    rival = {"platform": "hello", "account": "rival-hello", "brand": "rival", "competitor": "true"}

    def value(name: str, labels: dict[str, str]) -> float | None:
        return values.get((name, frozenset(labels.items())))

    assert value("kpiwatch_up", acme) == 1, log.read_text()
    assert value("kpiwatch_up", rival) == 1, log.read_text()
    assert value("kpiwatch_followers", acme) == 1200
    assert value("kpiwatch_followers", rival) == 3100
    assert value("kpiwatch_following", acme) == 15
    assert value("kpiwatch_posts", acme) == 90
    assert value("kpiwatch_impressions", {**acme, "window": "7d"}) == 5400
    assert not [k for k in values if k[0] == "kpiwatch_impressions" and ("brand", "rival") in k[1]]
    assert value("kpiwatch_rate_limit_remaining", acme) == 297
    assert value("kpiwatch_rate_limit_remaining", rival) == 250
    assert value("kpiwatch_rate_limit_limit", acme) == 300
    # the token came from the environment through ${HELLO_TOKEN}, and stayed out of the log
    assert {r.headers.get("Authorization") for r in fake_api.requests} == {f"Bearer {TOKEN}"}
    assert TOKEN not in log.read_text()
    assert fake_api.calls("/v1/users/u_77/insights/views") == []  # a competitor's views
