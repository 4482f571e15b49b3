"""The whole story of a problem: alarm → hold (held lots, decisions) → NC (dispositions) → CAPA (steps,
effectiveness) → closure, collected from any one of its records.

The records link each other (Hold.alarm, Nonconformance.alarm, Nonconformance.holds, Capa.nonconformances); the
story is the connected set around the starting record, walked in both directions, limited to the viewer's sites and
to MAX_PER_KIND records of each kind (a CAPA may gather many NCs; the page names the limit when it bites).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from qms.models import Alarm, Capa, Nonconformance
from traceability.models import Hold

KINDS = ("alarm", "hold", "nc", "capa")
MAX_PER_KIND = 25
MAX_ROUNDS = 8  # alarm → hold → NC → CAPA → NC → hold → alarm: a few rounds reach every linked record


class StoryNotFound(Exception):
    pass


@dataclass
class Story:
    start_kind: str
    start_id: int
    ids: dict[str, set[int]] = field(default_factory=lambda: {kind: set() for kind in KINDS})
    truncated: bool = False
    alarms: list = field(default_factory=list)
    holds: list = field(default_factory=list)
    ncs: list = field(default_factory=list)
    capas: list = field(default_factory=list)

    @property
    def closed(self) -> bool:
        """The loop is closed when every CAPA is closed, or (without CAPA) every NC is closed."""
        if self.capas:
            return all(capa.state == Capa.State.CLOSED for capa in self.capas)
        return bool(self.ncs) and all(nc.state == Nonconformance.State.CLOSED for nc in self.ncs)


def _neighbours(kind: str, ids: set[int], sites: set[int]) -> dict[str, set[int]]:
    found: dict[str, set[int]] = {k: set() for k in KINDS}
    if not ids:
        return found
    if kind == "alarm":
        found["hold"] |= set(Hold.objects.filter(alarm_id__in=ids, site_id__in=sites).values_list("pk", flat=True))
        found["nc"] |= set(Nonconformance.objects.filter(alarm_id__in=ids, site_id__in=sites)
                           .values_list("pk", flat=True))
    elif kind == "hold":
        found["alarm"] |= set(Hold.objects.filter(pk__in=ids, alarm__site_id__in=sites)
                              .values_list("alarm_id", flat=True))
        found["nc"] |= set(Nonconformance.objects.filter(holds__in=ids, site_id__in=sites).values_list("pk", flat=True))
    elif kind == "nc":
        ncs = Nonconformance.objects.filter(pk__in=ids)
        found["alarm"] |= set(ncs.filter(alarm__site_id__in=sites).values_list("alarm_id", flat=True))
        found["hold"] |= set(Hold.objects.filter(nonconformances__in=ids, site_id__in=sites)
                             .values_list("pk", flat=True))
        found["capa"] |= set(Capa.objects.filter(nonconformances__in=ids, site_id__in=sites)
                             .values_list("pk", flat=True))
    elif kind == "capa":
        found["nc"] |= set(Nonconformance.objects.filter(capas__in=ids, site_id__in=sites).values_list("pk", flat=True))
    found = {k: {pk for pk in v if pk is not None} for k, v in found.items()}
    return found


def _start_exists(kind: str, pk: int, sites: set[int]) -> bool:
    model = {"alarm": Alarm, "hold": Hold, "nc": Nonconformance, "capa": Capa}[kind]
    return model.objects.filter(pk=pk, site_id__in=sites).exists()


def collect_story(kind: str, pk: int, site_ids: set[int]) -> Story:
    """The linked records around (kind, pk) in the given sites. Raises StoryNotFound (→ 404) for an unknown kind or a
    record outside the sites."""
    if kind not in KINDS or not _start_exists(kind, pk, site_ids):
        raise StoryNotFound(kind)
    story = Story(start_kind=kind, start_id=pk)
    story.ids[kind].add(pk)
    frontier = {k: set(v) for k, v in story.ids.items()}
    for _round in range(MAX_ROUNDS):
        discovered: dict[str, set[int]] = {k: set() for k in KINDS}
        for frontier_kind, frontier_ids in frontier.items():
            for found_kind, found_ids in _neighbours(frontier_kind, frontier_ids, site_ids).items():
                discovered[found_kind] |= found_ids - story.ids[found_kind]
        if not any(discovered.values()):
            break
        for found_kind, found_ids in discovered.items():
            room = MAX_PER_KIND - len(story.ids[found_kind])
            if len(found_ids) > room:
                story.truncated = True
                found_ids = set(sorted(found_ids)[:max(0, room)])
            story.ids[found_kind] |= found_ids
            discovered[found_kind] = found_ids
        frontier = discovered
    _load(story)
    return story


def _load(story: Story) -> None:
    story.alarms = list(Alarm.objects.filter(pk__in=story.ids["alarm"]).select_related("equipment", "characteristic")
                        .prefetch_related("events").order_by("raised_at"))
    story.holds = list(Hold.objects.filter(pk__in=story.ids["hold"]).select_related("equipment")
                       .prefetch_related("lots__lot").order_by("placed_at"))
    story.ncs = list(Nonconformance.objects.filter(pk__in=story.ids["nc"])
                     .select_related("product", "line", "characteristic")
                     .prefetch_related("defect_codes", "lots__lot", "dispositions__approvals__user",
                                       "dispositions__nc_lot__lot").order_by("created_at"))
    story.capas = list(Capa.objects.filter(pk__in=story.ids["capa"]).select_related("champion")
                       .prefetch_related("steps__approved_signature", "root_causes", "characteristics")
                       .order_by("created_at"))
