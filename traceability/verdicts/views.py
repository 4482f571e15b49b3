"""Verdict API for MES — plain Django views (not DRF: the MES hot path, see docs/verdicts.md), same error body.

    GET  /api/v1/verdicts/lots/<lot_code>/   one lot
    POST /api/v1/verdicts/query/             {"lots": [...]} up to MAX_BATCH lots, answered per lot in order
"""
from __future__ import annotations

import math

import orjson
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from qms.api.errors import error_body
from traceability.verdicts.access import AccessDenied, site_for_request
from traceability.verdicts.store import now_iso, verdict_bodies

MAX_BATCH = 1000
MAX_CODE_LENGTH = 64
JSON = "application/json"


def _error(status: int, code: str, message: str, details=None, **headers) -> JsonResponse:
    response = JsonResponse(error_body(code, message, details), status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _denied(exc: AccessDenied) -> JsonResponse:
    if exc.status == 401:
        return _error(401, exc.code, exc.message, WWW_Authenticate='Bearer realm="api"')
    return _error(exc.status, exc.code, exc.message)


def _unknown_lot_message(code: str) -> str:
    return _("No lot %(lot)s at this site.") % {"lot": code}


@csrf_exempt
def lot_verdict(request, lot_code: str):
    try:  # who asks comes first (as in DRF): anonymous callers learn nothing, not even the methods
        site_id = site_for_request(request)
    except AccessDenied as exc:
        return _denied(exc)
    if request.method not in ("GET", "HEAD"):
        return _error(405, "method_not_allowed", _("Use GET."), Allow="GET, HEAD")
    body = verdict_bodies(site_id, [lot_code]).get(lot_code)
    if body is None:
        return _error(404, "unknown_lot", _unknown_lot_message(lot_code), {"lot": lot_code})
    return HttpResponse(lot_answer(body), content_type=JSON)


def lot_answer(body: bytes) -> bytes:
    """The answer for one lot, from its cached body (also the MES fast path's, fast_path.py)."""
    return b'%s,"checked_at":"%s"}' % (body, now_iso().encode())


def batch_answer(lots: list[str], bodies: dict[str, bytes]) -> bytes:
    """The answer to a batch, in the order asked; lots without a body are reported unknown (in the active language).
    Also the MES fast path's (fast_path.py), which only ever passes a body for every lot."""
    parts = []
    for code in lots:
        body = bodies.get(code)
        if body is None:
            parts.append(orjson.dumps({"lot": code, "verdict": None, "error": {
                "code": "unknown_lot", "message": _unknown_lot_message(code)}}))
        else:
            parts.append(body + b"}")
    return b'{"results":[%s],"checked_at":"%s"}' % (b",".join(parts), now_iso().encode())


def parse_lots(raw: bytes) -> list[str]:
    """The lot codes of a batch body, or ValueError((status, code, message, details))."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ValueError((400, "invalid_json", _("The body is not valid JSON: %(error)s") % {"error": exc},
                          None)) from None
    if not isinstance(data, dict) or "lots" not in data:
        raise ValueError((400, "validation_error", _('Send {"lots": ["<lot code>", ...]}.'), None))
    lots = data["lots"]
    if not isinstance(lots, list):
        raise ValueError((400, "validation_error", _('"lots" must be a list of lot codes.'), {"lots": type(lots).__name__}))
    if not lots:
        raise ValueError((400, "validation_error", _('"lots" is empty: name at least one lot.'), None))
    if len(lots) > MAX_BATCH:
        raise ValueError((413, "too_many_lots", _("At most %(limit)d lots per query (got %(count)d); split the "
                                                  "query.") % {"limit": MAX_BATCH, "count": len(lots)},
                          {"limit": MAX_BATCH, "count": len(lots)}))
    problems = {}
    for index, code in enumerate(lots):
        if not isinstance(code, str):
            kind = "NaN" if isinstance(code, float) and math.isnan(code) else type(code).__name__
            problems[str(index)] = _("expected a lot code (string), got %(kind)s") % {"kind": kind}
        elif not code.strip():
            problems[str(index)] = _("empty lot code")
        elif len(code) > MAX_CODE_LENGTH:
            problems[str(index)] = _("longer than %(max)d characters") % {"max": MAX_CODE_LENGTH}
    if problems:
        first = next(iter(problems))
        raise ValueError((400, "validation_error", _("lots[%(index)s]: %(problem)s")
                          % {"index": first, "problem": problems[first]}, {"lots": problems}))
    return lots


@csrf_exempt
def query_verdicts(request):
    try:
        site_id = site_for_request(request)
    except AccessDenied as exc:
        return _denied(exc)
    if request.method != "POST":
        return _error(405, "method_not_allowed", _("Use POST."), Allow="POST")
    try:
        raw = request.body  # read apart from the parsing: a ValueError of Django's own (a bad Content-Length)
    except RequestDataTooBig:  # is not one of parse_lots' answers
        return _error(413, "request_too_large", _("The body is too large; at most %(limit)d lots per query.")
                      % {"limit": MAX_BATCH}, {"limit": MAX_BATCH})
    try:
        lots = parse_lots(raw)
    except ValueError as exc:
        status, code, message, details = exc.args[0]
        return _error(status, code, message, details)
    return HttpResponse(batch_answer(lots, verdict_bodies(site_id, lots)), content_type=JSON)
