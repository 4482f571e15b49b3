"""The intermediate-table connector end to end: source rows → ingestion service → measurements, state kept,
a lost acknowledgement stored once, the Celery task polling every enabled table connector."""
import sqlite3

import pytest

from connectors.models import TableSourceState
from connectors.table import source as table_source
from connectors.table.service import poll_table_connector
from connectors.table.tasks import poll_intermediate_tables
from qms.models import Measurement
from tests.factories import CharacteristicFactory, ConnectorFactory, TagMappingFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def mes_db(tmp_path):
    path = tmp_path / "mes.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE qc_results (id INTEGER PRIMARY KEY AUTOINCREMENT, measured_at TEXT, lot_no TEXT, "
               "temp_z2 TEXT, cushion TEXT, qms_status INTEGER NOT NULL DEFAULT 0)")
    db.executemany("INSERT INTO qc_results (measured_at, lot_no, temp_z2, cushion) VALUES (?, ?, ?, ?)", [
        ("2026-11-28 08:00:00", "L1", "231.5", "5.2"),
        ("2026-11-28 08:00:30", "L1", "232.0", ""),
        ("2026-11-28 08:01:00", "L1", "hot", "5.1"),
    ])
    db.commit()
    yield path, db
    db.close()


@pytest.fixture
def connector(site, mes_db):
    path, _db = mes_db
    temp = CharacteristicFactory(site=site, code="IMM01.BARREL_Z2.TEMP")
    CharacteristicFactory(site=site, code="IMM01.CUSHION", physical_min=0, physical_max=100, lsl=None, usl=None,
                          nominal=None)
    connector = ConnectorFactory(site=site, name="mes-table", kind="table", config={
        "url": f"sqlite:///{path}", "table": "qc_results", "ts_column": "measured_at", "timezone": "Asia/Shanghai",
        "lot_column": "lot_no", "value_columns": {"cushion": "IMM01.CUSHION"}, "error_value": 9,
    })
    TagMappingFactory(connector=connector, characteristic=temp, source_ref="temp_z2")   # tag: column → characteristic
    return connector


def statuses(db):
    return [row[0] for row in db.execute("SELECT qms_status FROM qc_results ORDER BY id")]


def test_rows_become_measurements_and_are_acknowledged(connector, mes_db):
    _path, db = mes_db
    result = poll_table_connector(connector)
    assert (result.claimed, result.stored) == (3, 4)
    assert statuses(db) == [1, 1, 1]
    temps = Measurement.objects.filter(characteristic__code="IMM01.BARREL_Z2.TEMP").order_by("ts")
    assert [m.value for m in temps] == [231.5, 232.0]
    assert temps[0].source == "connector:mes-table" and temps[0].lot_code == "L1"
    state = TableSourceState.objects.get(connector=connector)
    assert (state.rows_claimed, state.stored) == (3, 4)
    assert state.recent_problems == [{"row": 3, "column": "temp_z2", "reason": "not a number: 'hot'"}]


def test_a_lost_ack_is_stored_once_on_the_next_poll(connector, mes_db, monkeypatch):
    _path, db = mes_db
    real_finish = table_source.finish

    def ack_lost(connection, dialect):
        raise ConnectionError("connection to the MES database dropped during COMMIT")

    monkeypatch.setattr("connectors.table.poll.finish", ack_lost)
    with pytest.raises(ConnectionError):
        poll_table_connector(connector)
    assert statuses(db) == [0, 0, 0]
    assert Measurement.objects.count() == 4
    monkeypatch.setattr("connectors.table.poll.finish", real_finish)
    result = poll_table_connector(connector)
    assert (result.claimed, result.stored, result.duplicates) == (3, 0, 4)
    assert Measurement.objects.count() == 4
    assert statuses(db) == [1, 1, 1]
    assert "dropped during COMMIT" not in TableSourceState.objects.get(connector=connector).last_error


def test_rows_committed_later_are_picked_up_by_the_next_poll(connector, mes_db):
    _path, db = mes_db
    poll_table_connector(connector)
    db.execute("INSERT INTO qc_results (measured_at, lot_no, temp_z2, cushion) VALUES ('2026-11-28 08:02:00', 'L2', "
               "'230.0', '5.0')")
    db.commit()
    assert poll_table_connector(connector).stored == 2
    assert Measurement.objects.count() == 6


def test_the_beat_task_polls_every_enabled_table_connector_and_survives_a_broken_one(connector, site):
    ConnectorFactory(site=site, name="broken", kind="table", config={
        "url": "sqlite:////nonexistent/dir/x.db", "table": "t", "ts_column": "ts", "value_columns": {"v": "X"}})
    summary = poll_intermediate_tables()
    assert summary == {"S1/mes-table": 3, "S1/broken": -1}


def test_a_connectors_table_config_is_validated_where_the_engineer_saves_it(site):
    from django.core.exceptions import ValidationError

    connector = ConnectorFactory.build(site=site, name="t", kind="table", config={
        "url": "mysql://qms:secret@10.0.0.1/mes", "table": "qc", "ts_column": "ts", "value_columns": {"v": "X"}})
    with pytest.raises(ValidationError, match="password in the connector's secrets"):
        connector.clean()
    connector.config = {"url": "mysql://qms@10.0.0.1/mes", "table": "qc; DROP TABLE x", "ts_column": "ts",
                        "value_columns": {"v": "X"}}
    with pytest.raises(ValidationError, match="table: not a plain column/table name"):
        connector.clean()


def test_a_bad_table_name_is_explained_in_the_engineers_language(site):
    from django.core.exceptions import ValidationError
    from django.utils import translation

    connector = ConnectorFactory.build(site=site, name="t", kind="table", config={
        "url": "mysql://qms@10.0.0.1/mes", "table": "qc; DROP TABLE x", "ts_column": "ts",
        "value_columns": {"v": "X"}})
    with translation.override("zh-hans"), pytest.raises(ValidationError, match="不是简单的列名/表名：'qc; DROP TABLE x'"):
        connector.clean()
