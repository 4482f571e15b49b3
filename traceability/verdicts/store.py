"""Where verdicts are read from: the Redis cache when REDIS_URL is set (database on a miss or when Redis is down),
else straight from the database (the embedded default) — one API either way.

    verdict_bodies(site_id, codes) -> dict[code, bytes]   JSON answer bodies without checked_at; unknown codes absent
    verdict_for_lots(site_id, lot_codes) -> dict[code, Verdict]
"""
from __future__ import annotations

from datetime import UTC, datetime

from django.conf import settings

from traceability.verdicts.cache import RedisVerdictCache, decode_body, encode_body
from traceability.verdicts.compute import compute_verdicts_for_codes

_caches: dict[str, RedisVerdictCache] = {}


def verdict_cache() -> RedisVerdictCache | None:
    """The process' Redis verdict cache, or None in the embedded default (no REDIS_URL)."""
    url = getattr(settings, "VERDICT_REDIS_URL", None) or settings.REDIS_URL
    if not url:
        return None
    cache = _caches.get(url)
    if cache is None:
        cache = _caches.setdefault(url, RedisVerdictCache(url))
    return cache


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def verdict_bodies(site_id: int, codes: list[str]) -> dict[str, bytes]:
    codes = list(dict.fromkeys(codes))
    cache = verdict_cache()
    if cache is None:
        return {code: encode_body(v) for code, v in compute_verdicts_for_codes(site_id, codes).items()}
    bodies = cache.get_bodies(site_id, codes)
    missing = [code for code in codes if code not in bodies]
    if missing:
        snapshot = cache.snapshot(site_id, missing)  # BEFORE the database read: see cache.py
        computed = compute_verdicts_for_codes(site_id, missing)
        cache.fill(site_id, computed, snapshot, missing)
        bodies.update((code, encode_body(verdict)) for code, verdict in computed.items())
    return bodies


def cached_verdict_bodies(site_id: int, codes: list[str]) -> dict[str, bytes] | None:
    """verdict_bodies' answer when Redis alone gives it for every code, without touching the database (the MES fast
    path): the same cache read, the same checks (epoch, site generation). None when any code is not cached (or
    unknown), when the epoch is due for its re-check against the database, without Redis, or when Redis is down —
    verdict_bodies answers those."""
    cache = verdict_cache()
    if cache is None:
        return None
    codes = list(dict.fromkeys(codes))
    bodies = cache.get_bodies(site_id, codes, database=False)
    if bodies is None or len(bodies) != len(codes):
        return None
    return bodies


def verdict_for_lots(site_id: int, lot_codes) -> dict:
    """{code: Verdict} — Redis first, database fallback; codes that name no lot of the site are absent."""
    checked_at = now_iso()
    return {code: decode_body(body, checked_at) for code, body in verdict_bodies(site_id, list(lot_codes)).items()}
