"""The exception the CAPA and action services raise, and the wording of the pure rules' problem codes."""
from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from qms.capa_rules import Problem, TransitionRefused

# Refusals that are a conflict with the record's state (HTTP 409); not_found → 404, not_permitted, self_approval,
# a wrong signature password or signer → 403 (as on the NC and hold endpoints), signing locked after repeated wrong
# passwords → 429, everything else (bad input, incomplete step, no meaning) → 400.
CONFLICT_CODES = frozenset({
    "stale", "step_not_open", "step_not_submitted", "step_already_open", "previous_steps_not_approved",
    "capa_not_open", "steps_not_approved", "not_effective", "action_not_open", "step_incomplete", "record_closed",
})
STATUS_BY_CODE = {"not_found": 404, "not_permitted": 403, "self_approval": 403, "attachment_too_large": 413,
                  "signature_password": 403, "signature_user": 403, "signature_locked": 429}


class CapaError(Exception):
    """A request refused, nothing changed. `code` is machine-readable, `message` names the problem, `field` the
    input at fault (forms show the message next to it), `details` carries extra facts (e.g. the step's problems)."""

    def __init__(self, code: str, message: str, *, field: str | None = None, details: dict | None = None):
        super().__init__(message)
        self.code = code
        self.message = str(message)
        self.field = field
        self.details = details or {}

    @property
    def http_status(self) -> int:
        if self.code in STATUS_BY_CODE:
            return STATUS_BY_CODE[self.code]
        return 409 if self.code in CONFLICT_CODES else 400

    def __str__(self):
        return self.message


PROBLEM_MESSAGES = {
    "required": gettext_lazy("This field is required."),
    "team_too_small": gettext_lazy("The team needs at least %(min)s members (now %(count)s)."),
    "champion_required": gettext_lazy("Name the champion."),
    "champion_not_member": gettext_lazy("The champion %(champion)s must be a member of the team."),
    "containment_required": gettext_lazy("Add at least one containment action."),
    "verification_required": gettext_lazy("Containment action “%(title)s” needs a verification."),
    "owner_required": gettext_lazy("Action “%(title)s” needs an owner."),
    "category_invalid": gettext_lazy("“%(category)s” is not a 5M1E category."),
    "why_blank": gettext_lazy("A why in the chain is empty; fill it in or remove it."),
    "why_chain_length": gettext_lazy("A root cause needs a why chain of %(min)s to %(max)s whys (now %(count)s)."),
    "verified_root_cause_required": gettext_lazy("Mark at least one cause as root cause and verify it."),
    "corrective_action_required": gettext_lazy("Add at least one permanent corrective action."),
    "action_needs_root_cause": gettext_lazy("Corrective action “%(title)s” must address a root cause."),
    "owner_and_due_required": gettext_lazy("Corrective action “%(title)s” needs an owner and a due date."),
    "action_not_done": gettext_lazy("Corrective action “%(title)s” is not implemented (done) yet."),
    "prevention_required": gettext_lazy("Add at least one item that prevents recurrence."),
    "prevention_kind_invalid": gettext_lazy("Item %(index)s: choose what kind of change it is."),
    "prevention_blank": gettext_lazy("Item %(index)s: give a reference or a description."),
    "not_effective": gettext_lazy("The effectiveness check must say “effective” (now: %(effectiveness)s)."),
}

TRANSITION_MESSAGES = {
    "unknown_step": gettext_lazy("There is no 8D step %(step)s."),
    "step_not_open": gettext_lazy("Step %(step)s is %(state)s; reopen it to change it."),
    "step_not_submitted": gettext_lazy("Step %(step)s is %(state)s; only a submitted step can be approved."),
    "previous_steps_not_approved": gettext_lazy("Step %(step)s waits for the approval of %(waiting)s."),
    "step_already_open": gettext_lazy("Step %(step)s is already open."),
    "reason_required": gettext_lazy("Give the reason for reopening step %(step)s."),
}


def _format(template, params: dict) -> str:
    shown = {k: ", ".join(v) if isinstance(v, list | tuple) else v for k, v in params.items()}
    try:
        return str(template) % shown
    except (KeyError, TypeError, ValueError):
        return str(template)


def problem_message(problem: Problem) -> str:
    return _format(PROBLEM_MESSAGES.get(problem.code, problem.code), problem.params)


def problems_as_details(problems: list[Problem]) -> list[dict]:
    return [{"code": p.code, "field": p.field, "message": problem_message(p), "params": p.params} for p in problems]


def incomplete(step: str, problems: list[Problem]) -> CapaError:
    return CapaError("step_incomplete",
                     _("Step %(step)s is not complete: %(problems)s") % {
                         "step": step, "problems": " ".join(problem_message(p) for p in problems)},
                     field=problems[0].field, details={"problems": problems_as_details(problems)})


def refused(exc: TransitionRefused) -> CapaError:
    field = "reason" if exc.code == "reason_required" else None
    return CapaError(exc.code, _format(TRANSITION_MESSAGES.get(exc.code, exc.code), exc.params), field=field,
                     details=exc.params)


EFFECTIVENESS_REASONS = {
    "too_few_points": gettext_lazy("%(characteristic)s: only %(n)s values since the fix took effect; at least %(min)s "
                                   "are needed to judge it."),
    "cpk_too_low": gettext_lazy("%(characteristic)s: Cpk after the fix is %(cpk_after)s; it must reach at least "
                                "%(required)s (the target, or the Cpk before if that was higher)."),
    "defect_rate_rose": gettext_lazy("The defect rate rose from %(before)s to %(after)s."),
    "too_little_production": gettext_lazy("Only %(produced)s produced since the fix took effect; the defect rate "
                                          "is judged from %(min)s on."),
    "nothing_to_judge": gettext_lazy("Nothing to judge yet: name the characteristics the fix should improve, or "
                                     "link an NC with a product that is being produced."),
}


def effectiveness_reason_message(reason: dict) -> str:
    """One reason of a "not yet" verdict (`qms.capa_rules.judge_effectiveness`) as a sentence."""
    params = dict(reason)
    for name in ("cpk_after", "required"):
        if params.get(name, 0) is None:
            params[name] = "—"
        elif isinstance(params.get(name), int | float):
            params[name] = f"{params[name]:.2f}"
    for name in ("before", "after"):
        if isinstance(params.get(name), int | float):
            params[name] = f"{params[name] * 100:.2f} %"
    return _format(EFFECTIVENESS_REASONS.get(reason.get("code"), reason.get("code", "")), params)
