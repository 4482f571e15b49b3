"""Demo history: a few hours of lots and measurements on the demo line, pushed through the real services
(lot registration and measurement ingestion), so the pages have data before any live source runs."""
from __future__ import annotations

import math
import random
from datetime import datetime, timedelta

from django.utils import timezone

from qms.demo import plant as demo
from qms.models import Characteristic, Equipment, Measurement, Product, Site
from qms.services.ingest import ingest_measurements
from traceability.models import Lot
from traceability.services import ParentLink, register_lot

SOURCE = "demo-history"
LOT_HOURS = 2
SAMPLE_SECONDS = 60
BATCH = 5000


def seed_history(site: Site, *, hours: int = 8, now: datetime | None = None, seed: int = 7) -> dict:
    """Create `hours` of lots and measurements ending at `now`, unless the site already has measurements."""
    if Measurement.objects.filter(characteristic__site=site).exists():
        return {"lots": 0, "measurements": 0, "skipped": True}
    rng = random.Random(seed)
    now = (now or timezone.now()).replace(microsecond=0)
    start = now - timedelta(hours=hours)
    product = Product.objects.filter(site=site, part_number=demo.PRODUCT[0]).first()
    material = _material_lot(site)
    lots_by_machine = _lots(site, product, material, start, now)
    points = []
    for machine in Equipment.objects.filter(site=site, code__in=demo.MACHINES).order_by("code"):
        for characteristic in Characteristic.objects.filter(site=site, equipment=machine):
            points.extend(_series(characteristic, machine, lots_by_machine[machine.code], start, now, rng))
    stored = 0
    for offset in range(0, len(points), BATCH):
        result = ingest_measurements(site=site, items=points[offset:offset + BATCH], source=SOURCE)
        stored += result.body.get("stored", 0)
    return {"lots": sum(len(v) for v in lots_by_machine.values()), "measurements": stored, "skipped": False}


def _material_lot(site: Site) -> Lot:
    return register_lot(site, "RM-PCABS-0001", kind=Lot.Kind.MATERIAL, quantity=2000.0, unit="kg",
                        supplier="Demo resin supplier").lot


def _lots(site, product, material, start, now) -> dict[str, list[tuple[str, datetime, datetime]]]:
    lots: dict[str, list[tuple[str, datetime, datetime]]] = {}
    for machine_index, code in enumerate(demo.MACHINES):
        equipment = Equipment.objects.get(site=site, code=code)
        lots[code] = []
        lot_start = start
        number = 1
        while lot_start < now:
            lot_end = min(lot_start + timedelta(hours=LOT_HOURS), now)
            lot_code = f"L-{start:%y%m%d}-{machine_index + 1}{number:02d}"
            ended = lot_end if lot_end < now else None
            register_lot(site, lot_code, product=product, equipment=equipment, started_at=lot_start,
                         ended_at=ended, quantity=225.0, parents=[ParentLink(material, 25.0, "kg")])
            lots[code].append((lot_code, lot_start, lot_end))
            lot_start = lot_end
            number += 1
    return lots


def _series(characteristic, machine, lots, start, now, rng) -> list[dict]:
    nominal = characteristic.nominal or 0.0
    spread = ((characteristic.usl or nominal + 1) - (characteristic.lsl or nominal - 1)) / 12.0
    subgroup = max(1, characteristic.subgroup_size)
    step = timedelta(seconds=SAMPLE_SECONDS * (15 if subgroup > 1 else 1))
    items = []
    t = start
    tick = 0
    while t < now:
        lot_code = next((code for code, s, e in lots if s <= t < e), lots[-1][0])
        for k in range(subgroup):
            # A slow sinusoidal wander plus noise: in control, but alive.
            value = nominal + 0.6 * spread * math.sin(tick / 45.0) + rng.gauss(0.0, spread)
            items.append({
                "characteristic": characteristic.code,
                "value": round(value, characteristic.precision),
                "ts": (t + timedelta(milliseconds=100 * k)).isoformat(),
                "lot": lot_code,
                "equipment": machine.code,
            })
        t += step
        tick += 1
    return items
