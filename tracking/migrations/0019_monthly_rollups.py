import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("sites", "0003_goal"),
        ("tracking", "0018_provisional_as_stored"),
    ]

    operations = [
        migrations.AddField(
            model_name="rollupstate",
            name="months_until",
            field=models.DateField(blank=True, null=True),
        ),
        migrations.CreateModel(
            name="MonthlyRollup",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("day", models.DateField()),
                ("dimension", models.CharField(max_length=20)),
                ("value", models.CharField(blank=True, max_length=2000)),
                ("visitors", models.PositiveIntegerField(default=0)),
                ("visits", models.PositiveIntegerField(default=0)),
                ("bounces", models.PositiveIntegerField(default=0)),
                ("duration", models.PositiveBigIntegerField(default=0)),
                ("pageviews", models.PositiveIntegerField(default=0)),
                ("carry", models.PositiveIntegerField(default=0)),
                (
                    "site",
                    models.ForeignKey(
                        db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="+", to="sites.site"
                    ),
                ),
            ],
            options={
                "indexes": [models.Index(fields=["site", "dimension", "day"], name="monthly_site_dim_day")],
            },
        ),
    ]
