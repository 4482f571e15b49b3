"""The production situation both end-to-end tests start from, and the steps they share.

Lots (demo plant S1):
    E2E-IMM01-A    running on IMM01 (since 20 min)                        → stays "release"
    E2E-IMM02-A    running on IMM02 (since 20 min)                        → "hold" once IMM02 drifts
    E2E-IMM02-OLD  ran on IMM02 3 h … 2 h ago (outside any look-back)     → stays "release"
    E2E-PACK-02    packed from E2E-IMM02-A on PACK01 (genealogy)          → "hold" (forward propagation)
    E2E-PACK-01    packed from E2E-IMM01-A on PACK01                      → stays "release"
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from tests.e2e.clients import AlarmFeed, MesClient
from tests.e2e.conftest import wait_for

DRIFT_MACHINE, DRIFT_TAG, DRIFT_C = "IMM02", "BARREL_Z2.TEMP", 4.0   # the seed's drift scenario, as a step
SUSPECT = ("E2E-IMM02-A", "E2E-PACK-02")
CLEAN = ("E2E-IMM01-A", "E2E-IMM02-OLD", "E2E-PACK-01")
ALARM_TIMEOUT_S = 30
VERDICT_TIMEOUT_S = 15


@dataclass
class Production:
    lots: dict[str, object]


def start_production(site) -> Production:
    from qms.models import Equipment
    from traceability.services.lots import ParentLink, register_lot

    now = timezone.now()
    imm01, imm02 = (Equipment.objects.get(site=site, code=code) for code in ("IMM01", "IMM02"))
    lots = {
        "E2E-IMM01-A": register_lot(site, "E2E-IMM01-A", equipment=imm01, started_at=now - timedelta(minutes=20)).lot,
        "E2E-IMM02-A": register_lot(site, "E2E-IMM02-A", equipment=imm02, started_at=now - timedelta(minutes=20)).lot,
        "E2E-IMM02-OLD": register_lot(site, "E2E-IMM02-OLD", equipment=imm02, started_at=now - timedelta(hours=3),
                                      ended_at=now - timedelta(hours=2)).lot,
    }
    packing, _created = Equipment.objects.get_or_create(
        site=site, code="PACK01", defaults={"work_center": imm01.work_center, "name": "Packing station"})
    for pack, moulded in (("E2E-PACK-02", "E2E-IMM02-A"), ("E2E-PACK-01", "E2E-IMM01-A")):
        lots[pack] = register_lot(site, pack, equipment=packing, started_at=now - timedelta(minutes=10),
                                  parents=[ParentLink(lots[moulded], quantity=500)], concurrent=True).lot
    return Production(lots=lots)


def next_lot_on_imm02(site, code: str = "E2E-IMM02-B"):
    """MES reports the next lot starting on IMM02 (closing the running one) while the alarm's window is open."""
    from qms.models import Equipment
    from traceability.services.lots import register_lot

    imm02 = Equipment.objects.get(site=site, code="IMM02")
    return register_lot(site, code, equipment=imm02, started_at=timezone.now(), close_previous=True).lot


def drift(endpoint: str, offset: float = DRIFT_C):
    """IMM02 barrel zone 2 shifted by `offset` °C through the simulator's OPC UA control; returns the offending
    value's source timestamp."""
    from connectors.simulator.control import SimulatorControl

    async def call():
        async with SimulatorControl(endpoint) as control:
            return await control.set_offset(DRIFT_MACHINE, DRIFT_TAG, offset)

    return asyncio.run(call())


def is_drift_alarm(event: dict) -> bool:
    snapshot = event.get("snapshot") or {}
    return (event.get("kind") == "raised" and snapshot.get("severity") == "critical"
            and snapshot.get("equipment") == DRIFT_MACHINE and snapshot.get("characteristic") == "IMM02.BARREL_Z2.TEMP")


def wait_for_drift_alarm(feed: AlarmFeed) -> dict:
    _at, event = feed.wait_for(is_drift_alarm, ALARM_TIMEOUT_S, "critical IMM02 barrel zone 2 alarm (kind 'raised')")
    return event


def verdicts(mes: MesClient, codes) -> dict[str, str]:
    answer = mes.post("/api/v1/verdicts/query/", {"lots": list(codes)})
    assert answer.status == 200, f"batch verdict query: {answer}"
    return {item["lot"]: item["verdict"] for item in answer.body["results"]}


def wait_for_verdicts(mes: MesClient, expected: dict[str, str]) -> dict[str, str]:
    """Poll the batch verdict API until it answers `expected` (the hold is placed in the alarm's transaction, so
    this normally holds on the first ask); fail with the last answer."""
    return wait_for(lambda: (seen := verdicts(mes, expected)) == expected and seen, VERDICT_TIMEOUT_S,
                    f"verdicts {expected}")
