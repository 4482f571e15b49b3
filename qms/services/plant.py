"""Changes to the plant model (ISA-95 Site → Area → Line → Work center → Equipment, products, operations).

Every change goes through `create_plant_object` / `update_plant_object` / `delete_plant_object` (and `create_site`)
so it is validated the same way everywhere: the model's own rules (clean()), codes unique within their parent
reported on the offending field (never as a database error, also when two requests race), no moves across sites,
deletions refused with the list of what still refers to the record, and a simple-history version (→ audit chain)
carrying the reason.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models.deletion import ProtectedError, RestrictedError
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from qms.models import Area, Characteristic, Equipment, Line, Operation, Product, Site, SiteMembership, WorkCenter

# What callers may set per model. The first field of a non-site model is its parent.
WRITABLE_FIELDS: dict[type[models.Model], tuple[str, ...]] = {
    Site: ("code", "name", "timezone", "naming_rule"),
    Area: ("site", "code", "name"),
    Line: ("area", "code", "name"),
    WorkCenter: ("line", "code", "name"),
    Equipment: ("work_center", "code", "name", "kind"),
    Product: ("site", "part_number", "revision", "name"),
    Operation: ("product", "sequence", "code", "name", "work_center"),
}

# ORM path from each model to its site id (Site itself: its own pk).
SITE_PATHS: dict[type[models.Model], str] = {
    Site: "pk",
    Area: "site_id",
    Line: "area.site_id",
    WorkCenter: "line.area.site_id",
    Equipment: "work_center.line.area.site_id",
    Product: "site_id",
    Operation: "product.site_id",
}

EXAMPLES_PER_REFERRER = 5


@dataclass
class Referrer:
    """Records of one kind that still point at something being deleted."""

    model: str
    label: str
    examples: list[str] = field(default_factory=list)
    more: bool = False

    def describe(self) -> str:
        shown = ", ".join(self.examples) + (", …" if self.more else "")
        return f"{self.label} ({shown})" if shown else self.label

    def to_dict(self) -> dict:
        return {"model": self.model, "label": self.label, "examples": self.examples, "more": self.more}


class InUseError(Exception):
    """Deletion refused: other records still refer to the object (the API answers 409)."""

    def __init__(self, obj, referrers: list[Referrer], hint: str = ""):
        self.obj = obj
        self.referrers = referrers
        self.hint = hint
        names = "; ".join(referrer.describe() for referrer in referrers)
        message = _("%(object)s cannot be deleted: it is still referred to by %(referrers)s.") % {
            "object": f"{capfirst(obj._meta.verbose_name)} {obj}", "referrers": names,
        }
        self.message = f"{message} {hint}".strip()
        super().__init__(self.message)


def site_id_of(instance: models.Model) -> int | None:
    value = instance
    for attribute in SITE_PATHS[type(instance)].split("."):
        value = getattr(value, attribute, None)
        if value is None:
            return None
    return value


def blocking_references(instance: models.Model) -> list[Referrer]:
    """What keeps `instance` from being deleted: PROTECT/RESTRICT references, also behind CASCADE children.

    Checked with LIMITed queries: Django's own ProtectedError would load every referring row (millions of
    measurements) just to name them.
    """
    model = type(instance)
    return _blocking(model, model._base_manager.filter(pk=instance.pk), depth=0)


def _blocking(model, queryset, depth: int) -> list[Referrer]:
    found: list[Referrer] = []
    # Hidden relations too: e.g. Measurement.equipment has related_name="+" but still protects the machine.
    relations = [f for f in model._meta.get_fields(include_hidden=True) if f.auto_created and not f.concrete]
    for relation in relations:
        if relation.many_to_many or getattr(relation, "on_delete", None) is None:
            continue
        referring = relation.related_model
        rows = referring._base_manager.filter(**{f"{relation.field.name}__in": queryset})
        if relation.on_delete in (models.PROTECT, models.RESTRICT):
            sample = list(rows[: EXAMPLES_PER_REFERRER + 1])
            if sample:
                found.append(Referrer(
                    model=referring._meta.label,
                    label=str(referring._meta.verbose_name_plural),
                    examples=[str(obj) for obj in sample[:EXAMPLES_PER_REFERRER]],
                    more=len(sample) > EXAMPLES_PER_REFERRER,
                ))
        elif relation.on_delete is models.CASCADE and depth < 4:
            found.extend(_blocking(referring, rows, depth + 1))
    return found


def unique_violations(instance: models.Model) -> dict[str, str]:
    """Uniqueness problems of an unsaved state, keyed by the field the user should change."""
    errors: dict[str, str] = {}
    model = type(instance)
    groups = [(f.name,) for f in model._meta.concrete_fields if f.unique and not f.primary_key]
    groups += [
        tuple(constraint.fields) for constraint in model._meta.constraints
        if isinstance(constraint, models.UniqueConstraint) and constraint.fields and constraint.condition is None
    ]
    for names in groups:
        fields = [model._meta.get_field(name) for name in names]
        lookup = {f.attname: getattr(instance, f.attname) for f in fields}
        if any(value is None for value in lookup.values()):
            continue
        duplicates = model._default_manager.filter(**lookup)
        if instance.pk is not None:
            duplicates = duplicates.exclude(pk=instance.pk)
        if not duplicates.exists():
            continue
        identity = [f for f in fields if not f.is_relation]
        scope = [f for f in fields if f.is_relation]
        described = _(" and ").join(f"{f.verbose_name} “{getattr(instance, f.attname)}”" for f in identity)
        if scope:
            where = ", ".join(f"{f.verbose_name} {getattr(instance, f.name)}" for f in scope)
            message = _("%(model)s with %(identity)s already exists in %(scope)s.") % {
                "model": capfirst(model._meta.verbose_name), "identity": described, "scope": where,
            }
        else:
            message = _("%(model)s with %(identity)s already exists.") % {
                "model": capfirst(model._meta.verbose_name), "identity": described,
            }
        errors.setdefault(identity[0].name if identity else names[-1], message)
    return errors


def save_validated(instance: models.Model, *, reason: str = "", exclude: tuple[str, ...] = ()) -> None:
    """Validate (fields, clean(), uniqueness) and save with the reason; a racing duplicate becomes a field error."""
    try:
        instance.full_clean(exclude=list(exclude), validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        errors = exc.message_dict
    else:
        errors = {}
    for name, message in unique_violations(instance).items():
        errors.setdefault(name, [message])
    if errors:
        raise ValidationError(errors)
    instance._change_reason = reason
    try:
        with transaction.atomic():
            instance.save()
    except IntegrityError:
        # Another transaction inserted the same code between our check and our insert.
        errors = unique_violations(instance)
        if errors:
            raise ValidationError(errors) from None
        raise


def _apply(instance: models.Model, data: dict) -> None:
    allowed = WRITABLE_FIELDS[type(instance)]
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ValidationError({name: _("This field cannot be set here.") for name in unknown})
    for name, value in data.items():
        setattr(instance, name, value)
    if isinstance(instance, Equipment) and instance.work_center_id:
        # The site is denormalised from the hierarchy so MES codes resolve with one indexed lookup.
        instance.site_id = instance.work_center.line.area.site_id


@transaction.atomic
def create_plant_object(model: type[models.Model], data: dict, *, reason: str = "") -> models.Model:
    """Create a site, area, line, work center, equipment, product or operation from validated field values."""
    instance = model()
    _apply(instance, data)
    save_validated(instance, reason=reason)
    return instance


@transaction.atomic
def create_site(data: dict, *, creator=None, reason: str = "") -> Site:
    """Create a site; its creator (unless a superuser, who sees every site anyway) becomes a member of it."""
    site = create_plant_object(Site, data, reason=reason)
    if creator is not None and getattr(creator, "pk", None) and not creator.is_superuser:
        SiteMembership.objects.get_or_create(user=creator, site=site)
    return site


@transaction.atomic
def update_plant_object(instance: models.Model, data: dict, *, reason: str = "") -> models.Model:
    """Change fields of a plant record (locked for the change). A parent may change only within the same site."""
    model = type(instance)
    instance = model._default_manager.select_for_update().get(pk=instance.pk)
    site_before = site_id_of(instance)
    naming_rule_before = instance.naming_rule if isinstance(instance, Site) else None
    _apply(instance, data)
    if model is not Site and site_id_of(instance) != site_before:
        parent = WRITABLE_FIELDS[model][0]
        raise ValidationError({parent: _("A record cannot be moved to another site.")})
    if isinstance(instance, Site) and instance.naming_rule != naming_rule_before:
        instance.full_clean(validate_unique=False, validate_constraints=False)
        _check_existing_codes_follow(instance)
    save_validated(instance, reason=reason)
    return instance


def _check_existing_codes_follow(site: Site) -> None:
    """A stricter naming rule must not strand existing dictionary codes: list the ones it would reject."""
    offending = [
        code for code in Characteristic.objects.filter(site_id=site.pk).values_list("code", flat=True).iterator()
        if not site.follows_naming_rule(code)
    ]
    if offending:
        shown = ", ".join(offending[:10]) + (", …" if len(offending) > 10 else "")
        raise ValidationError({"naming_rule": _(
            "%(count)d existing data-dictionary code(s) do not match the new rule: %(codes)s. Rename them first."
        ) % {"count": len(offending), "codes": shown}})


@transaction.atomic
def delete_plant_object(instance: models.Model, *, reason: str = "") -> None:
    """Delete a plant record nothing refers to any more; otherwise raise InUseError naming what still does."""
    model = type(instance)
    instance = model._default_manager.select_for_update().get(pk=instance.pk)
    referrers = blocking_references(instance)
    if referrers:
        raise InUseError(instance, referrers)
    instance._change_reason = reason
    try:
        with transaction.atomic():
            instance.delete()
    except (ProtectedError, RestrictedError) as exc:
        # A reference that appeared after our check (or one the check does not follow).
        objects = exc.protected_objects if isinstance(exc, ProtectedError) else exc.restricted_objects
        labels = sorted({str(obj._meta.verbose_name_plural) for obj in objects})
        raise InUseError(instance, [Referrer(model="", label=label) for label in labels]) from None
