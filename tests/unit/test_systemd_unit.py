"""config/kpiwatch.service: systemd-analyze verifies it and scores its hardening."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "config" / "kpiwatch.service"
OPERATIONS = ROOT / "docs" / "operations.md"
#: The measured exposure (systemd 252) is 1.1; a change that weakens the sandbox fails here.
MAX_EXPOSURE = 2.0

pytestmark = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed"
)


@pytest.fixture
def rendered_unit(tmp_path) -> Path:
    """The unit with ExecStart pointing at this venv's kpiwatch, which verify requires to exist."""
    kpiwatch = Path(sys.executable).parent / "kpiwatch"
    assert kpiwatch.exists(), f"{kpiwatch} is missing; install the project in the venv"
    text = UNIT.read_text()
    assert "ExecStart=/opt/kpiwatch/bin/kpiwatch " in text
    path = tmp_path / "kpiwatch.service"
    path.write_text(text.replace("ExecStart=/opt/kpiwatch/bin/kpiwatch ", f"ExecStart={kpiwatch} "))
    return path


def analyze(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["systemd-analyze", *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_verify_passes_without_warnings(rendered_unit):
    result = analyze("verify", str(rendered_unit))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "" and result.stderr.strip() == ""


def test_verify_fails_on_a_broken_unit(rendered_unit):
    rendered_unit.write_text(rendered_unit.read_text() + "ProtectSystm=strict\n")
    result = analyze("verify", str(rendered_unit))
    assert "ProtectSystm" in result.stderr  # the check above can see mistakes


def exposure(unit: Path) -> float:
    result = analyze("security", "--offline=true", str(unit))
    if "--offline" in result.stderr and result.returncode != 0:
        pytest.skip("this systemd-analyze has no --offline security check (systemd < 250)")
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d)", result.stdout)
    assert match, result.stdout + result.stderr
    return float(match.group(1))


def test_security_exposure_is_low_and_documented(rendered_unit):
    score = exposure(rendered_unit)
    assert score < MAX_EXPOSURE
    documented = re.search(r"exposure level[^\n]*?\*\*(\d+\.\d)\*\*", OPERATIONS.read_text())
    assert documented, "docs/operations.md should quote the systemd-analyze security score"
    assert float(documented.group(1)) == score


def test_security_score_rises_without_the_sandbox(rendered_unit):
    weakened = "\n".join(
        line
        for line in rendered_unit.read_text().splitlines()
        if not line.startswith(("Protect", "Private", "Restrict", "SystemCall", "Capability"))
    )
    rendered_unit.write_text(weakened + "\n")
    assert exposure(rendered_unit) >= MAX_EXPOSURE


def test_unit_uses_notify_watchdog_and_reload_by_signal():
    settings = dict(
        line.split("=", 1) for line in UNIT.read_text().splitlines() if re.match(r"^\w+=", line)
    )
    assert settings["Type"] == "notify"
    assert settings["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert settings["WatchdogSec"] and settings["DynamicUser"] == "yes"
    assert settings["StateDirectory"] == "kpiwatch"
