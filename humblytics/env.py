"""Strict environment helpers.

Every helper fails loudly with a message that names the variable, so a typo in a
Heroku config var stops the release instead of silently running with a default.
No Django imports: settings.py uses these before Django is configured.
"""

import os
from urllib.parse import parse_qs, unquote, urlsplit


class EnvError(Exception):
    """A configuration variable is missing or malformed."""


_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}
_MISSING = object()


def _raw(name, environ):
    environ = os.environ if environ is None else environ
    value = environ.get(name)
    if value is None or value.strip() == "":
        return None
    return value.strip()


def env_str(name, default=_MISSING, *, environ=None):
    value = _raw(name, environ)
    if value is None:
        if default is _MISSING:
            raise EnvError(f"{name} is required but not set")
        return default
    return value


def env_bool(name, default, *, environ=None):
    value = _raw(name, environ)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise EnvError(f"{name} must be true or false, got {value!r}")


def env_int(name, default, *, minimum=None, maximum=None, environ=None):
    value = _raw(name, environ)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise EnvError(f"{name} must be a whole number, got {value!r}") from None
    if minimum is not None and number < minimum:
        raise EnvError(f"{name} must be at least {minimum}, got {number}")
    if maximum is not None and number > maximum:
        raise EnvError(f"{name} must be at most {maximum}, got {number}")
    return number


def env_list(name, default=(), *, environ=None):
    value = _raw(name, environ)
    if value is None:
        return list(default)
    items = [item.strip() for item in value.split(",")]
    if any(not item for item in items):
        raise EnvError(f"{name} must be a comma-separated list without empty items, got {value!r}")
    return items


def env_origins(name, default=(), *, environ=None):
    origins = env_list(name, default, environ=environ)
    for origin in origins:
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
            raise EnvError(f"{name} items must look like https://example.com, got {origin!r}")
    return origins


def env_secret(name, *, required, min_length, environ=None, fallback=None):
    """A secret that must be set (and long enough) when `required`.

    When not required and unset, `fallback` is used (the embedded development default).
    """
    value = _raw(name, environ)
    if value is None:
        if required:
            raise EnvError(f"{name} is required when DEBUG is off")
        return fallback
    if len(value) < min_length:
        raise EnvError(f"{name} must be at least {min_length} characters long")
    return value


def parse_database_url(url, *, name="DATABASE_URL"):
    """postgres://user:pass@host:port/db?sslmode=require or sqlite:///path/to/file.sqlite3"""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        path = unquote(parts.path)
        if parts.netloc or not path or path == "/":
            raise EnvError(f"{name} for SQLite must look like sqlite:///path/to/db.sqlite3, got {url!r}")
        # sqlite:///relative.db -> "relative.db"; sqlite:////abs/path.db -> "/abs/path.db"
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": path[1:]}
    if parts.scheme in ("postgres", "postgresql", "pgsql"):
        database = unquote(parts.path.lstrip("/"))
        if not parts.hostname or not database:
            raise EnvError(f"{name} for PostgreSQL must name a host and a database, got a URL without them")
        try:
            port = parts.port
        except ValueError:
            raise EnvError(f"{name} has an invalid port") from None
        options = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": database,
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname,
            "PORT": str(port or ""),
            "OPTIONS": options,
        }
    raise EnvError(f"{name} must start with postgres:// or sqlite:///, got scheme {parts.scheme!r}")


def env_redis_url(name, *, environ=None):
    value = _raw(name, environ)
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("redis", "rediss", "unix") or (parts.scheme != "unix" and not parts.hostname):
        raise EnvError(f"{name} must look like redis://host:6379/0, got {value!r}")
    return value
