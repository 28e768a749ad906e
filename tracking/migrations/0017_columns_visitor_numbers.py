from django.db import migrations, models


def _rewrite(apps, schema_editor):
    # Visits now carry visitor numbers (`vnum`): days written before are written again by the next fill.
    apps.get_model("tracking", "VisitColumns").objects.all().delete()
    apps.get_model("tracking", "ProvisionalColumns").objects.all().delete()
    apps.get_model("tracking", "RollupState").objects.update(
        columns_from=None, columns_until=None, provisional_columns_after=None, columns_visitors=0
    )


class Migration(migrations.Migration):
    dependencies = [("tracking", "0016_columns_without_values")]
    operations = [
        migrations.AddField(model_name="rollupstate", name="columns_visitors", field=models.BigIntegerField(default=0)),
        migrations.RunPython(_rewrite, migrations.RunPython.noop),
    ]
