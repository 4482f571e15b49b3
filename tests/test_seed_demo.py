from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from qms.models import ApiToken, Characteristic, Equipment, Measurement
from traceability.models import Lot


def run_seed(hours=1) -> str:
    out = StringIO()
    call_command("seed_demo", history_hours=hours, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_seed_demo_builds_the_demo_line_with_the_seed_dictionary():
    run_seed()
    assert set(Equipment.objects.values_list("code", flat=True)) == {"IMM01", "IMM02", "IMM03"}
    entry = Characteristic.objects.get(code="IMM02.BARREL_Z2.TEMP")
    assert (entry.nominal, entry.lsl, entry.usl, entry.unit) == (210.0, 205.0, 215.0, "°C")
    assert Characteristic.objects.count() == 33


@pytest.mark.django_db
def test_seed_demo_prints_a_password_for_every_role_and_a_working_token(client):
    output = run_seed()
    for username in ("engineer", "supervisor", "operator", "auditor", "admin"):
        password = f"{username}-demo-2026"
        assert f"{username} / {password}" in output
        assert get_user_model().objects.get(username=username).check_password(password)
    raw = output.split("shown once: ")[1].split()[0]
    response = client.get("/api/v1/characteristics/?code=IMM01.CYCLE.TIME", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 200
    assert response.json()["results"][0]["code"] == "IMM01.CYCLE.TIME"


@pytest.mark.django_db
def test_seed_demo_is_idempotent():
    run_seed()
    counts = (Characteristic.objects.count(), Lot.objects.count(), Measurement.objects.count(), ApiToken.objects.count())
    second = run_seed()
    assert (Characteristic.objects.count(), Lot.objects.count(), Measurement.objects.count(),
            ApiToken.objects.count()) == counts
    assert "exists already" in second
    assert counts[2] > 0


@pytest.mark.django_db
def test_seed_demo_gives_every_characteristic_a_chart_with_limits_from_its_history():
    from spc.models import LimitRevision

    output = run_seed()
    with_limits = set(LimitRevision.objects.values_list("config__characteristic_id", flat=True))
    assert with_limits == set(Characteristic.objects.values_list("pk", flat=True))
    assert LimitRevision.objects.filter(method="baseline").exists()
    assert "Charts: 33 configured" in output


@pytest.mark.django_db
def test_seed_demo_installs_the_seed_reaction_rule_for_every_machine():
    from qms.demo.rules import HOLD_CONNECTOR, rule_name
    from qms.models import ReactionRule

    run_seed(hours=0)

    rules = {rule.name: rule for rule in ReactionRule.objects.select_related("writeback_connector")}
    assert set(rules) == {rule_name(machine) for machine in ("IMM01", "IMM02", "IMM03")}
    for machine in ("IMM01", "IMM02", "IMM03"):
        rule = rules[rule_name(machine)]
        assert (rule.enabled, rule.trigger, rule.threshold, rule.characteristic_pattern, rule.severity) == (
            True, "deviation", 3.0, f"{machine}.BARREL_Z*.TEMP", "critical")
        assert (rule.freeze, rule.freeze_from, rule.freeze_propagate_forward, rule.open_nc_draft) == (
            True, "last_good", True, True)
        assert (rule.hold_command, rule.writeback_connector.name, rule.writeback_connector.shadow_mode,
                rule.writeback_target) == (True, HOLD_CONNECTOR, True, f"hold/{machine}")
        assert {group.name for group in rule.notify_groups.all()} == {"supervisor"}
