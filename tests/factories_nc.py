"""Factories and helpers for the nonconformance tests: a plant with held lots, people of every role, NCs made
through the service (so they are numbered, linked and audited like real ones)."""
from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile

from qms.models import DefectCode, Nonconformance
from qms.services import nc as nc_service
from tests.factories import LotFactory, ProductFactory, UserFactory
from tests.factories_holds import PASSWORD, Plant

__all__ = ["PASSWORD", "NcPlant", "upload"]

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def upload(name: str, content: bytes, content_type: str = "application/octet-stream") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


class NcPlant(Plant):
    """The hold tests' plant plus a product, defect codes, a second supervisor and an NC reporter."""

    def __init__(self):
        super().__init__()
        self.product = ProductFactory(site=self.site, part_number="PN-7001")
        self.supervisor2 = UserFactory(username="supervisor2", role="supervisor", sites=[self.site])
        self.auditor = UserFactory(username="auditor", role="auditor", sites=[self.site])
        self.category = DefectCode.objects.create(code="FILL", name_en="Filling defects", name_zh="充填缺陷")
        self.short_shot = DefectCode.objects.create(code="SHORT_SHOT", name_en="Short shot", name_zh="缺料",
                                                    parent=self.category)
        self.flash = DefectCode.objects.create(code="FLASH", name_en="Flash", name_zh="飞边", parent=self.category)

    def product_lot(self, code: str, quantity: float | None = 100.0, **kwargs):
        return LotFactory(site=kwargs.pop("site", self.site), code=code, quantity=quantity, product=self.product,
                          **kwargs)

    def nc(self, *, lots=(), severity="major", user=None, draft=False, holds=(), **fields) -> Nonconformance:
        fields.setdefault("title", "Short shots on housing")
        fields.setdefault("source", "inspection")
        return nc_service.create_nc(self.site, severity=severity, user=user or self.operator, lots=lots,
                                    draft=draft, holds=holds, defect_codes=fields.pop("defect_codes", ["SHORT_SHOT"]),
                                    **fields)

    def in_disposition(self, *, lots, severity="major", **fields) -> Nonconformance:
        nc = self.nc(lots=lots, severity=severity, **fields)
        return nc_service.start_disposition(nc.pk, user=self.engineer)
