"""Writes of the revenue app: connecting Stripe, and asking for syncs."""

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from revenue import sync
from revenue.models import StripeConnection
from revenue.stripe import client as stripe_client


class RevenueError(Exception):
    def __init__(self, message):
        super().__init__(message)
        self.message = message


def connection_connect(*, site, secret_key, user=None):
    """Validate a Stripe key with cheap reads and store it encrypted (new connection or replaced key)."""
    secret_key = (secret_key or "").strip()
    try:
        mode = stripe_client.key_mode(secret_key)
        api = sync.api_for(StripeConnection(secret_key=secret_key))
        api.validate()
    except stripe_client.StripeProblem as problem:
        raise RevenueError(problem.message) from None
    connection = StripeConnection.objects.filter(site=site).first() or StripeConnection(
        site=site, backfill_days=settings.STRIPE_BACKFILL_DAYS
    )
    if connection.pk and connection.mode != mode:
        # Test and live never mix: a key of the other mode starts reading from scratch.
        connection.charges_cursor = connection.refunds_cursor = connection.disputes_cursor = None
        connection.sync_progress = {}
    connection.secret_key = secret_key
    connection.key_hint = stripe_client.key_hint(secret_key)
    connection.mode = mode
    connection.status = StripeConnection.Status.ACTIVE
    connection.last_error = ""
    connection.connected_by = user if user is not None and user.is_authenticated else connection.connected_by
    connection.sync_started_at = None
    connection.save()
    sync_request(connection=connection)
    return connection


def connection_disconnect(*, connection):
    """Stop syncing and forget the key; payments already synced stay."""
    connection.status = StripeConnection.Status.DISCONNECTED
    connection.secret_key = ""
    connection.sync_started_at = None
    connection.sync_progress = {}
    connection.save()


def sync_request(*, connection):
    """Enqueue a sync of this connection once the current transaction commits."""
    from revenue import tasks

    transaction.on_commit(lambda: tasks.sync_site.delay(connection.pk))


def sync_run(*, connection_id, **options):
    """Claim the site's lock and run one sync; None when another sync of the site is running."""
    connection = sync.claim(connection_id)
    if connection is None:
        return None
    try:
        return sync.sync_connection(connection, **options)
    finally:
        sync.release(connection)


def syncs_due(*, now=None):
    """Connections whose last attempt is older than the sync interval."""
    from datetime import timedelta

    from django.conf import settings
    from django.db.models import Q

    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.STRIPE_SYNC_INTERVAL) + timedelta(seconds=5)
    return StripeConnection.objects.filter(status=StripeConnection.Status.ACTIVE).filter(
        Q(last_attempt_at__isnull=True) | Q(last_attempt_at__lt=stale)
    )


def payments_reattribute(*, payments):
    return sync.reattribute(payments)
