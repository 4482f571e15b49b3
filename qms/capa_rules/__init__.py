"""8D CAPA rules without Django: what each step must contain before it can be submitted or approved, the legal
step transitions, and the effectiveness verdict. The service (qms.services.capa) turns database rows into the plain
facts these functions read, and turns the problem codes they return into translated messages."""
from qms.capa_rules.content import (
    CATEGORIES,
    FIVE_W_TWO_H,
    MAX_WHYS,
    PREVENTION_KINDS,
    ActionFacts,
    CauseFacts,
    Problem,
    StepFacts,
    step_problems,
)
from qms.capa_rules.effectiveness import EffectivenessPolicy, Verdict, judge_effectiveness
from qms.capa_rules.transitions import (
    STEPS,
    TransitionRefused,
    check_approve,
    check_edit,
    check_reopen,
    check_submit,
    prerequisites,
    steps_reopened_with,
)

__all__ = [
    "CATEGORIES", "FIVE_W_TWO_H", "MAX_WHYS", "PREVENTION_KINDS", "STEPS", "ActionFacts", "CauseFacts",
    "EffectivenessPolicy", "Problem", "StepFacts", "TransitionRefused", "Verdict", "check_approve", "check_edit",
    "check_reopen", "check_submit", "judge_effectiveness", "prerequisites", "step_problems", "steps_reopened_with",
]
