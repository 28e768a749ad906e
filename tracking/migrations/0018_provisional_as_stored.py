import django.db.models.deletion
from django.db import migrations, models


def _forget(apps, schema_editor):
    # ProvisionalRollup now counts everything stored when the snapshot was taken, not what had settled by its cutoff:
    # a snapshot taken before is not read (its days are read raw) until the next refresh, minutes away.
    apps.get_model("tracking", "ProvisionalRollup").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("sites", "0003_goal"),
        ("tracking", "0017_columns_visitor_numbers"),
    ]

    operations = [
        migrations.AddField(
            model_name="rollupstate",
            name="provisional_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="rollupstate",
            name="provisional_seen",
            field=models.JSONField(blank=True, null=True),
        ),
        migrations.CreateModel(
            name="ProvisionalVisit",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("visitor_id", models.BigIntegerField()),
                ("local_day", models.DateField()),
                ("is_bounce", models.BooleanField()),
                ("duration", models.PositiveIntegerField()),
                ("pageviews", models.PositiveIntegerField()),
                ("events", models.PositiveIntegerField()),
                ("entry_page", models.CharField(blank=True, max_length=2000)),
                ("exit_page", models.CharField(blank=True, max_length=2000)),
                (
                    "site",
                    models.ForeignKey(
                        db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="+", to="sites.site"
                    ),
                ),
                (
                    "visit",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="tracking.visit",
                    ),
                ),
            ],
            options={
                "indexes": [models.Index(fields=["site", "visitor_id"], name="provisional_visit_visitor")],
            },
        ),
        migrations.RunPython(_forget, migrations.RunPython.noop),
    ]
