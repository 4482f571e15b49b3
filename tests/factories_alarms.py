"""Factories and helpers for alarm tests: a raised alarm goes through the service, so it is keyed and audited."""
from datetime import UTC, datetime, timedelta

from qms.models import ReactionRule
from qms.services.alarms import raise_alarm

T0 = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


def raise_test_alarm(site, *, source_key="characteristic:1", alarm_type="deviation", severity="major",
                     title="Barrel zone 2 off nominal", now=T0, trigger_ts=None, **extra):
    return raise_alarm(site=site, source_key=source_key, alarm_type=alarm_type, severity=severity, title=title,
                       trigger_ts=trigger_ts or now - timedelta(seconds=1), trigger_value=234.1, now=now, **extra)


def make_rule(site, *, name="Barrel ±3", escalate_after_min=None, escalation_groups=(), **fields):
    rule = ReactionRule.objects.create(site=site, name=name, trigger=ReactionRule.Trigger.DEVIATION, threshold=3.0,
                                       escalate_after_min=escalate_after_min, **fields)
    for group in escalation_groups:
        rule.escalation_groups.add(group)
    return rule
