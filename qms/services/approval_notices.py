"""Who is waiting for whom: MRB votes and 8D step approvals (docs/nonconformance.md, docs/capa.md "Waiting for
you").

When a disposition is proposed, the MRB members of the NC's site who may vote on it (permission
`qms.approve_disposition`; not the proposer, the NC's reporter or owner) get an in-app notification (e-mailed when
e-mail is configured); when an 8D step is submitted, the approvers of the site (`qms.approve_capastep`; not the
submitter nor whoever last saved the step's content) do. Called inside the service's transaction, so a rolled-back
proposal notifies nobody. `pending_approvals` lists, for the "My tasks" page, what waits for the user's signature.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils.translation import gettext as _

from qms.models import Capa, CapaStep, Disposition, Nonconformance
from qms.services.notifications import notify_users

MRB_PERMISSION = "qms.approve_disposition"
STEP_PERMISSION = "qms.approve_capastep"
VOTE_KIND = "mrb_vote_waiting"
STEP_KIND = "step_approval_waiting"


def _holders(permission: str, excluded) -> list[int]:
    """Active people holding `permission` through their roles (superusers are not pestered: they hold every
    permission without being on the board), minus `excluded` ids."""
    users = get_user_model().objects.with_perm(permission, include_superusers=False, is_active=True)
    return [pk for pk in users.values_list("pk", flat=True) if pk not in set(excluded)]


def notify_disposition_waiting(nc: Nonconformance, disposition: Disposition) -> int:
    excluded = {disposition.proposed_by_id, nc.created_by_id, nc.owner_id}
    lot = disposition.nc_lot.lot.code if disposition.nc_lot_id else "—"
    return notify_users(
        _holders(MRB_PERMISSION, excluded), site=nc.site, kind=VOTE_KIND,
        title=_("MRB vote waiting: %(number)s, lot %(lot)s") % {"number": nc.number, "lot": lot},
        body=_("%(who)s proposes %(decision)s × %(quantity)g; %(required)d e-signed approval(s) needed.") % {
            "who": disposition.proposed_by.get_username() if disposition.proposed_by_id else "?",
            "decision": disposition.get_decision_display(), "quantity": disposition.quantity,
            "required": disposition.approvals_required},
        link=f"/ncs/{nc.pk}/")


def notify_step_waiting(capa: Capa, row: CapaStep) -> int:
    excluded = {row.submitted_by_id, row.last_saved_by_id}
    return notify_users(
        _holders(STEP_PERMISSION, excluded), site=capa.site, kind=STEP_KIND,
        title=_("8D approval waiting: %(number)s %(step)s") % {"number": capa.number, "step": row.step},
        body=_("%(who)s submitted %(step)s (%(name)s) for approval.") % {
            "who": row.submitted_by.get_username() if row.submitted_by_id else "?", "step": row.step,
            "name": row.get_step_display()},
        link=f"/capas/{capa.pk}/#step-{row.step}")


@dataclass(frozen=True)
class PendingApprovals:
    votes: list  # Disposition rows waiting for this user's vote
    steps: list  # CapaStep rows waiting for this user's approval

    def __bool__(self):
        return bool(self.votes or self.steps)


def pending_approvals(user, site) -> PendingApprovals:
    """Proposed dispositions of the site's NCs in disposition that `user` may still vote on, and submitted 8D steps
    of the site's open CAPAs that `user` may approve — the same rules the services enforce."""
    votes, steps = [], []
    if user.has_perm(MRB_PERMISSION):
        votes = list(
            Disposition.objects.filter(nc__site=site, nc__state=Nonconformance.State.DISPOSITION,
                                       state=Disposition.State.PROPOSED)
            .exclude(Q(proposed_by=user) | Q(nc__created_by=user) | Q(nc__owner=user) | Q(approvals__user=user))
            .select_related("nc", "nc_lot__lot", "proposed_by").order_by("proposed_at", "pk"))
    if user.has_perm(STEP_PERMISSION):
        steps = list(
            CapaStep.objects.filter(capa__site=site, capa__state=Capa.State.OPEN, state=CapaStep.State.SUBMITTED)
            .exclude(Q(submitted_by=user) | Q(last_saved_by=user))
            .select_related("capa", "submitted_by").order_by("submitted_at", "pk"))
    return PendingApprovals(votes=votes, steps=steps)


def pending_approvals_context(request, site) -> dict:
    """Context for templates/qms/approvals/pending.html (included in the "My tasks" page)."""
    return {"pending_approvals": pending_approvals(request.user, site)}
