from .audit import AuditChainHead, AuditEntry
from .auth import ApiToken, SiteMembership
from .dictionary import Characteristic
from .events import CycleTimeRecord, EquipmentStateEvent
from .measurements import DeadLetter, IngestBatch, Measurement
from .plant import Area, Equipment, Line, Operation, Product, Site, WorkCenter

__all__ = [
    "ApiToken",
    "Area",
    "AuditChainHead",
    "AuditEntry",
    "Characteristic",
    "CycleTimeRecord",
    "DeadLetter",
    "Equipment",
    "EquipmentStateEvent",
    "IngestBatch",
    "Line",
    "Measurement",
    "Operation",
    "Product",
    "Site",
    "SiteMembership",
    "WorkCenter",
]
