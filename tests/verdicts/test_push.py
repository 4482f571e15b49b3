"""Verdict changes pushed to MES: one write-back command per (connector with a push target, changed lot)."""
import pytest

from connectors.models import Connector, WriteBackCommand
from tests.factories import LotFactory, SiteFactory
from tests.factories_verdicts import decide, hold_lots
from traceability.seams import VerdictChange
from traceability.verdicts.push import push_verdict_changes

pytestmark = pytest.mark.usefixtures("no_redis")


@pytest.fixture
def site(db):
    return SiteFactory(code="S1")


@pytest.fixture
def webhook(site):
    return Connector.objects.create(site=site, name="MES-HOOK", kind="webhook", shadow_mode=True,
                                    config={"url": "http://mes.invalid/hook"}, verdict_push_target="/verdicts")


def test_a_hold_sends_the_change_with_previous_and_change_number(site, captured, django_capture_on_commit_callbacks):
    lot = LotFactory(site=site, code="L-0001")
    with django_capture_on_commit_callbacks(execute=True):
        hold = hold_lots(site, [lot])
    with django_capture_on_commit_callbacks(execute=True):
        decide(hold, lot, "release")
    assert captured == [VerdictChange(lot.pk, "L-0001", "hold", None, 1),
                        VerdictChange(lot.pk, "L-0001", "release", "hold", 2)]


def test_no_change_no_signal(site, captured, django_capture_on_commit_callbacks):
    lot = LotFactory(site=site)
    with django_capture_on_commit_callbacks(execute=True):
        hold_lots(site, [lot])
    with django_capture_on_commit_callbacks(execute=True):
        hold_lots(site, [lot])  # a second hold: still "hold"
    assert [change.verdict for change in captured] == ["hold"]


def test_webhook_connector_gets_the_payload(site, webhook, django_capture_on_commit_callbacks):
    lot = LotFactory(site=site, code="L-0001")
    with django_capture_on_commit_callbacks(execute=True):
        hold_lots(site, [lot])
    command = WriteBackCommand.objects.get(connector=webhook)
    assert command.target == "/verdicts" and command.idempotency_key == f"verdict:{lot.pk}:1"
    assert command.value == {"lot": "L-0001", "verdict": "hold", "previous": None, "change": 1, "site": "S1"}


def test_other_kinds_get_lot_equals_verdict(site, django_capture_on_commit_callbacks):
    opcua = Connector.objects.create(site=site, name="MES-UA", kind="opcua", shadow_mode=True,
                                     verdict_push_target="ns=2;s=Mes.Verdict")
    lot = LotFactory(site=site, code="L-0001")
    with django_capture_on_commit_callbacks(execute=True):
        hold_lots(site, [lot])
    assert WriteBackCommand.objects.get(connector=opcua).value == "L-0001=hold"


def test_connectors_without_a_target_or_of_other_sites_get_nothing(site, django_capture_on_commit_callbacks):
    Connector.objects.create(site=site, name="PLAIN", kind="webhook", shadow_mode=True)
    other = SiteFactory(code="S2")
    Connector.objects.create(site=other, name="MES-S2", kind="webhook", shadow_mode=True, verdict_push_target="/v")
    with django_capture_on_commit_callbacks(execute=True):
        hold_lots(site, [LotFactory(site=site)])
    assert not WriteBackCommand.objects.exists()


def test_a_redelivered_change_is_queued_once(site, webhook):
    lot = LotFactory(site=site)
    change = {"lot_id": lot.pk, "lot_code": lot.code, "verdict": "hold", "previous": "release", "change": 4}
    push_verdict_changes(site.pk, [change])
    push_verdict_changes(site.pk, [change])
    assert WriteBackCommand.objects.filter(connector=webhook).count() == 1
