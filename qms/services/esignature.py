"""Electronic signatures: re-authenticate the signer with their password, record what they signed and what it
meant. Call `sign(...)` inside the transaction that makes the signed change, so the signature commits or rolls back
with it. Who may sign what is the caller's decision (a permission check before calling).
"""
from __future__ import annotations

import hashlib
import json

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from qms.audit.chain import record_audit
from qms.models import ESignature

MEANING_MAX = 300


class SignatureError(Exception):
    """The signature was refused; the message says why (wrong password, no meaning, inactive user)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def content_hash(content: dict) -> str:
    """SHA-256 of the signed content in a canonical JSON form (keys sorted, no whitespace)."""
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def verify_credentials(user, password: str, meaning: str) -> str:
    """Check the signer and return the meaning stripped; raise SignatureError naming the problem."""
    meaning = (meaning or "").strip()
    if user is None or not getattr(user, "is_authenticated", False) or getattr(user, "pk", None) is None:
        raise SignatureError("signature_user", _("Only a signed-in person can sign."))
    if not user.is_active:
        raise SignatureError("signature_user", _("This account is inactive and cannot sign."))
    if not meaning:
        raise SignatureError("signature_meaning", _("State what the signature means."))
    if len(meaning) > MEANING_MAX:
        raise SignatureError("signature_meaning",
                             _("The meaning may have at most %(max)d characters.") % {"max": MEANING_MAX})
    if not password or not get_user_model().objects.get(pk=user.pk).check_password(password):
        raise SignatureError("signature_password", _("The password is wrong; nothing was signed."))
    return meaning


def sign(user, password: str, *, meaning: str, record, content: dict, site_id: int | None = None) -> ESignature:
    """Sign `record` (a saved model instance) for `user`, re-checking the password. Raises SignatureError."""
    meaning = verify_credentials(user, password, meaning)
    with transaction.atomic():
        signature = ESignature.objects.create(
            site_id=site_id, user=user, signer_name=(user.get_full_name() or user.get_username())[:200],
            meaning=meaning, record_model=record._meta.label_lower, record_pk=str(record.pk),
            content_hash=content_hash(content), signed_at=timezone.now(),
        )
        record_audit(action="sign", model=record._meta.label_lower, object_pk=record.pk, object_repr=str(record)[:200],
                     site_id=site_id, changes={"signature": [None, signature.pk], "meaning": [None, meaning],
                                               "content_hash": [None, signature.content_hash]},
                     reason=meaning)
    return signature
