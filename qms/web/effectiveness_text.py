"""The stored effectiveness figures of an 8D (`Capa.effectiveness_data`, qms.services.capa_effectiveness) as people
read them: on the workspace, in its history and on the printed 8D report — never as raw JSON."""
from __future__ import annotations

from django.utils.translation import gettext as _

from qms.services.capa_errors import effectiveness_reason_message
from qms.web.presentation import EMPTY


def reason_messages(data: dict | None) -> list[str]:
    """The reasons of a "not yet" verdict as sentences."""
    return [effectiveness_reason_message(reason) for reason in (data or {}).get("reasons", [])
            if isinstance(reason, dict)]


def defect_rate_text(data: dict | None) -> dict | None:
    """The defect rates of the effectiveness figures as "0.40 % (2 of 500)", or why there is none."""
    rates = (data or {}).get("defect_rate")
    if not rates:
        return None

    def text(period):
        if not period or period.get("rate") is None:
            return _("no production in this period")
        return _("%(rate).2f %% (%(bad)s of %(made)s)") % {
            "rate": period["rate"] * 100, "bad": f"{period['nonconforming']:g}", "made": f"{period['produced']:g}"}
    return {"before": text(rates.get("before")), "after": text(rates.get("after"))}


def effectiveness_summary(data: dict | None) -> str:
    """One line for the history: verdict, Cpk before → after per characteristic, defect rate, reasons."""
    if not data:
        return EMPTY
    from qms.models import Capa

    verdicts = dict(Capa.Effectiveness.choices)
    parts = [_("verdict: %(verdict)s") % {"verdict": verdicts.get(data.get("verdict"), data.get("verdict") or EMPTY)}]
    for row in data.get("characteristics", []):
        parts.append(_("%(code)s Cpk %(before)s → %(after)s (%(n_before)s → %(n_after)s values)") % {
            "code": row.get("code", "?"), "before": _cpk(row.get("cpk_before")), "after": _cpk(row.get("cpk_after")),
            "n_before": row.get("n_before", 0), "n_after": row.get("n_after", 0)})
    rates = defect_rate_text(data)
    if rates:
        parts.append(_("defect rate before: %(before)s, after: %(after)s") % rates)
    parts += reason_messages(data)
    return "; ".join(str(part) for part in parts)


def _cpk(value) -> str:
    return f"{value:.2f}" if isinstance(value, int | float) else EMPTY
