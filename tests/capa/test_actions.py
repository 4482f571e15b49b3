"""Actions across NC and CAPA: create, complete, cancel, overdue escalation with a controlled clock, MES push."""
from datetime import UTC, date, datetime, timedelta

import pytest

from connectors.models import WriteBackCommand
from qms.models import Action, Notification
from qms.services import capa as capa_service
from qms.services.capa import CapaError
from tests.factories import ConnectorFactory
from tests.factories_capa import CapaPlant

pytestmark = pytest.mark.django_db

DUE = date(2026, 11, 20)


@pytest.fixture
def plant():
    return CapaPlant()


def action(plant, **kwargs):
    kwargs.setdefault("title", "Check nozzle heater")
    kwargs.setdefault("owner", plant.operator)
    kwargs.setdefault("due_date", DUE)
    return capa_service.create_action(plant.site, user=plant.engineer, **kwargs)


def refused(code, call, *args, **kwargs):
    with pytest.raises(CapaError) as caught:
        call(*args, **kwargs)
    assert caught.value.code == code, caught.value.message
    return caught.value


def test_create_on_an_nc_notifies_the_owner(plant):
    nc = plant.nc()
    created = action(plant, nc=nc.number, kind="containment")
    assert (created.nc, created.owner, created.state) == (nc, plant.operator, "open")
    assert Notification.objects.filter(user=plant.operator, kind="task_assigned").count() == 1


def test_owner_must_belong_to_the_site(plant):
    refused("unknown_user", action, plant, owner=plant.foreign_engineer)
    assert not Action.objects.exists()


def test_due_date_must_be_a_date(plant):
    refused("invalid", action, plant, due_date="next week")


def test_owner_completes_with_a_note(plant):
    created = action(plant)
    done = capa_service.complete_action(created.pk, user=plant.operator, note="heater replaced, 230 °C reached")
    assert (done.state, done.completed_by, done.completion_note) == ("done", plant.operator,
                                                                     "heater replaced, 230 °C reached")
    assert done.completed_at is not None


def test_complete_needs_a_note(plant):
    created = action(plant)
    refused("required", capa_service.complete_action, created.pk, user=plant.operator, note="  ")


def test_someone_elses_task_cannot_be_completed_by_an_operator(plant):
    created = action(plant, owner=plant.supervisor)
    refused("not_permitted", capa_service.complete_action, created.pk, user=plant.operator, note="done")


def test_done_action_cannot_be_completed_again(plant):
    created = action(plant)
    capa_service.complete_action(created.pk, user=plant.operator, note="done")
    refused("action_not_open", capa_service.complete_action, created.pk, user=plant.operator, note="again")


def test_cancel_needs_a_reason(plant):
    created = action(plant)
    refused("reason_required", capa_service.cancel_action, created.pk, user=plant.engineer, reason="")
    assert capa_service.cancel_action(created.pk, user=plant.engineer, reason="not needed").state == "cancelled"


def test_overdue_action_escalates_to_owner_and_supervisors_once_a_day(plant):
    overdue = action(plant)
    action(plant, title="not due yet", due_date=DUE + timedelta(days=10))
    now = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, two days late
    assert capa_service.escalate_overdue_actions(now) == 1
    recipients = set(Notification.objects.filter(kind="task_overdue").values_list("user__username", flat=True))
    assert recipients == {"operator", "supervisor", "supervisor2"}
    assert capa_service.escalate_overdue_actions(now + timedelta(hours=5)) == 0
    assert capa_service.escalate_overdue_actions(now + timedelta(days=1)) == 1
    overdue.refresh_from_db()
    assert overdue.escalated_at == now + timedelta(days=1)


def test_action_due_today_is_not_overdue(plant):
    action(plant)
    assert capa_service.escalate_overdue_actions(datetime(2026, 11, 20, 15, 0, tzinfo=UTC)) == 0  # 23:00 local


def test_done_action_never_escalates(plant):
    created = action(plant)
    capa_service.complete_action(created.pk, user=plant.operator, note="done")
    assert capa_service.escalate_overdue_actions(datetime(2026, 12, 1, tzinfo=UTC)) == 0


def test_mes_instruction_needs_equipment_or_operation(plant):
    refused("required", action, plant, mes_instruction=True)


def test_mes_instruction_is_pushed_to_the_verdict_push_connectors(plant):
    webhook = ConnectorFactory(site=plant.site, name="mes", kind="webhook", verdict_push_target="/mes/qms",
                               config={"url": "http://127.0.0.1:9/hook"})
    ConnectorFactory(site=plant.site, name="no-push", kind="webhook", config={"url": "http://127.0.0.1:9/x"})
    created = action(plant, equipment="IMM02", mes_instruction=True, kind="containment")
    command = WriteBackCommand.objects.get()
    assert (command.connector, command.target) == (webhook, "/mes/qms")
    assert command.value["equipment"] == "IMM02" and command.value["state"] == "open"
    capa_service.complete_action(created.pk, user=plant.operator, note="done")
    assert list(WriteBackCommand.objects.order_by("pk").values_list("idempotency_key", flat=True)) == [
        f"instruction:{created.pk}:open", f"instruction:{created.pk}:done"]


def test_plain_action_is_not_pushed(plant):
    ConnectorFactory(site=plant.site, name="mes", kind="webhook", verdict_push_target="/mes/qms",
                     config={"url": "http://127.0.0.1:9/hook"})
    action(plant, equipment="IMM02")
    assert not WriteBackCommand.objects.exists()
