from .alarms import Alarm, AlarmEvent
from .audit import AuditChainHead, AuditEntry
from .auth import ApiToken, SiteMembership
from .dictionary import Characteristic
from .esign import ESignature
from .events import CycleTimeRecord, EquipmentStateEvent
from .measurements import DeadLetter, IngestBatch, Measurement
from .notifications import Notification
from .plant import Area, Equipment, Line, Operation, Product, Site, WorkCenter
from .rules import ReactionRule

__all__ = [
    "Alarm",
    "AlarmEvent",
    "ESignature",
    "Notification",
    "ReactionRule",
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
