"""ProvisionalColumns now hold everything stored when the snapshot was taken (before: what had settled by its cutoff,
the visits open then read from raw rows). A snapshot of the old kind would be read wrong: it is set aside, and the
days after the store are read from raw rows until the next refresh (every 5 minutes) writes one of the new kind."""

from django.db import migrations


def forget_old_snapshots(apps, schema_editor):
    apps.get_model("tracking", "RollupState").objects.update(provisional_columns_after=None)
    apps.get_model("tracking", "ProvisionalColumns").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("tracking", "0019_monthly_rollups")]

    operations = [migrations.RunPython(forget_old_snapshots, migrations.RunPython.noop)]
