"""The Celery app and the whole beat schedule.

Tasks only wake things up; the database holds the truth, so every task is safe to run twice.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "humblytics.settings")

app = Celery("humblytics")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Each later app adds its periodic work here, in one place, with a comment on why.
app.conf.beat_schedule = {
    # Visitor hashes use a daily salt; create the new one just after midnight UTC and delete salts
    # older than 48 hours, so yesterday's hashes can no longer be linked to anything.
    "rotate-salts": {"task": "tracking.rotate_salts", "schedule": 15 * 60},
    # Dashboards read daily rollups for complete days; fill each day soon after it completes
    # (two hours after the site's midnight), backfill goals created since, and refresh the provisional
    # snapshot of today (the dashboard adds only what happened after its cutoff from raw rows, so the
    # fresher it is, the less raw work a dashboard does). Idempotent, so overlapping runs are harmless.
    "fill-rollups": {"task": "tracking.fill_rollups", "schedule": 5 * 60},
    # Split tests set to stop after N days or at their planned sample are stopped within 15 minutes of it
    # (conditional UPDATEs: a test stopped by hand meanwhile stays as it is).
    "splittests-auto-stop": {"task": "splittests.auto_stop", "schedule": 15 * 60},
}


@app.on_after_finalize.connect
def _stripe_schedule(sender, **kwargs):
    # Poll Stripe (no webhooks) every STRIPE_SYNC_INTERVAL seconds: one sync per connected site,
    # each under a per-site lock (revenue.sync.claim) so two syncs of a site never overlap.
    from django.conf import settings

    sender.conf.beat_schedule["stripe-sync"] = {"task": "revenue.sync_all", "schedule": settings.STRIPE_SYNC_INTERVAL}
