"""Machine tokens: generation, hashing and the `Authorization: Bearer <token>` DRF authentication.

Tokens carry 256 bits of randomness, so a single SHA-256 is enough to store them safely (a slow password hash
buys nothing against brute force here and would cost milliseconds on every MES request).
"""
from __future__ import annotations

import hashlib
import secrets

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from qms.audit.context import actor_for_token, set_actor
from qms.models import ApiToken

TOKEN_PREFIX = "qp_"


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


@transaction.atomic
def issue_token(*, name: str, site, scopes: list[str], created_by=None) -> tuple[ApiToken, str]:
    valid = {choice.value for choice in ApiToken.Scope}
    unknown = sorted(set(scopes) - valid)
    if unknown:
        raise ValueError(f"unknown scope(s): {', '.join(unknown)}; valid scopes: {', '.join(sorted(valid))}")
    raw, prefix, digest = generate_token()
    token = ApiToken.objects.create(
        name=name, site=site, scopes=sorted(set(scopes)), prefix=prefix, token_hash=digest, created_by=created_by
    )
    from qms.audit.chain import record_audit

    record_audit(action="create", model="qms.ApiToken", object_pk=token.pk, object_repr=str(token),
                 site_id=site.pk, changes={"name": [None, name], "scopes": [None, token.scopes]})
    return token, raw


class BearerTokenAuthentication(BaseAuthentication):
    keyword = b"bearer"

    def authenticate(self, request):
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(_("Malformed Authorization header: expected 'Bearer <token>'."))
        try:
            raw = header[1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed(_("The token contains invalid characters.")) from exc
        token = ApiToken.objects.select_related("site").filter(token_hash=hash_token(raw)).first()
        if token is None:
            raise exceptions.AuthenticationFailed(_("Unknown API token."))
        if token.revoked_at is not None:
            raise exceptions.AuthenticationFailed(_("This API token has been revoked."))
        now = timezone.now()
        # Touch last_used_at at most once a minute: a write per request would cost the MES hot path.
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        set_actor(actor_for_token(token))
        return MachineClient(token), token

    def authenticate_header(self, request):
        return 'Bearer realm="api"'
