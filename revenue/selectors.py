"""Reads of the revenue app: the Revenue tab's troubleshooting numbers and payment lists."""

from django.db.models import Count, Q, Sum

from revenue.models import Payment, StripeConnection


def _mode_payments(site, connection):
    payments = Payment.objects.filter(site=site)
    if connection is not None:
        payments = payments.filter(livemode=connection.mode == StripeConnection.Mode.LIVE)
    return payments


def revenue_overview(*, site):
    connection = StripeConnection.objects.filter(site=site).first()
    payments = _mode_payments(site, connection)
    counts = payments.aggregate(
        payments=Count("id"),
        attributed=Count("id", filter=Q(attribution=Payment.Attribution.ATTRIBUTED)),
        pending=Count("id", filter=Q(attribution=Payment.Attribution.PENDING)),
        no_view_id=Count("id", filter=Q(attribution=Payment.Attribution.NO_VIEW_ID)),
        view_not_found=Count("id", filter=Q(attribution=Payment.Attribution.VIEW_NOT_FOUND)),
        unconverted=Count("id", filter=Q(net__isnull=True)),
        gross=Sum("gross"),
        net=Sum("net"),
        refunds=Sum("refunds"),
    )
    return {"connection": connection, "currency": site.currency, **counts}


def payment_list(*, site, attribution=None, livemode=None):
    payments = Payment.objects.filter(site=site).select_related("visit").order_by("-created_at", "-id")
    if attribution:
        payments = payments.filter(attribution=attribution)
    if livemode is not None:
        payments = payments.filter(livemode=livemode)
    return payments


def site_has_revenue(site):
    """Does the dashboard show revenue for this site: a Stripe connection, or payments synced before."""
    cached = getattr(site, "_has_revenue", None)
    if cached is None:
        cached = StripeConnection.objects.filter(site=site).exists() or Payment.objects.filter(site=site).exists()
        site._has_revenue = cached
    return cached
