"""The seed's own reaction rule, installed for every demo machine by seed_demo (and by the end-to-end tests):

    a barrel zone temperature beyond nominal ±3 °C → critical alarm, freeze the machine's window from the last good
    value (forward to the lots made from it), open an NC draft, notify the supervisors, hold command to MES.

The demo has no MES that accepts commands (the OPC UA simulator only publishes), so the hold command goes through a
webhook connector in shadow mode: each command is computed, stored and shown on the connector's page but never sent.
To drive a real MES, give the connector its URL and `secrets.hmac_secret` and switch shadow mode off.
"""
from __future__ import annotations

from django.db import transaction

from qms.audit.context import Actor, acting_as
from qms.demo import plant as demo
from qms.models import Equipment, ReactionRule, Site
from qms.services.reaction_rules import create_rule

HOLD_CONNECTOR = "mes-hold"
HOLD_CONNECTOR_URL = "http://127.0.0.1:8099/mes/hold"
THRESHOLD_C = 3.0
LOOKBACK_S = 3600


def rule_name(machine: str) -> str:
    return f"{machine} barrel temperature ±3 °C"


def ensure_hold_connector(site: Site):
    """The demo's write-back connector for hold commands (webhook, shadow mode). Idempotent."""
    from connectors.models import Connector

    connector, _created = Connector.objects.get_or_create(
        site=site, name=HOLD_CONNECTOR,
        defaults={"kind": Connector.Kind.WEBHOOK, "shadow_mode": True,
                  "description": "Hold commands to MES (demo: shadow mode, never sent)",
                  "config": {"url": HOLD_CONNECTOR_URL, "timeout_s": 5.0, "header": "X-QualityPulse-Signature"}},
    )
    return connector


def seed_rule_data(machine: str, connector) -> dict:
    return {
        "name": rule_name(machine),
        "description": "Seed rule: barrel zone temperature beyond nominal ±3 °C on this machine.",
        "trigger": ReactionRule.Trigger.DEVIATION,
        "threshold": THRESHOLD_C,
        "characteristic_pattern": f"{machine}.BARREL_Z*.TEMP",
        "severity": "critical",
        "freeze": True,
        "freeze_from": ReactionRule.FreezeFrom.LAST_GOOD,
        "freeze_lookback_s": LOOKBACK_S,
        "freeze_propagate_forward": True,
        "open_nc_draft": True,
        "notify_groups": ["supervisor"],
        "escalation_groups": ["quality_engineer"],
        "escalate_after_min": 10,
        "hold_command": True,
        "writeback_connector": connector,
        "writeback_target": f"hold/{machine}",
    }


def install_seed_rules(site: Site) -> list[ReactionRule]:
    """One seed rule per demo machine of `site` (idempotent: an existing rule of that name is left as the engineers
    changed it). Returns the machines' rules."""
    with acting_as(Actor(label="command:seed_demo"), reason="demo reaction rules"), transaction.atomic():
        connector = ensure_hold_connector(site)
        rules = []
        for machine in Equipment.objects.filter(site=site, code__in=demo.MACHINES).order_by("code"):
            rule = ReactionRule.objects.filter(site=site, name=rule_name(machine.code)).first()
            if rule is None:
                rule = create_rule(site, seed_rule_data(machine.code, connector), reason="demo seed rule")
            rules.append(rule)
    return rules
