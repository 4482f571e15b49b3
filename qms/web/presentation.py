"""How stored values are shown to people: shared by templates (via qms.templatetags.qp_ui), history and exports."""
from __future__ import annotations

import json

from django.apps import apps
from django.utils.translation import gettext as _

EMPTY = "—"


def display(value) -> str:
    """A stored value as a person reads it: nothing as a dash, lists and objects as compact JSON."""
    if value is None or value == "":
        return EMPTY
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def record_type_label(model_label: str) -> str:
    """'qms.Characteristic' → the model's (translated) verbose name; unknown labels are shown as they are."""
    try:
        return str(apps.get_model(model_label)._meta.verbose_name).capitalize()
    except (LookupError, ValueError):
        return model_label
