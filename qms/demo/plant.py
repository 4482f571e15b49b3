"""The demo plant: one injection-moulding line with three machines and a realistic data dictionary.

Plain data, so the seed command, the simulator (later) and tests share one definition.
"""
from dataclasses import dataclass

SITE_CODE = "S1"
SITE_NAME = "Suzhou demo plant"
AREA_CODE = "MOLDING"
LINE_CODE = "IM1"
WORK_CENTER_CODE = "IM1-PRESS"
MACHINES = ("IMM01", "IMM02", "IMM03")
PRODUCT = ("PN-1001", "B", "Housing, PC/ABS")


@dataclass(frozen=True)
class DemoCharacteristic:
    suffix: str
    name_en: str
    name_zh: str
    unit: str
    precision: int
    nominal: float
    tolerance: float
    physical: tuple[float, float]
    update_period_s: float
    subgroup_size: int = 1
    criticality: str = "standard"


BARREL_NOMINALS = (200.0, 210.0, 220.0, 230.0, 235.0, 240.0)

CHARACTERISTICS: tuple[DemoCharacteristic, ...] = tuple(
    DemoCharacteristic(
        suffix=f"BARREL_Z{zone}.TEMP", name_en=f"Barrel zone {zone} temperature", name_zh=f"料筒{zone}区温度",
        unit="°C", precision=1, nominal=nominal, tolerance=5.0, physical=(0.0, 400.0), update_period_s=1.0,
        criticality="special",
    )
    for zone, nominal in enumerate(BARREL_NOMINALS, start=1)
) + (
    DemoCharacteristic("MOULD.TEMP", "Mould temperature", "模具温度", "°C", 1, 60.0, 5.0, (0.0, 200.0), 5.0),
    DemoCharacteristic("INJECTION.PRESSURE", "Injection pressure", "注射压力", "bar", 0, 850.0, 50.0, (0.0, 2500.0), 1.0),
    DemoCharacteristic("SCREW.CUSHION", "Cushion", "余料量", "mm", 2, 5.0, 1.0, (0.0, 50.0), 1.0),
    DemoCharacteristic("CYCLE.TIME", "Cycle time", "成型周期", "s", 2, 32.0, 2.0, (0.0, 600.0), 32.0),
    DemoCharacteristic(
        "PART.WEIGHT", "Part weight", "产品重量", "g", 2, 48.5, 0.3, (0.0, 1000.0), 160.0,
        subgroup_size=5, criticality="ctq",
    ),
)

# username, role, password, Chinese label — demo only, printed by seed_demo.
USERS = (
    ("engineer", "quality_engineer", "engineer-demo-2026"),
    # A second quality engineer: 8D steps and MRB votes need someone other than the author (separation of duties).
    ("engineer2", "quality_engineer", "engineer2-demo-2026"),
    ("supervisor", "supervisor", "supervisor-demo-2026"),
    ("operator", "operator", "operator-demo-2026"),
    ("auditor", "auditor", "auditor-demo-2026"),
    ("admin", "admin", "admin-demo-2026"),
)
