"""The real URLconf plus the test pages: a customer's site (pages/*.html) that embeds our snippet.

The pages are served by the same live server as the app; the browser reaches them as http://example.com:PORT
(mapped to loopback, see conftest) and loads the tracker cross-origin from http://localhost:PORT, as a customer's
site loads it from the Humblytics host.
"""

from pathlib import Path

from django.http import Http404, HttpResponse
from django.template import Context, Engine, TemplateDoesNotExist
from django.urls import include, path

PAGES = Path(__file__).resolve().parent / "pages"
_engine = Engine(dirs=[str(PAGES)])


def page(request, name):
    if name.startswith("_"):
        raise Http404("partials are not pages")
    try:
        template = _engine.get_template(f"{name}.html")
    except TemplateDoesNotExist:
        raise Http404(f"no test page {name!r}") from None
    tracker = f"http://localhost:{request.get_port()}/js/script.js"
    return HttpResponse(template.render(Context({"tracker": tracker})))


urlpatterns = [
    path("", include("humblytics.urls")),
    path("<slug:name>/", page),
]
