"""The exposure payload the tracker POSTs to /api/exposure, checked field by field. Pure, no Django.

    {"t": 12, "x": 34, "v": "<the page view's id>", "d": "example.com", "u": "https://example.com/pricing"}

t is the test, x the variant, v the view id the core tracker made for the page view on which the variant was seen.
"""

import json
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_URL = 2000
VIEW_ID_RE = re.compile(r"^[A-Za-z0-9_-]{16,40}$")  # the Events API's rule (tracking/payload.py)
MAX_ID = 2**63 - 1


class ExposureError(ValueError):
    def __init__(self, message):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Incoming:
    test_id: int
    variant_id: int
    view_id: str
    domain: str
    hostname: str


def _refuse_constant(name):
    raise ExposureError(f"body: {name} is not JSON")


def _id(body, key, what):
    value = body.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_ID:
        raise ExposureError(f"{key}: the {what} id, a positive whole number")
    return value


def parse(raw: bytes) -> Incoming:
    try:
        body = json.loads(raw, parse_constant=_refuse_constant)
    except ExposureError:
        raise
    except (ValueError, RecursionError):
        raise ExposureError("body: not valid JSON") from None
    if not isinstance(body, dict):
        raise ExposureError("body: must be a JSON object")
    test_id = _id(body, "t", "test")
    variant_id = _id(body, "x", "variant")
    view_id = body.get("v")
    if not isinstance(view_id, str) or not VIEW_ID_RE.match(view_id):
        raise ExposureError("v: the view id, 16–40 characters of A-Z a-z 0-9 _ -")
    domain = body.get("d")
    if not isinstance(domain, str) or not 0 < len(domain) <= 253:
        raise ExposureError("d: the site's domain, like example.com")
    url = body.get("u")
    if not isinstance(url, str) or len(url) > MAX_URL:
        raise ExposureError(f"u: the page URL (http or https, at most {MAX_URL} characters)")
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
    except ValueError:
        raise ExposureError("u: not a valid URL") from None
    if parts.scheme not in ("http", "https") or not hostname:
        raise ExposureError("u: the page URL must be absolute http(s)")
    domain = domain.strip().lower()
    return Incoming(test_id, variant_id, view_id, domain.removeprefix("www.") if domain.count(".") >= 2 else domain,
                    hostname.lower())  # fmt: skip
