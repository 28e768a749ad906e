from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from sites import selectors, services
from sites.domains import DomainError, normalize_domain
from sites.management.commands._errors import one_line


class Command(BaseCommand):
    help = "Issue a Stats API key for a site. Only the key is printed on stdout, once: store it now."

    def add_arguments(self, parser):
        parser.add_argument("domain", help="the site's domain, e.g. example.com")
        parser.add_argument("--name", default="", help="what the key is for, e.g. CI (default: API key)")

    def handle(self, *args, domain, name, **options):
        try:
            domain = normalize_domain(domain)
        except DomainError as error:
            raise CommandError(str(error)) from None
        site = selectors.site_get_by_domain(domain=domain)
        if site is None:
            raise CommandError(f"No site with the domain {domain}.")
        try:
            _api_key, plaintext = services.apikey_create(site=site, name=name)
        except ValidationError as error:
            raise CommandError(one_line(error)) from None
        # stdout carries the key alone so `KEY=$(manage.py apikey_create …)` works.
        self.stdout.write(plaintext)
