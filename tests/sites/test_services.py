"""Writes about sites, memberships, invites and API keys."""

import re
from datetime import timedelta
from unittest import mock

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from accounts.models import User
from sites import keys, services
from sites.models import ApiKey, Invite, Membership, Role, Site
from sites.services import SiteError

# --- site_create / site_update / site_delete ------------------------------------------------


def test_it_creates_a_site_with_its_owner(alice):
    site = services.site_create(
        owner=alice, domain="https://WWW.Shop.Example.com/pricing", name="  Shop ", timezone_name="Asia/Tokyo"
    )
    site.refresh_from_db()
    assert (site.domain, site.name, site.timezone, site.currency) == ("shop.example.com", "Shop", "Asia/Tokyo", "USD")
    assert list(Membership.objects.filter(site=site).values_list("user__email", "role")) == [
        ("alice@example.org", Role.OWNER)
    ]


def test_it_upper_cases_the_currency(alice):
    assert services.site_create(owner=alice, domain="shop.example.com", currency="eur").currency == "EUR"


@pytest.mark.parametrize("domain", ["example.com", "www.example.com", "https://EXAMPLE.com/x", "example.com."])
def test_it_refuses_a_duplicate_site(site, charlie, domain):
    with pytest.raises(SiteError) as raised:
        services.site_create(owner=charlie, domain=domain)
    assert raised.value.message_dict == {"domain": ["example.com is already registered with Humblytics."]}
    assert Site.objects.filter(domain="example.com").count() == 1
    assert not Membership.objects.filter(user=charlie).exists()


@pytest.mark.parametrize("domain", ["", None, "localhost", "1.2.3.4", "exa mple.com", "😀.com"])
def test_it_refuses_a_bad_domain(alice, domain):
    with pytest.raises(SiteError) as raised:
        services.site_create(owner=alice, domain=domain)
    assert list(raised.value.message_dict) == ["domain"]
    assert not Site.objects.exists()


@pytest.mark.parametrize("timezone_name", ["Mars/Olympus", "europe/berlin", "", "UTC+2"])
def test_it_refuses_an_unknown_timezone(alice, timezone_name):
    # full_clean's ValidationError, not a SiteError: callers catch ValidationError, its base class.
    with pytest.raises(ValidationError) as raised:
        services.site_create(owner=alice, domain="shop.example.com", timezone_name=timezone_name)
    assert "timezone" in raised.value.message_dict
    assert not Site.objects.exists()
    assert not Membership.objects.exists()


@pytest.mark.parametrize("currency", ["XYZ", "EURO", "", "€"])
def test_it_refuses_an_unknown_currency(alice, currency):
    with pytest.raises(ValidationError) as raised:
        services.site_create(owner=alice, domain="shop.example.com", currency=currency)
    assert "currency" in raised.value.message_dict
    assert not Site.objects.exists()


def test_it_updates_a_site(site):
    services.site_update(site=site, domain="www.Example.net", name="Renamed", timezone_name="UTC", currency="gbp")
    site.refresh_from_db()
    assert (site.domain, site.name, site.timezone, site.currency) == ("example.net", "Renamed", "UTC", "GBP")


def test_it_refuses_to_rename_a_site_onto_another(site, charlies_site):
    with pytest.raises(SiteError) as raised:
        services.site_update(site=site, domain="charlie.dev")
    assert raised.value.message_dict == {"domain": ["charlie.dev is already registered with Humblytics."]}
    site.refresh_from_db()
    assert site.domain == "example.com"


def test_it_deletes_a_site_only_when_its_domain_is_typed(site):
    with pytest.raises(SiteError) as raised:
        services.site_delete(site=site, confirmation="charlie.dev")
    assert raised.value.message_dict == {"confirmation": ["Type example.com to confirm."]}
    services.site_delete(site=site, confirmation=" Example.com ")
    assert not Site.objects.filter(domain="example.com").exists()
    assert not Membership.objects.filter(site__domain="example.com").exists()


# --- invites --------------------------------------------------------------------------------


def test_it_invites_by_e_mail(site, alice):
    invite = services.invite_create(site=site, email=" Newbie@Example.ORG ", role=Role.VIEWER, invited_by=alice)
    assert (invite.site, invite.email, invite.role, invite.invited_by) == (
        site,
        "newbie@example.org",
        Role.VIEWER,
        alice,
    )
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["newbie@example.org"]
    assert message.subject == "You have been invited to example.com on Humblytics"
    assert "alice@example.org invited you" in message.body
    assert "/accounts/signup/?email=newbie@example.org" in message.body


def test_a_second_invite_changes_the_role_instead_of_duplicating(site, alice):
    services.invite_create(site=site, email="newbie@example.org", role=Role.VIEWER, invited_by=alice)
    services.invite_create(site=site, email="NEWBIE@example.org", role=Role.ADMIN, invited_by=alice)
    assert list(Invite.objects.values_list("email", "role")) == [("newbie@example.org", Role.ADMIN)]


def test_it_refuses_to_invite_a_member(site, alice):
    with pytest.raises(SiteError) as raised:
        services.invite_create(site=site, email="Bob@example.org", role=Role.VIEWER, invited_by=alice)
    assert raised.value.message_dict == {"email": ["bob@example.org is already a member of this site."]}
    assert not Invite.objects.exists()
    assert mail.outbox == []


def test_it_refuses_an_unknown_role(site, alice):
    with pytest.raises(SiteError) as raised:
        services.invite_create(site=site, email="newbie@example.org", role="god", invited_by=alice)
    assert raised.value.message_dict == {"role": ["Choose owner, admin or viewer."]}
    assert not Invite.objects.exists()


def test_accepting_turns_invites_into_memberships(site, alice, charlie, charlies_site):
    services.invite_create(site=site, email="newbie@example.org", role=Role.ADMIN, invited_by=alice)
    services.invite_create(site=charlies_site, email="newbie@example.org", role=Role.VIEWER, invited_by=charlie)
    newbie = User.objects.create_user(email="NewBie@Example.org", password="x" * 20)
    joined = services.invites_accept(user=newbie)
    assert sorted(s.domain for s in joined) == ["charlie.dev", "example.com"]
    assert sorted(Membership.objects.filter(user=newbie).values_list("site__domain", "role")) == [
        ("charlie.dev", Role.VIEWER),
        ("example.com", Role.ADMIN),
    ]
    assert not Invite.objects.exists()


def test_accepting_leaves_an_existing_role_alone(site, alice, vera):
    Invite.objects.create(site=site, email="vera@example.org", role=Role.OWNER, invited_by=alice)
    assert services.invites_accept(user=vera) == [site]
    assert Membership.objects.get(site=site, user=vera).role == Role.VIEWER
    assert not Invite.objects.exists()


def test_the_outsider_joins_nothing_without_an_invite(site, alice, charlie):
    services.invite_create(site=site, email="newbie@example.org", role=Role.ADMIN, invited_by=alice)
    assert services.invites_accept(user=charlie) == []
    assert not Membership.objects.filter(site=site, user=charlie).exists()
    assert Invite.objects.count() == 1


# --- roles and the last owner ---------------------------------------------------------------


def _membership(site, user):
    return Membership.objects.get(site=site, user=user)


def test_it_changes_a_role(site, bob):
    services.membership_change_role(membership=_membership(site, bob), role=Role.VIEWER)
    assert _membership(site, bob).role == Role.VIEWER


def test_it_refuses_to_demote_the_last_owner(site, alice):
    with pytest.raises(SiteError) as raised:
        services.membership_change_role(membership=_membership(site, alice), role=Role.ADMIN)
    assert raised.value.messages == ["A site needs at least one owner: make someone else owner first."]
    assert _membership(site, alice).role == Role.OWNER


def test_it_refuses_to_remove_the_last_owner(site, alice):
    with pytest.raises(SiteError):
        services.membership_remove(membership=_membership(site, alice))
    assert _membership(site, alice).role == Role.OWNER


def test_an_owner_can_step_down_once_another_owner_exists(site, alice, bob):
    services.membership_change_role(membership=_membership(site, bob), role=Role.OWNER)
    services.membership_change_role(membership=_membership(site, alice), role=Role.VIEWER)
    services.membership_remove(membership=_membership(site, alice))
    assert list(Membership.objects.filter(site=site).values_list("user__email", "role").order_by("user__email")) == [
        ("bob@example.org", Role.OWNER),
        ("vera@example.org", Role.VIEWER),
    ]


def test_it_refuses_an_unknown_role_change(site, bob):
    with pytest.raises(SiteError):
        services.membership_change_role(membership=_membership(site, bob), role="superadmin")
    assert _membership(site, bob).role == Role.ADMIN


def test_the_other_sites_owner_does_not_count(site, alice, charlies_site, charlie):
    Membership.objects.create(site=charlies_site, user=alice, role=Role.OWNER)
    with pytest.raises(SiteError):
        services.membership_change_role(membership=_membership(site, alice), role=Role.ADMIN)


# --- API keys -------------------------------------------------------------------------------


def test_it_issues_a_key_and_stores_only_its_prefix_and_digest(site, alice, settings):
    api_key, plaintext = services.apikey_create(site=site, name=" CI ", created_by=alice)
    assert re.fullmatch(r"hly_[A-Za-z0-9]{44}", plaintext)
    row = ApiKey.objects.get(pk=api_key.pk)
    assert (row.site, row.name, row.created_by, row.last_used_at, row.revoked_at) == (site, "CI", alice, None, None)
    assert row.prefix == plaintext[4:16]
    assert re.fullmatch(r"[0-9a-f]{64}", row.digest)
    assert row.digest == keys.digest_key(plaintext, settings.API_KEY_PEPPER)
    assert row.masked == f"hly_{plaintext[4:16]}…"


def test_the_plaintext_key_appears_in_no_column(site):
    api_key, plaintext = services.apikey_create(site=site, name="CI")
    secret_part = plaintext[16:]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {ApiKey._meta.db_table}")  # noqa: S608 - a fixed table name
        rows = cursor.fetchall()
    assert len(rows) == 1
    for value in rows[0]:
        assert plaintext not in str(value)
        assert secret_part not in str(value)
    assert not hasattr(api_key, "key")


def test_it_names_an_unnamed_key(site):
    api_key, _plaintext = services.apikey_create(site=site, name="   ")
    assert api_key.name == "API key"


def test_it_refuses_a_long_key_name(site):
    with pytest.raises(SiteError) as raised:
        services.apikey_create(site=site, name="x" * 101)
    assert raised.value.message_dict == {"name": ["Keep the name under 100 characters."]}
    assert not ApiKey.objects.exists()


def test_it_authenticates_a_fresh_key(site, charlies_site):
    api_key, plaintext = services.apikey_create(site=site, name="CI")
    _charlies_key, charlies_plaintext = services.apikey_create(site=charlies_site, name="CI")
    authenticated = services.apikey_authenticate(key=plaintext)
    assert authenticated == api_key
    assert authenticated.site == site
    assert services.apikey_authenticate(key=charlies_plaintext).site == charlies_site


def test_it_refuses_a_revoked_key(site):
    api_key, plaintext = services.apikey_create(site=site, name="CI")
    services.apikey_revoke(api_key=api_key)
    assert services.apikey_authenticate(key=plaintext) is None
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None
    assert not api_key.is_active


def test_revoking_twice_keeps_the_first_time(site):
    api_key, _plaintext = services.apikey_create(site=site, name="CI")
    services.apikey_revoke(api_key=api_key)
    first = ApiKey.objects.get(pk=api_key.pk).revoked_at
    services.apikey_revoke(api_key=ApiKey.objects.get(pk=api_key.pk))
    assert ApiKey.objects.get(pk=api_key.pk).revoked_at == first


def _changed(plaintext, index):
    replacement = "A" if plaintext[index] != "A" else "B"
    return plaintext[:index] + replacement + plaintext[index + 1 :]


@pytest.mark.parametrize("index", [4, 15, 16, 30, -1])
def test_it_refuses_a_key_with_one_changed_character(site, index):
    _api_key, plaintext = services.apikey_create(site=site, name="CI")
    assert services.apikey_authenticate(key=_changed(plaintext, index)) is None


def test_it_refuses_a_well_formed_wrong_key(site):
    services.apikey_create(site=site, name="CI")
    wrong, _prefix = keys.generate_key()
    assert services.apikey_authenticate(key=wrong) is None


@pytest.mark.parametrize(
    "presented", [None, "", "random text", "hly_", "hly_" + "a" * 100, 42, b"hly_" + b"a" * 44, "' OR 1=1 --"]
)
def test_it_refuses_a_malformed_key(site, presented):
    services.apikey_create(site=site, name="CI")
    assert services.apikey_authenticate(key=presented) is None


def test_it_refuses_a_key_with_surrounding_whitespace(site):
    _api_key, plaintext = services.apikey_create(site=site, name="CI")
    assert services.apikey_authenticate(key=f" {plaintext}\n") is None


def test_it_refuses_a_key_issued_under_another_pepper(site):
    with override_settings(API_KEY_PEPPER="an-old-pepper-that-was-rotated-0123456789"):
        _api_key, plaintext = services.apikey_create(site=site, name="CI")
        assert services.apikey_authenticate(key=plaintext) is not None
    assert services.apikey_authenticate(key=plaintext) is None


def test_it_records_when_a_key_was_last_used_and_throttles_the_write(site, django_assert_num_queries):
    api_key, plaintext = services.apikey_create(site=site, name="CI")
    start = timezone.now()

    def last_used():
        return ApiKey.objects.get(pk=api_key.pk).last_used_at

    # The lookup and the one UPDATE.
    with mock.patch("django.utils.timezone.now", return_value=start), django_assert_num_queries(2):
        services.apikey_authenticate(key=plaintext)
    assert last_used() == start

    within = start + services.API_KEY_TOUCH_INTERVAL - timedelta(seconds=1)
    # The lookup only.
    with mock.patch("django.utils.timezone.now", return_value=within), django_assert_num_queries(1):
        assert services.apikey_authenticate(key=plaintext) == api_key
    assert last_used() == start

    later = start + services.API_KEY_TOUCH_INTERVAL
    with mock.patch("django.utils.timezone.now", return_value=later):
        services.apikey_authenticate(key=plaintext)
    assert last_used() == later


def test_a_refused_key_records_nothing(site):
    api_key, plaintext = services.apikey_create(site=site, name="CI")
    services.apikey_authenticate(key=_changed(plaintext, -1))
    assert ApiKey.objects.get(pk=api_key.pk).last_used_at is None
