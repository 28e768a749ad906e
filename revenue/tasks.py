from celery import shared_task

from revenue import services


@shared_task(name="revenue.sync_all")
def sync_all():
    """Beat, every STRIPE_SYNC_INTERVAL seconds: one sync per connected site that is due."""
    ids = list(services.syncs_due().values_list("pk", flat=True))
    for connection_id in ids:
        sync_site.delay(connection_id)
    return len(ids)


@shared_task(name="revenue.sync_site", acks_late=True)
def sync_site(connection_id):
    report = services.sync_run(connection_id=connection_id)
    return None if report is None else report.__dict__
