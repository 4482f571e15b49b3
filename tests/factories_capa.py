"""Factories and helpers for the 8D CAPA tests: the NC plant, CAPAs opened through the service, and helpers that walk
steps to "approved" with complete content (submitted by one engineer, approved by another)."""
from __future__ import annotations

from datetime import date, timedelta

from qms.models import Capa, CapaStep, Measurement
from qms.services import capa as capa_service
from tests.factories import CharacteristicFactory
from tests.factories_nc import PASSWORD, NcPlant

__all__ = ["COMPLETE", "PASSWORD", "CapaPlant"]

# Complete content of the steps whose content is a form (D1 members are the plant's two engineers).
COMPLETE = {
    "D0": {"symptom": "Short shots on housing 7001", "emergency_response": "Sorted the last two hours"},
    "D1": {"champion": "engineer", "members": [{"user": "engineer", "role": "lead"},
                                               {"user": "engineer2", "role": "process"}]},
    "D2": {"what": "short shot", "where": "IMM02 cavity 3", "when": "night shift", "who": "QC inspector",
           "why": "customer fit issue", "how": "visual check", "how_many": "120 pcs"},
    "D3": {"notes": "containment in place"},
    "D4": {"notes": ""},
    "D5": {"notes": ""},
    "D6": {"notes": ""},
    "D7": {"items": [{"kind": "control_plan", "reference": "CP-7001 rev C", "description": "zone 2 limit"}]},
    "D8": {"recognition": "Thanks to the night shift"},
}


class CapaPlant(NcPlant):
    def __init__(self):
        super().__init__()
        self.characteristic = CharacteristicFactory(site=self.site, code="BARREL_Z2", lsl=220.0, usl=240.0,
                                                    nominal=230.0, equipment=self.imm02)

    def capa(self, *, ncs=(), user=None, title="Short shots on housing", champion=None) -> Capa:
        return capa_service.open_capa(self.site, title=title, user=user or self.engineer, nonconformances=ncs,
                                      champion=champion)

    def step(self, capa, step) -> CapaStep:
        return CapaStep.objects.get(capa=capa, step=step)

    def save(self, capa, step, content=None, user=None) -> CapaStep:
        row = self.step(capa, step)
        return capa_service.save_step(capa.pk, step, user=user or self.engineer,
                                      content=COMPLETE[step] if content is None else content,
                                      expected_version=row.version)

    def approve(self, capa, step, *, submitter=None, approver=None) -> CapaStep:
        """Fill the step's prerequisites for its check (causes/actions) where needed, submit and approve it."""
        self.fill(capa, step)
        capa_service.submit_step(capa.pk, step, user=submitter or self.engineer)
        return capa_service.approve_step(capa.pk, step, user=approver or self.engineer2, password=PASSWORD,
                                         meaning="reviewed and approved")

    def fill(self, capa, step) -> None:
        if step == "D3" and not capa.actions.filter(kind="containment").exists():
            capa_service.create_action(self.site, user=self.engineer, title="Sort stock", owner=self.supervisor,
                                       due_date=date.today() + timedelta(days=2), kind="containment", capa=capa,
                                       verification="100 % visual check of sorted stock")
        if step == "D4" and not capa.root_causes.exists():
            capa_service.add_root_cause(capa.pk, user=self.engineer, category="machine",
                                        cause="Barrel zone 2 heater drifts", whys=["heater relay worn"],
                                        is_root_cause=True, verified=True)
        if step == "D5" and not capa.actions.filter(kind="corrective").exists():
            cause = capa.root_causes.filter(is_root_cause=True).first()
            capa_service.create_action(self.site, user=self.engineer, title="Replace heater relay",
                                       owner=self.engineer2, due_date=date.today() + timedelta(days=7),
                                       capa=capa, root_cause=cause)
        if step == "D6":
            for action in capa.actions.filter(kind="corrective", state="open"):
                capa_service.complete_action(action.pk, user=self.engineer2, note="relay replaced")
        if step in COMPLETE and step not in ("D3", "D4", "D5", "D6"):
            self.save(capa, step)
        if step == "D8" and capa.effectiveness != "effective":
            Capa.objects.filter(pk=capa.pk).update(effectiveness="effective")
            capa.refresh_from_db()

    def approve_through(self, capa, last: str) -> None:
        for step in ("D0", "D1", "D2", "D3", "D4", "D5", "D6", "D7", "D8"):
            self.approve(capa, step)
            if step == last:
                return

    def measurements(self, values, start, *, step_s=60.0, characteristic=None) -> None:
        characteristic = characteristic or self.characteristic
        Measurement.objects.bulk_create([
            Measurement(characteristic=characteristic, ts=start + timedelta(seconds=i * step_s), value=v,
                        source="test", received_at=start, equipment=self.imm02)
            for i, v in enumerate(values)])
