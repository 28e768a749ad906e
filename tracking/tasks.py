from celery import shared_task

from tracking import services


@shared_task(name="tracking.rotate_salts")
def rotate_salts():
    """Create today's visitor-hash salt, delete those older than 48 hours."""
    return services.salts_rotate()
