"""The staff admin for sites, memberships, invites and API keys."""

import pytest
from django.urls import reverse

from accounts.models import User
from sites import services
from sites.models import ApiKey, Invite, Membership, Role, Site


@pytest.fixture
def staff(db):
    return User.objects.create_superuser(email="staff@humblytics.local", password="staff-password-123")


@pytest.fixture
def keys(site, charlies_site, alice):
    """Two keys on example.com and one on charlie.dev, with their plaintexts."""
    ci = services.apikey_create(site=site, name="CI", created_by=alice)
    export = services.apikey_create(site=site, name="Export")
    charlies = services.apikey_create(site=charlies_site, name="Charlie's")
    return {"ci": ci, "export": export, "charlies": charlies}


@pytest.fixture
def invite(site, alice):
    return Invite.objects.create(site=site, email="newbie@example.org", role=Role.ADMIN, invited_by=alice)


def _admin_url(model, view, *args):
    return reverse(f"admin:sites_{model._meta.model_name}_{view}", args=args)


def test_staff_sees_the_site_list(login, staff, site, charlies_site):
    response = login(staff).get(_admin_url(Site, "changelist"))
    assert response.status_code == 200
    content = response.content.decode()
    assert "example.com" in content
    assert "charlie.dev" in content
    assert "Europe/Berlin" in content
    assert list(response.context["cl"].result_list) == [charlies_site, site]


def test_staff_searches_sites_by_member_e_mail(login, staff, site, charlies_site):
    response = login(staff).get(_admin_url(Site, "changelist"), {"q": "charlie@example.org"})
    assert list(response.context["cl"].result_list) == [charlies_site]


def test_staff_sees_a_site_with_its_members_and_invites(login, staff, site, invite):
    response = login(staff).get(_admin_url(Site, "change", site.pk))
    assert response.status_code == 200
    content = response.content.decode()
    assert 'value="example.com"' in content
    for email in ["alice@example.org", "bob@example.org", "vera@example.org", "newbie@example.org"]:
        assert email in content
    inline_models = [formset.formset.model for formset in response.context["inline_admin_formsets"]]
    assert inline_models == [Membership, Invite]


def _site_post_data(site, **changes):
    data = {
        "domain": site.domain,
        "name": site.name,
        "timezone": site.timezone,
        "currency": site.currency,
        "respect_gpc": "",
        "memberships-TOTAL_FORMS": "0",
        "memberships-INITIAL_FORMS": "0",
        "invites-TOTAL_FORMS": "0",
        "invites-INITIAL_FORMS": "0",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value != ""}


def test_staff_adds_a_site_from_a_pasted_url(login, staff, alice):
    site = Site(domain="x", name="Shop", timezone="UTC", currency="EUR")
    data = _site_post_data(site, domain="https://WWW.Shop.Example.com/pricing")
    data.update({"memberships-TOTAL_FORMS": "1", "memberships-0-user": str(alice.pk), "memberships-0-role": "owner"})
    response = login(staff).post(_admin_url(Site, "add"), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    created = Site.objects.get(domain="shop.example.com")
    assert (created.name, created.currency) == ("Shop", "EUR")
    assert list(created.memberships.values_list("user__email", "role")) == [("alice@example.org", Role.OWNER)]


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("domain", "localhost", "Enter a full domain with a dot, like example.com."),
        ("domain", "charlie.dev", "Site with this Domain already exists."),
        ("timezone", "Mars/Olympus", "Choose a timezone from the IANA database, like Europe/Berlin."),
        ("currency", "XYZ", "Select a valid choice. XYZ is not one of the available choices."),
    ],
)
def test_staff_gets_a_form_error_for_a_bad_site(login, staff, site, charlies_site, field, value, error):
    response = login(staff).post(_admin_url(Site, "change", site.pk), _site_post_data(site, **{field: value}))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {field: [error]}
    site.refresh_from_db()
    assert (site.domain, site.timezone, site.currency) == ("example.com", "Europe/Berlin", "USD")


def test_staff_sees_memberships_filtered_by_role(login, staff, site, charlies_site):
    response = login(staff).get(_admin_url(Membership, "changelist"), {"role__exact": "owner"})
    assert response.status_code == 200
    owners = [(m.user.email, m.site.domain) for m in response.context["cl"].result_list]
    assert sorted(owners) == [("alice@example.org", "example.com"), ("charlie@example.org", "charlie.dev")]


@pytest.mark.parametrize(
    ("query", "expected"), [("vera@", ["vera@example.org"]), ("charlie.dev", ["charlie@example.org"])]
)
def test_staff_searches_memberships_by_e_mail_and_domain(login, staff, site, charlies_site, query, expected):
    response = login(staff).get(_admin_url(Membership, "changelist"), {"q": query})
    assert [m.user.email for m in response.context["cl"].result_list] == expected


def test_staff_sees_a_membership(login, staff, site, bob):
    membership = Membership.objects.get(site=site, user=bob)
    response = login(staff).get(_admin_url(Membership, "change", membership.pk))
    assert response.status_code == 200
    assert "bob@example.org" in response.content.decode()


def test_staff_cannot_demote_the_last_owner(login, staff, site, alice):
    membership = Membership.objects.get(site=site, user=alice)
    data = {"site": str(site.pk), "user": str(alice.pk), "role": "admin"}
    response = login(staff).post(_admin_url(Membership, "change", membership.pk), data)
    assert response.status_code == 200
    assert response.context["adminform"].form.non_field_errors() == [
        "A site needs at least one owner: make someone else owner first."
    ]
    membership.refresh_from_db()
    assert membership.role == Role.OWNER


def test_staff_can_demote_an_owner_when_another_remains(login, staff, site, alice, bob):
    Membership.objects.filter(site=site, user=bob).update(role=Role.OWNER)
    membership = Membership.objects.get(site=site, user=alice)
    data = {"site": str(site.pk), "user": str(alice.pk), "role": "viewer"}
    response = login(staff).post(_admin_url(Membership, "change", membership.pk), data)
    assert response.status_code == 302
    membership.refresh_from_db()
    assert membership.role == Role.VIEWER


def test_staff_sees_invites(login, staff, invite):
    client = login(staff)
    response = client.get(_admin_url(Invite, "changelist"))
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [invite]
    response = client.get(_admin_url(Invite, "change", invite.pk))
    assert response.status_code == 200
    assert 'value="newbie@example.org"' in response.content.decode()


def test_staff_sees_api_keys_masked(login, staff, keys):
    response = login(staff).get(_admin_url(ApiKey, "changelist"))
    assert response.status_code == 200
    content = response.content.decode()
    assert {k.name for k in response.context["cl"].result_list} == {"CI", "Export", "Charlie's"}
    for api_key, plaintext in keys.values():
        assert api_key.masked in content
        assert api_key.digest not in content
        assert plaintext[16:] not in content
    assert "digest" not in content.lower()


def test_the_api_key_page_never_shows_the_digest(login, staff, keys):
    api_key, plaintext = keys["ci"]
    response = login(staff).get(_admin_url(ApiKey, "change", api_key.pk))
    assert response.status_code == 200
    content = response.content.decode()
    assert api_key.masked in content
    assert "alice@example.org" in content
    assert api_key.digest not in content
    assert plaintext[16:] not in content
    assert "digest" not in content.lower()
    assert list(response.context["adminform"].form.fields) == ["name"]


def test_staff_renames_a_key_without_touching_its_digest(login, staff, keys):
    api_key, plaintext = keys["ci"]
    data = {"name": "Renamed", "digest": "0" * 64, "prefix": "AAAAAAAAAAAA", "revoked_at": ""}
    response = login(staff).post(_admin_url(ApiKey, "change", api_key.pk), data)
    assert response.status_code == 302
    stored = ApiKey.objects.get(pk=api_key.pk)
    assert (stored.name, stored.digest, stored.prefix, stored.revoked_at) == (
        "Renamed",
        api_key.digest,
        api_key.prefix,
        None,
    )
    assert services.apikey_authenticate(key=plaintext) == stored


def test_keys_cannot_be_added_in_the_admin(login, staff, site):
    client = login(staff)
    assert client.get(_admin_url(ApiKey, "add")).status_code == 403
    response = client.post(_admin_url(ApiKey, "add"), {"site": site.pk, "name": "x", "prefix": "p", "digest": "d"})
    assert response.status_code == 403
    assert not ApiKey.objects.exists()


def test_staff_revokes_selected_keys(login, staff, keys):
    ci, ci_plaintext = keys["ci"]
    charlies, charlies_plaintext = keys["charlies"]
    export, _export_plaintext = keys["export"]
    services.apikey_revoke(api_key=export)
    revoked_before = ApiKey.objects.get(pk=export.pk).revoked_at
    response = login(staff).post(
        _admin_url(ApiKey, "changelist"),
        {"action": "revoke_keys", "_selected_action": [ci.pk, charlies.pk, export.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert [str(m) for m in response.context["messages"]] == ["Revoked 2 API keys."]
    assert services.apikey_authenticate(key=ci_plaintext) is None
    assert services.apikey_authenticate(key=charlies_plaintext) is None
    assert ApiKey.objects.get(pk=export.pk).revoked_at == revoked_before
    assert not ApiKey.objects.filter(revoked_at__isnull=True).exists()


def test_staff_filters_keys_by_active(login, staff, keys):
    services.apikey_revoke(api_key=keys["export"][0])
    client = login(staff)
    active = client.get(_admin_url(ApiKey, "changelist"), {"active": "yes"}).context["cl"].result_list
    revoked = client.get(_admin_url(ApiKey, "changelist"), {"active": "no"}).context["cl"].result_list
    assert {k.name for k in active} == {"CI", "Charlie's"}
    assert [k.name for k in revoked] == ["Export"]


@pytest.mark.parametrize("who", ["anonymous", "alice", "charlie"])
def test_non_staff_are_sent_to_the_admin_login(client, login, site, alice, charlie, keys, who):
    if who != "anonymous":
        client = login({"alice": alice, "charlie": charlie}[who])
    urls = [
        _admin_url(Site, "changelist"),
        _admin_url(Site, "change", site.pk),
        _admin_url(Membership, "changelist"),
        _admin_url(Invite, "changelist"),
        _admin_url(ApiKey, "changelist"),
        _admin_url(ApiKey, "change", keys["ci"][0].pk),
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"] == f"{reverse('admin:login')}?next={url}"


def test_non_staff_cannot_revoke_keys(login, charlie, keys):
    ci, plaintext = keys["ci"]
    response = login(charlie).post(
        _admin_url(ApiKey, "changelist"), {"action": "revoke_keys", "_selected_action": [ci.pk]}
    )
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    assert services.apikey_authenticate(key=plaintext) == ApiKey.objects.get(pk=ci.pk)
