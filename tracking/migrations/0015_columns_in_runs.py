from django.db import migrations


def _rewrite(apps, schema_editor):
    # Page views are now stored in runs of one path: days written before are written again by the next fill.
    apps.get_model("tracking", "VisitColumns").objects.all().delete()
    apps.get_model("tracking", "ProvisionalColumns").objects.all().delete()
    apps.get_model("tracking", "RollupState").objects.update(
        columns_from=None, columns_until=None, provisional_columns_after=None
    )


class Migration(migrations.Migration):
    dependencies = [("tracking", "0014_column_values")]
    operations = [migrations.RunPython(_rewrite, migrations.RunPython.noop)]
