from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email
from django.db import transaction

from accounts.models import User
from sites import services
from sites.domains import DomainError, normalize_domain
from sites.management.commands._errors import one_line


class Command(BaseCommand):
    help = "Register a site and its owner; the owner account is created (without a password) if needed."

    def add_arguments(self, parser):
        parser.add_argument("domain", help="the site's domain, e.g. example.com")
        parser.add_argument("--owner", required=True, help="the owner's e-mail address")
        parser.add_argument("--name", default="", help="a display name (default: the domain)")
        parser.add_argument("--timezone", default="UTC", help="an IANA timezone, e.g. Europe/Berlin (default UTC)")
        parser.add_argument("--currency", default="USD", help="an ISO 4217 code, e.g. EUR (default USD)")

    def handle(self, *args, domain, owner, name, timezone, currency, **options):
        email = User.objects.normalize_email(owner.strip()).lower()
        try:
            validate_email(email)
        except ValidationError:
            raise CommandError(f"{owner!r} is not a valid e-mail address.") from None
        try:
            normalize_domain(domain)  # fail on a bad domain before touching the database
        except DomainError as error:
            raise CommandError(str(error)) from None

        try:
            with transaction.atomic():  # a refused site must not leave a new owner account behind
                user = User.objects.filter(email=email).first()
                new_owner = user is None
                if new_owner:
                    user = User.objects.create_user(email=email, password=None)
                site = services.site_create(
                    owner=user, domain=domain, name=name, timezone_name=timezone, currency=currency
                )
        except ValidationError as error:
            raise CommandError(one_line(error)) from None

        self.stdout.write(
            f"Created site {site.domain} ({site.display_name}), timezone {site.timezone}, currency {site.currency},"
            f" owned by {user.email}."
        )
        if new_owner:
            self.stdout.write(
                f"{user.email} is a new account without a password: they can set one with"
                " “Forgot your password?” (password reset) on the login page."
            )
