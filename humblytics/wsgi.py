import os

from django.core.wsgi import get_wsgi_application

from humblytics.startup import load_settings_or_exit

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "humblytics.settings")
load_settings_or_exit()
django_application = get_wsgi_application()

# POST /api/event is answered before Django's middleware and URL resolver (see tracking/fastpath.py);
# every other path goes to Django.
from tracking import fastpath  # noqa: E402

application = fastpath.wrap(django_application)

# Build the User-Agent parsers and open the GeoIP database before the first event, not during it.
from tracking import devices, geo  # noqa: E402

devices.warm_up()
geo.warm_up()
# And compile the pages' templates before the first page asks for one.
from humblytics.startup import warm_templates  # noqa: E402

warm_templates()

# Everything imported so far lives as long as the worker: keep it out of the cyclic garbage collector's
# generations, so a full collection (40–100 ms at this heap size) stops landing in request latency.
import gc  # noqa: E402

gc.collect()
gc.freeze()
