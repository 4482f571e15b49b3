"""Alarm titles and messages, language-neutral: stored as a message id plus parameters, rendered per reader.

A rule raises its alarm in whatever process stored the offending data, under whatever language that request had
active. So the alarm keeps, in `evidence["text"]`, what to say — {"title": {"msgid": ..., "params": {...}},
"message": {...}} — and `Alarm.title`/`message` hold the English rendering (the fallback for alarms without the
structure, and what the audit trail and e-mail subjects show). Pages, the API snapshot and the live feed render the
structure in the reader's active language with `alarm_title` / `alarm_message` / `localize_snapshot`.
"""
from __future__ import annotations

from django.utils import translation
from django.utils.translation import gettext, gettext_noop

DEVIATION = gettext_noop("%(subject)s: %(value)s%(unit)s deviates from nominal %(nominal)s by more than ±%(threshold)s")
SPEC = gettext_noop("%(subject)s: %(value)s%(unit)s outside the specification [%(lsl)s, %(usl)s]")
SPC = gettext_noop("%(subject)s: SPC signal %(rule)s on the %(chart)s chart")
STALE = gettext_noop("%(subject)s: no data since %(since)s")
STALE_NEVER = gettext_noop("%(subject)s: no data yet")
STATE = gettext_noop("%(subject)s: equipment state %(state)s")
RULE_MESSAGE = gettext_noop("Reaction rule “%(rule)s”; %(count)s offending value(s) in the batch, first at %(ts)s.")
# Every msgid a stored text may name: anything else (an old or tampered row) falls back to the stored English.
KNOWN = frozenset({DEVIATION, SPEC, SPC, STALE, STALE_NEVER, STATE, RULE_MESSAGE})


def text(msgid: str, **params) -> dict:
    """The language-neutral form of one string (parameters must be JSON-ready, already formatted)."""
    return {"msgid": msgid, "params": params}


def render(entry: dict | None, fallback: str = "") -> str:
    """`entry` in the active language, or `fallback` when there is none (or it cannot be rendered)."""
    if not isinstance(entry, dict) or entry.get("msgid") not in KNOWN:
        return fallback
    try:
        return gettext(entry["msgid"]) % dict(entry.get("params") or {})
    except (KeyError, TypeError, ValueError):  # a translation with other placeholders: never break a page
        return fallback


def render_english(entry: dict) -> str:
    with translation.override("en"):
        return render(entry)


def stored_text(alarm) -> dict:
    evidence = alarm.evidence if isinstance(alarm.evidence, dict) else {}
    return evidence.get("text") if isinstance(evidence.get("text"), dict) else {}


def alarm_title(alarm) -> str:
    return render(stored_text(alarm).get("title"), alarm.title)


def alarm_message(alarm) -> str:
    return render(stored_text(alarm).get("message"), alarm.message)


def localize_snapshot(snapshot: dict) -> dict:
    """A stored snapshot (written in the language of the process that made the change) in the active language."""
    entries = snapshot.get("text")
    if not isinstance(entries, dict):
        return snapshot
    return {**snapshot, "title": render(entries.get("title"), snapshot.get("title", "")),
            "message": render(entries.get("message"), snapshot.get("message", ""))}
