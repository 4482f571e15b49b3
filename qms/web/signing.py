"""Signature forms send the version of the record the signer reviewed (a hidden field); when the record changed after
the page was loaded the service refuses with "stale". This makes that refusal say plainly that nothing was signed."""
from __future__ import annotations

from contextlib import contextmanager

from django.utils.translation import gettext as _


@contextmanager
def stale_means_unsigned():
    """Re-raise a "stale" NcError/CapaError (same constructor) with the message that nothing was signed."""
    try:
        yield
    except Exception as error:
        if getattr(error, "code", None) != "stale":
            raise
        message = _("%(message)s Nothing was signed: review the current version and sign again.") % {
            "message": error.message}
        raise type(error)("stale", message, details=error.details) from None
