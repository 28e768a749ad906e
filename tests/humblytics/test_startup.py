"""Start-up warming: a worker compiles the project's templates before its first page."""

from django.conf import settings
from django.template import engines
from django.test import override_settings

from humblytics.startup import warm_templates


def cached_loader():
    return engines["django"].engine.template_loaders[0]


def test_warming_compiles_every_project_template_into_the_cached_loader():
    loader = cached_loader()
    loader.reset()
    warm_templates()
    assert {"dashboard/dashboard.html", "dashboard/_panel.html", "base.html"} <= set(loader.get_template_cache)


def test_a_template_that_does_not_compile_is_left_for_its_page_to_report(tmp_path):
    (tmp_path / "good.html").write_text("<p>{{ name }}</p>")
    (tmp_path / "broken.html").write_text("{% if name %}never closed")
    templates = [{**settings.TEMPLATES[0], "DIRS": [tmp_path]}]
    with override_settings(TEMPLATES=templates):
        warm_templates()  # no exception
        assert "good.html" in cached_loader().get_template_cache
