from celery import shared_task

from tracking import services


@shared_task(name="tracking.rotate_salts")
def rotate_salts():
    """Create today's visitor-hash salt, delete those older than 48 hours."""
    return services.salts_rotate()


@shared_task(name="tracking.fill_rollups")
def fill_rollups():
    """Fill the daily rollups of every site that has data, backfill new goals, refresh the provisional tail."""
    from sites.models import Site
    from tracking.rollups import rollups_fill

    return sum(rollups_fill(site) for site in Site.objects.filter(first_event_at__isnull=False).iterator())
