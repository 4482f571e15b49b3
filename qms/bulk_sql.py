"""Inserting and updating many rows of one model, fast, on PostgreSQL (other databases use Django's bulk methods).

`insert_rows` writes one multi-row INSERT per batch with the values prepared by the fields themselves, as
`bulk_create` does, without its per-value compiler overhead (about a third of a 10,000-row import went there).
Django's `bulk_update` builds a `CASE WHEN id = … THEN …` expression per field and row in Python — about a
millisecond per row, and PostgreSQL then scans the CASE list for every row. On PostgreSQL this writes instead
`UPDATE t SET f = v.f FROM (VALUES (…), …) AS v(id, f) WHERE t.id = v.id`: values prepared once, one join. Other
databases fall back to `bulk_update`.
`AnyOf(F("code"), codes)` filters on membership in many values with one array parameter on PostgreSQL
(`code = ANY(%s)`) instead of Django's `IN (%s, %s, …)`, which prepares and compiles one placeholder per value (for
1,000 codes most of the Python cost of a query that runs on every ingested batch).
"""
from __future__ import annotations

import functools
import operator

from django.db import connections, models, router
from django.db.models.lookups import In, Lookup
from django.utils import timezone

BATCH_SIZE = 1000
# Field types whose typed Python values psycopg2 adapts by itself: calling get_db_prep_save on each of 250,000
# values of an import would only return them unchanged. Everything else (JSON, dates…) goes through the field.
_PLAIN_TYPES = frozenset({
    "AutoField", "BigAutoField", "SmallAutoField", "BigIntegerField", "IntegerField", "SmallIntegerField",
    "PositiveBigIntegerField", "PositiveIntegerField", "PositiveSmallIntegerField", "FloatField", "BooleanField",
    "CharField", "TextField",
})


class AnyOf(Lookup):
    """`filter(AnyOf(F("field"), values))`: the rows whose field is one of `values` (an iterable of plain values)."""

    lookup_name = "any_of"
    prepare_rhs = False

    def __init__(self, lhs, rhs):
        super().__init__(lhs, list(rhs))

    def as_sql(self, compiler, connection):
        return compiler.compile(In(self.lhs, self.rhs))

    def as_postgresql(self, compiler, connection):
        lhs_sql, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs_sql} = ANY(%s)", [*lhs_params, self.rhs]


def _connection_for(model):
    return connections[router.db_for_write(model)]


def _preparer(field, connection):
    """value → database parameter for `field` (None where psycopg2 takes the value as it is)."""
    target = field.target_field if field.is_relation else field
    if target.get_internal_type() in _PLAIN_TYPES:
        return None
    return functools.partial(field.get_db_prep_save, connection=connection)


def _insert(connection, model, fields: list, rows: list[list], *, returning=None, batch_size: int) -> list:
    """INSERT `rows` (values in the order of `fields`); return the `returning` column of each row, in order."""
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    row_sql = "(" + ", ".join(["%s"] * len(fields)) + ")"
    suffix = f" RETURNING {quote(returning.column)}" if returning is not None else ""
    preparers = [(index, prepare) for index, field in enumerate(fields)
                 if (prepare := _preparer(field, connection)) is not None]
    returned = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), batch_size):
            chunk = rows[start:start + batch_size]
            params = []
            for row in chunk:
                for index, prepare in preparers:
                    row[index] = prepare(row[index])
                params.extend(row)
            cursor.execute(
                f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES {', '.join([row_sql] * len(chunk))}"
                f"{suffix}",
                params,
            )
            if returning is not None:
                returned.extend(value for (value,) in cursor.fetchall())
    return returned


def _value_getter(field):
    if isinstance(field, models.DateField) and (field.auto_now or field.auto_now_add):
        return functools.partial(field.pre_save, add=True)  # sets the attribute too, as bulk_create does
    return operator.attrgetter(field.attname)


def insert_rows(objs: list, *, batch_size: int = BATCH_SIZE) -> None:
    """INSERT `objs` (new instances of one model); an auto primary key left empty is filled in from RETURNING.

    Like bulk_create: no save(), no signals; auto_now/auto_now_add fields are set.
    """
    if not objs:
        return
    model = type(objs[0])
    connection = _connection_for(model)
    if connection.vendor != "postgresql":
        model._base_manager.using(connection.alias).bulk_create(objs, batch_size=batch_size)
        return
    pk = model._meta.pk
    generated_pk = getattr(objs[0], pk.attname) is None
    fields = [field for field in model._meta.concrete_fields if not (generated_pk and field is pk)]
    getters = [_value_getter(field) for field in fields]
    rows = [[get(obj) for get in getters] for obj in objs]
    keys = _insert(connection, model, fields, rows, returning=pk if generated_pk else None, batch_size=batch_size)
    for obj, key in zip(objs, keys, strict=False):
        setattr(obj, pk.attname, key)
    for obj in objs:
        obj._state.adding = False
        obj._state.db = connection.alias


def insert_history(instances: list, history_type: str, *, reason: str = "", extra: dict | None = None,
                   batch_size: int = BATCH_SIZE) -> None:
    """django-simple-history records of saved `instances` ("+" created, "~" changed), as its
    `bulk_history_create` makes them — one date for all, the user simple-history would attribute, `reason`, the
    `extra` custom columns — written with one INSERT per batch. Sends no signals: the caller writes the audit
    entries."""
    if not instances:
        return
    history_model = type(instances[0]).history.model
    connection = _connection_for(history_model)
    user = history_model.get_default_history_user(instances[0])
    common = {
        "history_date": timezone.now(), "history_user_id": getattr(user, "pk", None),
        "history_change_reason": reason, "history_type": history_type, **(extra or {}),
    }
    if connection.vendor != "postgresql":
        history_model.objects.using(connection.alias).bulk_create([
            history_model(**common, **{f.attname: getattr(i, f.attname) for f in history_model.tracked_fields})
            for i in instances
        ], batch_size=batch_size)
        return
    tracked = {field.attname for field in history_model.tracked_fields}
    fields = [field for field in history_model._meta.concrete_fields if field.attname in tracked or field.attname in common]
    getters = [operator.attrgetter(field.attname) if field.attname in tracked else None for field in fields]
    constants = [None if get else common[field.attname] for field, get in zip(fields, getters, strict=True)]
    rows = [
        [get(instance) if get else constant for get, constant in zip(getters, constants, strict=True)]
        for instance in instances
    ]
    _insert(connection, history_model, fields, rows, batch_size=batch_size)


def update_rows(objs: list, fields: list[str], *, batch_size: int = BATCH_SIZE) -> None:
    """Store `fields` of each of `objs` (saved instances of one model). Sends no signals, calls no save()."""
    if not objs:
        return
    model = type(objs[0])
    connection = _connection_for(model)
    if connection.vendor != "postgresql":
        model._base_manager.using(connection.alias).bulk_update(objs, fields, batch_size=batch_size)
        return
    pk = model._meta.pk
    columns = [pk, *(model._meta.get_field(name) for name in fields)]
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    alias_columns = ", ".join(quote(column.column) for column in columns)
    assignments = ", ".join(
        f"{quote(column.column)} = v.{quote(column.column)}::{column.db_type(connection)}" for column in columns[1:]
    )
    row_sql = "(" + ", ".join(["%s"] * len(columns)) + ")"
    with connection.cursor() as cursor:
        for start in range(0, len(objs), batch_size):
            chunk = objs[start:start + batch_size]
            params = [
                column.get_db_prep_save(getattr(obj, column.attname), connection)
                for obj in chunk for column in columns
            ]
            cursor.execute(
                f"UPDATE {table} SET {assignments} FROM (VALUES {', '.join([row_sql] * len(chunk))}) "
                f"AS v({alias_columns}) WHERE {table}.{quote(pk.column)} = v.{quote(pk.column)}::{pk.db_type(connection)}",
                params,
            )
