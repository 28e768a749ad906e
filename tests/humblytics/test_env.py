"""The strict env helpers refuse bad values with a message naming the variable."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from humblytics.env import (
    EnvError,
    env_bool,
    env_int,
    env_list,
    env_origins,
    env_redis_url,
    env_secret,
    env_str,
    parse_database_url,
)

ROOT = Path(__file__).resolve().parents[2]


# --- env_str --------------------------------------------------------------------------------


def test_env_str_reads_and_strips():
    assert env_str("NAME", environ={"NAME": "  value "}) == "value"


def test_env_str_uses_the_default_for_unset_and_blank():
    assert env_str("NAME", "fallback", environ={}) == "fallback"
    assert env_str("NAME", "fallback", environ={"NAME": "   "}) == "fallback"


def test_env_str_requires_a_value_without_a_default():
    with pytest.raises(EnvError, match=r"^NAME is required but not set$"):
        env_str("NAME", environ={})


# --- env_bool -------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["true", "True", "TRUE", "1", "yes", "on", " true "])
def test_env_bool_reads_true(value):
    assert env_bool("FLAG", False, environ={"FLAG": value}) is True


@pytest.mark.parametrize("value", ["false", "False", "0", "no", "off"])
def test_env_bool_reads_false(value):
    assert env_bool("FLAG", True, environ={"FLAG": value}) is False


def test_env_bool_uses_the_default_when_unset():
    assert env_bool("FLAG", True, environ={}) is True
    assert env_bool("FLAG", False, environ={"FLAG": ""}) is False


@pytest.mark.parametrize("value", ["maybe", "tru", "2", "y", "enabled", "-1"])
def test_env_bool_refuses_anything_else(value):
    with pytest.raises(EnvError) as raised:
        env_bool("DEBUG", False, environ={"DEBUG": value})
    assert str(raised.value) == f"DEBUG must be true or false, got {value!r}"


# --- env_int --------------------------------------------------------------------------------


def test_env_int_reads_a_number():
    assert env_int("WORKERS", 2, environ={"WORKERS": " 10 "}) == 10
    assert env_int("WORKERS", 2, environ={}) == 2


@pytest.mark.parametrize("value", ["ten", "1.5", "1e3", "0x10", "12abc"])
def test_env_int_refuses_a_non_number(value):
    with pytest.raises(EnvError) as raised:
        env_int("EMAIL_PORT", 587, environ={"EMAIL_PORT": value})
    assert str(raised.value) == f"EMAIL_PORT must be a whole number, got {value!r}"


def test_env_int_refuses_a_number_below_the_minimum():
    with pytest.raises(EnvError) as raised:
        env_int("TRUSTED_PROXY_COUNT", 0, minimum=0, maximum=10, environ={"TRUSTED_PROXY_COUNT": "-1"})
    assert str(raised.value) == "TRUSTED_PROXY_COUNT must be at least 0, got -1"


def test_env_int_refuses_a_number_above_the_maximum():
    with pytest.raises(EnvError) as raised:
        env_int("TRUSTED_PROXY_COUNT", 0, minimum=0, maximum=10, environ={"TRUSTED_PROXY_COUNT": "11"})
    assert str(raised.value) == "TRUSTED_PROXY_COUNT must be at most 10, got 11"


def test_env_int_accepts_the_bounds():
    assert env_int("N", 5, minimum=0, maximum=10, environ={"N": "0"}) == 0
    assert env_int("N", 5, minimum=0, maximum=10, environ={"N": "10"}) == 10


# --- env_list and env_origins ---------------------------------------------------------------


def test_env_list_splits_on_commas():
    assert env_list("ALLOWED_HOSTS", environ={"ALLOWED_HOSTS": "a.example.com, b.example.com"}) == [
        "a.example.com",
        "b.example.com",
    ]
    assert env_list("ALLOWED_HOSTS", ["localhost"], environ={}) == ["localhost"]


@pytest.mark.parametrize("value", ["a.example.com,", ",a.example.com", "a.example.com,,b.example.com", "a, ,b"])
def test_env_list_refuses_an_empty_item(value):
    with pytest.raises(EnvError) as raised:
        env_list("ALLOWED_HOSTS", environ={"ALLOWED_HOSTS": value})
    assert str(raised.value) == (
        f"ALLOWED_HOSTS must be a comma-separated list without empty items, got {value.strip()!r}"
    )


def test_env_origins_accepts_origins():
    value = "https://analytics.example.com, http://localhost:8000, https://example.com/"
    assert env_origins("CSRF_TRUSTED_ORIGINS", environ={"CSRF_TRUSTED_ORIGINS": value}) == [
        "https://analytics.example.com",
        "http://localhost:8000",
        "https://example.com/",
    ]


@pytest.mark.parametrize(
    "origin", ["analytics.example.com", "//analytics.example.com", "ftp://example.com", "https://", "https://x.com/app"]
)
def test_env_origins_refuses_an_origin_without_scheme_or_with_a_path(origin):
    with pytest.raises(EnvError) as raised:
        env_origins("CSRF_TRUSTED_ORIGINS", environ={"CSRF_TRUSTED_ORIGINS": f"https://ok.example.com,{origin}"})
    assert str(raised.value) == f"CSRF_TRUSTED_ORIGINS items must look like https://example.com, got {origin!r}"


def test_env_origins_refuses_an_empty_item_naming_the_variable():
    with pytest.raises(EnvError, match=r"^CSRF_TRUSTED_ORIGINS must be a comma-separated list"):
        env_origins("CSRF_TRUSTED_ORIGINS", environ={"CSRF_TRUSTED_ORIGINS": "https://a.example.com,"})


# --- env_secret -----------------------------------------------------------------------------


def test_env_secret_requires_a_value_when_required():
    with pytest.raises(EnvError) as raised:
        env_secret("SECRET_KEY", required=True, min_length=50, environ={})
    assert str(raised.value) == "SECRET_KEY is required when DEBUG is off"


def test_env_secret_refuses_a_short_value():
    with pytest.raises(EnvError) as raised:
        env_secret("API_KEY_PEPPER", required=True, min_length=32, environ={"API_KEY_PEPPER": "short"})
    assert str(raised.value) == "API_KEY_PEPPER must be at least 32 characters long"
    assert "short" not in str(raised.value)  # a secret is never echoed


def test_env_secret_refuses_a_short_value_even_when_optional():
    with pytest.raises(EnvError, match=r"^ENCRYPTION_KEY must be at least 32"):
        env_secret("ENCRYPTION_KEY", required=False, min_length=32, environ={"ENCRYPTION_KEY": "x" * 31})


def test_env_secret_reads_a_long_value_or_falls_back_when_optional():
    assert env_secret("SECRET_KEY", required=True, min_length=5, environ={"SECRET_KEY": "abcdef"}) == "abcdef"
    assert env_secret("SECRET_KEY", required=False, min_length=5, environ={}, fallback="dev") == "dev"


# --- DATABASE_URL ---------------------------------------------------------------------------


def test_it_parses_a_postgres_url():
    url = "postgres://user:p%40ss@db.example.com:5433/analytics?sslmode=require"
    assert parse_database_url(url) == {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "analytics",
        "USER": "user",
        "PASSWORD": "p@ss",
        "HOST": "db.example.com",
        "PORT": "5433",
        "OPTIONS": {"sslmode": "require"},
    }


@pytest.mark.parametrize("scheme", ["postgres", "postgresql", "pgsql"])
def test_it_accepts_every_postgres_scheme(scheme):
    assert parse_database_url(f"{scheme}://u@h/db")["ENGINE"] == "django.db.backends.postgresql"


def test_it_parses_sqlite_urls():
    assert parse_database_url("sqlite:///relative.sqlite3") == {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": "relative.sqlite3",
    }
    assert parse_database_url("sqlite:////abs/path.sqlite3")["NAME"] == "/abs/path.sqlite3"


@pytest.mark.parametrize("url", ["mysql://u:p@h/db", "http://h/db", "db.sqlite3", "redis://h:6379/0"])
def test_it_refuses_an_unknown_database_scheme(url):
    with pytest.raises(EnvError, match=r"^DATABASE_URL must start with postgres:// or sqlite:///, got scheme"):
        parse_database_url(url)


@pytest.mark.parametrize("url", ["postgres://u:p@db.example.com", "postgres://u:p@db.example.com/", "postgres:///db"])
def test_it_refuses_a_postgres_url_without_host_or_database(url):
    with pytest.raises(EnvError) as raised:
        parse_database_url(url)
    message = str(raised.value)
    assert message == "DATABASE_URL for PostgreSQL must name a host and a database, got a URL without them"
    assert "p@" not in message  # the password is never echoed


def test_it_refuses_a_bad_port():
    with pytest.raises(EnvError, match=r"^DATABASE_URL has an invalid port$"):
        parse_database_url("postgres://u@h:port/db")


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///", "sqlite://host/db.sqlite3"])
def test_it_refuses_a_malformed_sqlite_url(url):
    with pytest.raises(EnvError, match=r"^DATABASE_URL for SQLite must look like sqlite:///path/to/db.sqlite3"):
        parse_database_url(url)


# --- REDIS_URL ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["redis://127.0.0.1:6379/0", "rediss://:pw@redis.example.com:6380", "unix:///tmp/r.sock"]
)
def test_it_accepts_redis_urls(url):
    assert env_redis_url("REDIS_URL", environ={"REDIS_URL": url}) == url


def test_redis_is_optional():
    assert env_redis_url("REDIS_URL", environ={}) is None


@pytest.mark.parametrize(
    "url", ["127.0.0.1:6379", "http://redis.example.com", "redis://", "redis:///0", "memcached://h"]
)
def test_it_refuses_a_bad_redis_url(url):
    with pytest.raises(EnvError) as raised:
        env_redis_url("REDIS_URL", environ={"REDIS_URL": url})
    assert str(raised.value) == f"REDIS_URL must look like redis://host:6379/0, got {url!r}"


# --- settings.py as a process sees it -------------------------------------------------------


def _check(**env):
    base = {key: value for key, value in os.environ.items() if not key.startswith(("DEBUG", "SECRET_KEY"))}
    base.pop("DATABASE_URL", None)
    base.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=base, capture_output=True, text=True, timeout=60
    )


def test_a_missing_secret_key_stops_manage_py_with_one_line():
    result = _check(DEBUG="false")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == "Configuration error: SECRET_KEY is required when DEBUG is off\n"


def test_a_bad_boolean_stops_manage_py_with_one_line():
    result = _check(DEBUG="maybe")
    assert result.returncode == 2
    assert result.stderr == "Configuration error: DEBUG must be true or false, got 'maybe'\n"
    assert "Traceback" not in result.stderr


def test_a_bad_setting_stops_manage_py_with_one_line_even_in_debug():
    result = _check(DEBUG="true", TRUSTED_PROXY_COUNT="ten")
    assert result.returncode == 2
    assert result.stderr == "Configuration error: TRUSTED_PROXY_COUNT must be a whole number, got 'ten'\n"
