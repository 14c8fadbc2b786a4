"""Loading configuration files: YAML with lines, interpolation, validation and clear problems."""

from __future__ import annotations

import textwrap
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

import kpiwatch
from kpiwatch.config_loader import (
    MAX_CONFIG_BYTES,
    ConfigError,
    ConfigProblem,
    LoadedConfig,
    load_config,
    load_config_text,
)
from kpiwatch.durations import DURATION_HELP


# Tiny real platforms with their own settings models ------------------------------------------
class SocialSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    instance: str
    account: str
    token: SecretStr | None = None
    page_size: int = Field(40, ge=1, le=80)


class KeySettings(BaseModel):
    """A careless plugin whose validator repeats the value it rejects."""

    model_config = ConfigDict(extra="forbid")

    api_key: SecretStr

    @field_validator("api_key", mode="before")
    @classmethod
    def _looks_like_a_key(cls, value: object) -> object:
        if not str(value).startswith("sk-"):
            raise ValueError(f"{value} does not look like an API key; keys start with sk-")
        return value


class BrokenSettings(BaseModel):
    @field_validator("*", mode="before")
    @classmethod
    def _crash(cls, value: object) -> object:
        raise RuntimeError("plugin bug")

    anything: str = ""


async def _collect(ctx: kpiwatch.CollectContext) -> kpiwatch.CollectResult:
    return kpiwatch.CollectResult()


PLATFORMS = {
    platform.name: platform
    for platform in (
        kpiwatch.Platform(name="mastodon", collect=_collect, settings=SocialSettings),
        kpiwatch.Platform(name="bluesky", collect=_collect, settings=SocialSettings),
        kpiwatch.Platform(name="keyed", collect=_collect, settings=KeySettings),
        kpiwatch.Platform(name="broken", collect=_collect, settings=BrokenSettings),
        kpiwatch.Platform(name="plain", collect=_collect),
    )
}


def load(text: str, env: dict[str, str] | None = None) -> LoadedConfig:
    return load_config_text(textwrap.dedent(text), "config.yaml", PLATFORMS, environ=env or {})


def problems(text: str, env: dict[str, str] | None = None) -> list[ConfigProblem]:
    with pytest.raises(ConfigError) as info:
        load(text, env)
    assert info.value.problems, "a ConfigError must carry its problems"
    return info.value.problems


def only(text: str, env: dict[str, str] | None = None) -> ConfigProblem:
    found = problems(text, env)
    assert len(found) == 1, "\n".join(map(str, found))
    return found[0]


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """1-based line of the ``occurrence``-th line of ``text`` containing ``needle``."""
    lines = [i for i, line in enumerate(textwrap.dedent(text).splitlines(), 1) if needle in line]
    return lines[occurrence - 1]


FULL = """\
    server:
      listen: "0.0.0.0:${PORT:-9877}"
      enable_reload: false
      metrics_min_render_interval: 2s
    state_dir: /var/lib/kpiwatch
    log: {level: debug, format: json}
    defaults:
      interval: 1h30m
      timeout: 45s
      jitter: 0.25
      backoff_initial: 1m
      backoff_max: 2h
    platforms:
      mastodon: {max_concurrency: 3}
    http: {max_connections: 50, max_connections_per_host: 5, user_agent: "test/{version}"}
    shard: {index: 1, count: 3}
    shutdown_grace: 20s
    x-instance: &instance
      instance: "https://mastodon.example"
    accounts:
      - id: acme-mastodon
        platform: mastodon
        labels: {brand: acme, region: eu}
        interval: 5m
        timeout: 10s
        jitter: 0
        settings:
          <<: *instance
          account: acme
          token: "${MASTODON_TOKEN}"
          page_size: "${PAGE_SIZE}"
      - id: rival-mastodon
        platform: mastodon
        competitor: true
        enabled: false
        settings: {<<: *instance, account: rival}
      - id: acme-keyed
        platform: keyed
        settings: {api_key: "sk-${KEYED_KEY}"}
      - {id: acme-plain, platform: plain}
"""
FULL_ENV = {"MASTODON_TOKEN": "tok-123456789", "PAGE_SIZE": "20", "KEYED_KEY": "abcdef"}


# a valid file ---------------------------------------------------------------------------------
def test_full_configuration_is_loaded_with_every_value() -> None:
    loaded = load(FULL, FULL_ENV)
    config = loaded.config
    assert loaded.source == "config.yaml"
    assert config.server.listen == "0.0.0.0:9877"
    assert config.server.enable_reload is False
    assert config.server.metrics_min_render_interval == timedelta(seconds=2)
    assert config.state_dir == Path("/var/lib/kpiwatch")
    assert (config.log.level, config.log.format) == ("debug", "json")
    assert config.defaults.interval == timedelta(hours=1, minutes=30)
    assert config.defaults.backoff_max == timedelta(hours=2)
    assert config.defaults.jitter == 0.25
    assert config.platforms["mastodon"].max_concurrency == 3
    assert config.http.user_agent == "test/{version}"
    assert (config.shard.index, config.shard.count) == (1, 3)
    assert config.shutdown_grace == timedelta(seconds=20)
    assert [a.id for a in config.accounts] == [
        "acme-mastodon",
        "rival-mastodon",
        "acme-keyed",
        "acme-plain",
    ]
    first = config.accounts[0]
    assert first.labels == {"brand": "acme", "region": "eu"}
    assert (first.interval, first.timeout, first.jitter) == (
        timedelta(minutes=5),
        timedelta(seconds=10),
        0,
    )
    assert config.accounts[1].competitor and not config.accounts[1].enabled


def test_settings_are_validated_by_each_platform_model() -> None:
    loaded = load(FULL, FULL_ENV)
    acme = loaded.account_settings("acme-mastodon")
    assert isinstance(acme, SocialSettings)
    assert acme.instance == "https://mastodon.example"  # from the merged anchor
    assert acme.token is not None and acme.token.get_secret_value() == "tok-123456789"
    assert acme.page_size == 20  # interpolated text coerced to the field's int
    assert loaded.account_settings("rival-mastodon").token is None
    assert isinstance(loaded.account_settings("acme-keyed"), KeySettings)
    assert isinstance(loaded.account_settings("acme-plain"), kpiwatch.platform.NoSettings)
    with pytest.raises(KeyError, match="nobody"):
        loaded.account_settings("nobody")


def test_secrets_are_collected_and_not_kept_as_plain_text() -> None:
    loaded = load(FULL, FULL_ENV)
    assert loaded.secrets == frozenset({"tok-123456789", "sk-abcdef"})
    # The Config keeps validated settings: the token stays a SecretStr there too.
    token = loaded.config.accounts[0].settings["token"]
    assert isinstance(token, SecretStr)
    assert "tok-123456789" not in repr(loaded.config)
    assert "tok-123456789" not in loaded.config.model_dump_json()


def test_empty_secret_is_not_collected() -> None:
    loaded = load(
        """
        accounts:
          - id: a
            platform: mastodon
            settings: {instance: i, account: a, token: "${EMPTY}"}
        """,
        {"EMPTY": ""},
    )
    assert loaded.secrets == frozenset()


def test_mapping_of_only_braces_gives_every_default() -> None:
    loaded = load("{}")
    assert loaded.config.accounts == []
    assert loaded.config.server.listen == "127.0.0.1:9877"
    assert loaded.config.defaults.interval == timedelta(minutes=15)


def test_load_config_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "kpiwatch.yaml"
    path.write_text(textwrap.dedent(FULL), encoding="utf-8")
    loaded = load_config(path, PLATFORMS, environ=FULL_ENV)
    assert loaded.source == str(path)
    assert len(loaded.config.accounts) == 4


def test_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes("\ufeffshard: {count: 2}\n".encode())
    assert load_config(path, PLATFORMS, environ={}).config.shard.count == 2


def test_environment_defaults_to_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KPIWATCH_TEST_LISTEN", "127.0.0.1:1234")
    loaded = load_config_text('server: {listen: "${KPIWATCH_TEST_LISTEN}"}', "inline", PLATFORMS)
    assert loaded.config.server.port == 1234


# problem format -----------------------------------------------------------------------------
def test_problem_text_names_file_line_path_message_and_fix() -> None:
    problem = ConfigProblem("c.yaml", 12, "accounts[2].settings.token", "is bad", "fix it")
    assert str(problem) == "c.yaml:12: accounts[2].settings.token: is bad; fix it"
    assert str(ConfigProblem("c.yaml", None, "", "unreadable", None)) == "c.yaml: unreadable"
    error = ConfigError([problem, ConfigProblem("c.yaml", 3, "x", "y", None)])
    assert str(error).splitlines() == [str(problem), "c.yaml:3: x: y"]


def test_every_problem_of_a_file_is_reported_at_once_in_line_order() -> None:
    text = """
        defaults: {intervall: 5m}
        log: {level: loud}
        accounts:
          - {id: a, platform: mastodn}
          - {id: b, platform: mastodon, settings: {instance: i}}
    """
    found = problems(text)
    assert [p.path for p in found] == [
        "defaults.intervall",
        "log.level",
        "accounts[0].platform",
        "accounts[1].settings.account",
    ]
    assert [p.line for p in found] == sorted(p.line for p in found)
    assert all(p.source == "config.yaml" and p.fix for p in found)


# unknown keys -------------------------------------------------------------------------------
def test_unknown_top_level_key_suggests_the_close_one() -> None:
    text = """
        sever:
          listen: "127.0.0.1:9000"
    """
    problem = only(text)
    assert problem.path == "sever"
    assert problem.line == line_of(text, "sever")
    assert "unknown key 'sever'" in problem.message
    assert problem.fix == "did you mean 'server'?"


def test_unknown_nested_key_suggests_the_close_one() -> None:
    text = """
        defaults:
          timeout: 10s
          intervall: 5m
    """
    problem = only(text)
    assert problem.path == "defaults.intervall"
    assert problem.line == line_of(text, "intervall")
    assert problem.fix == "did you mean 'interval'?"


def test_unknown_key_without_close_match_lists_allowed_keys() -> None:
    problem = only("log: {colour: red}")
    assert problem.path == "log.colour"
    assert problem.fix is not None and "format, level" in problem.fix


def test_key_of_another_section_says_where_it_belongs() -> None:
    problem = only("interval: 5m")
    assert problem.fix is not None
    assert "defaults.interval" in problem.fix and "accounts[].interval" in problem.fix


def test_platform_setting_at_account_level_is_sent_under_settings() -> None:
    text = """
        accounts:
          - id: a
            platform: mastodon
            account: acme
            settings: {instance: i, account: acme}
    """
    problem = only(text)
    assert problem.path == "accounts[0].account"
    assert problem.line == line_of(text, "account: acme")
    assert problem.fix is not None and "under settings" in problem.fix


def test_unknown_settings_key_suggests_the_platform_key() -> None:
    text = """
        accounts:
          - id: a
            platform: mastodon
            settings:
              instance: i
              account: a
              tokn: x
    """
    problem = only(text)
    assert problem.path == "accounts[0].settings.tokn"
    assert problem.line == line_of(text, "tokn")
    assert problem.fix == "did you mean 'token'?"


# platforms ----------------------------------------------------------------------------------
def test_unknown_platform_suggests_and_lists_available_ones() -> None:
    text = """
        accounts:
          - id: a
            platform: mastodn
            settings: {whatever: 1}
    """
    problem = only(text)  # the settings of an unknown platform are not judged
    assert problem.path == "accounts[0].platform"
    assert problem.line == line_of(text, "mastodn")
    assert problem.message == "unknown platform 'mastodn'"
    assert problem.fix is not None
    assert "did you mean 'mastodon'?" in problem.fix
    assert "available: bluesky, broken, keyed, mastodon, plain" in problem.fix


def test_unknown_platform_in_platform_options() -> None:
    text = """
        platforms:
          mastodon: {max_concurrency: 2}
          blusky: {max_concurrency: 2}
    """
    problem = only(text)
    assert problem.path == "platforms.blusky"
    assert problem.line == line_of(text, "blusky")
    assert problem.fix is not None and "did you mean 'bluesky'?" in problem.fix


def test_no_platform_installed_says_so() -> None:
    with pytest.raises(ConfigError) as info:
        load_config_text("accounts: [{id: a, platform: x}]", "c.yaml", {}, environ={})
    (problem,) = info.value.problems
    assert problem.fix is not None and "no platform is installed" in problem.fix


def test_failing_plugin_validator_is_a_problem_not_a_traceback() -> None:
    problem = only("accounts: [{id: a, platform: broken, settings: {anything: x}}]")
    assert problem.path == "accounts[0].settings"
    assert "RuntimeError" in problem.message and "plugin bug" not in problem.message


def test_missing_settings_are_reported_at_the_account() -> None:
    text = """
        accounts:
          - id: a
            platform: mastodon
    """
    found = problems(text)
    assert {p.path for p in found} == {
        "accounts[0].settings.instance",
        "accounts[0].settings.account",
    }
    assert all(p.line == line_of(text, "id: a") for p in found)
    assert all(p.fix and "add 'instance: ...'" in p.fix for p in found if "instance" in p.path)


# interpolation ------------------------------------------------------------------------------
def test_missing_environment_variable_is_named_with_place_and_fix() -> None:
    text = """
        accounts:
          - id: a
            platform: mastodon
            settings: {instance: i, account: a, token: "${MASTODON_TOKEN}"}
    """
    problem = only(text)
    assert problem.path == "accounts[0].settings.token"
    assert problem.line == line_of(text, "MASTODON_TOKEN")
    assert "MASTODON_TOKEN is not set" in problem.message
    assert problem.fix == (
        "set MASTODON_TOKEN in the environment or write ${MASTODON_TOKEN:-default}"
    )


def test_every_missing_variable_is_reported() -> None:
    found = problems('server: {listen: "${HOST}:${PORT}"}\nstate_dir: "${STATE}"')
    assert sorted(p.message for p in found) == [
        "the environment variable HOST is not set",
        "the environment variable PORT is not set",
        "the environment variable STATE is not set",
    ]


@pytest.mark.parametrize(
    ("value", "env", "expected"),
    [
        ("${NAME:-fallback}", {}, "fallback"),
        ("${NAME:-fallback}", {"NAME": ""}, "fallback"),
        ("${NAME:-fallback}", {"NAME": "set"}, "set"),
        ("${NAME:-}", {}, ""),
        ("${NAME}", {"NAME": ""}, ""),
        ("$${NAME}", {"NAME": "x"}, "${NAME}"),
        ("pa$$word", {}, "pa$word"),
        ("cost $5", {}, "cost $5"),
        ("${A}-${B}", {"A": "1", "B": "2"}, "1-2"),
        ("https://${HOST}:${PORT:-443}/api", {"HOST": "h"}, "https://h:443/api"),
        ("${A:-x:-y}", {}, "x:-y"),
    ],
)
def test_interpolation(value: str, env: dict[str, str], expected: str) -> None:
    loaded = load(f"http: {{user_agent: '{value}'}}", env)
    assert loaded.config.http.user_agent == expected


def test_interpolated_values_are_coerced_by_the_field_type() -> None:
    env = {"INDEX": "2", "COUNT": "4", "RELOAD": "false", "EVERY": "90s", "JITTER": "0.5"}
    loaded = load(
        """
        shard: {index: "${INDEX}", count: "${COUNT}"}
        server: {enable_reload: "${RELOAD}"}
        defaults: {interval: "${EVERY}", jitter: "${JITTER}"}
        """,
        env,
    )
    config = loaded.config
    assert (config.shard.index, config.shard.count) == (2, 4)
    assert config.server.enable_reload is False
    assert config.defaults.interval == timedelta(seconds=90)
    assert config.defaults.jitter == 0.5


def test_keys_are_not_interpolated() -> None:
    # A key with ${...} stays literal: here an invalid label name, not the label "brand".
    problem = only("accounts: [{id: a, platform: plain, labels: {'${X}': v}}]", {"X": "brand"})
    assert "'${X}' is not a Prometheus label name" in problem.message


@pytest.mark.parametrize("reference", ["${}", "${1ABC}", "${NAME:?message}", "${NAME", "${A-b}"])
def test_malformed_reference_is_an_error(reference: str) -> None:
    problem = only(f"http: {{user_agent: 'x {reference} y'}}")
    assert problem.path == "http.user_agent"
    assert "malformed reference" in problem.message
    assert problem.fix is not None and "${NAME:-default}" in problem.fix


# values -------------------------------------------------------------------------------------
def test_bad_duration_gives_the_duration_help() -> None:
    text = """
        defaults:
          interval: 15 minutes
    """
    problem = only(text)
    assert problem.path == "defaults.interval"
    assert problem.line == line_of(text, "interval")
    assert "'15 minutes' is not a duration" in problem.message
    assert problem.fix == DURATION_HELP


def test_account_duration_must_be_positive() -> None:
    problem = only("accounts: [{id: a, platform: plain, interval: 0s}]")
    assert problem.path == "accounts[0].interval"
    assert "longer than 0s" in problem.message


@pytest.mark.parametrize(
    ("text", "path", "message", "fix"),
    [
        ("http: {max_connections: many}", "http.max_connections", "whole number", "such as 10"),
        ("server: {enable_reload: maybe}", "server.enable_reload", "true or false", "true or"),
        ("defaults: {jitter: lots}", "defaults.jitter", "expected a number", "such as 0.5"),
        ("accounts: {a: 1}", "accounts", "expected a list", "- item"),
        ("log: [info]", "log", "expected a mapping", "key: value"),
        ("server:", "server", "got nothing (null)", "remove the key"),
        (
            "accounts: [{id: a, platform: plain, labels: {tier: 1}}]",
            "accounts[0].labels.tier",
            "expected text",
            "put the value in quotes",
        ),
    ],
)
def test_wrong_types_get_plain_messages(text: str, path: str, message: str, fix: str) -> None:
    problem = only(text)
    assert problem.path == path
    assert message in problem.message
    assert problem.fix is not None and fix in problem.fix
    assert "input_value" not in str(problem) and "errors.pydantic.dev" not in str(problem)


def test_literal_choice_suggests_the_close_one() -> None:
    problem = only("log: {format: jsn}")
    assert problem.path == "log.format"
    assert "'auto', 'json' or 'console'" in problem.message
    assert problem.fix == "did you mean 'json'?"


def test_number_out_of_range() -> None:
    problem = only("accounts: [{id: a, platform: plain, jitter: 1.5}]")
    assert problem.path == "accounts[0].jitter"
    assert problem.message == "1.5 is out of range"
    assert problem.fix == "use at most 1.0"


def test_shard_index_must_be_below_count() -> None:
    text = """
        shard:
          index: 3
          count: 3
    """
    problem = only(text)
    assert problem.path == "shard"
    assert problem.line == line_of(text, "index")
    assert "shard.index 3 must be below shard.count 3" in problem.message
    assert problem.fix is not None and "0 to 2" in problem.fix


@pytest.mark.parametrize("label", ["platform", "account", "le"])
def test_reserved_label_names_are_rejected(label: str) -> None:
    problem = only(f"accounts: [{{id: a, platform: plain, labels: {{{label}: x}}}}]")
    assert problem.path == "accounts[0].labels"
    assert f"label name '{label}' is set by kpiwatch itself" in problem.message
    assert problem.fix is not None and "choose another name" in problem.fix


def test_invalid_label_name_is_rejected() -> None:
    problem = only("accounts: [{id: a, platform: plain, labels: {'bad-name': x}}]")
    assert "not a Prometheus label name" in problem.message


@pytest.mark.parametrize("listen", ["localhost", "127.0.0.1:http", ":9877", "host:70000"])
def test_bad_listen_address(listen: str) -> None:
    problem = only(f"server: {{listen: '{listen}'}}")
    assert problem.path == "server.listen"
    assert "is not host:port" in problem.message
    assert problem.fix is not None and "127.0.0.1:9877" in problem.fix


def test_invalid_account_id() -> None:
    problem = only("accounts: [{id: 'has space', platform: plain}]")
    assert problem.path == "accounts[0].id"
    assert "not a valid account id" in problem.message


def test_missing_required_account_keys() -> None:
    text = """
        accounts:
          - labels: {brand: acme}
    """
    found = problems(text)
    assert {p.path for p in found} == {"accounts[0].id", "accounts[0].platform"}
    assert all(p.line == line_of(text, "labels") for p in found)


def test_duplicate_account_ids_name_both_lines() -> None:
    text = """
        accounts:
          - id: acme
            platform: plain
          - id: other
            platform: plain
          - id: acme
            platform: plain
    """
    problem = only(text)
    assert problem.path == "accounts[2].id"
    assert problem.line == line_of(text, "id: acme", 2)
    assert f"first by accounts[0] on line {line_of(text, 'id: acme')}" in problem.message


# YAML ---------------------------------------------------------------------------------------
def test_duplicate_yaml_keys_name_both_lines() -> None:
    text = """
        defaults:
          interval: 5m
          timeout: 10s
          interval: 10m
    """
    problem = only(text)
    assert problem.path == "defaults.interval"
    assert problem.line == line_of(text, "interval", 2)
    assert f"first on line {line_of(text, 'interval')}" in problem.message


def test_yaml_syntax_error_has_its_line() -> None:
    text = """
        server:
          listen: "127.0.0.1:9877"
        accounts: [
          {id: a, platform: plain
        shard: {}
    """
    problem = only(text)
    assert problem.message.startswith("YAML syntax error")
    assert problem.line is not None
    assert line_of(text, "id: a") <= problem.line <= line_of(text, "shard")


def test_tab_indentation_says_to_use_spaces() -> None:
    problem = only("server:\n\tlisten: x\n")
    assert problem.line == 2
    assert problem.fix is not None and "spaces" in problem.fix


def test_two_documents_are_an_error() -> None:
    problem = only("log: {level: info}\n---\nlog: {level: debug}\n")
    assert problem.line == 2
    assert problem.fix is not None and "single document" in problem.fix


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"])
def test_empty_file_is_an_error(text: str) -> None:
    problem = only(text)
    assert problem.message == "the file is empty"
    assert problem.fix is not None and "{}" in problem.fix


@pytest.mark.parametrize(
    ("text", "kind"),
    [("- a\n- b\n", "a list"), ("just text\n", "text"), ("42\n", "a number"), ("~\n", "null")],
)
def test_top_level_must_be_a_mapping(text: str, kind: str) -> None:
    problem = only(text)
    assert problem.line == 1
    assert kind in problem.message and "not a mapping" in problem.message


def test_python_tags_are_refused() -> None:
    text = "shutdown_grace: !!python/object/apply:os.system ['echo owned']\n"
    found = problems(text)
    assert any("unknown YAML tag" in p.message for p in found)


def test_unknown_scalar_tag_is_refused() -> None:
    problem = only("shutdown_grace: !custom 10s\n")
    assert problem.path == "shutdown_grace"
    assert "cannot read this value" in problem.message


def test_control_character_is_reported_with_its_line() -> None:
    problem = only("log: {level: info}\nstate_dir: ab\x07c\n")
    assert problem.line == 2
    assert "U+0007" in problem.message


def test_unicode_values_are_fine() -> None:
    loaded = load("accounts: [{id: cafe, platform: plain, labels: {brand: 'Zürich ☕'}}]")
    assert loaded.config.accounts[0].labels["brand"] == "Zürich ☕"
    problem = only("accounts: [{id: café, platform: plain}]")  # ids are ASCII
    assert problem.path == "accounts[0].id"
    assert "'café' is not a valid account id" in problem.message


def test_deep_nesting_is_refused_without_crashing() -> None:
    problem = only("[" * 100_000 + "]" * 100_000)
    assert "nested more than" in problem.message


def test_alias_referring_to_itself_is_refused() -> None:
    problem = only("x-loop: &loop [*loop]\n")
    assert "nested more than" in problem.message


def test_alias_bomb_is_refused() -> None:
    lines = ["x-a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"x-a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    problem = only("\n".join(lines))
    assert "expands to more than" in problem.message


# files --------------------------------------------------------------------------------------
def _file_problem(path: Path) -> ConfigProblem:
    with pytest.raises(ConfigError) as info:
        load_config(path, PLATFORMS, environ={})
    (problem,) = info.value.problems
    assert problem.source == str(path)
    return problem


def test_missing_file(tmp_path: Path) -> None:
    problem = _file_problem(tmp_path / "nope.yaml")
    assert problem.message == "the file does not exist"
    assert problem.fix is not None and "-c" in problem.fix


def test_directory_instead_of_file(tmp_path: Path) -> None:
    assert "directory" in _file_problem(tmp_path).message


def test_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("log: {level: info}\nstate_dir: /tmp/caf\xe9\n".encode("latin-1"))
    problem = _file_problem(path)
    assert problem.line == 2
    assert "not UTF-8" in problem.message and problem.fix == "save the file as UTF-8"


def test_huge_file_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_bytes(b"# " + b"x" * MAX_CONFIG_BYTES + b"\n{}\n")
    assert "larger than" in _file_problem(path).message


# secrets never shown ------------------------------------------------------------------------
def test_secret_from_environment_is_not_shown_when_invalid() -> None:
    secret = "not-a-key-0123456789"
    with pytest.raises(ConfigError) as info:
        load(
            """
            accounts:
              - id: a
                platform: keyed
                settings: {api_key: "${KEYED_API_KEY}"}
            """,
            {"KEYED_API_KEY": secret},
        )
    text = str(info.value)
    assert "does not look like an API key" in text
    assert secret not in text and "<hidden>" in text


def test_secret_written_in_the_file_is_not_shown_when_invalid() -> None:
    with pytest.raises(ConfigError) as info:
        load("accounts: [{id: a, platform: keyed, settings: {api_key: hunter2}}]")
    text = str(info.value)
    assert "does not look like an API key" in text
    assert "hunter2" not in text


def test_secret_of_wrong_type_is_not_shown() -> None:
    problem = only(
        "accounts: [{id: a, platform: mastodon, settings: {instance: i, account: a,"
        " token: 987654321}}]"
    )
    assert problem.path == "accounts[0].settings.token"
    assert "987654321" not in str(problem)
    assert problem.fix == "put the value in quotes to make it text"


def test_environment_value_is_not_shown_in_any_error() -> None:
    env = {"LISTEN": "intranet-host-name", "INDEX": "7", "LEVEL": "loud"}
    found = problems(
        """
        server: {listen: "${LISTEN}"}
        shard: {index: "${INDEX}", count: 2}
        log: {level: "${LEVEL}"}
        """,
        env,
    )
    text = "\n".join(map(str, found))
    assert {p.path for p in found} == {"server.listen", "shard", "log.level"}
    assert "intranet-host-name" not in text
    assert "loud" not in text
    assert "index 7" not in text and "shard.count 2" in text
