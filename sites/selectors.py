"""Reads about sites, memberships and API keys."""

from django.core.exceptions import PermissionDenied
from django.http import Http404

from sites.models import ApiKey, Invite, Membership, Role, Site


def site_list_for_user(*, user):
    return Membership.objects.filter(user=user).select_related("site").order_by("site__domain")


def membership_get(*, user, domain, role=Role.VIEWER):
    """The user's membership of the site, or 404 for a non-member and 403 for too low a role.

    A non-member cannot tell an existing site from a missing one.
    """
    if not user.is_authenticated:
        raise Http404("No such site")
    membership = Membership.objects.filter(user=user, site__domain=domain).select_related("site", "user").first()
    if membership is None:
        raise Http404("No such site")
    if not membership.has_role(role):
        raise PermissionDenied(f"This needs the {Role(role).label.lower()} role or higher.")
    return membership


def site_members(*, site):
    return Membership.objects.filter(site=site).select_related("user").order_by("created_at")


def site_invites(*, site):
    return Invite.objects.filter(site=site).order_by("created_at")


def site_api_keys(*, site):
    return ApiKey.objects.filter(site=site).select_related("created_by").order_by("revoked_at", "-created_at")


def site_owner_count(*, site):
    return Membership.objects.filter(site=site, role=Role.OWNER).count()


def site_get_by_domain(*, domain):
    return Site.objects.filter(domain=domain).first()


def site_goals(*, site):
    return list(site.goals.order_by("created_at"))
