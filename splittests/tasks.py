"""Celery tasks of split tests: they only wake the services up (humblytics/celery.py schedules them)."""

from celery import shared_task

from splittests import services


@shared_task(name="splittests.auto_stop")
def auto_stop():
    return services.splittests_auto_stop()
