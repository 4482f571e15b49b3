"""Records for the report tests, written directly (reports only read; the NC/CAPA services are tested elsewhere)."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import count

from qms.models import Action, Capa, CapaStep, DefectCode, Nonconformance
from tests.factories import LineFactory, LotFactory, ProductFactory, SiteFactory, UserFactory

NOW = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)  # 12:00 in Asia/Shanghai, the sites' default zone
_numbers = count(1)


class ReportPlant:
    """Site S1 (and S2) with two lines, two products, a costed defect catalogue and an engineer."""

    def __init__(self):
        self.site = SiteFactory(code="S1")
        self.other_site = SiteFactory(code="S2")
        self.line1 = LineFactory(code="L1", area__site=self.site)
        self.line2 = LineFactory(code="L2", area__site=self.site)
        self.product = ProductFactory(site=self.site, part_number="PN-7001")
        self.engineer = UserFactory(username="engineer", role="quality_engineer", sites=[self.site])
        self.operator = UserFactory(username="operator", role="operator", sites=[self.site])
        self.outsider = UserFactory(username="engineer-s2", role="quality_engineer", sites=[self.other_site])
        self.fill = DefectCode.objects.create(code="FILL", name_en="Filling defects", name_zh="充填缺陷",
                                              unit_cost=2)
        self.short_shot = DefectCode.objects.create(code="SHORT_SHOT", name_en="Short shot", name_zh="缺料",
                                                    parent=self.fill)  # no own cost: takes FILL's 2.00
        self.flash = DefectCode.objects.create(code="FLASH", name_en="Flash", name_zh="飞边", parent=self.fill,
                                               unit_cost=10)
        self.scratch = DefectCode.objects.create(code="SCRATCH", name_en="Scratch", name_zh="划伤")  # no cost

    def nc(self, *codes, days_ago: float = 1, site=None, line=None, product=None, quantity=None, lots=(),
           state=Nonconformance.State.OPEN) -> Nonconformance:
        site = site or self.site
        nc = Nonconformance.objects.create(site=site, number=f"NC-{site.code}-{next(_numbers):06d}", title="t",
                                           source="inspection", state=state, line=line, product=product,
                                           quantity_affected=quantity)
        Nonconformance.objects.filter(pk=nc.pk).update(created_at=NOW - timedelta(days=days_ago))
        nc.defect_codes.set(codes)
        for lot_code, lot_quantity in lots:
            nc.lots.create(lot=LotFactory(site=site, code=lot_code), quantity=lot_quantity)
        return nc

    def capa(self, *, days_ago: float, approved: int = 0, site=None, state=Capa.State.OPEN) -> Capa:
        """An open CAPA opened `days_ago` days before NOW whose first `approved` steps are approved."""
        site = site or self.site
        capa = Capa.objects.create(site=site, number=f"CAPA-{site.code}-{next(_numbers):06d}", title="c",
                                   state=state, champion=self.engineer)
        Capa.objects.filter(pk=capa.pk).update(created_at=NOW - timedelta(days=days_ago))
        for index, step in enumerate(CapaStep.Step):
            CapaStep.objects.create(capa=capa, step=step.value,
                                    state=CapaStep.State.APPROVED if index < approved else CapaStep.State.OPEN)
        capa.refresh_from_db()
        return capa

    def action(self, *, due: date, capa=None, nc=None, state=Action.State.OPEN, site=None) -> Action:
        return Action.objects.create(site=site or self.site, title="Fix the mould", owner=self.engineer, due_date=due,
                                     capa=capa, nc=nc, state=state)
