"""What ingestion records. Rows are written in batches by `tracking.services.events_store`.

Visits carry the visit-level dimensions (source, location, device) once; page views and events point at
their visit. Neither table holds an IP address or a User-Agent.
"""

from django.db import models

from sites.models import Site


class Salt(models.Model):
    """The random key of one UTC day's visitor hashes. Deleted after 48 hours."""

    day = models.DateField(unique=True)
    secret = models.BinaryField(max_length=32)

    def __str__(self):
        return f"salt of {self.day}"


class Visit(models.Model):
    # Random 63-bit ids assigned by the writer, so a batch needs no round trip to learn them.
    id = models.BigIntegerField(primary_key=True)
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+", db_index=False)
    visitor_id = models.BigIntegerField()
    started_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    duration = models.PositiveIntegerField(default=0, help_text="Seconds from the first to the last activity.")
    pageviews = models.PositiveIntegerField(default=0)
    events = models.PositiveIntegerField(default=0)
    is_bounce = models.BooleanField(default=True, help_text="One page view and no interactive event.")
    hostname = models.CharField(max_length=253, blank=True)
    entry_page = models.CharField(max_length=2000, blank=True)
    exit_page = models.CharField(max_length=2000, blank=True)
    # Where the visit came from.
    referrer = models.CharField(max_length=500, blank=True)
    referrer_host = models.CharField(max_length=253, blank=True)
    source = models.CharField(max_length=200, blank=True)
    channel = models.CharField(max_length=40, blank=True)
    utm_source = models.CharField(max_length=200, blank=True)
    utm_medium = models.CharField(max_length=200, blank=True)
    utm_campaign = models.CharField(max_length=200, blank=True)
    utm_content = models.CharField(max_length=200, blank=True)
    utm_term = models.CharField(max_length=200, blank=True)
    click_id = models.CharField(max_length=20, blank=True)
    # Where and on what.
    country = models.CharField(max_length=2, blank=True)
    region = models.CharField(max_length=100, blank=True)
    city = models.CharField(max_length=100, blank=True)
    browser = models.CharField(max_length=60, blank=True)
    browser_version = models.CharField(max_length=30, blank=True)
    os = models.CharField(max_length=60, blank=True)
    os_version = models.CharField(max_length=30, blank=True)
    device = models.CharField(max_length=20, blank=True)
    screen_class = models.CharField(max_length=20, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["site", "started_at"], name="visit_site_started"),
            # Not last_seen_at: every page view moves it, and an indexed column would make each visit update a
            # non-HOT update (new index entries in every index). A visitor id lives a day: few visits to filter.
            models.Index(fields=["site", "visitor_id"], name="visit_site_visitor"),
        ]

    def __str__(self):
        return f"visit {self.id} on {self.site_id}"


class PageView(models.Model):
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+", db_index=False)
    view_id = models.CharField(max_length=40)
    visit = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="page_views", db_index=False)
    visitor_id = models.BigIntegerField()
    timestamp = models.DateTimeField()
    hostname = models.CharField(max_length=253, blank=True)
    pathname = models.CharField(max_length=2000)
    props = models.JSONField(default=dict, blank=True)
    engaged_ms = models.PositiveIntegerField(default=0)
    scroll_depth = models.PositiveSmallIntegerField(null=True, blank=True)
    # A Stripe Checkout Session id seen in the page URL (?session_id=cs_… on a Payment Link return page).
    checkout_session_id = models.CharField(max_length=255, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["site", "view_id"], name="pageview_site_view_unique")]
        indexes = [
            # Covering: the dashboard's page, goal and tail reads of a day are index-only scans (after VACUUM).
            # None of these columns is ever updated, so engagement updates stay HOT. Paths are at most 2,000
            # characters (tracking.payload) of a percent-encoded URL: within a btree tuple's ~2,700 bytes.
            models.Index(
                fields=["site", "timestamp"], include=["visitor_id", "visit_id", "pathname"], name="pageview_site_time"
            ),
            models.Index(fields=["visit"], name="pageview_visit"),
            # Payment Link returns: find the view that saw ?session_id=cs_… (revenue attribution).
            models.Index(
                fields=["site", "checkout_session_id"],
                condition=~models.Q(checkout_session_id=""),
                name="pageview_checkout_session",
            ),
        ]

    def __str__(self):
        return f"{self.pathname} ({self.view_id})"


class Event(models.Model):
    """A custom event (Signup, Outbound Link: Click…), tied to the page view it happened on."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+", db_index=False)
    view_id = models.CharField(max_length=40)
    visit = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="custom_events", db_index=False)
    visitor_id = models.BigIntegerField()
    name = models.CharField(max_length=120)
    timestamp = models.DateTimeField()
    pathname = models.CharField(max_length=2000)
    props = models.JSONField(default=dict, blank=True)
    interactive = models.BooleanField(default=True)
    revenue_amount = models.DecimalField(max_digits=18, decimal_places=6, null=True, blank=True)
    revenue_currency = models.CharField(max_length=3, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["site", "view_id", "name"], name="event_site_view_name_unique")]
        indexes = [
            models.Index(fields=["site", "timestamp"], name="event_site_time"),
            models.Index(fields=["visit"], name="event_visit"),
        ]

    def __str__(self):
        return f"{self.name} ({self.view_id})"


class DroppedEvents(models.Model):
    """How many events of a site were dropped on one day, and why (bot, opted-out, localhost…)."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    reason = models.CharField(max_length=40)
    count = models.PositiveBigIntegerField(default=0)

    class Meta:
        verbose_name_plural = "dropped events"
        constraints = [models.UniqueConstraint(fields=["site", "day", "reason"], name="dropped_site_day_reason")]

    def __str__(self):
        return f"{self.count} dropped ({self.reason}) on {self.day}"


class DaySums(models.Model):
    """What a rollup row sums for one site, day (in the site's timezone), dimension and value."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+", db_index=False)
    day = models.DateField()
    dimension = models.CharField(max_length=20)
    value = models.CharField(max_length=2000, blank=True)
    visitors = models.PositiveIntegerField(default=0)
    visits = models.PositiveIntegerField(default=0)
    bounces = models.PositiveIntegerField(default=0)
    duration = models.PositiveBigIntegerField(default=0)
    pageviews = models.PositiveIntegerField(default=0)

    class Meta:
        abstract = True


class DailyRollup(DaySums):
    """One site's day (in the site's timezone) summed per dimension value. Filled by tracking.rollups.

    `dimension` is "" for the day's totals, a Visit field name ("source", "country", …) for visit-level
    breakdowns, or "page" for page views by path. `carry` counts the visitor ids seen with this value
    on this day AND the next one: unique visitors over consecutive days are the sum of daily visitors
    minus the carries inside the range — exact, never an estimate.
    """

    carry = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["site", "dimension", "day"], name="rollup_site_dim_day")]

    def __str__(self):
        return f"{self.site_id} {self.day} {self.dimension}={self.value}"


class WeeklyRollup(DaySums):
    """A complete local week (Monday to Sunday; `day` is its Monday) of DailyRollup rows, summed: `visitors` are the
    week's exact uniques (its days' visitors minus the carries inside it), `carry` is its Sunday's carry into the
    Monday after. A range reads a block instead of seven days; filled by tracking.rollups once the Monday after is
    complete (so that carry is final)."""

    carry = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["site", "dimension", "day"], name="weekly_site_dim_day")]

    def __str__(self):
        return f"{self.site_id} week of {self.day} {self.dimension}={self.value}"


class MonthlyRollup(DaySums):
    """A complete local calendar month (`day` is its 1st) of DailyRollup rows, summed like WeeklyRollup: `visitors`
    are the month's exact uniques, `carry` is its last day's carry into the day after. A 90-day range reads two or
    three of these instead of a dozen weeks; filled once the day after the month is complete."""

    carry = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["site", "dimension", "day"], name="monthly_site_dim_day")]

    def __str__(self):
        return f"{self.site_id} month of {self.day} {self.dimension}={self.value}"


class RollupState(models.Model):
    """How far a site's rollups are complete, and in which timezone they were cut into days."""

    site = models.OneToOneField(Site, on_delete=models.CASCADE, related_name="+", primary_key=True)
    timezone = models.CharField(max_length=64)
    complete_until = models.DateField(null=True, blank=True)
    # STARTED while a day is being refilled: a crashed fill is redone on the next run.
    filling = models.DateField(null=True, blank=True)
    # Goals (ids) whose "goal" rows exist for every complete day; a goal not listed is read raw until backfilled.
    goals_filled = models.JSONField(default=list, blank=True)
    # The provisional snapshot of the days after complete_until. ProvisionalRollup and ProvisionalColumns count
    # everything stored at `provisional_at`; the segment snapshot counts the visits that ended before
    # `provisional_cutoff` (they can no longer change) and the page views and events before it.
    provisional_from = models.DateField(null=True, blank=True)
    provisional_until = models.DateField(null=True, blank=True)
    provisional_cutoff = models.DateTimeField(null=True, blank=True)
    provisional_at = models.DateTimeField(null=True, blank=True)
    # What ProvisionalRollup saw of the rows that could change after `provisional_at` (None: unknown, the days are read
    # raw): the visits open at the cutoff as ProvisionalVisit rows, and here {"pageviews"/"events": [ids]} of the page
    # views and events of the last STORED_WITHIN stored by then. The segment snapshot's correction starts from the
    # visitors of those open visits and of the visits started since the cutoff: an ended visit never changes.
    provisional_seen = models.JSONField(null=True, blank=True)
    provisional_goals = models.JSONField(default=list, blank=True)  # the goal ids the snapshot counted
    # SegmentRollup rows exist for every day up to this one (never after complete_until), counting these goals.
    segments_until = models.DateField(null=True, blank=True)
    segment_goals = models.JSONField(default=list, blank=True)
    # WeeklyRollup rows exist for every complete week up to the one ending on this Sunday.
    weeks_until = models.DateField(null=True, blank=True)
    # MonthlyRollup rows exist for every complete month up to the one ending on this day.
    months_until = models.DateField(null=True, blank=True)
    # SegmentProvisional holds the provisional snapshot's days for every segment too (same cutoff, days and goals).
    provisional_segments = models.BooleanField(default=False)
    # VisitColumns rows exist for every day from columns_from to columns_until (both None: none yet). Days before
    # columns_from have no visits.
    columns_from = models.DateField(null=True, blank=True)
    columns_until = models.DateField(null=True, blank=True)
    # The next visitor number of the column store (its `vnum` arrays: a visitor id's number, shared with the same id on
    # the two days before; tracking.columns.number_visitors).
    columns_visitors = models.BigIntegerField(default=0)
    # ProvisionalColumns hold the provisional snapshot's days after the store as it stood then (None: no snapshot of
    # columns; the reader then reads those days raw).
    provisional_columns_after = models.DateField(null=True, blank=True)

    def __str__(self):
        return f"rollups of {self.site_id} complete until {self.complete_until}"


class Columns(models.Model):
    """One column of one local day of a site as an array (tracking.columns): `data` is the array (numpy dtype `dtype`,
    little-endian); text columns are codes into the site's ColumnValues of that column."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+", db_index=False)
    day = models.DateField()
    name = models.CharField(max_length=40)
    dtype = models.CharField(max_length=8)
    data = models.BinaryField()

    class Meta:
        abstract = True

    def __str__(self):
        return f"{self.site_id} {self.day} {self.name}"


class ColumnValues(models.Model):
    """The texts of one text column of a site's column store, by code: `values[code]`. Append-only, so a code means the
    same text on every day (the reader never renumbers); written under the RollupState lock with the days."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+", db_index=False)
    name = models.CharField(max_length=40)
    values = models.JSONField(default=list)

    class Meta:
        verbose_name_plural = "column values"
        constraints = [models.UniqueConstraint(fields=["site", "name"], name="columnvalues_site_name")]

    def __str__(self):
        return f"{self.site_id} {self.name}: {len(self.values)} values"


class VisitColumns(Columns):
    """One complete local day of a site as arrays: the visits that started that day, the page views and custom events
    that happened that day, one row per column. Filtered dashboard queries that no rollup answers read these instead
    of the wide raw tables (dashboard.column_reader). Written once per day by tracking.columns.columns_fill, after
    every visit of the day has ended; never updated."""

    class Meta:
        verbose_name_plural = "visit columns"
        constraints = [models.UniqueConstraint(fields=["site", "day", "name"], name="visitcolumns_site_day_name")]


class ProvisionalColumns(Columns):
    """The days after the store (today) as VisitColumns, as stored at RollupState.provisional_at. Refreshed with the
    provisional snapshot; the reader reads again the visits changed since (open at the cutoff and no longer as
    ProvisionalVisit keeps them, or started in the snapshot's last STORED_WITHIN or later) and their rows."""

    class Meta:
        verbose_name_plural = "provisional columns"
        constraints = [models.UniqueConstraint(fields=["site", "day", "name"], name="provcolumns_site_day_name")]


class ProvisionalRollup(DaySums):
    """A not yet complete day (today, maybe yesterday) summed like DailyRollup: everything stored at
    RollupState.provisional_at.

    Refreshed every few minutes; the dashboard corrects it from raw rows for the visitors whose rows changed since
    (dashboard.rollup_tail), with what ProvisionalVisit and RollupState.provisional_seen say it saw of them. `carry_in`
    counts the visitor ids seen with this value on this day AND the day before (the complete day's carry into
    the tail is unknown to DailyRollup until this day completes).
    """

    carry_in = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["site", "dimension", "day"], name="provisional_site_dim_day")]

    def __str__(self):
        return f"{self.site_id} {self.day} {self.dimension}={self.value} (provisional)"


class ProvisionalVisit(models.Model):
    """A visit open at the provisional snapshot's cutoff, as the snapshot saw it (RollupState.provisional_at): what
    may have changed since. The dashboard reads again the visits (and, for ProvisionalRollup, the visitors) no longer
    as kept here; the segment snapshot's correction starts from every visitor kept here."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+", db_index=False)
    # No constraint: the visit may be gone (a site's data deleted) before the next snapshot replaces this row.
    visit = models.ForeignKey(Visit, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False, db_index=False)
    visitor_id = models.BigIntegerField()
    local_day = models.DateField()  # of started_at, in the site's timezone
    is_bounce = models.BooleanField()
    duration = models.PositiveIntegerField()
    pageviews = models.PositiveIntegerField()
    events = models.PositiveIntegerField()
    entry_page = models.CharField(max_length=2000, blank=True)
    exit_page = models.CharField(max_length=2000, blank=True)

    class Meta:
        indexes = [models.Index(fields=["site", "visitor_id"], name="provisional_visit_visitor")]

    def __str__(self):
        return f"visit {self.visit_id} as the snapshot of {self.site_id} saw it"


class SegmentSums(DaySums):
    """A DaySums row under one visit filter (`segment_dim` is `segment_value`). `carry_in` counts the visitor ids seen
    with this segment and value on this day AND the day before, so unique visitors over a run of days are the sum of
    daily visitors minus the carry_in of every day after the first — exact, like DailyRollup's carries."""

    segment_dim = models.CharField(max_length=20)
    segment_value = models.CharField(max_length=2000, blank=True)
    carry_in = models.PositiveIntegerField(default=0)

    class Meta:
        abstract = True

    def __str__(self):
        return f"{self.site_id} {self.day} {self.segment_dim}={self.segment_value} {self.dimension}={self.value}"

    @staticmethod
    def index(name):
        return models.Index(fields=["site", "segment_dim", "segment_value", "dimension", "day"], name=name)


class SegmentRollup(SegmentSums):
    """One complete day summed per dimension value under one visit filter.

    Answers the dashboard with one common filter (source, channel, country, device) from summaries; filled by
    tracking.rollup_segments.
    """

    class Meta:
        indexes = [SegmentSums.index("segment_site_dim_day")]


class SegmentProvisional(SegmentSums):
    """A not yet complete day summed per segment like SegmentRollup, up to RollupState.provisional_cutoff.

    Written with ProvisionalRollup by the same refresh; the dashboard adds what happened after the cutoff from the
    raw rows of the visitors active since, restricted to the segment.
    """

    class Meta:
        indexes = [SegmentSums.index("segment_prov_site_dim_day")]

    def __str__(self):
        return f"{super().__str__()} (provisional)"
