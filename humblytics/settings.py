"""The one settings file. Every value comes from the environment through strict helpers.

The embedded default (`make run`, `make test` without services) is SQLite, Celery eager and
local-memory cache; production sets DATABASE_URL, REDIS_URL and the secrets.
"""

from pathlib import Path

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

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", False)

# Development-only fallbacks; with DEBUG off every secret must come from the environment.
_DEV = "insecure-development-only-value-never-use-in-production-0123456789"
SECRET_KEY = env_secret("SECRET_KEY", required=not DEBUG, min_length=50, fallback="dev-" + _DEV)
# Separate from SECRET_KEY so rotating SECRET_KEY never bricks stored Stripe keys.
ENCRYPTION_KEY = env_secret("ENCRYPTION_KEY", required=not DEBUG, min_length=32, fallback="enc-" + _DEV)
# django-cryptography derives the field-encryption key from this (see humblytics/fields.py).
CRYPTOGRAPHY_KEY = ENCRYPTION_KEY
API_KEY_PEPPER = env_secret("API_KEY_PEPPER", required=not DEBUG, min_length=32, fallback="pep-" + _DEV)
if len({SECRET_KEY, ENCRYPTION_KEY, API_KEY_PEPPER}) != 3:
    raise EnvError("SECRET_KEY, ENCRYPTION_KEY and API_KEY_PEPPER must be three different values")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise EnvError("ALLOWED_HOSTS is required when DEBUG is off (e.g. analytics.example.com)")
CSRF_TRUSTED_ORIGINS = env_origins("CSRF_TRUSTED_ORIGINS")
# How many reverse-proxy hops in front of the app append to X-Forwarded-For (Heroku's router: 1).
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0, maximum=10)
# The public origin used in snippets and e-mails, e.g. https://analytics.example.com (optional).
BASE_URL = env_str("BASE_URL", "").rstrip("/")
if BASE_URL:
    env_origins("BASE_URL")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",  # OpenAPI schema for the Stats API (/api/v2/schema)
    "accounts",
    "sites",
    "tracking",
    "revenue",
    "splittests",
    "dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "humblytics.urls"
WSGI_APPLICATION = "humblytics.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {"default": parse_database_url(env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"))}
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # A new PostgreSQL connection costs ~4.5 ms here: keep them open, check them before reuse.
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("DB_CONN_MAX_AGE", 600, minimum=0)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # JIT compiling the dashboard's big statements costs more than it saves. work_mem: with PostgreSQL's 4 MB, a
    # range of daily page rollups (100 k rows) is summed by a sort on disk, not a hash: 450 ms, not 100 (bench/README).
    _session = "-c jit=" + ("on" if env_bool("DB_JIT", False) else "off")
    _session += f" -c work_mem={env_int('DB_WORK_MEM_MB', 32, minimum=1, maximum=4096)}MB"
    _options = DATABASES["default"]["OPTIONS"]
    _options["options"] = f"{_options['options']} {_session}" if _options.get("options") else _session
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: Celery broker, cache and the event buffer --------------------------------------
REDIS_URL = env_redis_url("REDIS_URL")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# The Redis stream the Events API appends to and the flusher drains (see tracking/buffer.py).
EVENT_BUFFER_STREAM = env_str("EVENT_BUFFER_STREAM", "hly:events")

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
# Without Redis (the embedded default) tasks run in-process as they are enqueued.
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
# The queue tasks are sent to and a worker without -Q reads. A test's own worker gets a queue of its own
# (tests/revenue/test_celery_worker.py), so parallel runs and other workers on the same Redis never swap tasks.
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_TASK_DEFAULT_QUEUE", "celery")

# --- Auth -----------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "sites:list"
LOGOUT_REDIRECT_URL = "accounts:login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- E-mail (console by default: password resets and invites print to the log) -------------
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 587, minimum=1, maximum=65535)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Humblytics <noreply@localhost>")

# --- Security -------------------------------------------------------------------------------
# Heroku-style routers terminate TLS and say so in X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
X_FRAME_OPTIONS = "DENY"
# The Events API must never be redirected (a redirect drops a POST body from sendBeacon).
SECURE_REDIRECT_EXEMPT = [r"^api/event$", r"^js/"]

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- i18n -----------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- DRF ------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}

# --- Stats API (dashboard/api.py): OpenAPI schema and per-key rate limits -------------------
REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"] = "drf_spectacular.openapi.AutoSchema"
SPECTACULAR_SETTINGS = {
    "TITLE": "Humblytics Stats API",
    "DESCRIPTION": "Query a site's traffic: POST /api/v2/query with a site API key (Plausible Stats API v2 shape).",
    "VERSION": "2",
    "SERVE_INCLUDE_SCHEMA": False,
}
# Requests per API key: a sustained hourly budget plus a short burst window, counted in the cache.
STATS_API_RATE_PER_HOUR = env_int("STATS_API_RATE_PER_HOUR", 600, minimum=1)
STATS_API_BURST = env_int("STATS_API_BURST", 30, minimum=1)
STATS_API_BURST_SECONDS = env_int("STATS_API_BURST_SECONDS", 10, minimum=1, maximum=3600)

# --- Logging: never log request bodies, IPs or keys; Django's request logger stays at WARNING.
LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
if LOG_LEVEL not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
    raise EnvError(f"LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got {LOG_LEVEL!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # The stripe SDK logs request lines at INFO/DEBUG; keep it quiet (no ids or amounts in our logs).
    "loggers": {"django.db.backends": {"level": "WARNING"}, "stripe": {"level": "WARNING"}},
}

# --- GeoIP (tracking/geo.py) ------------------------------------------------------------------
# GEOIP_DATABASE: path to a MaxMind-format .mmdb (GeoLite2 or DB-IP Lite, City or Country).
# Unset: the GeoLite2 copy installed from PyPI (2019 data, fine offline, stale for production).
# GEOIP_COUNTRY_HEADER: a header set by the edge with the visitor's country, e.g. CF-IPCountry.
GEOIP_DATABASE = env_str("GEOIP_DATABASE", None)
if GEOIP_DATABASE is not None and not Path(GEOIP_DATABASE).is_file():
    raise EnvError(f"GEOIP_DATABASE points at {GEOIP_DATABASE!r}, which is not a file")
GEOIP_COUNTRY_HEADER = env_str("GEOIP_COUNTRY_HEADER", None)
if GEOIP_COUNTRY_HEADER is not None and not (
    GEOIP_COUNTRY_HEADER.isascii() and GEOIP_COUNTRY_HEADER.replace("-", "").isalnum()
):
    raise EnvError(f"GEOIP_COUNTRY_HEADER must be a header name like CF-IPCountry, got {GEOIP_COUNTRY_HEADER!r}")

# --- Stripe revenue sync (revenue/) ----------------------------------------------------------
# Any Stripe-compatible server (localstripe in tests and `make demo`); unset means api.stripe.com.
STRIPE_API_BASE = env_str("STRIPE_API_BASE", None)
if STRIPE_API_BASE is not None:
    env_origins("STRIPE_API_BASE")
# Seconds between two syncs of a site (Celery beat), and how far back the first sync reads.
STRIPE_SYNC_INTERVAL = env_int("STRIPE_SYNC_INTERVAL", 300, minimum=30, maximum=86_400)
STRIPE_BACKFILL_DAYS = env_int("STRIPE_BACKFILL_DAYS", 90, minimum=1, maximum=730)
# Stripe allows 100 (live) / 25 (test) requests/s per account, shared with the merchant's own traffic.
STRIPE_MAX_REQUESTS_PER_SECOND = env_int("STRIPE_MAX_REQUESTS_PER_SECOND", 4, minimum=1, maximum=50)
