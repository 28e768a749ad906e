"""site_create, apikey_create and demo_setup: in-process through call_command, and as a shell runs them."""

import re
import shutil
import subprocess
import sys
from io import StringIO
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from accounts.models import User
from sites import services
from sites.models import ApiKey, Membership, Role, Site

ROOT = Path(__file__).resolve().parents[2]
KEY_LINE = re.compile(r"hly_[A-Za-z0-9]{44}\n")


def run(*args):
    """call_command, returning its stdout."""
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


# --- site_create ----------------------------------------------------------------------------


def test_site_create_creates_the_site_and_a_passwordless_owner(db):
    output = run(
        "site_create", "https://www.Shop.Example.com/", "--owner", " Ann@Example.ORG ", "--name", "Shop",
        "--timezone", "Europe/Berlin", "--currency", "eur",
    )  # fmt: skip
    site = Site.objects.get()
    assert (site.domain, site.name, site.timezone, site.currency) == (
        "shop.example.com",
        "Shop",
        "Europe/Berlin",
        "EUR",
    )
    owner = User.objects.get()
    assert owner.email == "ann@example.org"
    assert not owner.has_usable_password()
    assert (not owner.is_staff, not owner.is_superuser) == (True, True)
    assert list(Membership.objects.values_list("user__email", "role")) == [("ann@example.org", Role.OWNER)]
    assert output == (
        "Created site shop.example.com (Shop), timezone Europe/Berlin, currency EUR, owned by ann@example.org.\n"
        "ann@example.org is a new account without a password: they can set one with"
        " “Forgot your password?” (password reset) on the login page.\n"
    )


def test_site_create_reuses_an_existing_account_and_leaves_its_password(alice):
    output = run("site_create", "shop.example.com", "--owner", "ALICE@example.org")
    assert output == (
        "Created site shop.example.com (shop.example.com), timezone UTC, currency USD, owned by alice@example.org.\n"
    )
    alice.refresh_from_db()
    assert alice.has_usable_password()
    assert User.objects.count() == 1
    assert Membership.objects.get(site__domain="shop.example.com").user == alice


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["localhost", "--owner", "ann@example.org"], "Enter a full domain with a dot, like example.com."),
        (["1.2.3.4", "--owner", "ann@example.org"], "Use a domain name, not an IP address."),
        (["", "--owner", "ann@example.org"], "Enter a domain, like example.com."),
        (["shop.example.com", "--owner", "ann@"], "'ann@' is not a valid e-mail address."),
        (["shop.example.com", "--owner", "not an e-mail"], "'not an e-mail' is not a valid e-mail address."),
        (
            ["shop.example.com", "--owner", "ann@example.org", "--timezone", "Mars/Olympus"],
            "timezone: Choose a timezone from the IANA database, like Europe/Berlin.",
        ),
        (
            ["shop.example.com", "--owner", "ann@example.org", "--currency", "XYZ"],
            "currency: Value 'XYZ' is not a valid choice.",
        ),
    ],
)
def test_site_create_refuses_bad_input_and_creates_nothing(db, args, message):
    with pytest.raises(CommandError) as raised:
        run("site_create", *args)
    assert str(raised.value) == message
    assert not Site.objects.exists()
    assert not User.objects.exists()


def test_site_create_refuses_a_duplicate_site_without_leaving_a_new_account(site):
    with pytest.raises(CommandError) as raised:
        run("site_create", "WWW.example.com", "--owner", "newcomer@example.org")
    assert str(raised.value) == "domain: example.com is already registered with Humblytics."
    assert not User.objects.filter(email="newcomer@example.org").exists()
    assert list(Membership.objects.filter(site=site, role=Role.OWNER).values_list("user__email", flat=True)) == [
        "alice@example.org"
    ]


# --- apikey_create --------------------------------------------------------------------------


def test_apikey_create_prints_the_key_and_nothing_else(site):
    output = run("apikey_create", "https://www.example.com/", "--name", "CI")
    assert KEY_LINE.fullmatch(output)
    plaintext = output.strip()
    api_key = ApiKey.objects.get()
    assert (api_key.site, api_key.name, api_key.prefix) == (site, "CI", plaintext[4:16])
    assert services.apikey_authenticate(key=plaintext) == api_key


def test_apikey_create_names_an_unnamed_key(site):
    run("apikey_create", "example.com")
    assert ApiKey.objects.get().name == "API key"


def test_apikey_create_gives_the_outsiders_key_to_the_outsiders_site_only(site, charlies_site):
    plaintext = run("apikey_create", "charlie.dev").strip()
    assert services.apikey_authenticate(key=plaintext).site == charlies_site
    assert not ApiKey.objects.filter(site=site).exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["unknown.example.org"], "No site with the domain unknown.example.org."),
        (["localhost"], "Enter a full domain with a dot, like example.com."),
        (["example.com", "--name", "x" * 101], "name: Keep the name under 100 characters."),
    ],
)
def test_apikey_create_refuses_bad_input(site, args, message):
    with pytest.raises(CommandError) as raised:
        run("apikey_create", *args)
    assert str(raised.value) == message
    assert not ApiKey.objects.exists()


# --- demo_setup -----------------------------------------------------------------------------


def test_demo_setup_refuses_to_run_without_debug(db, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="only with DEBUG on"):
        run("demo_setup")
    assert not User.objects.exists()


def test_demo_setup_creates_a_demo_login_and_site_on_an_empty_database(db, settings):
    settings.DEBUG = True
    output = run("demo_setup")
    demo = User.objects.get()
    assert (demo.email, demo.is_staff, demo.is_superuser) == ("demo@humblytics.local", True, True)
    assert demo.check_password("humblytics-demo")
    site = Site.objects.get()
    assert site.domain == "demo.example.com"
    assert list(Membership.objects.values_list("user__email", "role")) == [("demo@humblytics.local", Role.OWNER)]
    assert output == (
        "Humblytics runs at http://127.0.0.1:8000\n"
        "Log in as demo@humblytics.local with the password humblytics-demo"
        " (a superuser: the admin is at http://127.0.0.1:8000/admin/).\n"
        "The demo site is demo.example.com.\n"
    )


def test_demo_setup_run_twice_creates_nothing_more(db, settings):
    settings.DEBUG = True
    run("demo_setup")
    output = run("demo_setup")
    assert output == "Humblytics runs at http://127.0.0.1:8000 — log in as demo@humblytics.local.\n"
    assert User.objects.count() == 1
    assert Site.objects.count() == 1


def test_demo_setup_leaves_existing_data_alone(site, settings):
    settings.DEBUG = True
    users_before = set(User.objects.values_list("email", flat=True))
    output = run("demo_setup")
    assert (
        output == "Humblytics runs at http://127.0.0.1:8000 — using the accounts and sites already in the database.\n"
    )
    assert set(User.objects.values_list("email", flat=True)) == users_before
    assert list(Site.objects.values_list("domain", flat=True)) == ["example.com"]


def test_demo_setup_leaves_a_lone_account_alone(alice, settings):
    settings.DEBUG = True
    run("demo_setup")
    assert not Site.objects.exists()
    assert list(User.objects.values_list("email", flat=True)) == ["alice@example.org"]


# --- as a shell runs them: exit codes, one-line messages, a clean stdout --------------------


def _postgres_url(settings_dict):
    credentials = quote(settings_dict["USER"] or "")
    if settings_dict["PASSWORD"]:
        credentials += ":" + quote(settings_dict["PASSWORD"])
    host = settings_dict["HOST"] or "127.0.0.1"
    port = f":{settings_dict['PORT']}" if settings_dict["PORT"] else ""
    query = f"?{urlencode(settings_dict['OPTIONS'])}" if settings_dict.get("OPTIONS") else ""
    return f"postgres://{credentials}@{host}{port}/{quote(settings_dict['NAME'])}{query}"


@pytest.fixture(scope="session")
def migrated_sqlite_template(tmp_path_factory):
    path = tmp_path_factory.mktemp("commands") / "template.sqlite3"
    env = {**_base_env(), "DATABASE_URL": f"sqlite:///{path}"}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True, timeout=120
    )
    return path


def _base_env():
    import os

    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    env["DEBUG"] = "true"
    return env


@pytest.fixture
def manage(request, tmp_path, transactional_db):
    """manage(*args) runs `python manage.py …` on the database the tests use; returns CompletedProcess.

    transactional_db: rows the child commits land in the test database and are flushed afterwards.
    """
    if connection.vendor == "postgresql":
        database_url = _postgres_url(connection.settings_dict)
    else:
        # pytest-django keeps the SQLite test database in memory, out of a child's reach: use a migrated copy.
        path = tmp_path / "db.sqlite3"
        shutil.copy(request.getfixturevalue("migrated_sqlite_template"), path)
        database_url = f"sqlite:///{path}"
    env = {**_base_env(), "DATABASE_URL": database_url}

    def _manage(*args):
        return subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )

    return _manage


def _assert_one_line_error(result, message):
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == f"CommandError: {message}\n"


def test_apikey_create_prints_exactly_the_key_and_a_newline(manage):
    created = manage("site_create", "example.com", "--owner", "ann@example.org")
    assert created.returncode == 0, created.stderr
    result = manage("apikey_create", "example.com", "--name", "CI")
    assert result.returncode == 0, result.stderr
    assert KEY_LINE.fullmatch(result.stdout)
    assert result.stderr == ""


def test_site_create_exits_non_zero_on_a_duplicate_site(manage):
    assert manage("site_create", "example.com", "--owner", "ann@example.org").returncode == 0
    result = manage("site_create", "www.example.com", "--owner", "bea@example.org")
    _assert_one_line_error(result, "domain: example.com is already registered with Humblytics.")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["site_create", "not a domain", "--owner", "ann@example.org"], "That does not look like a domain."),
        (["site_create", "example.com", "--owner", "ann@"], "'ann@' is not a valid e-mail address."),
        (
            ["site_create", "example.com", "--owner", "ann@example.org", "--timezone", "Mars/Olympus"],
            "timezone: Choose a timezone from the IANA database, like Europe/Berlin.",
        ),
        (
            ["site_create", "example.com", "--owner", "ann@example.org", "--currency", "XYZ"],
            "currency: Value 'XYZ' is not a valid choice.",
        ),
        (["apikey_create", "unknown.example.org"], "No site with the domain unknown.example.org."),
        (["apikey_create", "javascript:alert(1)"], "That does not look like a domain."),
    ],
)
def test_commands_exit_non_zero_with_one_line_on_bad_input(manage, args, message):
    _assert_one_line_error(manage(*args), message)
