"""Small presentation helpers shared by the UI's templates."""
from __future__ import annotations

import json

from django import template
from django.apps import apps
from django.core.exceptions import FieldDoesNotExist

from qms.web.presentation import display, record_type_label

register = template.Library()
register.filter("display", display)


def _field_label(model_label: str, attname: str) -> str:
    try:
        model = apps.get_model(model_label)
    except (LookupError, ValueError):
        return attname
    name = attname[:-3] if attname.endswith("_id") else attname
    try:
        return str(model._meta.get_field(name).verbose_name)
    except FieldDoesNotExist:
        return attname


@register.filter
def field_label(attname: str, model_label: str) -> str:
    """{{ "lsl"|field_label:"qms.Characteristic" }} → the field's translated verbose name."""
    return _field_label(model_label, attname)


@register.filter
def change_rows(entry) -> list[dict]:
    """An audit entry's {field: [before, after]} as rows with the field's translated label."""
    rows = []
    for field, values in (entry.changes or {}).items():
        if isinstance(values, list) and len(values) == 2:
            before, after = values
        else:
            before, after = None, values
        rows.append({"field": field, "label": _field_label(entry.model, field),
                     "before": display(before), "after": display(after)})
    return rows


@register.filter
def record_type(model_label: str) -> str:
    return record_type_label(model_label)


@register.filter
def scope_label(scope: str) -> str:
    from qms.models import ApiToken

    try:
        return str(ApiToken.Scope(scope).label)
    except ValueError:
        return scope


@register.filter
def pretty_json(value) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True)


@register.inclusion_tag("qms/includes/sort_header.html", takes_context=True)
def sort_header(context, field: str, label: str, css: str = ""):
    """A <th> that sorts by `field`; a second click reverses. Keeps the other query parameters (not the page)."""
    request = context["request"]
    current = request.GET.get("o", "")
    params = request.GET.copy()
    params.pop("page", None)
    if current == field:
        params["o"], state = f"-{field}", "ascending"
    elif current == f"-{field}":
        params["o"], state = field, "descending"
    else:
        params["o"], state = field, "none"
    return {"url": f"?{params.urlencode()}", "label": label, "state": state, "css": css}
