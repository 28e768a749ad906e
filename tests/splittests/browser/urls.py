"""The real URLconf plus the customer's test pages (pages/*.html) with the per-site split-test snippet."""

import time
from pathlib import Path

from django.http import Http404, HttpResponse
from django.template import Context, Engine, TemplateDoesNotExist
from django.urls import include, path

PAGES = Path(__file__).resolve().parent / "pages"
_engine = Engine(dirs=[str(PAGES)])
# The variant page answers slowly, so a control page that painted before the redirect would be caught painting.
SLOW = {"landing-b": 0.5}


def page(request, name):
    if name.startswith("_"):
        raise Http404("partials are not pages")
    try:
        template = _engine.get_template(f"{name}.html")
    except TemplateDoesNotExist:
        raise Http404(f"no test page {name!r}") from None
    time.sleep(SLOW.get(name, 0))
    tracker = f"http://localhost:{request.get_port()}/js/script.js?site=example.com"
    return HttpResponse(template.render(Context({"tracker": tracker})))


def marker(request):
    return HttpResponse(status=204)  # the test reads the markers from the browser's requests


urlpatterns = [
    path("", include("humblytics.urls")),
    path("marker/", marker),
    path("<slug:name>/", page),
]
