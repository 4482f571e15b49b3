"""Clearing an alarm — by a rule, a person on the page or the API — ends the freeze windows it opened, at the clear
time, in the same transaction; closing an alarm whose window was somehow left open closes it at the clear time."""
import pytest

from qms.models import Alarm
from qms.services.alarms import acknowledge_alarm, clear_alarm, close_alarm
from tests.factories_holds import Plant, alarm_for, at
from traceability.models import Hold
from traceability.services.holds import freeze_window
from traceability.services.runs import start_lot_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def plant():
    return Plant()


def frozen_alarm(plant):
    plant.lot("RUNNING", equipment=plant.imm02, start=7)
    alarm = alarm_for(plant, "barrel")
    hold = freeze_window(plant.imm02, at(8), None, reason="barrel zone 2 +4 °C", alarm=alarm)
    return alarm, hold


def test_clearing_by_hand_closes_the_alarms_open_window_at_the_clear_time(plant):
    alarm, hold = frozen_alarm(plant)

    clear_alarm(alarm.pk, at=at(9), user=plant.supervisor, reason="fixed the heater")

    hold.refresh_from_db()
    assert hold.window_end == at(9)


def test_a_lot_starting_after_a_manual_clear_is_not_held(plant):
    alarm, hold = frozen_alarm(plant)
    clear_alarm(alarm.pk, at=at(9), user=plant.supervisor, reason="fixed")

    later = plant.lot("LATER")
    start_lot_run(later, plant.imm02, at(10), close_previous=True)

    assert not hold.lots.filter(lot=later).exists()


def test_closing_an_alarm_closes_a_window_left_open_at_the_clear_time(plant):
    alarm, hold = frozen_alarm(plant)
    acknowledge_alarm(alarm.pk, user=plant.supervisor)
    clear_alarm(alarm.pk, at=at(9), user=plant.supervisor, reason="fixed")
    Hold.objects.filter(pk=hold.pk).update(window_end=None)  # as an alarm cleared before windows closed on clear

    close_alarm(alarm.pk, user=plant.supervisor)

    hold.refresh_from_db()
    assert hold.window_end == at(9) and Alarm.objects.get(pk=alarm.pk).state == Alarm.State.CLOSED
