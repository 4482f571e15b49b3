"""Reaction rules: create, change, enable and disable — validated, versioned, audited.

Every path (REST API, web form, seed) goes through `validate_rule`, which reads the values (JSON, form data or model
instances), checks them against the site and the characteristics in scope, and reports a message per field:
- a deviation rule needs a threshold that is a finite number > 0 and not wider than the physical range of any
  characteristic it covers; and characteristics with a nominal (chosen ones without → error; a pattern, machine or
  line scope where none has a nominal → error; where only some lack one, those are skipped by the evaluation);
- SPC rules name run rules the SPC engine knows; equipment-state rules name states MES reports;
- a hold command needs a write-back connector of the site and a target;
- every scope object, group and connector must belong to the rule's site (or exist at all, for groups);
- a characteristic pattern must match at least one characteristic of the site now (an error, not a warning: a rule
  that watches nothing is the silent failure a quality engineer cannot see; create the characteristics first).
Changing an enabled rule (disabling it included) needs a reason; `expected_version` refuses lost updates. The
concrete fields are mirrored into the audit chain by simple-history; scope and group changes (many-to-many, which
history does not track) get an audit entry of their own. Every committed change tells the rule caches to rebuild.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from qms.audit.chain import record_audit
from qms.models import Characteristic, Equipment, EquipmentStateEvent, Line, ReactionRule, Site
from qms.models.alarms import Alarm
from qms.rules.scope import CharacteristicInfo, RuleScope, pattern_matches
from qms.services import rule_cache

TEXT_FIELDS = ("name", "description", "characteristic_pattern", "writeback_target")
BOOLEAN_FIELDS = ("enabled", "freeze", "freeze_propagate_forward", "open_nc_draft", "hold_command")
CHOICE_FIELDS = {"trigger": ReactionRule.Trigger, "severity": Alarm.Severity, "freeze_from": ReactionRule.FreezeFrom}
LIST_FIELDS = ("spc_rules", "equipment_states")
M2M_FIELDS = ("characteristics", "equipment", "lines", "notify_groups", "escalation_groups")
EDITABLE_FIELDS = (
    "name", "description", "enabled", "trigger", "threshold", "spc_rules", "equipment_states", "characteristic_pattern",
    "severity", "freeze", "freeze_from", "freeze_lookback_s", "freeze_propagate_forward", "open_nc_draft",
    "hold_command", "writeback_connector", "writeback_target", "writeback_value", "escalate_after_min",
    *M2M_FIELDS,
)
MAX_LOOKBACK_S = 7 * 24 * 3600


class RuleVersionConflict(ValidationError):
    """Somebody else saved the rule since the caller read it (the API answers 409)."""


def spc_rule_names() -> tuple[str, ...]:
    """The run rules the SPC engine can signal (its own table, plus CUSUM)."""
    from spc.engine.rules import RULES

    return (*RULES, "CUSUM")


# --- reading values -------------------------------------------------------------------------------------------


def _text(value) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(_("Must be text."))
    return value.strip()


def _boolean(value) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "1", "yes", "on", "false", "0", "no", "off", ""):
        return value.strip().lower() in ("true", "1", "yes", "on")
    raise ValueError(_("Must be true or false."))


def _choice(value, choices) -> str:
    if not isinstance(value, str) or value.strip() not in choices.values:
        raise ValueError(_("“%(value)s” is not one of: %(choices)s.") % {
            "value": value, "choices": ", ".join(choices.values)})
    return value.strip()


def _number(value) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ValueError(_("Must be a number, not true/false."))
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(_("“%(value)s” is not a number.") % {"value": value}) from None
    if not math.isfinite(number):
        raise ValueError(_("Must be a finite number."))
    return number


def _positive_integer(value, *, allow_empty: bool) -> int | None:
    number = _number(value)
    if number is None:
        if allow_empty:
            return None
        raise ValueError(_("This field is required."))
    if not number.is_integer() or number <= 0:
        raise ValueError(_("Must be a whole number greater than 0."))
    return int(number)


def _string_list(value) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        value = [part for part in value.replace(";", ",").split(",")]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ValueError(_("Must be a list of names."))
    seen = []
    for item in (v.strip() for v in value):
        if item and item not in seen:
            seen.append(item)
    return seen


class _SiteObjects:
    """Resolves scope objects, groups and connectors named by instance, id or code/name; never across sites."""

    def __init__(self, site: Site):
        self.site = site

    def _many(self, value, model, *, site_filter: dict, key: str, what: str) -> list:
        if value is None or value == "":
            return []
        if not isinstance(value, (list, tuple, set)):
            value = [value]
        found, unknown = [], []
        for ref in value:
            if isinstance(ref, model):
                obj = model.objects.filter(pk=ref.pk, **site_filter).first()
            elif isinstance(ref, int) and not isinstance(ref, bool):
                obj = model.objects.filter(pk=ref, **site_filter).first()
            elif isinstance(ref, str) and ref.strip():
                ref = ref.strip()
                obj = model.objects.filter(**{key: ref}, **site_filter).first()
                if obj is None and ref.isdigit():
                    obj = model.objects.filter(pk=int(ref), **site_filter).first()
            else:
                obj = None
            if obj is None:
                unknown.append(str(getattr(ref, "pk", ref)))
            elif obj not in found:
                found.append(obj)
        if unknown:
            raise ValueError(_("Not %(what)s of site %(site)s: %(refs)s.") % {
                "what": what, "site": self.site.code, "refs": ", ".join(unknown)})
        return found

    def characteristics(self, value):
        return self._many(value, Characteristic, site_filter={"site": self.site}, key="code",
                          what=_("a characteristic"))

    def equipment(self, value):
        return self._many(value, Equipment, site_filter={"site": self.site}, key="code", what=_("equipment"))

    def lines(self, value):
        return self._many(value, Line, site_filter={"area__site": self.site}, key="code", what=_("a line"))

    def groups(self, value):
        return self._many(value, Group, site_filter={}, key="name", what=_("a user group"))

    def connector(self, value):
        from connectors.models import Connector

        if value is None or value == "":
            return None
        found = self._many([value], Connector, site_filter={"site": self.site}, key="name",
                           what=_("a connector"))
        return found[0]


# --- validation ---------------------------------------------------------------------------------------------


@dataclass
class ValidatedRule:
    instance: ReactionRule
    relations: dict[str, list]                  # m2m field → objects (every m2m field, current or new)
    errors: dict[str, list[str]] = field(default_factory=dict)
    changes: dict[str, list] = field(default_factory=dict)
    was_enabled: bool | None = None             # None: a new rule

    @property
    def ok(self) -> bool:
        return not self.errors


def _add(errors, name, message) -> None:
    errors.setdefault(name, []).append(str(message))


def _display(name: str, value):
    if name in M2M_FIELDS:
        return sorted(str(obj) for obj in value)
    if name == "writeback_connector":
        return value.name if value is not None else None
    return value


def _current_relations(rule: ReactionRule | None) -> dict[str, list]:
    if rule is None or rule.pk is None:
        return {name: [] for name in M2M_FIELDS}
    return {name: list(getattr(rule, name).all()) for name in M2M_FIELDS}


def validate_rule(site: Site, data: dict, *, instance: ReactionRule | None = None) -> ValidatedRule:
    """Check `data` as a new rule of `site` (instance None) or as a change of `instance`; write nothing."""
    refs = _SiteObjects(site)
    is_new = instance is None
    candidate = ReactionRule(site=site) if is_new else ReactionRule.objects.get(pk=instance.pk)
    relations = _current_relations(None if is_new else candidate)
    before = {name: _display(name, getattr(candidate, name) if name not in M2M_FIELDS else relations[name])
              for name in EDITABLE_FIELDS}
    errors: dict[str, list[str]] = {}
    for name, raw in data.items():
        try:
            if name not in EDITABLE_FIELDS:
                raise ValueError(_("Unknown field."))
            if name in TEXT_FIELDS:
                setattr(candidate, name, _text(raw))
            elif name in BOOLEAN_FIELDS:
                setattr(candidate, name, _boolean(raw))
            elif name in CHOICE_FIELDS:
                setattr(candidate, name, _choice(raw, CHOICE_FIELDS[name]))
            elif name in LIST_FIELDS:
                setattr(candidate, name, _string_list(raw))
            elif name == "threshold":
                candidate.threshold = _threshold(raw)
            elif name == "freeze_lookback_s":
                candidate.freeze_lookback_s = _positive_integer(raw, allow_empty=False)
            elif name == "escalate_after_min":
                candidate.escalate_after_min = _positive_integer(raw, allow_empty=True)
            elif name == "writeback_connector":
                candidate.writeback_connector = refs.connector(raw)
            elif name == "writeback_value":
                candidate.writeback_value = raw if raw != "" else None
            elif name == "characteristics":
                relations[name] = refs.characteristics(raw)
            elif name in ("equipment", "lines"):
                relations[name] = getattr(refs, name)(raw)
            else:
                relations[name] = refs.groups(raw)
        except ValueError as exc:
            _add(errors, name, exc)
    change = ValidatedRule(candidate, relations, errors, was_enabled=None if is_new else instance.enabled)
    _check(change, site)
    if not is_new:
        after = {name: _display(name, getattr(candidate, name) if name not in M2M_FIELDS else relations[name])
                 for name in EDITABLE_FIELDS}
        change.changes = {name: [before[name], after[name]] for name in EDITABLE_FIELDS if before[name] != after[name]}
    return change


def _threshold(raw) -> float | None:
    if isinstance(raw, float) and math.isnan(raw):
        raise ValueError(_("The threshold must be a number, not NaN."))
    if isinstance(raw, (int, float)) and not isinstance(raw, bool) and math.isinf(raw):
        raise ValueError(_("The threshold must be finite."))
    if isinstance(raw, str) and raw.strip().lower() in ("nan", "inf", "+inf", "-inf", "infinity", "-infinity"):
        raise ValueError(_("The threshold must be a finite number."))
    return _number(raw)


def _check(change: ValidatedRule, site: Site) -> None:
    rule, errors = change.instance, change.errors
    if "name" not in errors:
        if not rule.name:
            _add(errors, "name", _("This field is required."))
        elif ReactionRule.objects.filter(site=site, name=rule.name).exclude(pk=rule.pk).exists():
            _add(errors, "name", _("Site %(site)s already has a rule named “%(name)s”.") % {
                "site": site.code, "name": rule.name})
    if not rule.trigger and "trigger" not in errors:
        _add(errors, "trigger", _("This field is required."))
    if "characteristic_pattern" not in errors and rule.characteristic_pattern:
        codes = Characteristic.objects.filter(site=site).values_list("code", flat=True)
        if not pattern_matches(rule.characteristic_pattern, codes):
            _add(errors, "characteristic_pattern", _(
                "The pattern “%(pattern)s” matches no characteristic of site %(site)s (patterns are case-sensitive, "
                "e.g. *.BARREL_Z*.TEMP).") % {"pattern": rule.characteristic_pattern, "site": site.code})
    trigger = rule.trigger
    if "threshold" not in errors:
        if trigger == ReactionRule.Trigger.DEVIATION:
            _check_deviation(change, site)
        elif rule.threshold is not None:
            _add(errors, "threshold", _("Only a deviation rule has a threshold; leave it empty."))
    if "spc_rules" not in errors:
        if trigger != ReactionRule.Trigger.SPC and rule.spc_rules:
            _add(errors, "spc_rules", _("Only an SPC rule names run rules; leave it empty."))
        unknown = [name for name in rule.spc_rules if name not in spc_rule_names()]
        if unknown:
            _add(errors, "spc_rules", _("Unknown SPC rule(s): %(names)s; known: %(known)s.") % {
                "names": ", ".join(unknown), "known": ", ".join(spc_rule_names())})
    if "equipment_states" not in errors:
        states = EquipmentStateEvent.State.values
        unknown = [name for name in rule.equipment_states if name not in states]
        if unknown:
            _add(errors, "equipment_states", _("Unknown equipment state(s): %(names)s; known: %(known)s.") % {
                "names": ", ".join(unknown), "known": ", ".join(states)})
        elif trigger == ReactionRule.Trigger.EQUIPMENT_STATE and not rule.equipment_states:
            _add(errors, "equipment_states", _("Name the equipment states that trigger the rule."))
        elif trigger != ReactionRule.Trigger.EQUIPMENT_STATE and rule.equipment_states:
            _add(errors, "equipment_states", _("Only an equipment-state rule names states; leave it empty."))
    if rule.hold_command and "writeback_connector" not in errors and "writeback_target" not in errors:
        if rule.writeback_connector is None:
            _add(errors, "writeback_connector", _("A hold command needs the write-back connector to send it through."))
        if not rule.writeback_target:
            _add(errors, "writeback_target", _("A hold command needs a write-back target (node, topic, register or "
                                               "URL path)."))
    if rule.freeze_lookback_s is not None and rule.freeze_lookback_s > MAX_LOOKBACK_S and \
            "freeze_lookback_s" not in errors:
        _add(errors, "freeze_lookback_s", _("At most %(max)s s (7 days).") % {"max": MAX_LOOKBACK_S})


def _covered_characteristics(change: ValidatedRule, site: Site) -> tuple[list, list]:
    """(chosen characteristics, characteristics covered otherwise — pattern, machines, lines; the site if none)."""
    rule, relations = change.instance, change.relations
    chosen = relations["characteristics"]
    others = Characteristic.objects.filter(site=site).exclude(status=Characteristic.Status.RETIRED)
    if not (rule.characteristic_pattern or relations["equipment"] or relations["lines"]):
        return chosen, ([] if chosen else list(others))
    scope = RuleScope(pattern=rule.characteristic_pattern, equipment_ids=frozenset(e.pk for e in relations["equipment"]),
                      line_ids=frozenset(line.pk for line in relations["lines"]))
    covered = [
        characteristic for characteristic in others.select_related("equipment__work_center")
        if scope.covers(CharacteristicInfo(
            characteristic.pk, characteristic.code, characteristic.equipment_id,
            characteristic.equipment.work_center.line_id if characteristic.equipment_id else None))
    ]
    return chosen, covered


def _check_deviation(change: ValidatedRule, site: Site) -> None:
    rule, errors = change.instance, change.errors
    if rule.threshold is None:
        _add(errors, "threshold", _("A deviation rule needs the threshold ±X (in the characteristic's unit)."))
        return
    if rule.threshold <= 0:
        _add(errors, "threshold", _("The threshold must be greater than 0."))
        return
    if {"characteristics", "equipment", "lines", "characteristic_pattern"} & set(errors):
        return
    chosen, covered = _covered_characteristics(change, site)
    without_nominal = [c.code for c in chosen if c.nominal is None]
    if without_nominal:
        _add(errors, "characteristics", _(
            "A deviation rule compares with the nominal; these characteristics have none: %(codes)s.") % {
            "codes": ", ".join(without_nominal)})
    elif covered and all(c.nominal is None for c in covered) and not chosen:
        _add(errors, "trigger", _("None of the characteristics this rule covers has a nominal to deviate from."))
    for characteristic in [*chosen, *covered]:
        if characteristic.physical_min is None or characteristic.physical_max is None:
            continue
        span = characteristic.physical_max - characteristic.physical_min
        if rule.threshold > span:
            _add(errors, "threshold", _(
                "±%(threshold)s is wider than the physical range of %(code)s (%(low)s … %(high)s): the rule could "
                "never fire.") % {"threshold": rule.threshold, "code": characteristic.code,
                                  "low": characteristic.physical_min, "high": characteristic.physical_max})
            return


# --- saving -------------------------------------------------------------------------------------------------


def _save(change: ValidatedRule, *, reason: str) -> ReactionRule:
    if not change.ok:
        raise ValidationError(change.errors)
    rule = change.instance
    is_new = change.was_enabled is None
    if not is_new and change.was_enabled and change.changes and not reason:
        raise ValidationError({"reason": _("A reason is required to change an enabled rule (%(fields)s).") % {
            "fields": ", ".join(change.changes)}})
    rule.version = 1 if is_new else rule.version + 1
    rule._change_reason = reason[:100] if reason else ""
    try:
        with transaction.atomic():
            rule.save()
    except IntegrityError:
        raise ValidationError({"name": _("Site %(site)s already has a rule named “%(name)s”.") % {
            "site": rule.site.code, "name": rule.name}}) from None
    relation_changes = {}
    for name in M2M_FIELDS:
        wanted = change.relations[name]
        if is_new or name in change.changes:
            getattr(rule, name).set(wanted)
            if wanted or not is_new:
                relation_changes[name] = change.changes.get(name, [[], _display(name, wanted)])
    if relation_changes:
        record_audit(action="create" if is_new else "update", model=ReactionRule._meta.label, object_pk=rule.pk,
                     object_repr=str(rule), site_id=rule.site_id, changes=relation_changes, reason=reason)
    rule_cache.rules_changed()
    return rule


def _locked(rule_id: int) -> ReactionRule:
    try:
        return ReactionRule.objects.select_for_update().select_related("site").get(pk=rule_id)
    except ReactionRule.DoesNotExist:
        raise ValidationError({"rule": _("No reaction rule #%(id)s.") % {"id": rule_id}}) from None


def _check_version(rule: ReactionRule, expected_version: int | None) -> None:
    if expected_version is not None and rule.version != expected_version:
        raise RuleVersionConflict({"version": _(
            "The rule “%(name)s” was changed by someone else: you edited version %(expected)s, it is now at version "
            "%(current)s. Reload it and apply your change again.") % {
            "name": rule.name, "expected": expected_version, "current": rule.version}})


@transaction.atomic
def create_rule(site: Site, data: dict, *, reason: str = "") -> ReactionRule:
    """A new rule of `site`; `data` holds editable fields (see EDITABLE_FIELDS), references by instance/id/code."""
    return _save(validate_rule(site, data), reason=(reason or "").strip())


@transaction.atomic
def update_rule(rule_id: int, changes: dict, *, reason: str = "", expected_version: int | None = None) -> ReactionRule:
    """Change a rule. An enabled rule needs a reason; with `expected_version`, refuse a lost update (409)."""
    rule = _locked(rule_id)
    _check_version(rule, expected_version)
    change = validate_rule(rule.site, changes, instance=rule)
    if change.ok and not change.changes:
        return rule
    return _save(change, reason=(reason or "").strip())


def enable_rule(rule_id: int, *, reason: str = "", expected_version: int | None = None) -> ReactionRule:
    return update_rule(rule_id, {"enabled": True}, reason=reason, expected_version=expected_version)


def disable_rule(rule_id: int, *, reason: str, expected_version: int | None = None) -> ReactionRule:
    """Stop a rule reacting (its alarms stay as they are). A reason is required: it was enabled."""
    return update_rule(rule_id, {"enabled": False}, reason=reason, expected_version=expected_version)
