"""The demo's NC and 8D CAPA, so a newcomer finds the improvement module filled in (docs/capa.md, "Demo").

An alarm on IMM02 (barrel zone 2 ran 4 °C hot; acknowledged, cleared and closed), the NC it led to (open, defect
short shot) and a CAPA for it in progress: D0–D2 filled in by the engineer, nothing submitted yet — the next moves
(submit, another engineer approves) are the newcomer's. Installed by seed_demo together with the demo history;
skipped with --history-hours 0, because tests and the end-to-end stack count their own alarms and NCs.
"""
from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from qms.models import Capa, CapaStep, Characteristic, Equipment, Site
from qms.services import alarms as alarm_service
from qms.services import capa as capa_service
from qms.services import nc as nc_service

CAPA_TITLE = "Short shots on housing PN-1001 — IMM02 barrel zone 2 runs hot"
MACHINE = "IMM02"
CHARACTERISTIC = "IMM02.BARREL_Z2.TEMP"
ENGINEER, TEAM_MATE = "engineer", "supervisor"

STEP_CONTENT = {
    "D0": {"symptom": "Short shots on housing PN-1001 from IMM02, cavity 3; found at final inspection.",
           "emergency_response": "IMM02 stopped; the last two hours of housings held and sorted 100 %."},
    "D1": {"champion": ENGINEER, "members": [{"user": ENGINEER, "role": "team lead (quality)"},
                                            {"user": TEAM_MATE, "role": "production, night shift"}],
           "notes": "Maintenance joins for D4."},
    "D2": {"what": "Short shot on the clip of housing PN-1001", "where": "IMM02, cavity 3",
           "when": "Night shift, after the barrel zone 2 alarm", "who": "Final inspection (QC)",
           "why": "The clip does not latch at the customer", "how": "Visual check against the limit sample",
           "how_many": "About 120 housings in one lot"},
}


def seed_improvement_demo(site: Site, *, hours: int, stdout=None) -> Capa | None:
    """The demo alarm → NC → CAPA (D0–D2 filled). Idempotent (keyed by the CAPA's title); nothing when `hours` is 0
    or the demo people/machine are missing."""
    User = get_user_model()
    engineer = User.objects.filter(username=ENGINEER).first()
    machine = Equipment.objects.filter(site=site, code=MACHINE).select_related("work_center__line").first()
    if hours <= 0 or engineer is None or machine is None:
        return None
    existing = Capa.objects.filter(site=site, title=CAPA_TITLE).first()
    if existing is not None:
        return existing
    characteristic = Characteristic.objects.filter(site=site, code=CHARACTERISTIC).first()
    with transaction.atomic():
        nc = _nc_from_alarm(site, machine, characteristic, engineer)
        capa = capa_service.open_capa(site, title=CAPA_TITLE, user=engineer, nonconformances=[nc.number],
                                      champion=engineer.username)
        for step, content in STEP_CONTENT.items():
            row = CapaStep.objects.get(capa=capa, step=step)
            capa_service.save_step(capa.pk, step, user=engineer, content=content, expected_version=row.version)
    if stdout is not None:
        stdout.write(f"Demo improvement: alarm → {nc.number} → {capa.number} (D0–D2 filled, waiting to be submitted).")
    return capa


def _nc_from_alarm(site, machine, characteristic, engineer):
    now = timezone.now()
    raised = alarm_service.raise_alarm(
        site=site, source_key=f"demo:{CHARACTERISTIC}", alarm_type="deviation", severity="critical",
        title=f"{CHARACTERISTIC} 4.2 °C above nominal", trigger_ts=now - timedelta(hours=3), trigger_value=214.2,
        message="Demo: barrel zone 2 ran hot on the night shift.", evidence={"demo": True}, equipment=machine,
        characteristic=characteristic, now=now - timedelta(hours=3))
    alarm = raised.alarm
    alarm_service.acknowledge_alarm(alarm.pk, user=engineer, comment="Machine stopped, stock held.",
                                    now=now - timedelta(hours=2, minutes=55))
    alarm_service.clear_alarm(alarm.pk, at=now - timedelta(hours=2, minutes=30), reason="back within limits")
    alarm_service.close_alarm(alarm.pk, user=engineer, comment="Handed over to NC and CAPA.", now=now)
    nc = nc_service.create_nc(
        site, title="Short shots on housing PN-1001 after the IMM02 barrel zone 2 alarm", source="alarm",
        severity="major", user=engineer, line=machine.work_center.line, equipment=machine,
        characteristic=characteristic, detection_point="Final inspection",
        description="Clip not filled on cavity 3; about 120 housings affected.",
        containment="Last two hours of housings held and sorted 100 %.", defect_codes=["SHORT_SHOT"], alarm=alarm)
    return nc
