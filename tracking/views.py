"""The Events API through Django: POST /api/event for runserver, the test client and any door but the
production WSGI application's fast path (tracking.fastpath). Both answer with tracking.endpoint.answer.

No ORM write per request (records go to the Redis buffer), no cookies (no session, no CSRF token), no DRF.
"""

from django.views.decorators.csrf import csrf_exempt

from tracking import endpoint


@csrf_exempt
def event(request):
    answer = endpoint.answer(
        request.method,
        request.META.get("CONTENT_TYPE", ""),
        request.META.get("CONTENT_LENGTH"),
        request.read,
        request.META,
    )
    endpoint.settle(answer.pending)  # here the reply is read before answering: no closer to defer it to
    return endpoint.http_response(answer)
