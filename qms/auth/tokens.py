"""Machine tokens: issuing, revoking, hashing and the `Authorization: Bearer <token>` DRF authentication.

Tokens carry 256 bits of randomness, so a single SHA-256 is enough to store them safely (a slow password hash
buys nothing against brute force here and would cost milliseconds on every MES request).

Service functions (the API, the web UI and the management commands all call these):
    issue_token(*, name, site, scopes, created_by=None, expires_at=None) -> (ApiToken, raw token)
    revoke_token(token_id, *, user, reason) -> ApiToken
"""
from __future__ import annotations

import hashlib
import secrets

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from qms.models import ApiToken

TOKEN_PREFIX = "qp_"
VALID_SCOPES = tuple(choice.value for choice in ApiToken.Scope)


class MachineClient:
    """The request.user of a token-authenticated request: not a Django user, but answers the same questions."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None
    id = None

    def __init__(self, token: ApiToken):
        self.token = token

    def __str__(self):
        return f"token:{self.token.name}"

    def get_username(self):
        return str(self)

    def has_perm(self, perm, obj=None):
        return False

    def has_perms(self, perms, obj=None):
        return False


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def generate_token() -> tuple[str, str, str]:
    """Return (raw token, prefix, hash). The raw token is shown once and never stored."""
    prefix = secrets.token_hex(4)
    raw = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    return raw, prefix, hash_token(raw)


def _check_may_manage(user, site_id: int, permission: str) -> None:
    """A user acting through the API/UI needs the permission and membership of the token's site."""
    if user is None:  # management commands and internal callers: the OS account is the authority
        return
    from qms.auth.scoping import allowed_site_ids  # scoping imports this module

    if getattr(user, "pk", None) is None or not user.has_perm(permission):
        raise PermissionDenied(_("Your role does not allow managing API tokens."))
    if site_id not in allowed_site_ids(user):
        raise PermissionDenied(_("You do not belong to this token's site."))


def parse_scopes(value) -> list[str]:
    """Accept "ingest,verdicts:read" or a list; reject unknown scopes by name."""
    if isinstance(value, str):
        value = [part for part in (item.strip() for item in value.split(",")) if part]
    scopes = sorted({str(item).strip() for item in value or []})
    unknown = [scope for scope in scopes if scope not in VALID_SCOPES]
    if unknown:
        raise ValidationError(
            {"scopes": _("Unknown scope(s): %(unknown)s. Valid scopes: %(valid)s.")
             % {"unknown": ", ".join(unknown), "valid": ", ".join(VALID_SCOPES)}}
        )
    return scopes


def issue_token(*, name: str, site, scopes, created_by=None, expires_at=None) -> tuple[ApiToken, str]:
    """Create a machine token for `site`; return (token, raw token). The raw token is never stored nor shown again.

    `created_by` is the user issuing it (checked for qms.add_apitoken and membership of `site`); None for commands.
    """
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": _("A token needs a name (e.g. the MES instance it is for).")})
    if len(name) > ApiToken._meta.get_field("name").max_length:
        raise ValidationError({"name": _("The name is too long (100 characters at most).")})
    scopes = parse_scopes(scopes)
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": _("The expiry must lie in the future.")})
    _check_may_manage(created_by, site.pk, "qms.add_apitoken")
    raw, prefix, digest = generate_token()
    try:
        with transaction.atomic():
            if ApiToken.objects.filter(site=site, name=name, revoked_at__isnull=True).exists():
                raise ValidationError(
                    {"name": _("Site %(site)s already has a live token named %(name)s.") % {"site": site.code, "name": name}}
                )
            token = ApiToken.objects.create(
                name=name, site=site, scopes=scopes, prefix=prefix, token_hash=digest, expires_at=expires_at,
                created_by=created_by if getattr(created_by, "pk", None) else None,
            )
            from qms.audit.chain import record_audit

            record_audit(
                action="create", model="qms.ApiToken", object_pk=token.pk, object_repr=str(token), site_id=site.pk,
                changes={"name": [None, name], "scopes": [None, scopes], "prefix": [None, prefix],
                         "expires_at": [None, expires_at]},
            )
    except IntegrityError as exc:  # a concurrent issue of the same name won the race
        raise ValidationError(
            {"name": _("Site %(site)s already has a live token named %(name)s.") % {"site": site.code, "name": name}}
        ) from exc
    return token, raw


def revoke_token(token_id: int, *, user, reason: str) -> ApiToken:
    """Revoke a token at once (its next request gets 401) and record who did it and why.

    `user` is the user revoking it (checked for qms.change_apitoken and membership of the token's site); None for
    management commands. Revoking twice is refused so the first revocation's who/why stays the record.
    """
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Say why the token is revoked.")})
    with transaction.atomic():
        token = ApiToken.objects.select_for_update(of=("self",)).select_related("site").filter(pk=token_id).first()
        if token is None:
            raise ApiToken.DoesNotExist(_("No API token with id %(id)s.") % {"id": token_id})
        _check_may_manage(user, token.site_id, "qms.change_apitoken")
        if token.revoked_at is not None:
            raise ValidationError(
                {"token": _("This token was already revoked at %(when)s.") % {"when": token.revoked_at.isoformat()}}
            )
        token.revoked_at = timezone.now()
        token.revoked_by = user if getattr(user, "pk", None) else None
        token.revoke_reason = reason
        token.save(update_fields=["revoked_at", "revoked_by", "revoke_reason"])
        from qms.audit.chain import record_audit

        record_audit(
            action="transition", model="qms.ApiToken", object_pk=token.pk, object_repr=str(token),
            site_id=token.site_id, changes={"revoked_at": [None, token.revoked_at], "status": ["active", "revoked"]},
            reason=reason,
        )
    return token


class BearerTokenAuthentication(BaseAuthentication):
    keyword = b"bearer"

    def authenticate(self, request):
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                _("Malformed Authorization header: expected 'Bearer <token>'."), code="malformed_token"
            )
        try:
            raw = header[1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed(
                _("The token contains invalid characters."), code="malformed_token"
            ) from exc
        token = ApiToken.objects.select_related("site").filter(token_hash=hash_token(raw)).first()
        if token is None:
            raise exceptions.AuthenticationFailed(_("Unknown API token."), code="unknown_token")
        if token.revoked_at is not None:
            raise exceptions.AuthenticationFailed(
                _("This API token was revoked at %(when)s; ask an administrator for a new one.")
                % {"when": token.revoked_at.isoformat()},
                code="token_revoked",
            )
        now = timezone.now()
        if token.expires_at is not None and token.expires_at <= now:
            raise exceptions.AuthenticationFailed(
                _("This API token expired at %(when)s; ask an administrator for a new one.")
                % {"when": token.expires_at.isoformat()},
                code="token_expired",
            )
        # Touch last_used_at at most once a minute: a write per request would cost the MES hot path.
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return MachineClient(token), token

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


from qms.auth import schema as _schema  # noqa: E402,F401  (registers the OpenAPI description of Bearer tokens)
