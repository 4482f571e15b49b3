"""`AnyOf`: membership in many values as one array parameter (PostgreSQL) or IN (other databases)."""
import pytest
from django.db.models import F

from qms.bulk_sql import AnyOf
from qms.models import Characteristic
from tests.factories import CharacteristicFactory, ConnectorFactory, TagMappingFactory

pytestmark = pytest.mark.django_db


def test_the_rows_whose_field_is_one_of_the_values_are_found(site):
    wanted = [CharacteristicFactory(site=site, code=f"A.{i}") for i in range(3)]
    CharacteristicFactory(site=site, code="B.0")
    found = Characteristic.objects.filter(AnyOf(F("code"), ["A.0", "A.1", "A.2", "not there"]))
    assert sorted(found.values_list("pk", flat=True)) == sorted(c.pk for c in wanted)


def test_no_values_find_no_rows(site):
    CharacteristicFactory(site=site, code="A.0")
    assert list(Characteristic.objects.filter(AnyOf(F("code"), []))) == []


def test_a_field_across_a_relation_is_matched(site):
    connector = ConnectorFactory(site=site, name="opc")
    tag = TagMappingFactory(connector=connector, characteristic=CharacteristicFactory(site=site, code="A.0"),
                            source_ref="ns=2;s=A")
    TagMappingFactory(connector=connector, characteristic=CharacteristicFactory(site=site, code="B.0"),
                      source_ref="ns=2;s=B")
    found = type(tag).objects.filter(AnyOf(F("characteristic__code"), {"A.0"}))
    assert list(found.values_list("pk", flat=True)) == [tag.pk]
