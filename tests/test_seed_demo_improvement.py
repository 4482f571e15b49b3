"""seed_demo's improvement demo (qms/demo/improvement.py): an alarm → NC → CAPA with D0–D2 filled."""
from io import StringIO

import pytest
from django.core.management import call_command

from qms.demo.improvement import CAPA_TITLE
from qms.models import Alarm, Capa, Nonconformance

pytestmark = pytest.mark.django_db


def run_seed(hours: int) -> str:
    out = StringIO()
    call_command("seed_demo", history_hours=hours, stdout=out)
    return out.getvalue()


def test_seed_demo_leaves_a_capa_in_progress_on_an_nc_from_an_alarm():
    output = run_seed(1)
    capa = Capa.objects.get(title=CAPA_TITLE)
    steps = {row.step: row for row in capa.steps.all()}
    assert all(steps[step].content and steps[step].state == "open" for step in ("D0", "D1", "D2"))
    assert not steps["D3"].content.get("notes")
    nc = capa.nonconformances.get()
    assert nc.state == Nonconformance.State.OPEN and nc.alarm.state == Alarm.State.CLOSED
    assert {member.username for member in capa.team.all()} == {"engineer", "supervisor"}
    assert f"{nc.number} → {capa.number}" in output


def test_seed_demo_adds_the_improvement_demo_once():
    run_seed(1)
    run_seed(1)
    assert Capa.objects.filter(title=CAPA_TITLE).count() == 1
    assert Nonconformance.objects.filter(alarm__source_key__startswith="demo:").count() == 1


def test_seed_demo_without_history_adds_no_alarm_nc_or_capa():
    run_seed(0)
    assert not Alarm.objects.exists() and not Nonconformance.objects.exists() and not Capa.objects.exists()
