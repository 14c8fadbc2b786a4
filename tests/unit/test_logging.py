"""Logs are JSON off a terminal and never carry a known secret, in any spelling."""

from __future__ import annotations

import io
import json

import pytest

from kpiwatch.logging import configure_logging, get_logger, redactor

SECRET = "tok/en+with spaces&sym"  # characters that URL- and JSON-encoding change


@pytest.fixture(autouse=True)
def _reset():
    yield
    redactor.set_secrets([])
    configure_logging("warning", "json", io.StringIO())


def test_json_lines_with_bound_context():
    out = io.StringIO()
    configure_logging("info", "auto", out)  # StringIO is not a terminal: JSON
    get_logger(platform="demo_photo", account="acme").info("poll failed", reason="timeout")
    line = json.loads(out.getvalue())
    assert line["platform"] == "demo_photo" and line["account"] == "acme"
    assert line["event"] == "poll failed" and line["level"] == "info"
    assert line["timestamp"].endswith("Z")


def test_level_filters():
    out = io.StringIO()
    configure_logging("warning", "json", out)
    get_logger().info("quiet")
    get_logger().warning("loud")
    assert [json.loads(x)["event"] for x in out.getvalue().splitlines()] == ["loud"]


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_secrets_are_redacted_everywhere(fmt):
    from urllib.parse import quote, quote_plus

    out = io.StringIO()
    configure_logging("info", fmt, out)
    redactor.set_secrets([SECRET])
    log = get_logger(account="a")
    log.info("plain", value=SECRET)
    log.info("url", url=f"https://api.example/x?access_token={quote_plus(SECRET)}")
    log.info("path", url=f"https://api.example/{quote(SECRET, safe='')}")
    try:
        raise ValueError(f"the token {SECRET} was refused")
    except ValueError:
        log.exception("boom")
    text = out.getvalue()
    assert "boom" in text and "refused" in text
    for form in (SECRET, quote_plus(SECRET), quote(SECRET, safe=""), json.dumps(SECRET)[1:-1]):
        assert form not in text
    assert text.count("***") >= 4
