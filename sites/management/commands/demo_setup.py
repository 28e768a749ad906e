from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.models import User
from sites import services
from sites.models import Site

DEMO_EMAIL = "demo@humblytics.local"
DEMO_PASSWORD = "humblytics-demo"  # noqa: S105 - a published development login, created only on an empty database
# example.com is reserved for documentation (RFC 2606), so the demo site can never be someone's real site.
DEMO_DOMAIN = "demo.example.com"
URL = "http://127.0.0.1:8000"


class Command(BaseCommand):
    help = "On an empty database, create a demo login (a superuser) and a demo site; otherwise do nothing."

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("demo_setup creates a superuser with a published password: it runs only with DEBUG on.")
        if User.objects.filter(email=DEMO_EMAIL).exists():
            self.stdout.write(f"Humblytics runs at {URL} — log in as {DEMO_EMAIL}.")
            return
        if User.objects.exists() or Site.objects.exists():
            self.stdout.write(f"Humblytics runs at {URL} — using the accounts and sites already in the database.")
            return
        with transaction.atomic():
            user = User.objects.create_superuser(email=DEMO_EMAIL, password=DEMO_PASSWORD)
            services.site_create(owner=user, domain=DEMO_DOMAIN, name="Demo site")
        self.stdout.write(
            f"Humblytics runs at {URL}\n"
            f"Log in as {DEMO_EMAIL} with the password {DEMO_PASSWORD} (a superuser: the admin is at {URL}/admin/).\n"
            f"The demo site is {DEMO_DOMAIN}."
        )
