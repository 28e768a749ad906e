"""One Stripe sync in the foreground, for operators: after connecting a site, to re-read a period, or to see
why a sync fails. It takes the same per-site lock as the Celery task, so it never overlaps a running sync."""

import re
import zoneinfo
from datetime import date, datetime, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count
from django.utils import timezone

from revenue import services
from revenue.models import Payment, StripeConnection
from sites.models import Site

_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ATTRIBUTIONS = (
    (Payment.Attribution.ATTRIBUTED, "attributed"),
    (Payment.Attribution.PENDING, "pending"),
    (Payment.Attribution.NO_VIEW_ID, "no view id"),
    (Payment.Attribution.VIEW_NOT_FOUND, "view not found"),
)


class Command(BaseCommand):
    help = (
        "Sync Stripe now, in the foreground: one site (--site) or every site with an active connection. "
        "--since re-reads charges from that day on (payments are updated, never added twice)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--site", metavar="DOMAIN", help="only this site, e.g. example.com")
        parser.add_argument(
            "--since",
            metavar="YYYY-MM-DD",
            help="re-read charges created from the start of this day (in the site's timezone) on",
        )

    def handle(self, *args, site=None, since=None, **options):
        day = _parse_day(since) if since is not None else None
        if site:
            connections = [_connection_for(site.strip().lower())]
        else:
            connections = list(
                StripeConnection.objects.filter(status=StripeConnection.Status.ACTIVE)
                .select_related("site")
                .order_by("site__domain")
            )
            if not connections:
                self.stdout.write("No site has an active Stripe connection: nothing to sync.")
                return
        failures = []
        for connection in connections:
            failure = self._sync_one(connection, day)
            if failure:
                failures.append(failure)
        if failures:
            raise CommandError(
                failures[0] if len(failures) == 1 else f"{len(failures)} syncs failed: " + "; ".join(failures)
            )

    def _sync_one(self, connection, day):
        domain = connection.site.domain
        since = None
        if day is not None:
            since = datetime.combine(day, datetime.min.time(), tzinfo=zoneinfo.ZoneInfo(connection.site.timezone))
        progress = _Progress(self.stderr, domain)
        try:
            report = services.sync_run(connection_id=connection.pk, since=since, on_progress=progress)
        except KeyboardInterrupt:
            progress.finish()
            raise CommandError(
                f"{domain}: interrupted. Every page read so far is saved; the next sync resumes from there."
            ) from None
        progress.finish()
        if report is None:
            connection.refresh_from_db()
            if connection.status != StripeConnection.Status.ACTIVE:
                return f"{domain}: {_not_syncing(connection)}"
            started = connection.sync_started_at
            when = f" (started {started:%Y-%m-%d %H:%M:%S} UTC)" if started else ""
            return f"{domain}: a sync is already running{when}; try again when it has finished."
        self.stdout.write(_summary(connection.site, report))
        if report.error:
            connection.refresh_from_db()
            paused = (
                " Syncing is paused until the key is replaced."
                if connection.status == StripeConnection.Status.BROKEN
                else ""
            )
            return f"{domain}: the sync failed: {report.error}{paused}"
        return None


def _parse_day(value):
    value = value.strip()
    try:
        if not _DATE_RE.fullmatch(value):
            raise ValueError
        day = date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--since {value!r} is not a date: write it as YYYY-MM-DD, e.g. 2026-01-31.") from None
    if day > (timezone.now() + timedelta(hours=14)).date():  # today somewhere on Earth is not the future
        raise CommandError(f"--since {value} is in the future: there is nothing to read yet.")
    return day


def _connection_for(domain):
    site = Site.objects.filter(domain=domain).first()
    if site is None:
        raise CommandError(f"No site with the domain {domain!r}.")
    connection = StripeConnection.objects.filter(site=site).select_related("site").first()
    if connection is None:
        raise CommandError(f"{domain} has no Stripe connection: connect one under the site's Settings → Revenue.")
    if connection.status != StripeConnection.Status.ACTIVE:
        raise CommandError(f"{domain}: {_not_syncing(connection)}")
    return connection


def _not_syncing(connection):
    if connection.status == StripeConnection.Status.BROKEN:
        return f"the Stripe connection is broken: {connection.last_error or 'no error recorded'} Replace the key first."
    return "Stripe is disconnected: connect a key under the site's Settings → Revenue."


def _summary(site, report):
    rows = Payment.objects.filter(site=site).values("attribution").annotate(n=Count("id")).order_by()
    counts = {row["attribution"]: row["n"] for row in rows}
    attributed = ", ".join(f"{counts.get(value, 0)} {label}" for value, label in _ATTRIBUTIONS)
    lines = [
        f"{site.domain}: {report.charges_read} charges read: {report.payments_new} new payments,"
        f" {report.payments_updated} updated; {report.refunds_read} refunds, {report.disputes_read} disputes,"
        f" {report.rechecked} re-checked.",
        f"  Payments on file: {sum(counts.values())} ({attributed}).",
        f"  Stripe API calls: {report.api_calls} ({report.lookup_calls} to find view ids).",
    ]
    return "\n".join(lines)


class _Progress:
    """`charges: 300 read` on one line, rewritten in place on a terminal, one line per page otherwise."""

    def __init__(self, stream, domain):
        self.stream, self.domain = stream, domain
        self.tty = hasattr(stream, "isatty") and stream.isatty()
        self.shown = False

    def __call__(self, done):
        text = f"{self.domain}: charges: {done} read"
        if self.tty:
            self.stream.write(f"\r{text}", ending="")
            self.stream.flush()
        else:
            self.stream.write(text)
        self.shown = True

    def finish(self):
        if self.tty and self.shown:
            self.stream.write("")
        self.shown = False
