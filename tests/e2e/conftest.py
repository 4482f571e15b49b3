"""The end-to-end harness: the demo plant in pytest-django's test database (committed: transactional_db), then the
real stack as child processes on it — MES simulator over OPC UA, connector runner, Celery worker on every queue,
daphne — with the real settings (PostgreSQL, Redis; Celery in the worker, not the tests' eager mode).

A failing test's report carries the tail of every child's log (section "e2e stack logs")."""
from __future__ import annotations

import io
import time
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote

import pytest
from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher, make_password
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from tests.e2e.stack import Stack, StackSettings

SITE = "S1"
PASSWORDS = {"supervisor": "supervisor-demo-2026", "engineer": "engineer-demo-2026"}
STARTUP_TIMEOUT_S = 90

class QuickPBKDF2(PBKDF2PasswordHasher):
    """A standard pbkdf2_sha256 hash with few iterations: the child processes (production hashers) verify it, and the
    tests' MD5-only settings do not leak into them."""

    iterations = 1000

@dataclass
class Plant:
    site: object
    mes_token: str

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    stack = getattr(item, "e2e_stack", None)
    if report.failed and stack is not None:
        report.sections.append(("e2e stack logs", stack.logs()))


def child_database_url() -> str:
    """pytest-django's test database, for the child processes."""
    db = connection.settings_dict
    credentials = quote(db["USER"] or "") + (f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else "")
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def stack_processes(transactional_db, tmp_path, request):
    """The stack's processes, launched before the plant is seeded (their start-up overlaps the seeding); stopped,
    all of them, after the test."""
    stack = Stack(StackSettings(database_url=child_database_url(), redis_url=settings.REDIS_URL,
                                var_dir=tmp_path / "stack"))
    request.node.e2e_stack = stack
    try:
        stack.launch()
        yield stack
    finally:
        stack.stop()
        connection.close()       # our own connection too: the test database is flushed after the test
        print("e2e stack timeline (s):", ", ".join(f"{what} {at:.1f}" for what, at in stack.timeline))


@pytest.fixture
def plant(stack_processes) -> Plant:
    """seed_demo (plant, dictionary, users, its reaction rules) without history; supervisor's and engineer's
    passwords hashed so the child processes can check them; an MES token with verdicts:read."""
    from django.contrib.auth import get_user_model

    from qms.auth.tokens import issue_token
    from qms.models import Site

    call_command("seed_demo", history_hours=0, stdout=io.StringIO())
    stack_processes.note("seeded")
    site = Site.objects.get(code=SITE)
    for username, password in PASSWORDS.items():
        get_user_model().objects.filter(username=username).update(password=make_password(password, hasher=QuickPBKDF2()))
    assert_seed_rules(site)
    _token, raw = issue_token(name="MES-E2E", site=site, scopes=["verdicts:read"])
    stack_processes.note("plant ready")
    return Plant(site=site, mes_token=raw)


def assert_seed_rules(site) -> None:
    """seed_demo must have installed the seed's rule for IMM02 (barrel zone beyond nominal ±3 °C → critical alarm,
    freeze, NC draft, hold to MES): the scenario runs on what the seed installs, never on a rule of its own."""
    from qms.demo.rules import rule_name
    from qms.models import ReactionRule

    assert ReactionRule.objects.filter(site=site, name=rule_name("IMM02"), enabled=True).exists(), \
        "seed_demo did not install the seed reaction rule for IMM02"


@pytest.fixture
def stack(plant, stack_processes) -> Stack:
    """The running stack on the seeded plant: the runner's OPC UA session connected to the simulator (50 ms
    publishing interval) and values flowing through the worker into the database."""
    from connectors.demo import ensure_simulator_connector
    from connectors.models import ConnectorStatus
    from qms.audit.context import Actor, acting_as
    from qms.models import Measurement

    stack = stack_processes
    connectors = []

    def configure(stack):
        connector = ensure_simulator_connector(plant.site, stack.opcua_endpoint, machines=("IMM01", "IMM02"))
        with acting_as(Actor(label="test:e2e"), reason="fast subscription for the end-to-end test"):
            connector.config = {**connector.config, "publishing_interval_ms": 50, "sampling_interval_ms": 0}
            connector.save()
        connectors.append(connector)

    started = timezone.now()
    stack.wait_ready(configure, STARTUP_TIMEOUT_S)
    stack.wait_until("runner", lambda: ConnectorStatus.objects.filter(
        connector=connectors[0], state="connected").exists(), STARTUP_TIMEOUT_S,
        "the runner's OPC UA session to the simulator did not connect")
    stack.wait_until("pipeline", lambda: Measurement.objects.filter(
        characteristic__code="IMM02.BARREL_Z2.TEMP", ts__gte=started - timedelta(seconds=1)).exists(),
        STARTUP_TIMEOUT_S, "no IMM02 barrel zone 2 value was stored through the worker")
    return stack


def wait_for(condition, timeout_s: float, what: str, interval_s: float = 0.1):
    """Poll `condition()` until it returns something truthy; fail naming `what` and the last value seen."""
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(interval_s)
    raise AssertionError(f"{what} within {timeout_s:.0f} s; last seen: {last}")


# The browser tests' chromium (Debian's, through playwright), shared with tests/browser/.
from tests.browser.conftest import browser  # noqa: E402, F401
