"""Shared cast: alice owns example.com, bob is her admin teammate, vera a viewer, charlie an outsider."""

import os
from pathlib import Path

import pytest

from accounts.models import User
from sites import services as site_services
from sites.models import Membership, Role

PASSWORD = "correct horse battery staple"


def _user(email):
    return User.objects.create_user(email=email, password=PASSWORD)


@pytest.fixture
def isolated_cache(settings):
    """The configured cache (Redis under make test) under a key prefix of this test's own: nothing leaks."""
    import copy
    import uuid

    caches = copy.deepcopy(settings.CACHES)
    caches["default"]["KEY_PREFIX"] = f"test-{uuid.uuid4().hex}"
    settings.CACHES = caches


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # PBKDF2 at production strength costs ~0.25 s per user; tests need correctness, not key stretching.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def alice(db):
    return _user("alice@example.org")


@pytest.fixture
def bob(db):
    return _user("bob@example.org")


@pytest.fixture
def vera(db):
    return _user("vera@example.org")


@pytest.fixture
def charlie(db):
    return _user("charlie@example.org")


@pytest.fixture
def site(alice, bob, vera):
    site = site_services.site_create(owner=alice, domain="example.com", name="Example", timezone_name="Europe/Berlin")
    Membership.objects.create(site=site, user=bob, role=Role.ADMIN)
    Membership.objects.create(site=site, user=vera, role=Role.VIEWER)
    return site


@pytest.fixture
def charlies_site(charlie):
    return site_services.site_create(owner=charlie, domain="charlie.dev")


@pytest.fixture
def key(site, alice):
    """A Stats API key of `site` (the secret, as its owner was shown it once)."""
    return site_services.apikey_create(site=site, name="CI", created_by=alice)[1]


@pytest.fixture
def charlies_key(charlies_site, charlie):
    """The outsider's key, for his own site."""
    return site_services.apikey_create(site=charlies_site, name="Charlie", created_by=charlie)[1]


@pytest.fixture
def login(client):
    """login(user) logs the test client in as that user and returns the client."""

    def _login(user):
        client.force_login(user)
        return client

    return _login


@pytest.fixture(autouse=True)
def _celery_in_process(request):
    """Tasks run in-process unless a test starts a real worker (marked celery_worker)."""
    from humblytics.celery import app

    if request.node.get_closest_marker("celery_worker"):
        yield
        return
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


STRIPE_EXAMPLES = Path(__file__).resolve().parents[2] / "shared" / "stripe" / "fixtures-2026-07-29.dahlia.json"


def pytest_configure(config):
    """In CI nothing may skip quietly for want of a part: PostgreSQL, Redis and Stripe's example objects."""
    if not os.environ.get("CI"):
        return
    missing = []
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        missing.append("DATABASE_URL (PostgreSQL)")
    if not os.environ.get("REDIS_URL"):
        missing.append("REDIS_URL")
    if not STRIPE_EXAMPLES.is_file():
        missing.append(f"Stripe's example objects at {STRIPE_EXAMPLES}")
    if missing:
        pytest.exit("CI needs " + ", ".join(missing) + "; run the suite through .ci/run / make test", returncode=3)
