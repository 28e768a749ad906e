"""Turn a configuration error into one clear line instead of a traceback."""

import sys


def load_settings_or_exit():
    from django.conf import settings

    from humblytics.env import EnvError

    try:
        settings.INSTALLED_APPS  # noqa: B018 - forces settings.py to be evaluated
    except EnvError as error:
        sys.stderr.write(f"Configuration error: {error}\n")
        sys.exit(2)
