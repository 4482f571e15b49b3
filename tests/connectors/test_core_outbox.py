"""The durable outbox: sequence numbers, ordered idempotent batches, deletion only on confirmation, durability
across reopen. Pure (no Django)."""
from datetime import UTC, datetime

from connectors.envelope import Envelope
from connectors.outbox import Outbox

T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def reading(connector="S1/opc", value=1.0, code="IMM01.BARREL_Z2.TEMP"):
    return Envelope(connector=connector, source_ref="ns=2;s=x", characteristic=code, value=value, raw_value=value,
                    quality="good", source_ts=T0, server_ts=None, received_ts=T0)


def test_append_numbers_readings_per_connector(tmp_path):
    outbox = Outbox(tmp_path / "o.sqlite3")
    numbered = outbox.append([reading("S1/a"), reading("S1/b"), reading("S1/a")])
    assert [(e.connector, e.seq) for e in numbered] == [("S1/a", 1), ("S1/b", 1), ("S1/a", 2)]
    assert [e.seq for e in outbox.append([reading("S1/a")])] == [3]


def test_open_batch_is_returned_again_until_confirmed(tmp_path):
    outbox = Outbox(tmp_path / "o.sqlite3")
    outbox.append([reading(value=v) for v in range(5)])
    first = outbox.next_batch("S1/opc", max_items=3)
    again = outbox.next_batch("S1/opc", max_items=3)
    assert again.batch_id == first.batch_id
    assert [e["value"] for e in again.envelopes] == [0, 1, 2]


def test_confirm_deletes_and_the_next_batch_follows_in_order(tmp_path):
    outbox = Outbox(tmp_path / "o.sqlite3")
    outbox.append([reading(value=v) for v in range(5)])
    first = outbox.next_batch("S1/opc", max_items=3)
    assert outbox.confirm(first.batch_id) == 3
    second = outbox.next_batch("S1/opc", max_items=3)
    assert [e["seq"] for e in second.envelopes] == [4, 5]
    assert outbox.pending_count() == 2


def test_readings_appended_while_a_batch_is_open_go_to_a_later_batch(tmp_path):
    outbox = Outbox(tmp_path / "o.sqlite3")
    outbox.append([reading(value=1)])
    first = outbox.next_batch("S1/opc")
    outbox.append([reading(value=2)])
    assert len(outbox.next_batch("S1/opc")) == 1
    outbox.confirm(first.batch_id)
    assert [e["value"] for e in outbox.next_batch("S1/opc").envelopes] == [2]


def test_everything_survives_closing_and_reopening(tmp_path):
    path = tmp_path / "o.sqlite3"
    outbox = Outbox(path)
    outbox.append([reading(value=v) for v in range(4)])
    batch = outbox.next_batch("S1/opc", max_items=2)
    outbox.close()
    reopened = Outbox(path)
    assert reopened.epoch == outbox.epoch
    assert reopened.next_batch("S1/opc", max_items=2).batch_id == batch.batch_id
    assert reopened.pending_count("S1/opc") == 4
    assert [e.seq for e in reopened.append([reading()])] == [5]


def test_a_recreated_outbox_never_reuses_a_batch_id(tmp_path):
    first = Outbox(tmp_path / "a.sqlite3")
    second = Outbox(tmp_path / "b.sqlite3")
    first.append([reading()])
    second.append([reading()])
    assert first.next_batch("S1/opc").batch_id != second.next_batch("S1/opc").batch_id


def test_envelope_round_trips_through_the_outbox(tmp_path):
    outbox = Outbox(tmp_path / "o.sqlite3")
    original = Envelope(connector="S1/opc", source_ref="ns=2;i=5", characteristic="X.Y.Z", value=None, raw_value=None,
                        quality="bad", source_ts=None, server_ts=T0, received_ts=T0, backfill=True, lot="L1",
                        equipment="IMM01", extra={"status": "BadNoCommunication"})
    outbox.append([original])
    restored = Envelope.from_json(outbox.next_batch("S1/opc").envelopes[0])
    assert restored == original.__class__(**{**original.to_json(), "seq": 1, "source_ts": None, "server_ts": T0,
                                             "received_ts": T0})


def test_failures_are_recorded_on_the_batch(tmp_path):
    outbox = Outbox(tmp_path / "o.sqlite3")
    outbox.append([reading()])
    batch = outbox.next_batch("S1/opc")
    outbox.record_failure(batch.batch_id, "ConnectionError: db down")
    assert outbox.next_batch("S1/opc").attempts == 1
