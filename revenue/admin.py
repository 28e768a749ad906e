"""Staff admin for Stripe connections, payments and the Stripe object cache.

The merchant's key is excluded everywhere: not a form field, not a read-only display, not a column, not
searchable; `key_hint` is what staff see. Connections are made only through the Revenue tab, which checks
the key with Stripe (services.connection_connect). Payments and refs are what the sync read from Stripe,
so they are read-only here; the actions ask the sync to read again rather than editing rows by hand.
"""

from django.contrib import admin, messages

from revenue import services
from revenue.models import Payment, StripeConnection, StripeRef


def _plural(count, word):
    return f"{count} {word}{'s' if count != 1 else ''}"


def _request_syncs(modeladmin, request, connections):
    requested, skipped = 0, 0
    for connection in connections:
        if connection.status == StripeConnection.Status.DISCONNECTED:
            skipped += 1
            continue
        services.sync_request(connection=connection)
        requested += 1
    text = f"Sync requested for {_plural(requested, 'connection')}."
    if skipped:
        text += f" Skipped {_plural(skipped, 'disconnected connection')}."
    modeladmin.message_user(request, text, messages.SUCCESS if requested else messages.WARNING)


@admin.register(StripeConnection)
class StripeConnectionAdmin(admin.ModelAdmin):
    list_display = ["site", "mode", "status", "key_hint", "last_success_at", "last_attempt_at", "api_calls"]
    list_filter = ["mode", "status"]
    search_fields = ["site__domain", "key_hint"]
    list_select_related = ["site"]
    exclude = ["secret_key"]
    readonly_fields = [
        "site",
        "key_hint",
        "mode",
        "status",
        "last_error",
        "backfill_days",
        "charges_cursor",
        "refunds_cursor",
        "disputes_cursor",
        "sync_started_at",
        "sync_progress",
        "last_attempt_at",
        "last_success_at",
        "api_calls",
        "connected_by",
        "created_at",
        "updated_at",
    ]
    actions = ["sync_now"]

    def has_add_permission(self, request):
        return False

    def get_fields(self, request, obj=None):
        # Listed explicitly so that a field added to the model later does not appear (possibly a secret).
        return self.readonly_fields

    @admin.action(description="Sync now", permissions=["change"])
    def sync_now(self, request, queryset):
        _request_syncs(self, request, queryset)


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "site",
        "stripe_id",
        "amount",
        "currency",
        "attribution",
        "view_source",
        "livemode",
    ]
    list_filter = ["attribution", "view_source", "currency", "livemode"]
    search_fields = ["stripe_id", "payment_intent_id", "view_id"]
    list_select_related = ["site"]
    date_hierarchy = "created_at"
    actions = ["resync", "reattribute"]

    def has_add_permission(self, request):
        return False

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in Payment._meta.fields]

    @admin.action(description="Re-sync (ask Stripe again for these payments' sites)", permissions=["change"])
    def resync(self, request, queryset):
        ids = queryset.exclude(connection=None).values_list("connection_id", flat=True).distinct()
        _request_syncs(self, request, StripeConnection.objects.filter(pk__in=list(ids)))

    @admin.action(description="Re-attribute (look for the page view again)", permissions=["change"])
    def reattribute(self, request, queryset):
        queued = services.payments_reattribute(payments=queryset)
        text = f"Queued {_plural(queued, 'payment')} to be attributed again on the next sync."
        self.message_user(request, text, messages.SUCCESS)


@admin.register(StripeRef)
class StripeRefAdmin(admin.ModelAdmin):
    list_display = ["stripe_id", "kind", "view_id", "connection", "fetched_at"]
    list_filter = ["kind"]
    search_fields = ["stripe_id", "view_id"]
    list_select_related = ["connection__site"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
