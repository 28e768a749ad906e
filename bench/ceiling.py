"""The ceiling: what Django alone costs for the same request, with no enrichment and no storage.

It reads and parses the same JSON body as /api/event and answers 202, behind the same middleware
stack and gunicorn settings, so `ours / ceiling` measures only what our hot path adds.
"""

import json

from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def ceiling(request):
    try:
        json.loads(request.read(8 * 1024 + 1))
    except ValueError:
        return HttpResponse(b"bad json", status=400, content_type="text/plain; charset=utf-8")
    return HttpResponse(b"ok", status=202, content_type="text/plain; charset=utf-8")
