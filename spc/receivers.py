"""Wiring: newly stored measurements (qms.seams.measurements_stored, after commit) → the evaluation task."""
from __future__ import annotations

from django.dispatch import receiver

from qms.models import Measurement
from qms.seams import measurements_stored
from spc.services.live import values_from_points


@receiver(measurements_stored, sender=Measurement, dispatch_uid="spc-live-evaluation")
def evaluate_new_measurements(sender, site_id: int, points, batch_id: int | None = None, **kwargs) -> None:
    """An ingest batch travels as its id (the task reads its rows: a small message whatever the batch size, and no
    per-point serialisation in the request); a dead-letter replay has no batch of its own, its points go inline."""
    from spc.tasks import QUEUE, evaluate_batch, evaluate_points

    if batch_id is not None:
        evaluate_batch.apply_async((site_id, batch_id), queue=QUEUE)
        return
    by_characteristic = values_from_points(points)
    if not by_characteristic:
        return
    payload = {str(cid): [[v.id, v.ts.isoformat(), v.value, v.lot] for v in values]
               for cid, values in by_characteristic.items()}
    evaluate_points.apply_async((site_id, payload), queue=QUEUE)
