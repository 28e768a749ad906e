"""Serves the built tracker at /js/script.js, the URL every customer's site embeds.

With ?site=DOMAIN the answer is splittests' per-site script (splittests/tracker_views.py), for sites running split
tests; without it, the core below, the same for everyone.

The file is read and gzipped once per process (the build changes only with a deploy). No session, no cookie:
this response is public and cached by browsers and CDNs for everyone alike.
"""

import functools
import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path

from django.http import HttpResponse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_safe

SCRIPT_PATH = Path(__file__).resolve().parent / "tracker" / "dist" / "script.js"
CACHE_CONTROL = "public, max-age=3600, stale-while-revalidate=86400"


@dataclass(frozen=True)
class _Script:
    raw: bytes
    gzipped: bytes
    etag: str


@functools.cache
def _script():
    raw = SCRIPT_PATH.read_bytes()
    # Weak: the plain and the gzipped bytes are the same script, so one validator serves both encodings.
    etag = f'W/"{hashlib.sha256(raw).hexdigest()[:20]}"'
    return _Script(raw=raw, gzipped=gzip.compress(raw, compresslevel=9, mtime=0), etag=etag)


def _accepts_gzip(accept_encoding):
    """True when Accept-Encoding allows gzip: listed (or, if not listed, `*`) with a q-value above zero."""
    qualities = {}
    for item in accept_encoding.lower().split(","):
        coding, *params = (piece.strip() for piece in item.split(";"))
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        qualities[coding] = q
    return qualities.get("gzip", qualities.get("*", 0.0)) > 0


def _not_modified(if_none_match, etag):
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    # Weak comparison (RFC 9110 §13.1.2): W/"x" matches "x".
    bare = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == bare for tag in if_none_match.split(","))


@require_safe
def serve_script(request):
    script = _script()
    if "site" in request.GET:
        # /js/script.js?site=DOMAIN: the split-test runtime with this visitor's assignments, then this same core
        # (only the core when the site runs no test); per visitor, so cached privately and briefly.
        from splittests.tracker_views import serve_site_script

        return serve_site_script(request, core=script.raw)
    use_gzip = _accepts_gzip(request.headers.get("Accept-Encoding", ""))

    if _not_modified(request.headers.get("If-None-Match"), script.etag):
        response = HttpResponse(status=304)
    else:
        body = script.gzipped if use_gzip else script.raw
        response = HttpResponse(b"" if request.method == "HEAD" else body)
        response["Content-Type"] = "application/javascript; charset=utf-8"
        response["Content-Length"] = str(len(body))
        if use_gzip:
            response["Content-Encoding"] = "gzip"

    response["ETag"] = script.etag
    response["Cache-Control"] = CACHE_CONTROL
    response["Access-Control-Allow-Origin"] = "*"
    # Sites that set Cross-Origin-Embedder-Policy: require-corp may still load it.
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    patch_vary_headers(response, ["Accept-Encoding"])
    return response
