"""Nonconformance and 8D in a real browser (Debian's chromium driven by playwright, pytest-django's live server).

1. alarm → NC draft → MRB disposition: a rule's alarm held a lot and asked for an NC draft (set up through the
   services); the quality engineer opens the draft, starts the disposition and proposes scrapping the lot; two
   MRB members (a second engineer, then a supervisor; separation of duties: neither proposed nor created it; the NC
   needs two) sign their votes with password and meaning; the supervisor's final vote decides the held lot (the
   approved disposition is the authority), and the NC page's "Whole story" link shows alarm → hold → NC.
"""
import pytest

from qms.seams import NcDraftRequest
from qms.services import nc as nc_service
from tests.browser.support import PASSWORD, SCREENSHOTS
from tests.factories_holds import alarm_for
from tests.factories_nc import NcPlant
from traceability.models import HoldLot
from traceability.services.holds import place_hold

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def drafted(transactional_db):
    """The state a reaction rule leaves behind: an alarm on IMM02, a hold on its lot, a draft NC."""
    plant = NcPlant()
    lot = plant.product_lot("LOT-77", quantity=120.0)
    alarm = alarm_for(plant, "barrel-drift")
    hold = place_hold(plant.site, reason="barrel zone 2 drift", lots=[lot], alarm=alarm)
    nc = nc_service.create_nc_draft_from_alarm(NcDraftRequest(
        site_id=plant.site.pk, alarm_id=alarm.pk, rule_id=None, characteristic_id=None, equipment_id=plant.imm02.pk,
        hold_ids=(hold.pk,), evidence={"trigger_value": 238.4}))
    return plant, alarm, hold, nc


def sign_in(browser, base_url: str, username: str):
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.locator("form.card button[type=submit]").click()
    page.wait_for_url(f"{base_url}/")
    return page


def shoot(page, name: str):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def vote(page, base_url: str, nc_pk: int, meaning: str):
    page.goto(f"{base_url}/nc/{nc_pk}/")
    form = page.locator("form[action*='/vote/']")
    form.locator("select[name=vote]").select_option("approve")
    form.locator("input[name=password]").fill(PASSWORD)
    form.locator("input[name=meaning]").fill(meaning)
    form.get_by_role("button", name="Sign the vote").click()
    page.wait_for_load_state()


def test_alarm_to_nc_draft_to_mrb_disposition(live_server, browser, drafted):
    plant, alarm, hold, nc = drafted
    base = live_server.url

    engineer = sign_in(browser, base, "engineer")
    engineer.goto(f"{base}/nc/{nc.pk}/")
    assert "LOT-77" in engineer.content()
    engineer.get_by_role("button", name="Open", exact=True).click()
    engineer.get_by_role("button", name="Start the disposition").click()
    engineer.wait_for_load_state()
    propose = engineer.locator("form[action$='/dispositions/']")
    propose.get_by_label("Decision").select_option("scrap")
    propose.get_by_label("Quantity").fill("120")
    propose.get_by_label("Rationale").fill("Short shots on every cavity; not reworkable")
    propose.get_by_role("button", name="Propose").click()
    engineer.wait_for_load_state()
    assert "needs 2 approval(s)" in engineer.content()

    # The proposer may not approve their own proposal: refused with the reason, nothing signed.
    vote(engineer, base, nc.pk, "approved by the MRB")
    assert "another MRB member must approve it" in engineer.content()
    assert engineer.locator("article .badge", has_text="proposed").count() == 1

    vote(sign_in(browser, base, "engineer2"), base, nc.pk, "approved by the MRB")
    # The last vote, a supervisor's, decides the held lot on the disposition's authority (one signature).
    last = sign_in(browser, base, "supervisor")
    vote(last, base, nc.pk, "approved by the MRB")
    shoot(last, "nc-mrb-approved")
    assert last.locator("article .badge", has_text="approved").count() == 1, last.locator("main").inner_text()
    decided = HoldLot.objects.get(hold=hold)
    assert (decided.disposition, decided.disposed_by) == ("scrap", "supervisor")

    engineer.goto(f"{base}/nc/{nc.pk}/")
    engineer.get_by_role("link", name="Whole story").click()
    engineer.wait_for_url(f"{base}/story/nc/{nc.pk}/")
    story = engineer.locator("#story")
    assert story.locator(f"[data-kind=alarm][data-id='{alarm.pk}']").count() == 1
    assert story.locator(f"[data-kind=hold][data-id='{hold.pk}']").count() == 1
    story.locator(f"[data-kind=hold][data-id='{hold.pk}'] summary").first.click()
    assert "LOT-77" in story.locator(f"[data-kind=hold][data-id='{hold.pk}']").inner_text()
    shoot(engineer, "story-nc")
