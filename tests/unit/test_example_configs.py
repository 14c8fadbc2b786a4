"""Every configuration file the project ships passes `kpiwatch check-config`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted(
    [
        *ROOT.glob("config/*.yaml"),
        *ROOT.glob("config/examples/*.yaml"),
        *ROOT.glob("plugins/kpiwatch_platforms/*/sample.yaml"),
    ]
)


def test_the_project_ships_example_configurations():
    assert any(p.parent.name == "config" for p in SHIPPED)
    assert any(p.parent.name == "examples" for p in SHIPPED)
    assert any(p.name == "sample.yaml" for p in SHIPPED)


#: ``${NAME}`` references without a default: the secrets a sample takes from the environment.
REQUIRED_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_shipped_configuration_is_valid(path: Path):
    # samples take their secrets from the environment; give each a placeholder, as a user would
    names = REQUIRED_VARIABLE.findall(path.read_text())
    environ = {**os.environ, **{name: f"placeholder-{name.lower()}" for name in names}}
    result = subprocess.run(
        [sys.executable, "-m", "kpiwatch", "check-config", "-c", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env=environ,
    )
    assert result.returncode == 0, result.stderr
    assert ": valid;" in result.stdout
