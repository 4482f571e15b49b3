"""Required content of each 8D step (docs/capa.md, "The eight disciplines").

`step_problems(step, facts)` lists what is missing; an empty list means the step may be submitted (and approved).
Problems carry a code, the field at fault and parameters; the caller words them (and translates them).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

# 5M1E — 人机料法环测: man, machine, material, method, environment, measurement.
CATEGORIES = ("man", "machine", "material", "method", "environment", "measurement")
# D2: the problem described by 5W2H.
FIVE_W_TWO_H = ("what", "where", "when", "who", "why", "how", "how_many")
# D7: what a preventive item points at.
PREVENTION_KINDS = ("dictionary_limits", "control_plan", "document", "lesson_learned")
# 5-why is a guide, not a quota: a chain needs at least one why and may go a little beyond five.
MIN_WHYS = 1
MAX_WHYS = 7
MIN_TEAM = 2


@dataclass(frozen=True)
class Problem:
    code: str
    field: str
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class CauseFacts:
    id: int
    category: str
    cause: str
    whys: tuple = ()
    is_root_cause: bool = False
    verified: bool = False


@dataclass(frozen=True)
class ActionFacts:
    id: int
    title: str
    kind: str  # containment | corrective | preventive | verification | other
    state: str  # open | done | cancelled
    owner: str | None = None
    due_date: date | None = None
    completed_at: datetime | None = None
    verification: str = ""
    root_cause_id: int | None = None


@dataclass(frozen=True)
class StepFacts:
    """What a step's check needs: the step's own content plus the CAPA's causes, actions and effectiveness."""

    content: dict = field(default_factory=dict)
    causes: tuple[CauseFacts, ...] = ()
    actions: tuple[ActionFacts, ...] = ()
    effectiveness: str = "unknown"


def _text(value) -> str:
    return value.strip() if isinstance(value, str) else ""


def _required_texts(content: dict, names) -> list[Problem]:
    return [Problem("required", name) for name in names if not _text(content.get(name))]


def _live(actions, kind: str) -> list[ActionFacts]:
    return [action for action in actions if action.kind == kind and action.state != "cancelled"]


def _d0(facts: StepFacts) -> list[Problem]:
    return _required_texts(facts.content, ("symptom", "emergency_response"))


def _d1(facts: StepFacts) -> list[Problem]:
    members = [m for m in facts.content.get("members") or () if isinstance(m, dict) and _text(m.get("user"))]
    names = {_text(m["user"]) for m in members}
    problems = []
    if len(names) < MIN_TEAM:
        problems.append(Problem("team_too_small", "members", {"min": MIN_TEAM, "count": len(names)}))
    champion = _text(facts.content.get("champion"))
    if not champion:
        problems.append(Problem("champion_required", "champion"))
    elif champion not in names:
        problems.append(Problem("champion_not_member", "champion", {"champion": champion}))
    return problems


def _d2(facts: StepFacts) -> list[Problem]:
    return _required_texts(facts.content, FIVE_W_TWO_H)


def _d3(facts: StepFacts) -> list[Problem]:
    actions = _live(facts.actions, "containment")
    if not actions:
        return [Problem("containment_required", "actions")]
    return [Problem("verification_required", "actions", {"action": a.id, "title": a.title})
            for a in actions if not _text(a.verification)] + \
        [Problem("owner_required", "actions", {"action": a.id, "title": a.title}) for a in actions if not a.owner]


def why_chain_problems(cause: CauseFacts) -> list[Problem]:
    """A cause's own checks: a 5M1E category, and (for a root cause) a why chain of MIN_WHYS..MAX_WHYS whys."""
    problems = []
    if cause.category not in CATEGORIES:
        problems.append(Problem("category_invalid", "category", {"cause": cause.id, "category": cause.category}))
    if not _text(cause.cause):
        problems.append(Problem("required", "cause", {"cause": cause.id}))
    whys = list(cause.whys or ())
    if any(not _text(why) for why in whys):
        problems.append(Problem("why_blank", "whys", {"cause": cause.id}))
    if cause.is_root_cause and not MIN_WHYS <= len(whys) <= MAX_WHYS:
        problems.append(Problem("why_chain_length", "whys",
                                {"cause": cause.id, "count": len(whys), "min": MIN_WHYS, "max": MAX_WHYS}))
    return problems


def _d4(facts: StepFacts) -> list[Problem]:
    roots = [cause for cause in facts.causes if cause.is_root_cause]
    problems = [problem for cause in roots for problem in why_chain_problems(cause)]
    if not any(cause.verified for cause in roots):
        problems.insert(0, Problem("verified_root_cause_required", "root_causes"))
    return problems


def _d5(facts: StepFacts) -> list[Problem]:
    actions = _live(facts.actions, "corrective")
    if not actions:
        return [Problem("corrective_action_required", "actions")]
    roots = {cause.id for cause in facts.causes if cause.is_root_cause}
    return [Problem("action_needs_root_cause", "actions", {"action": a.id, "title": a.title})
            for a in actions if a.root_cause_id not in roots]


def _d6(facts: StepFacts) -> list[Problem]:
    actions = _live(facts.actions, "corrective")
    if not actions:
        return [Problem("corrective_action_required", "actions")]
    problems = []
    for a in actions:
        if not a.owner or a.due_date is None:
            problems.append(Problem("owner_and_due_required", "actions", {"action": a.id, "title": a.title}))
        if a.state != "done" or a.completed_at is None:
            problems.append(Problem("action_not_done", "actions", {"action": a.id, "title": a.title}))
    return problems


def _d7(facts: StepFacts) -> list[Problem]:
    items = [item for item in facts.content.get("items") or () if isinstance(item, dict)]
    if not items:
        return [Problem("prevention_required", "items")]
    problems = []
    for index, item in enumerate(items):
        if item.get("kind") not in PREVENTION_KINDS:
            problems.append(Problem("prevention_kind_invalid", "items", {"index": index, "kind": item.get("kind")}))
        if not _text(item.get("reference")) and not _text(item.get("description")):
            problems.append(Problem("prevention_blank", "items", {"index": index}))
    return problems


def _d8(facts: StepFacts) -> list[Problem]:
    problems = _required_texts(facts.content, ("recognition",))
    if facts.effectiveness != "effective":
        problems.append(Problem("not_effective", "effectiveness", {"effectiveness": facts.effectiveness}))
    return problems


_CHECKS: dict[str, Callable[[StepFacts], list[Problem]]] = {
    "D0": _d0, "D1": _d1, "D2": _d2, "D3": _d3, "D4": _d4, "D5": _d5, "D6": _d6, "D7": _d7, "D8": _d8,
}


def step_problems(step: str, facts: StepFacts) -> list[Problem]:
    """Everything step `step` still lacks (empty: complete)."""
    try:
        check = _CHECKS[step]
    except KeyError:
        raise ValueError(f"unknown 8D step {step!r}") from None
    return check(facts)
