"""Factories and helpers for the hold (freeze) tests: a plant with two machines, lots with runs, people by role."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.factories import EquipmentFactory, LotFactory, LotRunFactory, SiteFactory, UserFactory
from traceability.models import GenealogyEdge

PASSWORD = "pw-Quality-2026"  # UserFactory's password: what a signer re-enters
DAY = datetime(2026, 11, 20, tzinfo=UTC)


def at(hour: float) -> datetime:
    """A time on the test day (hours may be fractional)."""
    return DAY + timedelta(hours=hour)


class Plant:
    """Site S1 with IMM01 and IMM02 (and site S2 with its own IMM09), people of every role in S1."""

    def __init__(self):
        self.site = SiteFactory(code="S1")
        self.other_site = SiteFactory(code="S2")
        self.imm01 = EquipmentFactory(code="IMM01", work_center__line__area__site=self.site, site=self.site)
        self.imm02 = EquipmentFactory(code="IMM02", work_center__line__area__site=self.site, site=self.site)
        self.foreign_machine = EquipmentFactory(code="IMM09", work_center__line__area__site=self.other_site,
                                                site=self.other_site)
        self.engineer = UserFactory(username="engineer", role="quality_engineer", sites=[self.site])
        self.engineer2 = UserFactory(username="engineer2", role="quality_engineer", sites=[self.site])
        self.supervisor = UserFactory(username="supervisor", role="supervisor", sites=[self.site])
        self.operator = UserFactory(username="operator", role="operator", sites=[self.site])
        self.foreign_engineer = UserFactory(username="engineer-s2", role="quality_engineer", sites=[self.other_site])

    def lot(self, code: str, *, equipment=None, start: float | None = None, end: float | None = None, site=None):
        """A lot, with a run on `equipment` from hour `start` to hour `end` (None: still running) when given."""
        lot = LotFactory(site=site or self.site, code=code)
        if equipment is not None:
            LotRunFactory(lot=lot, equipment=equipment, started_at=at(start),
                          ended_at=at(end) if end is not None else None)
        return lot


def link(parent, child) -> GenealogyEdge:
    """`parent` went into `child` (written directly: some tests need what the service refuses, e.g. cycles)."""
    return GenealogyEdge.objects.create(parent=parent, child=child, quantity=1.0, unit="kg")


def alarm_for(plant: Plant, key: str, *, equipment=None):
    """An active alarm of the plant's site (created directly: the alarm services are not under test here)."""
    from qms.models import Alarm

    equipment = equipment or plant.imm02
    return Alarm.objects.create(
        site=plant.site, equipment=equipment, source_key=f"test:{key}", alarm_type=Alarm.Type.values[0],
        severity=Alarm.Severity.values[0], title=f"alarm {key}", trigger_ts=at(8), raised_at=at(8),
        last_triggered_at=at(8),
    )
