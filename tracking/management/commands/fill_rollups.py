from django.core.management.base import BaseCommand, CommandError

from sites.models import Site
from tracking.rollups import rollups_fill, rollups_reset


class Command(BaseCommand):
    help = "Fill the daily rollups the dashboard reads (all sites, or one), up to each site's last complete day."

    def add_arguments(self, parser):
        parser.add_argument("--site", help="Only this domain.")
        parser.add_argument("--rebuild", action="store_true", help="Forget the site's rollups and fill them again.")

    def handle(self, *args, site=None, rebuild=False, **options):
        sites = Site.objects.all()
        if site:
            sites = sites.filter(domain=site)
            if not sites.exists():
                raise CommandError(f"No site with the domain {site!r}.")
        for each in sites:
            if rebuild:
                rollups_reset(each)
            days = rollups_fill(each)
            self.stdout.write(f"{each.domain}: filled {days} day(s)")
