"""Writes about sites, memberships, invites and API keys."""

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from sites import keys
from sites.domains import DomainError, normalize_domain
from sites.models import ApiKey, Goal, Invite, Membership, Role, Site

# last_used_at is written at most this often per key, so the API path stays read-only.
API_KEY_TOUCH_INTERVAL = timedelta(minutes=1)


class SiteError(ValidationError):
    """A business rule said no; the message is for the user."""


def _full_clean(site):
    try:
        site.full_clean(exclude=["domain"])
    except ValidationError as error:
        raise SiteError(error.message_dict) from None


def _clean_domain(domain):
    try:
        return normalize_domain(domain)
    except DomainError as error:
        raise SiteError({"domain": str(error)}) from None


def site_create(*, owner, domain, name="", timezone_name="UTC", currency="USD", respect_gpc=False):
    domain = _clean_domain(domain)
    site = Site(
        domain=domain, name=name.strip(), timezone=timezone_name, currency=currency.upper(), respect_gpc=respect_gpc
    )
    _full_clean(site)
    if Site.objects.filter(domain=domain).exists():
        raise SiteError({"domain": f"{domain} is already registered with Humblytics."})
    try:
        with transaction.atomic():
            site.save()
            Membership.objects.create(site=site, user=owner, role=Role.OWNER)
    except IntegrityError:
        raise SiteError({"domain": f"{domain} is already registered with Humblytics."}) from None
    return site


def site_update(*, site, domain=None, name=None, timezone_name=None, currency=None, respect_gpc=None):
    if domain is not None:
        domain = _clean_domain(domain)
        if domain != site.domain and Site.objects.filter(domain=domain).exclude(pk=site.pk).exists():
            raise SiteError({"domain": f"{domain} is already registered with Humblytics."})
        site.domain = domain
    if name is not None:
        site.name = name.strip()
    if timezone_name is not None:
        site.timezone = timezone_name
    if currency is not None:
        site.currency = currency.upper()
    if respect_gpc is not None:
        site.respect_gpc = respect_gpc
    _full_clean(site)
    site.save()
    return site


def site_delete(*, site, confirmation):
    if (confirmation or "").strip().lower() != site.domain:
        raise SiteError({"confirmation": f"Type {site.domain} to confirm."})
    site.delete()


def invite_create(*, site, email, role, invited_by):
    email = User.objects.normalize_email(email or "").strip().lower()
    if role not in Role.values:
        raise SiteError({"role": "Choose owner, admin or viewer."})
    if Membership.objects.filter(site=site, user__email=email).exists():
        raise SiteError({"email": f"{email} is already a member of this site."})
    invite, _created = Invite.objects.update_or_create(
        site=site, email=email, defaults={"role": role, "invited_by": invited_by}
    )
    base = settings.BASE_URL or "http://127.0.0.1:8000"
    send_mail(
        subject=f"You have been invited to {site.domain} on Humblytics",
        message=(
            f"{invited_by.email} invited you to see the analytics of {site.domain} as {invite.get_role_display()}.\n\n"
            f"Sign up or log in with this e-mail address to accept: {base}/accounts/signup/?email={email}\n"
        ),
        from_email=None,
        recipient_list=[email],
    )
    return invite


def invite_cancel(*, invite):
    invite.delete()


def invites_accept(*, user):
    """Turn every pending invite for the user's e-mail into a membership. Returns the sites joined."""
    joined = []
    with transaction.atomic():
        for invite in Invite.objects.select_for_update().filter(email=user.email.lower()).select_related("site"):
            Membership.objects.get_or_create(site=invite.site, user=user, defaults={"role": invite.role})
            joined.append(invite.site)
            invite.delete()
    return joined


def _ensure_an_owner_remains(membership):
    if membership.role == Role.OWNER and Membership.objects.filter(site=membership.site, role=Role.OWNER).count() <= 1:
        raise SiteError("A site needs at least one owner: make someone else owner first.")


def membership_change_role(*, membership, role):
    if role not in Role.values:
        raise SiteError({"role": "Choose owner, admin or viewer."})
    if role != Role.OWNER:
        _ensure_an_owner_remains(membership)
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


def membership_remove(*, membership):
    _ensure_an_owner_remains(membership)
    membership.delete()


def apikey_create(*, site, name, created_by=None):
    """Returns (api_key, plaintext). The plaintext is never stored: show it once."""
    name = (name or "").strip() or "API key"
    if len(name) > 100:
        raise SiteError({"name": "Keep the name under 100 characters."})
    for _ in range(5):
        key, prefix = keys.generate_key()
        try:
            with transaction.atomic():
                api_key = ApiKey.objects.create(
                    site=site,
                    name=name,
                    prefix=prefix,
                    digest=keys.digest_key(key, settings.API_KEY_PEPPER),
                    created_by=created_by,
                )
            return api_key, key
        except IntegrityError:  # a prefix collision: astronomically rare, try another
            continue
    raise RuntimeError("Could not generate a unique API key prefix")


def apikey_revoke(*, api_key):
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
    return api_key


def apikey_authenticate(*, key):
    """The active ApiKey for a presented key, or None. Records when it was last used."""
    prefix = keys.split_key(key)
    if prefix is None:
        return None
    api_key = ApiKey.objects.filter(prefix=prefix, revoked_at__isnull=True).select_related("site").first()
    if api_key is None or not keys.digests_match(key, settings.API_KEY_PEPPER, api_key.digest):
        return None
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at >= API_KEY_TOUCH_INTERVAL:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key


def goal_create(*, site, kind, page_path="", event_name=""):
    page_path, event_name = (page_path or "").strip(), (event_name or "").strip()
    if kind == Goal.Kind.PAGE:
        if not page_path.startswith("/"):
            raise SiteError({"page_path": "A page path starts with /, like /pricing or /blog/*."})
        if len(page_path) > 2000:
            raise SiteError({"page_path": "Keep the path under 2,000 characters."})
        event_name = ""
    elif kind == Goal.Kind.EVENT:
        if not event_name:
            raise SiteError({"event_name": "Enter the event name your site sends, like Signup."})
        if len(event_name) > 120:
            raise SiteError({"event_name": "Event names have at most 120 characters."})
        page_path = ""
    else:
        raise SiteError({"kind": "Choose a page visit or a custom event."})
    goal = Goal(site=site, kind=kind, page_path=page_path, event_name=event_name)
    if Goal.objects.filter(site=site, kind=kind, page_path=page_path, event_name=event_name).exists():
        raise SiteError(f"The goal “{goal.name}” exists already.")
    goal.save()
    return goal


def goal_delete(*, goal):
    goal.delete()
