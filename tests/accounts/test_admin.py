import pytest
from django.urls import reverse

from accounts.forms import EMAIL_TAKEN
from accounts.models import User
from tests.conftest import PASSWORD

NEW_PASSWORD = "a quiet lighthouse 42"


@pytest.fixture
def superuser(db):
    return User.objects.create_superuser(email="root@example.org", password=PASSWORD)


def test_it_lists_and_searches_users_for_a_superuser(login, superuser, alice, bob):
    client = login(superuser)
    response = client.get(reverse("admin:accounts_user_changelist"))
    assert response.status_code == 200
    assert [user.email for user in response.context["cl"].result_list] == [
        "alice@example.org",
        "bob@example.org",
        "root@example.org",
    ]

    response = client.get(reverse("admin:accounts_user_changelist"), {"q": "ALICE"})
    assert [user.email for user in response.context["cl"].result_list] == ["alice@example.org"]

    response = client.get(reverse("admin:accounts_user_changelist"), {"is_staff__exact": "1"})
    assert [user.email for user in response.context["cl"].result_list] == ["root@example.org"]


def test_it_adds_a_user_through_the_admin(login, superuser):
    client = login(superuser)
    url = reverse("admin:accounts_user_add")
    assert client.get(url).status_code == 200

    data = {
        "email": "New.Staff@Example.org",
        "name": "New Staff",
        "usable_password": "true",
        "password1": NEW_PASSWORD,
        "password2": NEW_PASSWORD,
    }
    response = client.post(url, data)

    user = User.objects.get(email="new.staff@example.org")
    assert response.status_code == 302
    assert response.url == reverse("admin:accounts_user_change", args=[user.pk])
    assert user.name == "New Staff"
    assert user.check_password(NEW_PASSWORD)
    assert not user.is_staff


def test_it_refuses_a_duplicate_email_in_the_admin_add_form(login, superuser, alice):
    data = {
        "email": "ALICE@example.org",
        "usable_password": "true",
        "password1": NEW_PASSWORD,
        "password2": NEW_PASSWORD,
    }
    response = login(superuser).post(reverse("admin:accounts_user_add"), data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {"email": [EMAIL_TAKEN]}
    assert User.objects.count() == 2


def test_it_refuses_a_duplicate_email_in_the_admin_change_form(login, superuser, alice, bob):
    client = login(superuser)
    url = reverse("admin:accounts_user_change", args=[bob.pk])
    response = client.get(url)
    assert response.status_code == 200
    form = response.context["adminform"].form
    data = {name: form[name].value() for name in ("email", "name", "is_active", "date_joined") if name in form.fields}
    data = {key: value for key, value in data.items() if value not in (None, False)}

    response = client.post(url, {**data, "email": "Alice@Example.org"})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {"email": [EMAIL_TAKEN]}
    bob.refresh_from_db()
    assert bob.email == "bob@example.org"

    response = client.post(url, {**data, "email": "Robert@Example.org", "name": "Robert"})
    assert response.status_code == 302
    bob.refresh_from_db()
    assert (bob.email, bob.name) == ("robert@example.org", "Robert")


def test_it_keeps_a_non_staff_user_out_of_the_admin(login, alice):
    response = login(alice).get(reverse("admin:accounts_user_changelist"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))
