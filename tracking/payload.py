"""Parsing and validating an Events API body. Pure: no Django imports.

Accepts our tracker's payload and Plausible's Events API payload (short or long keys):
`name|n`, `url|u`, `domain|d` (comma list allowed), `referrer|r`, `screen_width|w`, `props|p` (object
or a JSON string of one, as older Plausible scripts send), `revenue|$`, `interactive|i`, `hashMode|h`,
and ours: `view_id|v`, engagement `sd` (scroll depth %) and `e` (engaged ms).
Every rejection names the field, so an integrator can fix the call.
"""

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from urllib.parse import parse_qs, quote, urlsplit

from humblytics.currencies import is_currency
from sites.domains import strip_www

MAX_BODY_BYTES = 8 * 1024
MAX_NAME = 120
MAX_URL = 2000
_PATH_SAFE = "!#$%&'()*+,/:;=?@[]~"  # with letters, digits and "_.-": kept as sent; "%": escapes stay escaped
MAX_PROPS = 30
MAX_PROP_KEY = 300
MAX_PROP_VALUE = 2000
MAX_DOMAINS = 10
MAX_ENGAGED_MS = 24 * 3600 * 1000
VIEW_ID_RE = re.compile(r"^[A-Za-z0-9_-]{16,40}$")
CHECKOUT_SESSION_RE = re.compile(r"^cs_(test|live)_[A-Za-z0-9]{10,200}$")


class PayloadError(ValueError):
    def __init__(self, message):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Incoming:
    name: str
    url: str
    hostname: str
    pathname: str
    domains: tuple
    referrer: str | None
    screen_width: int | None
    props: dict = field(default_factory=dict)
    revenue_amount: Decimal | None = None
    revenue_currency: str = ""
    interactive: bool = True
    view_id: str | None = None
    scroll_depth: int | None = None
    engaged_ms: int | None = None
    checkout_session_id: str = ""

    @property
    def query(self):
        """The page URL's query parameters (last value wins). Parsed on demand: the hot path needs none of them."""
        query = urlsplit(self.url).query
        parsed = parse_qs(query, keep_blank_values=False, max_num_fields=100) if query else {}
        return {key: values[-1] for key, values in parsed.items()}

    @property
    def is_pageview(self):
        return self.name == "pageview"

    @property
    def is_engagement(self):
        return self.name == "engagement"


def _pick(data, short, long):
    if long in data:
        return data[long]
    return data.get(short)


def parse(body):
    if len(body) > MAX_BODY_BYTES:
        raise PayloadError(f"body: larger than {MAX_BODY_BYTES} bytes")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise PayloadError("body: not valid JSON") from None
    if not isinstance(data, dict):
        raise PayloadError("body: must be a JSON object")

    name = _pick(data, "n", "name")
    if not isinstance(name, str) or not name.strip():
        raise PayloadError("name: required, a non-empty string")
    name = name.strip()
    if len(name) > MAX_NAME:
        raise PayloadError(f"name: at most {MAX_NAME} characters")

    url = _pick(data, "u", "url")
    if not isinstance(url, str) or not url.strip():
        raise PayloadError("url: required, an absolute http(s) URL")
    url = url.strip()
    if len(url) > MAX_URL:
        raise PayloadError(f"url: at most {MAX_URL} characters")
    try:
        parts = urlsplit(url)
        hostname = (parts.hostname or "").rstrip(".")
    except ValueError:
        raise PayloadError("url: not a valid URL") from None
    if parts.scheme not in ("http", "https") or not hostname:
        raise PayloadError("url: must be an absolute http(s) URL")

    domains = _domains(_pick(data, "d", "domain"))

    referrer = _pick(data, "r", "referrer")
    if referrer is not None and not isinstance(referrer, str):
        raise PayloadError("referrer: must be a string or null")
    referrer = (referrer or "").strip()[:MAX_URL] or None

    screen_width = _optional_int(_pick(data, "w", "screen_width"), "screen_width", 0, 100_000)

    hash_mode = bool(_pick(data, "h", "hashMode"))
    pathname = parts.path or "/"
    if hash_mode and parts.fragment:
        pathname = f"{pathname}#{parts.fragment}"
    if not pathname.isascii():
        # As browsers report location.pathname: non-ASCII percent-encoded, so one page has one spelling and a
        # path is at most MAX_URL bytes (a page-view index entry must stay under PostgreSQL's ~2.7 kB).
        pathname = quote(pathname, safe=_PATH_SAFE)
    pathname = pathname[:MAX_URL]

    props = _props(_pick(data, "p", "props"))
    amount, currency = _revenue(_pick(data, "$", "revenue"))

    interactive = _pick(data, "i", "interactive")
    if interactive is None:
        interactive = name != "engagement"
    elif not isinstance(interactive, bool):
        raise PayloadError("interactive: must be true or false")

    view_id = _pick(data, "v", "view_id")
    if view_id is not None and (not isinstance(view_id, str) or not VIEW_ID_RE.match(view_id)):
        raise PayloadError("view_id: must be 16-40 characters of A-Z, a-z, 0-9, '-' or '_'")

    scroll_depth = engaged_ms = None
    if name == "engagement":
        scroll_depth = _optional_int(data.get("sd"), "sd", 0, 100, clamp=True)
        engaged_ms = _optional_int(data.get("e"), "e", 0, MAX_ENGAGED_MS, clamp=True)

    checkout_session_id = _checkout_session(parts.query)

    return Incoming(
        name=name,
        url=url,
        hostname=hostname.lower(),
        pathname=pathname,
        domains=domains,
        referrer=referrer,
        screen_width=screen_width,
        props=props,
        revenue_amount=amount,
        revenue_currency=currency,
        interactive=interactive,
        view_id=view_id,
        scroll_depth=scroll_depth,
        engaged_ms=engaged_ms,
        checkout_session_id=checkout_session_id,
    )


def _checkout_session(query):
    """A Stripe Checkout Session id a Payment Link's return page carries (?session_id=cs_…), or ""."""
    if "session_id=cs_" not in query:  # almost every page view: no parsing at all
        return ""
    parsed = parse_qs(query, keep_blank_values=False, max_num_fields=100)
    for key in ("stripe_session_id", "session_id"):
        session = (parsed.get(key) or [""])[-1]
        if CHECKOUT_SESSION_RE.match(session):
            return session
    return ""


def _domains(value):
    if not isinstance(value, str) or not value.strip():
        raise PayloadError("domain: required, the site's domain as registered (comma-separated for several)")
    domains = []
    for item in value.split(","):
        item = strip_www(item.strip().lower().rstrip("."))
        if item and item not in domains:
            domains.append(item)
    if not domains:
        raise PayloadError("domain: required, the site's domain as registered")
    if len(domains) > MAX_DOMAINS:
        raise PayloadError(f"domain: at most {MAX_DOMAINS} domains")
    if any(len(item) > 253 for item in domains):
        raise PayloadError("domain: each domain has at most 253 characters")
    return tuple(domains)


def _optional_int(value, name, low, high, clamp=False):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PayloadError(f"{name}: must be a number")
    if value != value or value in (float("inf"), float("-inf")):  # NaN / infinity
        raise PayloadError(f"{name}: must be a finite number")
    number = int(value)
    if number < low or number > high:
        if clamp:
            return max(low, min(high, number))
        raise PayloadError(f"{name}: must be between {low} and {high}")
    return number


def _props(value):
    if value is None:
        return {}
    if isinstance(value, str):  # older Plausible scripts send JSON.stringify(props)
        try:
            value = json.loads(value)
        except ValueError:
            raise PayloadError("props: must be an object of string values") from None
    if not isinstance(value, dict):
        raise PayloadError("props: must be an object of string values")
    if len(value) > MAX_PROPS:
        raise PayloadError(f"props: at most {MAX_PROPS} properties")
    props = {}
    for key, item in value.items():
        if not key.strip() or len(key) > MAX_PROP_KEY:
            raise PayloadError(f"props: keys must be 1-{MAX_PROP_KEY} characters")
        if not isinstance(item, str):
            raise PayloadError(f"props: the value of {key[:40]!r} must be a string")
        if len(item) > MAX_PROP_VALUE:
            raise PayloadError(f"props: the value of {key[:40]!r} is longer than {MAX_PROP_VALUE} characters")
        if item:
            props[key.strip()] = item
    return props


def _revenue(value):
    if value is None:
        return None, ""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise PayloadError("revenue: must be an object with amount and currency") from None
    if not isinstance(value, dict):
        raise PayloadError("revenue: must be an object with amount and currency")
    amount, currency = value.get("amount"), value.get("currency")
    if isinstance(amount, bool) or not isinstance(amount, (int, float, str)):
        raise PayloadError("revenue: amount must be a number")
    try:
        amount = Decimal(str(amount).strip())
    except InvalidOperation:
        raise PayloadError("revenue: amount must be a number") from None
    if not amount.is_finite() or abs(amount) >= Decimal("1e12"):
        raise PayloadError("revenue: amount must be a finite number below 1e12")
    if not isinstance(currency, str) or not is_currency(currency.strip()):
        raise PayloadError("revenue: currency must be an ISO 4217 code like USD")
    return amount.quantize(Decimal("0.000001")), currency.strip().upper()
