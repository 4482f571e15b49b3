"""The Redis verdict cache: write-through from the hold services, race-guarded fills, loss detection and rebuild.

Keys (per site and lot code):
    qp:verdict:v:<site>:<code>   "<epoch>|<JSON body without checked_at>"   the cached answer
    qp:verdict:g:<site>:<code>   generation: bumped when a writer marks the lot dirty and again when it commits
    qp:verdict:d:<site>:<code>   writers in flight (counter with a TTL: a rolled-back writer cannot decrement it)
    qp:verdict:epoch             sentinel: the epoch the cache was (re)built under; gone = cache lost
    qp:verdict:server            the run_id of the Redis server process that epoch was set on; another = cache lost
    qp:verdict:sg:<site>         site generation: bumped twice by a big writer (before and after commit) instead of
                                 marking each of its lots; every value carries the site generation it was filled under
    qp:verdict:sd:<site>         big writers of the site in flight (counter with a TTL, as the per-lot one)

Guarantee: a verdict request that starts after a hold transaction commits sees that transaction.
  * Before commit (`mark_dirty`, inside the transaction) the writer deletes the lot's value, bumps its generation
    and raises its in-flight counter; nobody may fill the lot while the counter is up.
  * On commit (`finish`) the writer lowers the counter, bumps the generation again, reads the committed verdicts and
    fills them.
  * Every fill (reader or writer) snapshots the generation BEFORE its database read and writes through a Lua
    compare-and-set: same epoch, same generation, no writer in flight. A reader that read the database before a
    commit therefore can never write its stale answer afterwards — the generation moved on.
  * A big writer (SITE_WIDE_FROM lots or more, e.g. a propagated freeze of 50,000 lots) does the same for the whole
    site with one O(1) operation each side of the commit (`mark_site_dirty` / `finish_site`): every read compares the
    value's site generation with the current one (same MGET, no extra round trip), every fill checks the site
    generation and the site's in-flight counter as well as the lot's. Cost: after such a commit every lot of the
    site is answered from the database once, by its first reader, who fills it.
  * Cache loss (flush, restart without data): the sentinel is gone, fills are refused, readers answer from the
    database and one of them starts a rebuild. A Redis restarted from its persistence file or a promoted replica
    keeps the sentinel but maybe not its last writes (a hold's dirty mark, say: the pre-hold answer would be served
    again), so the sentinel counts only on the server process it was set on (its run_id, SERVER_KEY): any other
    is a loss. The rebuild takes an exclusive PostgreSQL advisory lock that every
    writer holds shared until it commits, so no writer whose dirty markers were lost is still in flight when the new
    epoch is set.
  * Redis unreachable for a writer: the writer clears the epoch in the database (inside its transaction). Readers
    re-check Redis' epoch against the database every VALIDATE_EVERY_S seconds and after every (re)connection, and
    distrust a cache whose epoch does not match — also the case of a Redis restarted from an old append-only file.
  * Redis unreachable for a reader: it answers from the database (logged, at most once per RETRY_AFTER_FAILURE_S it
    tries Redis again).
"""
from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterable

import orjson
import redis
from django.db import connection, transaction
from django.utils import timezone

from traceability.verdicts.models import VerdictCacheState
from traceability.verdicts.rule import Verdict

logger = logging.getLogger(__name__)

PREFIX = "qp:verdict"
SENTINEL_KEY = f"{PREFIX}:epoch"
SERVER_KEY = f"{PREFIX}:server"  # run_id of the Redis server process the epoch was set on
REBUILD_LOCK_KEY = f"{PREFIX}:rebuilding"
VALUE_TTL_S = 14 * 24 * 3600
DIRTY_TTL_S = 300
VALIDATE_EVERY_S = 2.0
REVALIDATE_INVALID_S = 0.25
RETRY_AFTER_FAILURE_S = 1.0
REBUILD_LOCK_TTL_S = 120
ADVISORY_LOCK_KEY = 0x51505645  # "QPVE": writers hold it shared until commit, a rebuild takes it exclusively
CHUNK = 1000
WRITE_THROUGH_MAX = 2000  # lots written through after a commit; beyond, readers fill on their first miss
SITE_WIDE_FROM = 2000  # a writer of this many lots invalidates its whole site in O(1) instead of lot by lot

_MARK_DIRTY = """
for i = 1, #KEYS, 3 do
  redis.call('DEL', KEYS[i])
  redis.call('INCR', KEYS[i + 1])
  redis.call('INCR', KEYS[i + 2])
  redis.call('EXPIRE', KEYS[i + 2], ARGV[1])
end
return #KEYS / 3
"""
_FINISH = """
local gens = {}
for i = 1, #KEYS, 2 do
  if redis.call('DECR', KEYS[i + 1]) <= 0 then redis.call('DEL', KEYS[i + 1]) end
  gens[#gens + 1] = redis.call('INCR', KEYS[i])
end
return gens
"""
_MARK_SITE_DIRTY = """
redis.call('INCR', KEYS[1])
redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[1])
"""
_FINISH_SITE = """
if redis.call('DECR', KEYS[2]) <= 0 then redis.call('DEL', KEYS[2]) end
return redis.call('INCR', KEYS[1])
"""
_FILL = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
if (redis.call('GET', KEYS[2]) or '0') ~= ARGV[3] or redis.call('EXISTS', KEYS[3]) == 1 then return -2 end
local written = 0
for i = 4, #KEYS, 3 do
  local j = (i - 4) / 3 * 2 + 4
  local gen = redis.call('GET', KEYS[i + 1]) or '0'
  if gen == ARGV[j] and redis.call('EXISTS', KEYS[i + 2]) == 0 then
    redis.call('SET', KEYS[i], ARGV[j + 1], 'EX', ARGV[2])
    written = written + 1
  end
end
return written
"""


def value_key(site_id: int, code: str) -> str:
    return f"{PREFIX}:v:{site_id}:{code}"


def gen_key(site_id: int, code: str) -> str:
    return f"{PREFIX}:g:{site_id}:{code}"


def dirty_key(site_id: int, code: str) -> str:
    return f"{PREFIX}:d:{site_id}:{code}"


def site_gen_key(site_id: int) -> str:
    return f"{PREFIX}:sg:{site_id}"


def site_dirty_key(site_id: int) -> str:
    return f"{PREFIX}:sd:{site_id}"


def value_prefix(epoch: str, site_gen: str) -> bytes:
    """What a cached value starts with: the cache epoch and the site generation it was filled under."""
    return f"{epoch}.{site_gen}|".encode()


def encode_body(verdict: Verdict) -> bytes:
    """The JSON answer without its closing brace: the view appends `,"checked_at":"..."}`."""
    return orjson.dumps({"lot": verdict.lot, "verdict": verdict.verdict, "reasons": verdict.reasons})[:-1]


def decode_body(body: bytes, checked_at: str | None = None) -> Verdict:
    data = orjson.loads(body + b"}")
    return Verdict(lot=data["lot"], verdict=data["verdict"], reasons=data["reasons"], checked_at=checked_at)


def _chunks(items: list, size: int = CHUNK):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _advisory_lock(*, shared: bool) -> None:
    if connection.vendor == "postgresql":
        function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {function}(%s)", [ADVISORY_LOCK_KEY])


def invalidate_epoch_in_db(why: str) -> None:
    """Make every reader distrust the Redis cache until a rebuild (called when Redis could not be told)."""
    logger.warning("verdict cache invalidated: %s", why)
    VerdictCacheState.objects.update_or_create(
        pk=VerdictCacheState.SINGLETON_ID, defaults={"epoch": "", "invalidated_at": timezone.now()})


class RedisVerdictCache:
    def __init__(self, url: str):
        self.url = url
        self.connects = 0                    # bumped on every (re)connection of this process' pool
        self._validated_connects = -1
        self.epoch: str | None = None        # the epoch this process trusts; None = answer from the database
        self._next_validation = 0.0
        self._down_until = 0.0
        self.client = redis.Redis.from_url(
            url, socket_timeout=0.5, socket_connect_timeout=0.5, redis_connect_func=self._on_connect)
        self._mark = self.client.register_script(_MARK_DIRTY)
        self._finish = self.client.register_script(_FINISH)
        self._fill = self.client.register_script(_FILL)
        self._mark_site = self.client.register_script(_MARK_SITE_DIRTY)
        self._finish_site = self.client.register_script(_FINISH_SITE)
        self.auto_rebuild = True

    def _on_connect(self, conn) -> None:
        conn.on_connect()
        self.connects += 1

    # --- health ------------------------------------------------------------------------------------------------
    def available(self) -> bool:
        return time.monotonic() >= self._down_until

    def _failed(self, what: str, exc: Exception) -> None:
        if self.available():
            logger.error("verdict cache: Redis %s failed (%s); answering from the database", what, exc)
        self._down_until = time.monotonic() + RETRY_AFTER_FAILURE_S
        self.epoch = None

    def trusted_epoch(self) -> str | None:
        """The epoch to trust, re-checked against the database after a (re)connection and every few seconds."""
        if self.validation_due():
            self.validate()
        return self.epoch

    def validation_due(self) -> bool:
        return self.connects != self._validated_connects or time.monotonic() >= self._next_validation

    def validate(self) -> None:
        connects = self.connects
        redis_epoch = self._redis_epoch()
        db_epoch = VerdictCacheState.objects.filter(pk=VerdictCacheState.SINGLETON_ID).values_list(
            "epoch", flat=True).first() or ""
        self._validated_connects = connects
        if redis_epoch and redis_epoch == db_epoch:
            self.epoch = redis_epoch
            self._next_validation = time.monotonic() + VALIDATE_EVERY_S
            return
        self.epoch = None
        self._next_validation = time.monotonic() + REVALIDATE_INVALID_S
        self.request_rebuild()

    def _redis_epoch(self) -> str:
        """The sentinel's epoch, or "" when it is gone or was set on another Redis server process (see SERVER_KEY)."""
        epoch, server, info = self.client.pipeline(transaction=False).get(SENTINEL_KEY).get(SERVER_KEY).info(
            "server").execute()
        if not epoch or server is None or server.decode() != str(info["run_id"]):
            return ""
        return epoch.decode()

    # --- reads -------------------------------------------------------------------------------------------------
    def get_bodies(self, site_id: int, codes: list[str], *, database: bool = True) -> dict[str, bytes] | None:
        """Cached answer bodies for the codes found (hits only; anything doubtful counts as a miss).

        database=False (the MES fast path): None instead of re-checking the epoch against the database when that is
        due (every VALIDATE_EVERY_S, after a reconnection) — the caller then asks again with database=True."""
        if not self.available():
            return {}
        try:
            if database:
                epoch = self.trusted_epoch()
            elif self.validation_due():
                return None
            else:  # not trusted_epoch(): it looks at the clock again, and a re-check falling due meanwhile would
                epoch = self.epoch  # read the database from the fast path (outside the request signals)
            if epoch is None:
                return {}
            connects = self.connects
            site_gen, *values = self.client.mget([site_gen_key(site_id)] + [value_key(site_id, code) for code in codes])
            if self.connects != connects:  # reconnected meanwhile: maybe a Redis restarted from an old file
                if not database:
                    return None
                self.validate()
                if self.epoch != epoch:
                    return {}
        except redis.RedisError as exc:
            self._failed("read", exc)
            return {}
        prefix = value_prefix(epoch, site_gen.decode() if site_gen else "0")
        cut = len(prefix)
        return {code: value[cut:] for code, value in zip(codes, values, strict=True)
                if value is not None and value.startswith(prefix)}

    def snapshot(self, site_id: int, codes: list[str]) -> tuple[str | None, list[str], str] | None:
        """(epoch in Redis, lot generations, site generation) taken BEFORE a database read that will fill these
        lots."""
        if not self.available():
            return None
        try:
            values = self.client.mget([SENTINEL_KEY, site_gen_key(site_id)] + [gen_key(site_id, code) for code in codes])
        except redis.RedisError as exc:
            self._failed("snapshot", exc)
            return None
        epoch = values[0].decode() if values[0] else None
        if epoch is None:
            self.request_rebuild()
        return epoch, [_generation(value) for value in values[2:]], _generation(values[1])

    def fill(self, site_id: int, verdicts: dict[str, Verdict], snapshot, codes: list[str]) -> int:
        """Write freshly computed verdicts, each only if nothing changed since `snapshot` (compare-and-set)."""
        if snapshot is None or snapshot[0] is None or snapshot[0] != self.epoch:
            return 0
        epoch, gens, site_gen = snapshot
        keys, args = [SENTINEL_KEY, site_gen_key(site_id), site_dirty_key(site_id)], [epoch, VALUE_TTL_S, site_gen]
        prefix = value_prefix(epoch, site_gen)
        for code, gen in zip(codes, gens, strict=True):
            verdict = verdicts.get(code)
            if verdict is None:
                continue
            keys += [value_key(site_id, code), gen_key(site_id, code), dirty_key(site_id, code)]
            args += [gen, prefix + encode_body(verdict)]
        if len(keys) == 3:
            return 0
        try:
            return max(int(self._fill(keys=keys, args=args)), 0)
        except redis.RedisError as exc:
            self._failed("fill", exc)
            return 0

    # --- writes (hold services) --------------------------------------------------------------------------------
    def mark_dirty(self, site_id: int, codes: list[str]) -> None:
        """Inside the writer's transaction, before it commits."""
        _advisory_lock(shared=True)
        try:
            for chunk in _chunks(codes):
                keys = []
                for code in chunk:
                    keys += [value_key(site_id, code), gen_key(site_id, code), dirty_key(site_id, code)]
                self._mark(keys=keys, args=[DIRTY_TTL_S])
        except redis.RedisError as exc:
            self._failed("mark dirty", exc)
            invalidate_epoch_in_db(f"could not mark {len(codes)} lot(s) of site {site_id} dirty: {exc}")

    def finish(self, site_id: int, codes: list[str], compute) -> None:
        """After the writer committed: end its in-flight mark, then write the committed verdicts through (the first
        WRITE_THROUGH_MAX lots; the in-flight marks of all are ended)."""
        written = 0
        for chunk in _chunks(codes):
            keys = []
            for code in chunk:
                keys += [gen_key(site_id, code), dirty_key(site_id, code)]
            try:
                gens = self._finish(keys=keys)
                epoch, site_gen = self.client.mget([SENTINEL_KEY, site_gen_key(site_id)])
            except redis.RedisError as exc:
                self._failed("write-through", exc)
                invalidate_epoch_in_db(f"could not write {len(chunk)} verdict(s) of site {site_id} through: {exc}")
                return
            if written >= WRITE_THROUGH_MAX:
                continue  # a huge freeze: the rest is filled by the first reader of each lot
            snapshot = (epoch.decode() if epoch else None, [str(gen) for gen in gens], _generation(site_gen))
            try:
                trusted = self.trusted_epoch()
            except redis.RedisError as exc:
                self._failed("write-through", exc)
                continue
            if snapshot[0] is not None and snapshot[0] == trusted:
                self.fill(site_id, compute(site_id, chunk), snapshot, chunk)
                written += len(chunk)

    def mark_site_dirty(self, site_id: int) -> None:
        """A big writer, inside its transaction before it commits: every cached value of the site stops being served
        and nobody fills the site until `finish_site` (or the in-flight mark expires)."""
        _advisory_lock(shared=True)
        try:
            self._mark_site(keys=[site_gen_key(site_id), site_dirty_key(site_id)], args=[DIRTY_TTL_S])
        except redis.RedisError as exc:
            self._failed("mark site dirty", exc)
            invalidate_epoch_in_db(f"could not mark site {site_id} dirty: {exc}")

    def finish_site(self, site_id: int) -> None:
        """After the big writer committed: end its in-flight mark and move the site generation on, so a reader that
        read the database before the commit cannot fill. The lots are filled by their first readers."""
        try:
            self._finish_site(keys=[site_gen_key(site_id), site_dirty_key(site_id)])
        except redis.RedisError as exc:
            self._failed("finish site", exc)
            invalidate_epoch_in_db(f"could not end the in-flight mark of site {site_id}: {exc}")

    # --- loss and rebuild --------------------------------------------------------------------------------------
    def request_rebuild(self) -> None:
        if not self.auto_rebuild:
            return
        try:
            if not self.client.set(REBUILD_LOCK_KEY, b"1", nx=True, ex=REBUILD_LOCK_TTL_S):
                return
        except redis.RedisError:
            return
        threading.Thread(target=self._rebuild_in_background, name="verdict-cache-rebuild", daemon=True).start()

    def _rebuild_in_background(self) -> None:
        try:
            self.rebuild()
        except Exception:
            logger.exception("verdict cache rebuild failed")
        finally:
            connection.close()

    def rebuild(self, *, prewarm: bool = True, recent_lots: int = 50_000) -> tuple[str, int]:
        """New epoch (after every writer in flight has committed), then refill. Returns (epoch, lots filled)."""
        from traceability.verdicts.compute import compute_verdicts_for_codes

        try:
            epoch = uuid.uuid4().hex
            with transaction.atomic():
                _advisory_lock(shared=False)
                VerdictCacheState.objects.update_or_create(
                    pk=VerdictCacheState.SINGLETON_ID, defaults={"epoch": epoch, "rebuilt_at": timezone.now()})
                self.client.mset({SENTINEL_KEY: epoch, SERVER_KEY: str(self.client.info("server")["run_id"])})
            self.validate()
            filled = 0
            if prewarm:
                for site_id, codes in lots_to_prewarm(recent_lots):
                    for chunk in _chunks(codes):
                        snapshot = self.snapshot(site_id, chunk)
                        filled += self.fill(site_id, compute_verdicts_for_codes(site_id, chunk), snapshot, chunk)
            logger.info("verdict cache rebuilt: epoch %s, %d lots filled", epoch, filled)
            return epoch, filled
        finally:
            try:
                self.client.delete(REBUILD_LOCK_KEY)
            except redis.RedisError:
                pass


def _generation(value: bytes | None) -> str:
    return value.decode() if value else "0"


def lots_to_prewarm(recent_lots: int) -> Iterable[tuple[int, list[str]]]:
    """Lots with hold entries plus the most recent ones, grouped by site."""
    from traceability.models import HoldLot, Lot

    by_site: dict[int, set[str]] = {}
    held = Lot.objects.filter(pk__in=HoldLot.objects.values("lot_id")).values_list("site_id", "code")
    recent = Lot.objects.order_by("-pk").values_list("site_id", "code")[:recent_lots]
    for site_id, code in [*held, *recent]:
        by_site.setdefault(site_id, set()).add(code)
    return [(site_id, sorted(codes)) for site_id, codes in sorted(by_site.items())]
