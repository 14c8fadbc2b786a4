"""docs/plugins.md documents every hook, hook argument and plugin-facing type, and its example runs.

Like datasette's test of docs/plugin_hooks.rst: the hooks come from ``kpiwatch.hookspecs``, so a
new hook or argument fails this test until it is documented.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pluggy
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

import kpiwatch
from kpiwatch import errors, hookspecs, vocabulary
from kpiwatch.account_plan import AccountPlan
from kpiwatch.config import AccountConfig, Config
from kpiwatch.platform import CollectContext, CollectResult, Platform, Post, Sample
from kpiwatch.plugins import DISABLE_ENV, ENTRY_POINT_GROUP, LOAD_ENV, PluginRegistry
from kpiwatch.polling import poll_account

DOC = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"
#: Names of kpiwatch.__all__ that are not for plugin authors.
NOT_FOR_PLUGIN_AUTHORS = {"__version__", "hookspec"}
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")
BULLET = re.compile(r"^\s*[-*]\s+`{1,2}(\w+)`{1,2}\s*:")


# reading the document ----------------------------------------------------------------------


@dataclass
class Section:
    level: int
    title: str  # without backticks
    body: list[str]  # every line up to the next heading of the same or a higher level

    @property
    def text(self) -> str:
        return "\n".join(self.body)

    def bullets(self) -> list[str]:
        """Names of the ``- `name`: ...`` bullets outside code blocks."""
        return [m.group(1) for line in prose(self.body) if (m := BULLET.match(line))]


def prose(lines: list[str]) -> list[str]:
    """``lines`` without fenced code blocks."""
    kept, fenced = [], False
    for line in lines:
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            kept.append(line)
    return kept


def sections(text: str) -> list[Section]:
    lines = text.splitlines()
    found: list[tuple[int, int, str]] = []  # line index, level, title
    fenced = False
    for index, line in enumerate(lines):
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced and (m := HEADING.match(line)):
            found.append((index, len(m.group(1)), m.group(2).replace("`", "")))
    result = []
    for n, (index, level, title) in enumerate(found):
        end = next((i for i, lvl, _ in found[n + 1 :] if lvl <= level), len(lines))
        result.append(Section(level, title, lines[index + 1 : end]))
    return result


def section_named(all_sections: list[Section], name: str) -> Section | None:
    """The first section whose title has ``name`` as a word."""
    for section in all_sections:
        if name in re.findall(r"\w+", section.title):
            return section
    return None


def code_blocks(lines: list[str], language: str) -> list[str]:
    blocks, current, fenced = [], [], None
    for line in lines:
        if m := FENCE.match(line):
            if fenced is None:
                fenced = line.strip()[len(m.group(1)) :].strip()
                current = []
            else:
                if fenced == language:
                    blocks.append("\n".join(current) + "\n")
                fenced = None
        elif fenced is not None:
            current.append(line)
    return blocks


# what the document must say ----------------------------------------------------------------


def hook_arguments() -> dict[str, list[str]]:
    """Every hook of kpiwatch.hookspecs with its argument names, in order."""
    marker = f"{ENTRY_POINT_GROUP}_spec"  # the attribute pluggy's HookspecMarker sets
    return {
        name: list(inspect.signature(function).parameters)
        for name, function in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(function, marker)
    }


def hook_problems(text: str, hooks: dict[str, list[str]]) -> list[str]:
    """Why ``text`` does not document ``hooks`` (hook name to argument names) completely."""
    problems = []
    all_sections = sections(text)
    by_title = {s.title: s for s in all_sections}
    for hook, arguments in hooks.items():
        section = by_title.get(hook)
        if section is None:
            problems.append(f"hook {hook} has no section titled exactly '{hook}'")
            continue
        signature = f"{hook}({', '.join(arguments)})"
        if signature not in section.text:
            problems.append(f"section {hook} does not show the signature {signature}")
        documented = section.bullets()
        for argument in arguments:
            if argument not in documented:
                problems.append(
                    f"hook {hook}: argument {argument!r} is not documented "
                    f"(a bullet '- `{argument}`: ...' in its section)"
                )
        for name in documented:
            if name not in arguments:
                problems.append(f"hook {hook}: documents argument {name!r}, which it does not take")
    for section in all_sections:
        if re.fullmatch(rf"{ENTRY_POINT_GROUP}_\w+", section.title) and section.title not in hooks:
            problems.append(f"section {section.title} documents a hook that does not exist")
    return problems


def field_problems(text: str, cls: type) -> list[str]:
    section = section_named(sections(text), cls.__name__)
    if section is None:
        return [f"no section about {cls.__name__}"]
    documented = section.bullets()
    return [
        f"{cls.__name__}.{f.name} is not documented (a bullet '- `{f.name}`: ...' "
        f"in the section {section.title!r})"
        for f in dataclasses.fields(cls)
        if f.name not in documented
    ]


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text(encoding="utf-8")


# the tests ---------------------------------------------------------------------------------


def test_hookspecs_are_found() -> None:
    hooks = hook_arguments()
    pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
    pm.add_hookspecs(hookspecs)
    registered = {name for name, caller in vars(pm.hook).items() if caller.has_spec()}
    assert hooks, "no hookspec found in kpiwatch.hookspecs"
    assert set(hooks) == registered
    for name, arguments in hooks.items():
        assert arguments == list(getattr(pm.hook, name).spec.argnames)


def test_every_hook_and_argument_is_documented(doc: str) -> None:
    assert hook_problems(doc, hook_arguments()) == []


@pytest.mark.parametrize("cls", [Platform, CollectContext, CollectResult, Sample, Post])
def test_every_field_is_documented(doc: str, cls: type) -> None:
    assert field_problems(doc, cls) == []


@pytest.mark.parametrize("name", sorted(set(kpiwatch.__all__) - NOT_FOR_PLUGIN_AUTHORS))
def test_public_name_is_mentioned(doc: str, name: str) -> None:
    assert re.search(rf"`[^`\n]*\b{re.escape(name)}\b[^`\n]*`", doc), (
        f"kpiwatch.{name} is not mentioned in docs/plugins.md"
    )


def error_classes() -> list[type[errors.CollectError]]:
    return [
        cls
        for _, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, errors.CollectError)
    ]


@pytest.mark.parametrize("cls", error_classes(), ids=lambda cls: cls.__name__)
def test_every_error_and_its_reason_is_documented(doc: str, cls: type) -> None:
    rows = [line for line in prose(doc.splitlines()) if line.startswith("|")]
    assert any(f"`{cls.__name__}`" in row and f"`{cls.reason}`" in row for row in rows), (
        f"no table row names {cls.__name__} with its reason `{cls.reason}`"
    )


@pytest.mark.parametrize("reason", sorted(errors.SCHEDULER_REASONS))
def test_scheduler_reasons_are_documented(doc: str, reason: str) -> None:
    rows = [line for line in prose(doc.splitlines()) if line.startswith("|")]
    assert any(row.startswith(f"| `{reason}` |") for row in rows), f"reason {reason} missing"


def test_loading_controls_are_documented(doc: str) -> None:
    for name in (ENTRY_POINT_GROUP, DISABLE_ENV, LOAD_ENV, "--plugins-dir", "retry_after"):
        assert re.search(rf"`[^`\n]*{re.escape(name)}[^`\n]*`", doc), f"{name} is not mentioned"


def test_post_section_lists_the_vocabulary(doc: str) -> None:
    section = section_named(sections(doc), "Post")
    assert section is not None
    for name in (*vocabulary.CONTENT_TYPES, *sorted(vocabulary.POST_METRICS)):
        assert f"`{name}`" in section.text, f"{name} is not listed in the Post section"


# the checker itself fails on incomplete documents ------------------------------------------

SMALL_DOC = """
# Plugins

```python
# kpiwatch_in_a_comment
```

## Plugin hooks

### kpiwatch_alpha

```python
def kpiwatch_alpha(register, app): ...
```

- `register`: what to call.
- `app`: the daemon.

### kpiwatch_beta

`kpiwatch_beta(app)`

- ``app``: the daemon.
"""
SMALL_HOOKS = {"kpiwatch_alpha": ["register", "app"], "kpiwatch_beta": ["app"]}


def test_checker_accepts_a_complete_document() -> None:
    assert hook_problems(SMALL_DOC, SMALL_HOOKS) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d.replace("- `app`: the daemon.\n", ""), "argument 'app'"),
        (lambda d: d.replace("### kpiwatch_beta", "### Beta"), "hook kpiwatch_beta has no"),
        (lambda d: d.replace("(register, app)", "(register)"), "signature"),
        (lambda d: d + "\n### kpiwatch_gamma\n", "kpiwatch_gamma documents a hook"),
        (lambda d: d + "- `loop`: gone.\n", "argument 'loop', which it does not take"),
    ],
)
def test_checker_reports_what_is_missing(change: Callable[[str], str], expected: str) -> None:
    problems = hook_problems(change(SMALL_DOC), SMALL_HOOKS)
    assert len(problems) == 1
    assert expected in problems[0]


def test_checker_reports_a_new_argument() -> None:
    hooks = {**SMALL_HOOKS, "kpiwatch_beta": ["app", "loop"]}
    problems = hook_problems(SMALL_DOC, hooks)
    assert any("argument 'loop' is not documented" in p for p in problems)


def test_field_checker_reports_an_undocumented_field() -> None:
    text = "## `Post`\n\n- `id`: x\n- `published_at`: x\n- `content_type`: x\n- `url`: x\n"
    assert field_problems(text, Post) == [
        "Post.metrics is not documented (a bullet '- `metrics`: ...' in the section 'Post')"
    ]


# the complete example of the guide runs ----------------------------------------------------

TOKEN = "tok-4c1e9b7f"


def acme_api() -> web.Application:
    """A fake Acme Social API with the answers the example handles."""

    async def account(request: web.Request) -> web.StreamResponse:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.json_response({"error": "invalid token"}, status=401)
        name = request.match_info["name"]
        if name == "gone":
            return web.json_response({"error": "not found"}, status=404)
        if name == "busy":
            return web.json_response({"error": "slow down"}, status=429,
                                     headers={"Retry-After": "120"})  # fmt: skip
        if name == "down":
            return web.Response(status=503, text="maintenance")
        if name == "html":
            return web.Response(text="<html>login</html>", content_type="text/html")
        if name == "renamed":
            return web.json_response({"followers": 10})
        body = {"followers_count": 1500, "following_count": 12}
        if name != "small":  # no insights for small accounts
            body["impressions_1d"] = 9000
        return web.json_response(body)

    async def posts(request: web.Request) -> web.StreamResponse:
        assert request.query["limit"] == "20"
        post = {"id": 7, "created_at": "2026-01-05T10:00:00Z", "media_type": "video",
                "like_count": 30, "reply_count": 4, "url": "https://acme.example/p/7"}  # fmt: skip
        return web.json_response({"data": [post]})

    app = web.Application()
    app.router.add_get("/v1/accounts/{name}", account)
    app.router.add_get("/v1/accounts/{name}/posts", posts)
    return app


@pytest.fixture
def example_platform(doc: str, tmp_path: Path) -> Platform:
    """The guide's example module, loaded the way ``--plugins-dir`` loads a plugin."""
    section = section_named(sections(doc), "example")
    assert section is not None, "no 'A complete example' section"
    module = code_blocks(section.body, "python")[0]
    (tmp_path / "acme_kpiwatch.py").write_text(module)
    registry = PluginRegistry()
    registry.load_directory(tmp_path)
    registry.finish()
    assert registry.errors == []
    assert registry.plugins["acme_kpiwatch"].hooks == ["kpiwatch_register_platforms"]
    return registry.platforms["acme_social"]


async def poll(platform: Platform, base_url: str, account: str, token: str = TOKEN):
    settings = platform.settings.model_validate(
        {"api_url": base_url, "account": account, "token": token}
    )
    account = AccountConfig(id=f"acme-{account}", platform=platform.name, timeout="10s")
    plan = AccountPlan.build(account, settings, platform, Config())
    async with aiohttp.ClientSession() as session:
        return await poll_account(plan, session=session, state={})


async def test_the_example_plugin_polls_a_fake_api(example_platform: Platform) -> None:
    async with TestServer(acme_api(), host="127.0.0.1") as server:
        base = str(server.make_url("/"))
        outcome = await poll(example_platform, base, "acme")
        small = await poll(example_platform, base, "small")

    assert outcome.ok, outcome.message
    assert outcome.dropped == 0
    assert {(s.metric, s.window): s.value for s in outcome.samples} == {
        ("followers", None): 1500,
        ("following", None): 12,
        ("impressions", "1d"): 9000,
    }
    assert outcome.posts == [
        Post(
            id="7",
            published_at=datetime(2026, 1, 5, 10, tzinfo=UTC),
            content_type="video",
            metrics={"likes": 30, "comments": 4},
            url="https://acme.example/p/7",
        )
    ]
    assert small.ok
    assert "impressions" not in {s.metric for s in small.samples}  # missing is not zero


@pytest.mark.parametrize(
    ("account", "token", "reason"),
    [
        ("acme", "tok-revoked", "auth"),
        ("gone", TOKEN, "not_found"),
        ("busy", TOKEN, "rate_limited"),
        ("down", TOKEN, "unavailable"),
        ("html", TOKEN, "bad_response"),
        ("renamed", TOKEN, "bad_response"),
    ],
)
async def test_the_example_plugin_raises_kpiwatch_errors(
    example_platform: Platform, account: str, token: str, reason: str
) -> None:
    async with TestServer(acme_api(), host="127.0.0.1") as server:
        outcome = await poll(example_platform, str(server.make_url("/")), account, token)

    assert not outcome.ok
    assert outcome.reason == reason, outcome.message
    assert outcome.retry_after == (120 if reason == "rate_limited" else None)
    assert token not in (outcome.message or "")
