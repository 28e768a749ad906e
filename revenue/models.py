"""Stripe connections, the payments read from them, and what each payment was credited to.

The merchant's key lives only in `StripeConnection.secret_key`, encrypted at rest (humblytics.fields);
it is never rendered, logged or shown in the admin — `key_hint` (`rk_live_…abcd`) is what people see.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone

from humblytics.fields import EncryptedTextField
from sites.models import Site
from tracking.models import PageView, Visit


class StripeConnection(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        BROKEN = "broken", "Broken — syncing paused"
        DISCONNECTED = "disconnected", "Disconnected"

    class Mode(models.TextChoices):
        TEST = "test", "Test"
        LIVE = "live", "Live"

    site = models.OneToOneField(Site, on_delete=models.CASCADE, related_name="stripe_connection")
    secret_key = EncryptedTextField()
    key_hint = models.CharField(max_length=40)
    mode = models.CharField(max_length=4, choices=Mode.choices)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACTIVE)
    last_error = models.TextField(blank=True)
    backfill_days = models.PositiveSmallIntegerField(default=90)
    # Everything Stripe created before each cursor (unix seconds) has been read and committed.
    charges_cursor = models.BigIntegerField(null=True, blank=True)
    refunds_cursor = models.BigIntegerField(null=True, blank=True)
    disputes_cursor = models.BigIntegerField(null=True, blank=True)
    sync_started_at = models.DateTimeField(null=True, blank=True)
    sync_progress = models.JSONField(default=dict, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    api_calls = models.PositiveBigIntegerField(default=0)
    connected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"Stripe ({self.mode}) for {self.site}"

    @property
    def is_syncing(self):
        return self.status == self.Status.ACTIVE


class StripeRef(models.Model):
    """What we learnt about a Stripe object: its view id and links. Renewals reuse it: no API call."""

    connection = models.ForeignKey(StripeConnection, on_delete=models.CASCADE, related_name="refs")
    stripe_id = models.CharField(max_length=255)
    kind = models.CharField(max_length=20)  # customer, subscription, invoice, payment_intent, checkout_session
    view_id = models.CharField(max_length=40, blank=True)
    links = models.JSONField(default=dict, blank=True)  # e.g. {"customer": "cus_…", "subscription": "sub_…"}
    fetched_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["connection", "stripe_id"], name="stripe_ref_unique")]

    def __str__(self):
        return f"{self.kind} {self.stripe_id}"


class Payment(models.Model):
    """One real payment, once: a PaymentIntent (or a legacy Charge without one)."""

    class Attribution(models.TextChoices):
        ATTRIBUTED = "attributed", "Attributed"
        PENDING = "pending", "Pending (view not landed yet)"
        NO_VIEW_ID = "no_view_id", "No view id"
        VIEW_NOT_FOUND = "view_not_found", "View not found"

    class Conversion(models.TextChoices):
        SAME = "same", "Same currency"
        SETTLED = "settled", "Settled amount"
        UNAVAILABLE = "unavailable", "No conversion available"

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="payments")
    connection = models.ForeignKey(StripeConnection, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    stripe_id = models.CharField(max_length=255)
    charge_id = models.CharField(max_length=255, blank=True)
    payment_intent_id = models.CharField(max_length=255, blank=True)
    invoice_id = models.CharField(max_length=255, blank=True)
    subscription_id = models.CharField(max_length=255, blank=True)
    checkout_session_id = models.CharField(max_length=255, blank=True)
    customer_id = models.CharField(max_length=255, blank=True)
    livemode = models.BooleanField(default=False)
    created_at = models.DateTimeField(help_text="When Stripe created the charge.")
    description = models.CharField(max_length=300, blank=True)
    # Money in the payment's own currency, minor units.
    currency = models.CharField(max_length=3)
    amount = models.BigIntegerField()
    amount_refunded = models.BigIntegerField(default=0)
    amount_disputed = models.BigIntegerField(default=0, help_text="Lost disputes.")
    # Money in the site's reporting currency (major units); NULL when no conversion is available.
    reporting_currency = models.CharField(max_length=3)
    gross = models.DecimalField(max_digits=18, decimal_places=6, null=True, blank=True)
    refunds = models.DecimalField(max_digits=18, decimal_places=6, null=True, blank=True)
    net = models.DecimalField(max_digits=18, decimal_places=6, null=True, blank=True)
    conversion = models.CharField(max_length=12, choices=Conversion.choices, default=Conversion.SAME)
    # Attribution.
    attribution = models.CharField(max_length=16, choices=Attribution.choices, default=Attribution.PENDING)
    view_id = models.CharField(max_length=40, blank=True)
    view_source = models.CharField(max_length=24, blank=True)
    pageview = models.ForeignKey(PageView, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    visit = models.ForeignKey(Visit, null=True, blank=True, on_delete=models.SET_NULL, related_name="payments")
    visitor_id = models.BigIntegerField(null=True, blank=True)
    attributed_at = models.DateTimeField(null=True, blank=True)
    checks = models.PositiveSmallIntegerField(default=0)
    next_check_at = models.DateTimeField(null=True, blank=True)
    synced_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["site", "stripe_id"], name="payment_site_stripe_id_unique")]
        indexes = [
            models.Index(fields=["site", "livemode", "created_at"], name="payment_site_mode_created"),
            models.Index(fields=["site", "attribution"], name="payment_site_attribution"),
            models.Index(fields=["next_check_at"], name="payment_next_check"),
            models.Index(fields=["visit"], name="payment_visit"),
        ]

    def __str__(self):
        return f"{self.stripe_id} {self.amount} {self.currency}"
