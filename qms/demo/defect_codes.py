"""The default defect catalogue for injection moulding (shared by every site), installed by seed_demo."""
from __future__ import annotations

from qms.services.defect_codes import install_codes

# (category code, English, Chinese, [(defect code, English, Chinese), ...])
INJECTION_MOULDING = [
    ("FILL", "Filling defects", "充填缺陷", [
        ("SHORT_SHOT", "Short shot", "缺料"),
        ("FLASH", "Flash", "飞边"),
        ("WELD_LINE", "Weld line", "熔接痕"),
        ("FLOW_MARK", "Flow mark", "流痕"),
        ("JETTING", "Jetting", "喷射纹"),
    ]),
    ("SURF", "Surface defects", "外观缺陷", [
        ("SINK_MARK", "Sink mark", "缩痕"),
        ("BURN_MARK", "Burn mark", "烧焦"),
        ("SILVER_STREAK", "Silver streak", "银纹"),
        ("CONTAMINATION", "Contamination / foreign matter", "异物"),
        ("BLACK_SPOT", "Black spot", "黑点"),
        ("SCRATCH", "Scratch", "划伤"),
        ("COLOUR", "Colour deviation", "色差"),
    ]),
    ("DIM", "Dimensional defects", "尺寸缺陷", [
        ("DIM_OOT", "Dimension out of tolerance", "尺寸超差"),
        ("WARPAGE", "Warpage", "翘曲"),
    ]),
    ("STRUCT", "Structural defects", "结构缺陷", [
        ("VOID", "Void / bubble", "气泡"),
        ("CRACK", "Crack", "开裂"),
        ("BRITTLE", "Brittleness", "脆裂"),
    ]),
    ("ASSY", "Assembly and packaging", "装配与包装", [
        ("MISSING_PART", "Missing component", "漏装"),
        ("WRONG_LABEL", "Wrong label", "标签错误"),
    ]),
]


def install_default_defect_codes():
    """Idempotent: codes that exist are left as they are (an engineer may have renamed or deactivated them)."""
    return install_codes(None, INJECTION_MOULDING)
