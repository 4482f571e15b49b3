"""A quality engineer takes an 8D from open to closed in a real browser (Debian's chromium driven by playwright),
through the CAPA pages only.

Set up through the services: an alarm on IMM02 held a lot and drafted an NC (opened), and the barrel temperature's
measurements before the fix (wide spread) and after it (tight) — so the effectiveness check has live data to judge.
In the browser: `engineer` opens the CAPA from the NC, fills D0–D8 and submits each step; `engineer2`, in a second
browser context (separation of duties: the submitter may not approve), signs each approval with password and
meaning; the plan names the characteristic and the periods, the check says "effective", and the 8D is closed with an
e-signature. Guards seen on the way: D4 submitted without a root cause (the error sits next to the fishbone), the
submitter's own approval refused, a wrong password refused with nothing changed.
"""
from __future__ import annotations

import random
import zoneinfo
from datetime import date, timedelta

import pytest
from django.utils import timezone

from qms.models import Capa, CapaStep, ESignature
from qms.seams import NcDraftRequest
from qms.services import nc as nc_service
from tests.browser.support import PASSWORD, SCREENSHOTS
from tests.factories_capa import CapaPlant
from tests.factories_holds import alarm_for
from tests.factories_nc import PNG
from traceability.services.holds import place_hold

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

STEPS = ("D0", "D1", "D2", "D3", "D4", "D5", "D6", "D7", "D8")


@pytest.fixture
def story(transactional_db):
    """An opened NC from an alarm's draft, and barrel temperatures before (σ≈3.5: Cpk < 1) and after the fix
    (σ≈1: Cpk ≈ 3) of the CAPA to come."""
    plant = CapaPlant()
    lot = plant.product_lot("LOT-88", quantity=500.0)
    alarm = alarm_for(plant, "barrel-drift")
    hold = place_hold(plant.site, reason="barrel zone 2 drift", lots=[lot], alarm=alarm)
    nc = nc_service.create_nc_draft_from_alarm(NcDraftRequest(
        site_id=plant.site.pk, alarm_id=alarm.pk, rule_id=None, characteristic_id=plant.characteristic.pk,
        equipment_id=plant.imm02.pk, hold_ids=(hold.pk,), evidence={"trigger_value": 238.4}))
    nc = nc_service.open_nc(nc.pk, user=plant.engineer)
    now = timezone.now().replace(second=0, microsecond=0)
    noise = random.Random(8)
    periods = {"baseline_start": now - timedelta(hours=4), "baseline_end": now - timedelta(hours=3),
               "effective_from": now - timedelta(hours=1)}
    plant.measurements([230 + noise.gauss(0, 3.5) for _ in range(40)], periods["baseline_start"])
    plant.measurements([230 + noise.gauss(0, 1.0) for _ in range(40)], periods["effective_from"] + timedelta(minutes=1))
    return plant, nc, periods


def sign_in(browser, base_url: str, username: str):
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.locator("form.card button[type=submit]").click()
    page.wait_for_url(f"{base_url}/")
    return page


def click_and_load(page, selector: str):
    """Every workspace form posts and comes back to the page (redirect on success, the page with the error else)."""
    with page.expect_navigation():
        page.locator(selector).click()


def state_of(page, step: str) -> str:
    return page.locator(f"#step-{step}-state").get_attribute("data-state")


class Workspace:
    """The two people at the same CAPA: the engineer who writes and submits, the colleague who approves."""

    def __init__(self, base: str, capa_pk: int, writer, approver):
        self.url = f"{base}/capas/{capa_pk}/"
        self.writer, self.approver = writer, approver

    def save_and_submit(self, step: str, fill=None):
        page = self.writer
        if fill is not None:
            fill(page)
            click_and_load(page, f"#step-{step}-save")
            assert not page.locator(f"#step-{step}-error").count(), page.locator(f"#step-{step}-error").inner_text()
        click_and_load(page, f"#step-{step}-submit")
        assert state_of(page, step) == "submitted", page.locator(f"#step-{step}").inner_text()[:1500]

    def approve(self, step: str, meaning: str = "Reviewed and approved"):
        page = self.approver
        page.goto(self.url)
        page.locator(f"#step-{step}-password").fill(PASSWORD)
        page.locator(f"#step-{step}-meaning").fill(meaning)
        click_and_load(page, f"#step-{step}-approve")
        assert state_of(page, step) == "approved", page.locator(f"#step-{step}").inner_text()
        # The writer's page needs no reload: every form of a later step still holds that step's version.


def fill_d0(page):
    page.locator("#D0-symptom").fill("Short shots on housing 7001, cavity 3")
    page.locator("#D0-emergency_response").fill("IMM02 stopped, last two hours of stock held and sorted")


def fill_d1(page):
    page.locator("#D1-champion").select_option("engineer")
    members = page.locator("#D1-members")
    members.get_by_role("button", name="Add a member").click()
    members.locator("select[name=member_user]").nth(0).select_option("engineer")
    members.locator("input[name=member_role]").nth(0).fill("team lead")
    members.locator("select[name=member_user]").nth(1).select_option("engineer2")
    members.locator("input[name=member_role]").nth(1).fill("process engineer")


FIVE_W_TWO_H = {"what": "short shot on the clip", "where": "IMM02, cavity 3", "when": "night shift, 02:00",
                "who": "final inspection", "why": "the clip does not latch at the customer", "how": "visual check",
                "how_many": "120 pieces in LOT-88"}


def fill_d2(page):
    for name, text in FIVE_W_TWO_H.items():
        page.locator(f"#D2-{name}").fill(text)


def fill_d7(page):
    row = page.locator("#D7-items .row").first
    row.locator("select[name=item_kind]").select_option("control_plan")
    row.locator("input[name=item_reference]").fill("CP-7001 rev C")
    row.locator("input[name=item_description]").fill("barrel zone 2 reaction limit ±3 °C")


def local_input(moment, zone: str) -> str:
    """A time as a datetime-local input wants it: the plant's wall clock."""
    return timezone.localtime(moment, zoneinfo.ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%M")


def test_quality_engineer_closes_an_8d(live_server, browser, story):
    plant, nc, periods = story
    base = live_server.url
    due = (date.today() + timedelta(days=3)).isoformat()

    writer = sign_in(browser, base, "engineer")
    writer.goto(f"{base}/capas/new/?nc={nc.number}")
    writer.locator("#capa-title").fill("Short shots on housing 7001")
    writer.locator("#capa-champion").select_option("engineer")
    click_and_load(writer, "#capa-create-submit")
    capa = Capa.objects.get(nonconformances=nc)
    assert writer.url.rstrip("#") .endswith(f"/capas/{capa.pk}/")
    work = Workspace(base, capa.pk, writer, sign_in(browser, base, "engineer2"))

    work.save_and_submit("D0", fill_d0)
    # Separation of duties: whoever submitted a step may not approve it.
    writer.locator("#step-D0-password").fill(PASSWORD)
    click_and_load(writer, "#step-D0-approve")
    assert "submitted" in writer.locator("#step-D0-error").inner_text()
    assert state_of(writer, "D0") == "submitted"
    # A wrong password: a clear error at the password, nothing signed, the step still waits.
    approver = work.approver
    approver.goto(work.url)
    approver.locator("#step-D0-password").fill("not-my-password")
    click_and_load(approver, "#step-D0-approve")
    assert approver.locator("#error-D0-password").is_visible()
    assert "password" in approver.locator("#error-D0-password").inner_text().lower()
    assert state_of(approver, "D0") == "submitted" and not ESignature.objects.exists()
    work.approve("D0")

    work.save_and_submit("D1", fill_d1)
    work.approve("D1")
    work.save_and_submit("D2", fill_d2)
    work.approve("D2")

    writer.locator("#D3-action-title").fill("Sort LOT-88 and the WIP of IMM02")
    writer.locator("#D3-action-owner").select_option("supervisor")
    writer.locator("#D3-action-due").fill(due)
    writer.locator("#D3-action-verification").fill("100 % visual check of the sorted stock by QC")
    click_and_load(writer, "#D3-action-submit")
    assert writer.locator("#step-D3-actions tbody tr").count() == 1
    work.save_and_submit("D3")
    work.approve("D3")

    # D4 without a root cause: refused, the reason next to the fishbone.
    click_and_load(writer, "#step-D4-submit")
    assert writer.locator("#error-D4-root_causes").is_visible()
    assert state_of(writer, "D4") == "open"
    writer.locator("#cause-category").select_option("machine")
    writer.locator("#cause-text").fill("Barrel zone 2 heater runs 4 °C hot")
    writer.locator("#cause-why-1").fill("the zone 2 temperature controller overshoots")
    writer.locator("#cause-add-why").click()
    writer.locator("#cause-whys input[name=why]").nth(1).fill("its thermocouple is loose in the well")
    writer.locator("#cause-add-why").click()
    writer.locator("#cause-whys input[name=why]").nth(2).fill("no torque check in the maintenance plan")
    writer.locator("#cause-root").check()
    writer.locator("#cause-verified").check()
    click_and_load(writer, "#cause-submit")
    cause = capa.root_causes.get()
    assert writer.locator(f"#fishbone [data-category=machine] #cause-{cause.pk}").count() == 1
    assert cause.whys == ["the zone 2 temperature controller overshoots", "its thermocouple is loose in the well",
                          "no torque check in the maintenance plan"]
    # The fishbone as drawn on the whiteboard, attached to the CAPA.
    writer.locator("#attach-file").set_input_files(files=[{"name": "fishbone-whiteboard.png", "mimeType": "image/png",
                                                           "buffer": PNG}])
    click_and_load(writer, "#attach-submit")
    assert "fishbone-whiteboard.png" in writer.locator("#attachment-list").inner_text()
    work.save_and_submit("D4")
    work.approve("D4")

    writer.locator("#D5-action-title").fill("Fix the thermocouple; torque check in the PM plan")
    writer.locator("#D5-action-owner").select_option("engineer2")
    writer.locator("#D5-action-due").fill(due)
    writer.locator("#D5-action-root-cause").select_option(str(cause.pk))
    click_and_load(writer, "#D5-action-submit")
    work.save_and_submit("D5")
    work.approve("D5")

    action = capa.actions.get(kind="corrective")
    writer.locator(f"#complete-note-{action.pk}").fill("thermocouple re-seated, torque check added to PM-IMM-02")
    click_and_load(writer, f"#complete-{action.pk} button[type=submit]")
    assert "PM-IMM-02" in writer.locator("#step-D6-actions").inner_text()
    work.save_and_submit("D6")
    work.approve("D6")

    work.save_and_submit("D7", fill_d7)
    work.approve("D7")

    # Effectiveness: the barrel temperature before and after the fix, judged from the measurements.
    zone = plant.site.timezone
    writer.locator("#plan-characteristics").select_option(label="BARREL_Z2")
    writer.locator("#plan-baseline-start").fill(local_input(periods["baseline_start"], zone))
    writer.locator("#plan-baseline-end").fill(local_input(periods["baseline_end"], zone))
    writer.locator("#plan-effective-from").fill(local_input(periods["effective_from"], zone))
    click_and_load(writer, "#plan-save")
    click_and_load(writer, "#effectiveness-check")
    assert writer.locator("#effectiveness-verdict").get_attribute("data-verdict") == "effective", \
        writer.locator("#effectiveness").inner_text()
    assert "BARREL_Z2" in writer.locator("#effectiveness-cpk").inner_text()

    work.save_and_submit("D8", lambda page: page.locator("#D8-recognition").fill(
        "Thanks to the night shift for the quick sort and to maintenance for finding the thermocouple"))
    work.approve("D8", "8D complete: approved")

    # Closing is signed: a wrong password first (nothing changes), then the real one.
    writer.locator("#close-password").fill("wrong-password")
    click_and_load(writer, "#close-submit")
    assert writer.locator("#error-close-password").is_visible()
    assert writer.locator("#capa-state").get_attribute("data-state") == "open"
    writer.locator("#close-password").fill(PASSWORD)
    click_and_load(writer, "#close-submit")

    capa.refresh_from_db()
    assert capa.state == Capa.State.CLOSED
    assert writer.locator("#capa-state").get_attribute("data-state") == "closed"
    assert set(CapaStep.objects.filter(capa=capa).values_list("state", flat=True)) == {"approved"}
    signatures = writer.locator("#signatures")
    for step in STEPS:
        assert "engineer2" in signatures.locator(f"[data-step={step}]").inner_text()
    assert "engineer" in signatures.locator("[data-step=close]").inner_text()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    writer.screenshot(path=str(SCREENSHOTS / "8d-closed.png"), full_page=True)

    # From the CAPA to the whole story: the alarm and the NC it started from, the CAPA closed.
    click_and_load(writer, "#capa-story-link")
    story_chain = writer.locator("#story")
    assert story_chain.locator(f"[data-kind=capa][data-id='{capa.pk}']").count() == 1
    assert story_chain.locator(f"[data-kind=nc][data-id='{nc.pk}']").count() == 1
    assert story_chain.locator(f"[data-kind=alarm][data-id='{nc.alarm_id}']").count() == 1
