"""ALARM_EVENTS_SETTLE_WAIT_S is read from the environment like the other alarm settings (docs/alarms.md)."""
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def settle_wait_with(**overrides: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "QP_ALARM_EVENTS_SETTLE_WAIT_S"}
    env.update(overrides, DJANGO_SETTINGS_MODULE="qms.settings")
    code = "from qms import settings; print(settings.ALARM_EVENTS_SETTLE_WAIT_S)"
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                          check=True).stdout.strip()


def test_the_settle_wait_defaults_to_two_seconds():
    assert settle_wait_with() == "2.0"


def test_the_settle_wait_comes_from_the_environment():
    assert settle_wait_with(QP_ALARM_EVENTS_SETTLE_WAIT_S="0.5") == "0.5"
