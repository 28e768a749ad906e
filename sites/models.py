import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone as dj_timezone

from humblytics.currencies import CURRENCY_CHOICES
from sites.domains import DomainError, normalize_domain


def validate_domain(value):
    try:
        if normalize_domain(value) != value:
            raise ValidationError("Store the normalised domain (%(value)s is not)", params={"value": value})
    except DomainError as error:
        raise ValidationError(str(error)) from None


def validate_timezone(value):
    if value not in zoneinfo.available_timezones():
        raise ValidationError("Choose a timezone from the IANA database, like Europe/Berlin.")


class Site(models.Model):
    domain = models.CharField(max_length=253, unique=True, validators=[validate_domain])
    name = models.CharField(max_length=100, blank=True)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES, default="USD")
    created_at = models.DateTimeField(default=dj_timezone.now)
    # Drop events from browsers that send Sec-GPC: 1 (Global Privacy Control) when the owner opts in.
    respect_gpc = models.BooleanField(
        default=False, help_text="Do not count visitors whose browser sends the Global Privacy Control signal."
    )
    # Set once by ingestion, so the Tracking tab can stop saying "waiting for the first page view".
    first_event_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["domain"]

    def __str__(self):
        return self.domain

    @property
    def display_name(self):
        return self.name or self.domain


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    VIEWER = "viewer", "Viewer"


ROLE_RANK = {Role.VIEWER: 0, Role.ADMIN: 1, Role.OWNER: 2}


class Membership(models.Model):
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        ordering = ["site", "created_at"]
        constraints = [models.UniqueConstraint(fields=["site", "user"], name="membership_site_user_unique")]

    def __str__(self):
        return f"{self.user} is {self.role} of {self.site}"

    def has_role(self, role):
        return ROLE_RANK[self.role] >= ROLE_RANK[role]

    @property
    def can_change(self):
        return self.has_role(Role.ADMIN)

    @property
    def is_owner(self):
        return self.role == Role.OWNER


class Invite(models.Model):
    """A pending membership for an e-mail address; accepted on sign-up or log-in."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="invites")
    email = models.EmailField()
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        ordering = ["site", "created_at"]
        constraints = [models.UniqueConstraint(fields=["site", "email"], name="invite_site_email_unique")]

    def __str__(self):
        return f"{self.email} invited to {self.site} as {self.role}"


class ApiKey(models.Model):
    """A site's Stats API key. Only a lookup prefix and an HMAC of the whole key are stored."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    digest = models.CharField(max_length=64)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=dj_timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["site", "-created_at"]
        verbose_name = "API key"

    def __str__(self):
        return f"{self.name} ({self.masked})"

    @property
    def masked(self):
        return f"hly_{self.prefix}…"

    @property
    def is_active(self):
        return self.revoked_at is None


class Goal(models.Model):
    """A conversion: visiting a page (path pattern, `*` matches anything) or sending a custom event."""

    class Kind(models.TextChoices):
        PAGE = "page", "Page visit"
        EVENT = "event", "Custom event"

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="goals")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    page_path = models.CharField(max_length=2000, blank=True, help_text="Like /pricing or /blog/*")
    event_name = models.CharField(max_length=120, blank=True, help_text="Like Signup")
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        ordering = ["site", "created_at"]
        constraints = [
            models.UniqueConstraint(fields=["site", "kind", "page_path", "event_name"], name="goal_site_unique"),
            models.CheckConstraint(
                condition=(models.Q(kind="page") & ~models.Q(page_path="") & models.Q(event_name=""))
                | (models.Q(kind="event") & ~models.Q(event_name="") & models.Q(page_path="")),
                name="goal_kind_matches_fields",
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def name(self):
        """How the goal is shown and named in the Stats API: `Visit /pricing` or the event name."""
        return f"Visit {self.page_path}" if self.kind == self.Kind.PAGE else self.event_name
