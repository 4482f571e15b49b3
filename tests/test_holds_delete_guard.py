"""HoldLot keeps no database FK constraints on hold and lot (a big freeze would pay a per-row check at commit); the
database still refuses to delete a hold or a lot that has hold entries (triggers of migration traceability 0003)."""
import importlib

import pytest
from django.db import IntegrityError, connection, transaction

from tests.factories import LotFactory, SiteFactory
from tests.factories_verdicts import hold_lots
from traceability.models import Hold, HoldLot, Lot

guards = importlib.import_module("traceability.migrations.0003_holdlot_without_fk_constraints_pending_publication")


@pytest.fixture(autouse=True)
def delete_guards(db):
    """The suite may run without migrations (--nomigrations); then install the migration's own triggers."""
    with connection.cursor() as cursor:
        names = {name.lower() for name in _trigger_names(cursor)}
        if "traceability_lot_held_guard" not in names:
            guards.install_guards(connection.vendor, cursor.execute)


def _trigger_names(cursor):
    if connection.vendor == "postgresql":
        cursor.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
    else:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
    return [row[0] for row in cursor.fetchall()]


def _raw_delete(table: str, pk: int) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE id = %s", [pk])


@pytest.fixture
def held():
    site = SiteFactory(code="S1")
    lot = LotFactory(site=site, code="L-1")
    return hold_lots(site, [lot]), lot


def test_a_held_lot_cannot_be_deleted_behind_the_orms_back(held):
    _hold, lot = held
    with pytest.raises(IntegrityError):
        _raw_delete(Lot._meta.db_table, lot.pk)
    assert Lot.objects.filter(pk=lot.pk).exists()


def test_a_hold_with_entries_cannot_be_deleted_behind_the_orms_back(held):
    hold, _lot = held
    with pytest.raises(IntegrityError):
        _raw_delete(Hold._meta.db_table, hold.pk)
    assert HoldLot.objects.filter(hold=hold).exists()


def test_a_lot_never_held_can_still_be_deleted(held):
    spare = LotFactory(site=held[1].site, code="L-2")
    _raw_delete(Lot._meta.db_table, spare.pk)
    assert not Lot.objects.filter(pk=spare.pk).exists()
