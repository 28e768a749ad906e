"""Staff admin for sites, memberships, invites and API keys.

The admin is an interface like the views: writes with a business rule behind them (revoking a
key, demoting the last owner) go through `sites.services` or repeat its check in the form.
An API key's digest is never shown, and keys are never added here: a key must be shown once,
which only `manage.py apikey_create` and the site settings page do.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from sites import services
from sites.domains import DomainError, normalize_domain
from sites.models import ApiKey, Invite, Membership, Role, Site


class SiteAdminForm(forms.ModelForm):
    # No Meta: the admin builds it with every field, so fields added to Site later appear too.
    def clean_domain(self):
        # Accept what a person pastes (https://www.Example.com/) and store what the tracker sends.
        try:
            return normalize_domain(self.cleaned_data["domain"])
        except DomainError as error:
            raise ValidationError(str(error)) from None


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]
    fields = ["user", "role", "created_at"]
    readonly_fields = ["created_at"]


class InviteInline(admin.TabularInline):
    model = Invite
    extra = 0
    raw_id_fields = ["invited_by"]
    fields = ["email", "role", "invited_by", "created_at"]
    readonly_fields = ["created_at"]


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    form = SiteAdminForm
    list_display = ["domain", "name", "timezone", "currency", "created_at", "first_event_at"]
    search_fields = ["domain", "name", "memberships__user__email"]
    list_filter = ["currency", "timezone", "created_at", ("first_event_at", admin.EmptyFieldListFilter)]
    readonly_fields = ["created_at", "first_event_at"]
    date_hierarchy = "created_at"
    inlines = [MembershipInline, InviteInline]


class MembershipAdminForm(forms.ModelForm):
    def clean(self):
        cleaned = super().clean()
        instance = self.instance
        if instance.pk:
            original = Membership.objects.filter(pk=instance.pk).values_list("role", flat=True).first()
            demoted = original == Role.OWNER and cleaned.get("role") != Role.OWNER
            moved = cleaned.get("site") is not None and cleaned["site"].pk != instance.site_id
            others = Membership.objects.filter(site_id=instance.site_id, role=Role.OWNER).exclude(pk=instance.pk)
            if original == Role.OWNER and (demoted or moved) and not others.exists():
                raise ValidationError("A site needs at least one owner: make someone else owner first.")
        return cleaned


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    form = MembershipAdminForm
    list_display = ["user", "site", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__email", "site__domain"]
    list_select_related = ["user", "site"]
    raw_id_fields = ["user", "site"]
    readonly_fields = ["created_at"]


@admin.register(Invite)
class InviteAdmin(admin.ModelAdmin):
    list_display = ["email", "site", "role", "invited_by", "created_at"]
    list_filter = ["role"]
    search_fields = ["email", "site__domain"]
    list_select_related = ["site", "invited_by"]
    raw_id_fields = ["site", "invited_by"]
    readonly_fields = ["created_at"]


class ActiveKeyFilter(admin.SimpleListFilter):
    title = "active"
    parameter_name = "active"

    def lookups(self, request, model_admin):
        return [("yes", "Active"), ("no", "Revoked")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(revoked_at__isnull=True)
        if self.value() == "no":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "site", "key", "created_at", "last_used_at", "active"]
    list_filter = [ActiveKeyFilter]
    search_fields = ["name", "prefix", "site__domain"]
    list_select_related = ["site"]
    # The digest is excluded everywhere: not a field, not a column, not searchable.
    fields = ["name", "site", "key", "created_by", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["site", "key", "created_by", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke_keys"]

    def has_add_permission(self, request):
        return False

    @admin.display(description="Key", ordering="prefix")
    def key(self, api_key):
        return api_key.masked

    @admin.display(description="Active", boolean=True, ordering="revoked_at")
    def active(self, api_key):
        return api_key.is_active

    @admin.action(description="Revoke selected keys", permissions=["change"])
    def revoke_keys(self, request, queryset):
        revoked = 0
        for api_key in queryset.filter(revoked_at__isnull=True):
            services.apikey_revoke(api_key=api_key)
            revoked += 1
        self.message_user(request, f"Revoked {revoked} API key{'s' if revoked != 1 else ''}.", messages.SUCCESS)
