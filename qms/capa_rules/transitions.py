"""Legal 8D step transitions (docs/capa.md, "Step states and order").

States: open → submitted → approved; submitted or approved → open by reopening (with a reason).
Order: a step may be submitted only when every step before it is approved — except D3 (interim containment), which
runs alongside D2: it needs only D0 and D1. D4 and later need D0–D3.
Reopening a step falls back every later step that depends on it (submitted or approved) to open: a changed root
cause invalidates the corrective actions built on it. Only open steps are edited.
"""
from __future__ import annotations

STEPS = ("D0", "D1", "D2", "D3", "D4", "D5", "D6", "D7", "D8")
OPEN, SUBMITTED, APPROVED = "open", "submitted", "approved"
# Steps that may run alongside an earlier one: step → the earlier steps it does not wait for.
RUNS_ALONGSIDE = {"D3": frozenset({"D2"})}


class TransitionRefused(Exception):
    def __init__(self, code: str, params: dict | None = None):
        super().__init__(code)
        self.code = code
        self.params = params or {}


def _index(step: str) -> int:
    try:
        return STEPS.index(step)
    except ValueError:
        raise TransitionRefused("unknown_step", {"step": step}) from None


def prerequisites(step: str) -> tuple[str, ...]:
    """The steps that must be approved before `step` may be submitted."""
    earlier = STEPS[:_index(step)]
    return tuple(s for s in earlier if s not in RUNS_ALONGSIDE.get(step, ()))


def check_edit(step: str, states: dict[str, str]) -> None:
    _index(step)
    if states[step] != OPEN:
        raise TransitionRefused("step_not_open", {"step": step, "state": states[step]})


def check_submit(step: str, states: dict[str, str]) -> None:
    check_edit(step, states)
    waiting = [s for s in prerequisites(step) if states.get(s) != APPROVED]
    if waiting:
        raise TransitionRefused("previous_steps_not_approved", {"step": step, "waiting": waiting})


def check_approve(step: str, states: dict[str, str]) -> None:
    _index(step)
    if states[step] != SUBMITTED:
        raise TransitionRefused("step_not_submitted", {"step": step, "state": states[step]})
    waiting = [s for s in prerequisites(step) if states.get(s) != APPROVED]
    if waiting:  # cannot happen through the services (reopening falls dependants back); kept as a guard
        raise TransitionRefused("previous_steps_not_approved", {"step": step, "waiting": waiting})


def check_reopen(step: str, states: dict[str, str], reason: str) -> None:
    _index(step)
    if states[step] == OPEN:
        raise TransitionRefused("step_already_open", {"step": step})
    if not (reason or "").strip():
        raise TransitionRefused("reason_required", {"step": step})


def steps_reopened_with(step: str, states: dict[str, str]) -> list[str]:
    """The later steps that fall back to open when `step` is reopened: those not open whose prerequisites include
    `step`, directly or through another step falling back."""
    falling = {step}
    for later in STEPS[_index(step) + 1:]:
        if states.get(later, OPEN) != OPEN and falling.intersection(prerequisites(later)):
            falling.add(later)
    return [s for s in STEPS if s in falling and s != step]
