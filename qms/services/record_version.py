"""The version a client says it saw, as an int — or None when it is no finite whole number (NaN, ±inf, 1.5, true,
"abc"); the services raise their own error with `version_problem` as the message, naming the field."""
from __future__ import annotations

import math

from django.utils.translation import gettext as _


def version_number(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and value.is_integer() else None
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def version_problem(value) -> str:
    if value is None or str(value).strip() == "":
        return _("Send the version you edited.")
    return _("The version must be a whole number, not %(value)r.") % {"value": value}
