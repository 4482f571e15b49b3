"""Electronic signatures: re-authenticate the signer with their password, record what they signed and what it
meant. Call `sign(...)` inside the transaction that makes the signed change, so the signature commits or rolls back
with it. Who may sign what is the caller's decision (a permission check before calling).

Failed attempts (21 CFR Part 11 §11.300(d), docs/security.md "Electronic signatures"): a wrong password is recorded
in the audit chain (action "sign_failed", on the signer's user record) and counted. The refusal rolls back the
caller's transaction, and an entry written inside it would vanish with it; so `sign` only notes the attempt, and the
service wrapped with `@records_failed_signatures` writes it once its own transaction has ended. After
`ESIGN_MAX_FAILED_ATTEMPTS` wrong passwords within `ESIGN_LOCKOUT_WINDOW_S` (counted since the user's last good
signature or an administrator's unlock) the user cannot sign until the oldest of those failures leaves the window,
or an administrator runs `manage.py unlock_signing <username>`. Attempts refused while locked are recorded too
("sign_locked") but do not count.
"""
from __future__ import annotations

import contextvars
import functools
import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from qms.audit.chain import record_audit
from qms.audit.context import actor_for_user
from qms.models import AuditEntry, ESignature

MEANING_MAX = 300
DEFAULT_MAX_FAILED_ATTEMPTS = 5
DEFAULT_LOCKOUT_WINDOW_S = 900
FAILED, LOCKED, UNLOCKED = "sign_failed", "sign_locked", "sign_unlock"

logger = logging.getLogger(__name__)


class SignatureError(Exception):
    """The signature was refused; the message says why (wrong password, no meaning, inactive user, locked)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class RefusedAttempt:
    user_id: int
    username: str
    action: str  # FAILED or LOCKED
    record: str  # "<model label>:<pk>" of what was to be signed
    meaning: str
    site_id: int | None
    at: datetime = field(default_factory=timezone.now)


_pending_attempts: contextvars.ContextVar[list | None] = contextvars.ContextVar("qp_refused_signatures",
                                                                               default=None)


def records_failed_signatures(func):
    """Decorate a service that signs inside its own transaction: the refused attempts `sign` noted are written to
    the audit chain after the service returns or raises — after its transaction rolled back, so they survive it.
    (A caller that wraps the service in a transaction of its own and rolls that back loses them: let the error
    leave your transaction, as the API and the pages do.) Nested decorated calls leave the writing to the outermost."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        if _pending_attempts.get() is not None:
            return func(*args, **kwargs)
        token = _pending_attempts.set([])
        try:
            return func(*args, **kwargs)
        finally:
            attempts = _pending_attempts.get()
            _pending_attempts.reset(token)
            for attempt in attempts:
                _record_attempt(attempt)

    return wrapper


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
    locked_until = signing_locked_until(user) if getattr(user, "pk", None) is not None else None
    if locked_until is not None:
        _note_refused(user, LOCKED, record, meaning, site_id)
        raise SignatureError("signature_locked", _(
            "Signing is locked for %(user)s after %(count)d wrong passwords; try again after %(until)s or ask an "
            "administrator to unlock it.") % {
                "user": user.get_username(), "count": max_failed_attempts(),
                "until": timezone.localtime(locked_until).strftime("%Y-%m-%d %H:%M:%S")})
    try:
        meaning = verify_credentials(user, password, meaning)
    except SignatureError as exc:
        if exc.code == "signature_password":
            _note_refused(user, FAILED, record, meaning, site_id)
        raise
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


# --- failed attempts and the lock ----------------------------------------------------------------------------------


def max_failed_attempts() -> int:
    return max(1, int(getattr(settings, "ESIGN_MAX_FAILED_ATTEMPTS", DEFAULT_MAX_FAILED_ATTEMPTS)))


def lockout_window() -> timedelta:
    return timedelta(seconds=float(getattr(settings, "ESIGN_LOCKOUT_WINDOW_S", DEFAULT_LOCKOUT_WINDOW_S)))


def _user_label() -> str:
    return get_user_model()._meta.label_lower


def _entries_of(user):
    return AuditEntry.objects.filter(model=_user_label(), object_pk=str(user.pk))


def signing_locked_until(user, now: datetime | None = None) -> datetime | None:
    """When `user` may sign again, or None when signing is not locked."""
    now = now or timezone.now()
    limit, window = max_failed_attempts(), lockout_window()
    counted_from = now - window
    last_signature = ESignature.objects.filter(user_id=user.pk).aggregate(at=Max("signed_at"))["at"]
    last_unlock = _entries_of(user).filter(action=UNLOCKED).aggregate(at=Max("ts"))["at"]
    counted_from = max(t for t in (counted_from, last_signature, last_unlock) if t is not None)
    failures = list(_entries_of(user).filter(action=FAILED, ts__gt=counted_from).order_by("-ts")
                    .values_list("ts", flat=True)[:limit])
    if len(failures) < limit:
        return None
    return failures[-1] + window


def unlock_signing(user, *, by, reason: str) -> AuditEntry:
    """An administrator lets `user` sign again at once (the failures before this moment stop counting)."""
    reason = (reason or "").strip()
    if not reason:
        raise SignatureError("reason_required", _("Give the reason for unlocking."))
    with transaction.atomic():
        return record_audit(action=UNLOCKED, model=_user_label(), object_pk=user.pk,
                            object_repr=user.get_username(), changes={"signing": ["locked", "unlocked"]},
                            reason=reason, actor=actor_for_user(by) if by is not None else None)


def _note_refused(user, action: str, record, meaning, site_id) -> None:
    attempt = RefusedAttempt(user_id=user.pk, username=user.get_username(), action=action,
                             record=f"{record._meta.label_lower}:{record.pk}", meaning=str(meaning or "")[:MEANING_MAX],
                             site_id=site_id)
    pending = _pending_attempts.get()
    if pending is not None:
        pending.append(attempt)
        return
    if transaction.get_connection().in_atomic_block:
        # Not wrapped by @records_failed_signatures: written now, kept only if the caller commits anyway.
        logger.warning("refused signature of %s recorded inside the caller's transaction", attempt.username)
    _record_attempt(attempt)


def _record_attempt(attempt: RefusedAttempt) -> None:
    reason = _("wrong signature password") if attempt.action == FAILED else _("signing locked")
    try:
        with transaction.atomic():
            record_audit(action=attempt.action, model=_user_label(), object_pk=attempt.user_id,
                         object_repr=attempt.username, site_id=attempt.site_id,
                         changes={"record": [None, attempt.record], "meaning": [None, attempt.meaning],
                                  "attempted_at": [None, attempt.at.isoformat()]},
                         reason=reason, actor=_actor_of(attempt))
    except Exception:
        # The refusal itself must still reach the caller; a lost trace is logged loudly.
        logger.exception("could not record the refused signature of %s", attempt.username)


def _actor_of(attempt: RefusedAttempt):
    from qms.audit.context import Actor

    return Actor(label=attempt.username, user_id=attempt.user_id)
