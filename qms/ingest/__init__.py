"""Pure validation of measurement batches against the data dictionary (no Django import: tested directly).

The service layer (qms.services.ingest) loads the dictionary entries a batch names, hands them in as plain
`CharacteristicSpec` dataclasses, and stores what `validate_items` accepted.
"""
from .body import BatchBody, BodyError, parse_batch_body, storable
from .problems import Problem
from .spec import QUALITY_CODES, CharacteristicSpec, Limits
from .validation import Accepted, Rejection, ValidationResult, validate_items

__all__ = [
    "QUALITY_CODES",
    "Accepted",
    "BatchBody",
    "BodyError",
    "CharacteristicSpec",
    "Limits",
    "Problem",
    "Rejection",
    "ValidationResult",
    "parse_batch_body",
    "storable",
    "validate_items",
]
