"""Split tests: a test on one page of a site, its variants, and the exposures the tracker reports.

A test moves draft → running ⇄ paused → stopped (services.py holds the transitions). Only running tests are
delivered by the tracker (splittests/delivery.py). An exposure is one page view on which a visitor saw a variant;
results (selectors.py) count each exposed visitor once, in the variant of their first exposure.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone

from sites.models import Site


class SplitTest(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        RUNNING = "running", "Running"
        PAUSED = "paused", "Paused"
        STOPPED = "stopped", "Stopped"

    class Randomization(models.TextChoices):
        SESSION = "session", "Session-level: a new assignment each visit"
        USER = "user", "User-level: the same variant for the visitor until midnight UTC"

    class GoalKind(models.TextChoices):
        REVENUE_ANY = "revenue_any", "Revenue: any payment"
        REVENUE_TARGET = "revenue_target", "Revenue: a payment of at least an amount"
        PAGE = "page", "Page visit"
        EVENT = "event", "Custom event, click or form submission"

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="split_tests")
    name = models.CharField(max_length=120)
    hypothesis = models.TextField(blank=True)
    page_path = models.CharField(max_length=2000, help_text="The control page's path, like /pricing")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    randomization = models.CharField(max_length=10, choices=Randomization.choices, default=Randomization.USER)
    traffic_percent = models.PositiveSmallIntegerField(default=100)
    goal_kind = models.CharField(max_length=20, choices=GoalKind.choices, default=GoalKind.REVENUE_ANY)
    goal_amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    goal_path = models.CharField(max_length=2000, blank=True)
    goal_event = models.CharField(max_length=120, blank=True)
    # The plan (sample-size calculator); planned_visitors_per_variant drives fixed-horizon results and auto-stop.
    baseline_rate = models.FloatField(null=True, blank=True, help_text="Expected control conversion rate, 0–1.")
    minimum_effect = models.FloatField(null=True, blank=True, help_text="Minimum detectable relative effect.")
    daily_visitors = models.PositiveIntegerField(null=True, blank=True)
    planned_visitors_per_variant = models.PositiveIntegerField(null=True, blank=True)
    auto_stop_days = models.PositiveSmallIntegerField(null=True, blank=True)
    auto_stop_at_sample = models.BooleanField(default=False)
    winner = models.ForeignKey("Variant", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    stop_reason = models.CharField(max_length=200, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["site", "-created_at"]
        indexes = [models.Index(fields=["site", "status"], name="splittest_site_status")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(traffic_percent__gte=1, traffic_percent__lte=100), name="splittest_traffic_range"
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.site})"

    @property
    def is_revenue_goal(self):
        return self.goal_kind in (self.GoalKind.REVENUE_ANY, self.GoalKind.REVENUE_TARGET)

    @property
    def goal_label(self):
        if self.goal_kind == self.GoalKind.REVENUE_ANY:
            return "Any revenue"
        if self.goal_kind == self.GoalKind.REVENUE_TARGET:
            return f"A payment of at least {self.goal_amount} {self.site.currency}"
        if self.goal_kind == self.GoalKind.PAGE:
            return f"Visit {self.goal_path}"
        return f"Event {self.goal_event}"

    @property
    def is_editable(self):
        return self.status == self.Status.DRAFT


class Variant(models.Model):
    class Kind(models.TextChoices):
        CONTROL = "control", "Control (the page as it is)"
        REDIRECT = "redirect", "Redirect to another URL"
        CHANGES = "changes", "No-code changes"

    test = models.ForeignKey(SplitTest, on_delete=models.CASCADE, related_name="variants")
    name = models.CharField(max_length=60)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    weight = models.PositiveSmallIntegerField(default=1)
    position = models.PositiveSmallIntegerField(default=0)
    redirect_url = models.CharField(max_length=2000, blank=True)
    # [{"selector": "h1", "action": "text" | "attr" | "style", "name": "href" | "color" | "", "value": "…"}]
    changes = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["test", "position"]
        constraints = [
            models.UniqueConstraint(fields=["test", "position"], name="variant_test_position_unique"),
            models.UniqueConstraint(fields=["test", "name"], name="variant_test_name_unique"),
        ]

    def __str__(self):
        return self.name

    @property
    def is_control(self):
        return self.kind == self.Kind.CONTROL


class Exposure(models.Model):
    """A visitor saw a variant on one page view (view id). Reported by the tracker, stored once per view.

    visitor_id is the same cookie-free daily hash as the page view's (tracking.privacy.visitor_id), computed when the
    exposure arrives, so results need no join to a page view that may still sit in the ingestion buffer.
    """

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+", db_index=False)
    test = models.ForeignKey(SplitTest, on_delete=models.CASCADE, related_name="exposures", db_index=False)
    variant = models.ForeignKey(Variant, on_delete=models.CASCADE, related_name="exposures", db_index=False)
    view_id = models.CharField(max_length=40)
    visitor_id = models.BigIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["test", "view_id"], name="exposure_test_view_unique")]
        indexes = [
            models.Index(fields=["test", "variant", "visitor_id"], name="exposure_test_variant_visitor"),
            models.Index(fields=["test", "visitor_id", "created_at"], name="exposure_test_visitor_time"),
        ]

    def __str__(self):
        return f"{self.view_id} saw {self.variant_id}"
