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


def warm_templates():
    """Compile the project's own templates (templates/), so a worker's first page does not pay for it: Django's cached
    loader keeps them for the life of the process. A template that fails to compile is left for its page to report."""
    from django.conf import settings
    from django.template import TemplateSyntaxError
    from django.template.loader import get_template

    for folder in settings.TEMPLATES[0]["DIRS"]:
        for path in sorted(folder.rglob("*.html")):
            try:
                get_template(path.relative_to(folder).as_posix())
            except TemplateSyntaxError:
                continue
