"""Settings for `make bench-ingest`: the app's own settings, plus the ceiling view's URL (bench/urls.py).

Everything else (middleware, database, Redis, security) is exactly what production runs.
"""

from humblytics.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
