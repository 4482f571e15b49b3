"""The defect-code catalogue: hierarchical (category → defect), named in English and Chinese, per site or shared
by every site (site empty). Codes are never deleted — an NC may name them — they are deactivated instead and then
no longer offered for new classifications."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from qms.models import DefectCode
from qms.services.nc_errors import NcError

CODE_MAX = DefectCode._meta.get_field("code").max_length
NAME_MAX = DefectCode._meta.get_field("name_en").max_length
MAX_DEPTH = 4
EDITABLE = ("name_en", "name_zh", "parent", "unit_cost")


def codes_for_site(site, *, include_inactive: bool = False):
    """The codes a site may use: its own and the shared ones."""
    codes = DefectCode.objects.filter(Q(site=site) | Q(site__isnull=True)).select_related("parent")
    return codes if include_inactive else codes.filter(active=True)


def create_defect_code(site, *, code: str, name_en: str, name_zh: str, parent=None, unit_cost=None) -> DefectCode:
    """`site` None makes a shared code. The parent must be usable by the same site (shared or the site's own)."""
    code = _check_code(code)
    fields = {"name_en": _check_name("name_en", name_en), "name_zh": _check_name("name_zh", name_zh),
              "unit_cost": _check_cost(unit_cost)}
    with transaction.atomic():
        parent = _check_parent(site, parent, None)
        # NULL sites are distinct to a unique index: the shared namespace is checked here, under a lock of the
        # clashing rows (none yet: the INSERT's unique index covers site codes, this covers shared ones).
        clash = DefectCode.objects.select_for_update().filter(code=code).filter(
            Q(site__isnull=True) | Q(site=site) if site is not None else Q())
        if clash.exists():
            raise NcError("code_taken", _("The defect code %(code)s exists already.") % {"code": code}, field="code")
        entry = DefectCode(site=site, code=code, parent=parent, **fields)
        entry._change_reason = _("defect code created")
        entry.save()
    return entry


def update_defect_code(code_id: int, *, changes: dict) -> DefectCode:
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise NcError("not_editable", _("These fields cannot be changed: %(fields)s.") % {"fields": ", ".join(unknown)},
                      field=unknown[0])
    with transaction.atomic():
        entry = _locked(code_id)
        if "name_en" in changes:
            entry.name_en = _check_name("name_en", changes["name_en"])
        if "name_zh" in changes:
            entry.name_zh = _check_name("name_zh", changes["name_zh"])
        if "unit_cost" in changes:
            entry.unit_cost = _check_cost(changes["unit_cost"])
        if "parent" in changes:
            entry.parent = _check_parent(entry.site, changes["parent"], entry)
        entry._change_reason = _("defect code changed")
        entry.save()
    return entry


def set_defect_code_active(code_id: int, *, active: bool) -> DefectCode:
    """Deactivate (no longer offered; NCs keep it) or reactivate a code. A category with active children stays
    active until they are deactivated."""
    with transaction.atomic():
        entry = _locked(code_id)
        if entry.active == active:
            return entry
        if not active and entry.children.filter(active=True).exists():
            raise NcError("has_active_children", _("Deactivate the codes under %(code)s first.") % {"code": entry.code})
        if active and entry.parent_id and not entry.parent.active:
            raise NcError("parent_inactive", _("Reactivate the category %(code)s first.") % {"code": entry.parent.code})
        entry.active = active
        entry._change_reason = _("defect code reactivated") if active else _("defect code deactivated")
        entry.save()
    return entry


def install_codes(site, catalogue) -> list[DefectCode]:
    """Create missing codes of `catalogue` — [(code, name_en, name_zh, [(code, name_en, name_zh), ...]), ...] —
    for `site` (None: shared). Idempotent: existing codes are left as they are."""
    installed = []
    for code, name_en, name_zh, children in catalogue:
        parent = _existing(site, code) or create_defect_code(site, code=code, name_en=name_en, name_zh=name_zh)
        installed.append(parent)
        for child_code, child_en, child_zh in children:
            installed.append(_existing(site, child_code) or create_defect_code(
                site, code=child_code, name_en=child_en, name_zh=child_zh, parent=parent))
    return installed


def depth_of(entry: DefectCode) -> int:
    depth, node = 0, entry
    while node.parent_id is not None and depth <= MAX_DEPTH:
        node = node.parent
        depth += 1
    return depth


def tree(codes) -> list[tuple[DefectCode, int]]:
    """(code, depth) in catalogue order: each category followed by its children."""
    by_parent: dict[int | None, list[DefectCode]] = {}
    present = {entry.pk for entry in codes}
    for entry in codes:
        parent = entry.parent_id if entry.parent_id in present else None
        by_parent.setdefault(parent, []).append(entry)
    ordered: list[tuple[DefectCode, int]] = []

    def walk(parent_id, depth):
        for entry in sorted(by_parent.get(parent_id, ()), key=lambda e: e.code):
            ordered.append((entry, depth))
            walk(entry.pk, depth + 1)

    walk(None, 0)
    return ordered


# --- internals -----------------------------------------------------------------------------------------------------


def _existing(site, code):
    return DefectCode.objects.filter(site=site, code=code).first()


def _locked(code_id: int) -> DefectCode:
    entry = DefectCode.objects.select_for_update(of=("self",)).select_related("parent").filter(pk=code_id).first()
    if entry is None:
        raise NcError("not_found", _("Defect code %(id)s does not exist.") % {"id": code_id})
    return entry


def _check_code(code) -> str:
    code = str(code or "").strip().upper()
    if not code:
        raise NcError("code_required", _("Give the defect code."), field="code")
    if len(code) > CODE_MAX or any(ch.isspace() for ch in code):
        raise NcError("code_invalid", _("A defect code has at most %(max)d characters and no spaces.")
                      % {"max": CODE_MAX}, field="code")
    return code


def _check_name(field: str, value) -> str:
    value = str(value or "").strip()
    if not value:
        raise NcError("name_required", _("Give the name in both languages."), field=field)
    if len(value) > NAME_MAX:
        raise NcError("name_too_long", _("A name has at most %(max)d characters.") % {"max": NAME_MAX}, field=field)
    return value


def _check_cost(value):
    if value in (None, ""):
        return None
    try:
        cost = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise NcError("unit_cost_invalid", _("The cost must be a number."), field="unit_cost") from None
    if cost < 0 or not cost.is_finite():
        raise NcError("unit_cost_invalid", _("The cost cannot be negative."), field="unit_cost")
    return cost.quantize(Decimal("0.01"))


def _check_parent(site, parent, entry):
    if parent in (None, ""):
        return None
    if not isinstance(parent, DefectCode):
        parent = DefectCode.objects.filter(Q(site=site) | Q(site__isnull=True), code=str(parent).strip().upper()) \
            .order_by("site_id").first() if not str(parent).isdigit() else DefectCode.objects.filter(pk=parent).first()
        if parent is None:
            raise NcError("parent_unknown", _("Unknown parent code."), field="parent")
    if parent.site_id is not None and (site is None or parent.site_id != site.pk):
        raise NcError("parent_other_site", _("The parent %(code)s belongs to another site.") % {"code": parent.code},
                      field="parent")
    if not parent.active:
        raise NcError("parent_inactive", _("The parent %(code)s is deactivated.") % {"code": parent.code},
                      field="parent")
    node, depth = parent, 1
    while node is not None:
        if entry is not None and node.pk == entry.pk:
            raise NcError("parent_cycle", _("A code cannot sit under itself."), field="parent")
        node = node.parent
        depth += 1
    if depth > MAX_DEPTH:
        raise NcError("too_deep", _("The catalogue is at most %(max)d levels deep.") % {"max": MAX_DEPTH},
                      field="parent")
    return parent
