"""Append-only audit trail on PostgreSQL: triggers refuse UPDATE/DELETE of audit entries (see qms/audit/sql.py).

Hand-written (not generated): keep it when migrations are regenerated, depending on the new initial migration.
"""
from django.db import migrations


def install(apps, schema_editor):
    from qms.audit.sql import install_append_only_triggers

    install_append_only_triggers(schema_editor.connection)


def uninstall(apps, schema_editor):
    from qms.audit.sql import uninstall_append_only_triggers

    uninstall_append_only_triggers(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("qms", "0001_initial")]

    operations = [migrations.RunPython(install, uninstall, elidable=False)]
