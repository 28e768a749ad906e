from sites import services
from sites.models import Membership, Role


def test_it_creates_a_site_with_its_owner(alice):
    site = services.site_create(owner=alice, domain="https://WWW.Shop.Example.com/pricing")
    assert site.domain == "shop.example.com"
    assert Membership.objects.get(site=site).role == Role.OWNER


def test_it_authenticates_a_fresh_key_and_refuses_a_revoked_one(site):
    api_key, plaintext = services.apikey_create(site=site, name="CI")
    assert services.apikey_authenticate(key=plaintext) == api_key
    services.apikey_revoke(api_key=api_key)
    assert services.apikey_authenticate(key=plaintext) is None
