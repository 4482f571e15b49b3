"""Factories and helpers for reaction-rule tests."""
from qms.services.reaction_rules import create_rule


def deviation_rule(site, *, name="Barrel ±3", threshold=3.0, severity="critical", **data):
    """A deviation rule made through the service (validated like any other)."""
    return create_rule(site, {"name": name, "trigger": "deviation", "threshold": threshold, "severity": severity,
                              **data})
