from .actions import Action
from .alarms import Alarm, AlarmEvent
from .audit import AuditChainHead, AuditEntry
from .auth import ApiToken, SiteMembership
from .capa import Capa, CapaStep, RootCause
from .dictionary import Characteristic
from .esign import ESignature
from .events import CycleTimeRecord, EquipmentStateEvent
from .measurements import DeadLetter, IngestBatch, Measurement
from .nc import Attachment, DefectCode, Disposition, DispositionApproval, NcLot, Nonconformance
from .notifications import Notification
from .plant import Area, Equipment, Line, Operation, Product, Site, WorkCenter
from .rules import ReactionRule

__all__ = [
    "Action",
    "Attachment",
    "Capa",
    "CapaStep",
    "DefectCode",
    "Disposition",
    "DispositionApproval",
    "NcLot",
    "Nonconformance",
    "RootCause",
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
