"""Where a visit came from: referrer, UTM tags and click ids -> source and channel. Pure; no Django.

The ingestion view calls `classify()` once per page view, so everything it needs is precomputed at
import: `data/referrers.json` (built by scripts/build_referrers.py from Snowplow's referer-parser list
plus our additions) maps ~1,900 hosts to a named source and a medium category.

Source, in order: the page URL's `utm_source`, else its `ref`, else its `source` parameter (known values
mapped case-insensitively: "fb" -> "Facebook", "news.ycombinator.com" -> "Hacker News", unknown ones kept
as given); else the ad platform of a paid click id (gclid -> "Google", msclkid -> "Bing", as GA4's
auto-tagging does, whatever the referrer); else the referrer's named source, or its host when unknown;
else "Facebook" for a lone fbclid (in-app browsers often send no referrer); else "Direct / None".
A referrer on the site's own domain (or a subdomain, "www." ignored) and payment or sign-in pages (Stripe
Checkout, PayPal, Paddle, Lemon Squeezy, Gumroad, accounts.google.com …) are never a source: the visitor
is returning, not arriving, so they give "Direct / None" unless the page URL is tagged.

The category behind the channel is the tagged source's own medium when it is known, else the referrer's
("?ref=newsletter" arriving from Gmail is Email), so fewer visits end up Unassigned than in GA4.

Channels: GA4's default channel grouping, with an AI Assistants channel. First matching row wins.
  m = utm_medium (lower-cased), s = utm_source/ref/source value, cat = the source's medium category.
  | channel        | rule                                                                                  |
  | Direct         | no referrer (or only a self/payment/sign-in one), no tags; or s = "(direct)"/"direct" |
  |                | with m empty / "(none)" / "(not set)"                                                 |
  | Cross-network  | campaign contains "cross-network", or m = "cross-network" (Performance Max)           |
  | Paid Search    | paid (m ~ ^(.*cp.*|ppc|retargeting|paid.*)$, or a paid click id) and cat = search,    |
  |                | or a gclid/gbraid/wbraid/msclkid without utm_source (GA4's google / cpc)              |
  | Paid Social    | paid and cat = social, or ttclid/twclid/li_fat_id without utm_source                 |
  | Paid Video     | paid and cat = video                                                                  |
  | Display        | paid and m in display/banner/expandable/interstitial/cpm; or any such m; or cat = ads |
  | Paid Other     | paid, none of the above                                                               |
  | Email          | m in email/e-mail/e_mail/e mail/newsletter/mail, or s in email/e-mail/e_mail/e mail,  |
  |                | or cat = email (Gmail, Outlook, Substack, Beehiiv, Mailchimp links …)                 |
  | Affiliates     | m in affiliate/affiliates, or cat = affiliate                                         |
  | SMS            | m = sms or s = sms                                                                    |
  | Audio          | m in audio/podcast, or cat = audio                                                    |
  | Push           | m ends with "push" or contains "mobile"/"notification", or s = firebase               |
  | AI Assistants  | m in ai/llm/chatbot, or cat = ai (chatgpt.com, perplexity.ai, claude.ai, gemini …)    |
  | Organic Search | cat = search, or m = organic                                                          |
  | Organic Social | cat = social, or m in social/social-network/social-media/sm/social network/…          |
  | Organic Video  | cat = video, or m contains "video"                                                    |
  | Referral       | m in referral/app/link, cat = referral, or any other referrer host                    |
  | Unassigned     | tagged (UTM, ref/source or a click id) but nothing above matched                      |
  Order of checks: Direct, Cross-network, paid rows, Display, the m/s rows of Email … AI Assistants,
  then cat rows (search, social, video, ai, email, audio, affiliate, ads), then the generic m rows
  (social, video, organic, referral), then Referral, Unassigned. Unlike GA4, an explicit email/affiliate/
  sms/audio/push medium beats the source list (utm_source=facebook&utm_medium=email is Email).
  fbclid alone is NOT paid: Facebook adds it to organic outbound clicks too; cpc/paid in m makes it paid.
"""

import json
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote_plus, urlsplit

from sites.domains import strip_www

DATA_FILE = Path(__file__).resolve().parent / "data" / "referrers.json"
DIRECT = "Direct / None"
MAX_REFERRER = 500
MAX_VALUE = 200
MAX_INPUT = 8192  # longer URLs are cut before parsing: the hot path never does unbounded work
MAX_PARAMS = 100

CHANNELS = (
    "Direct",
    "Organic Search",
    "Paid Search",
    "Organic Social",
    "Paid Social",
    "Organic Video",
    "Paid Video",
    "Email",
    "Referral",
    "AI Assistants",
    "Affiliates",
    "Display",
    "Cross-network",
    "SMS",
    "Audio",
    "Push",
    "Paid Other",
    "Unassigned",
)

# First present wins; fbclid last, as it says least (it is on organic clicks too).
CLICK_IDS = ("gclid", "gbraid", "wbraid", "msclkid", "ttclid", "li_fat_id", "twclid", "fbclid")
CLICK_ID_SOURCES = {
    "gclid": "Google",
    "gbraid": "Google",
    "wbraid": "Google",
    "msclkid": "Bing",
    "ttclid": "TikTok",
    "li_fat_id": "LinkedIn",
    "twclid": "X (Twitter)",
    "fbclid": "Facebook",
}
PAID_CLICK_CHANNELS = {
    "gclid": "Paid Search",
    "gbraid": "Paid Search",
    "wbraid": "Paid Search",
    "msclkid": "Paid Search",
    "ttclid": "Paid Social",
    "li_fat_id": "Paid Social",
    "twclid": "Paid Social",
}
UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")
_WANTED = frozenset((*UTM_FIELDS, "ref", "source", *CLICK_IDS))

NEVER_A_SOURCE = frozenset(("payment", "auth"))
_PAID_MEDIUM = re.compile(r"^(.*cp.*|ppc|retargeting|paid.*)$")
_DISPLAY_MEDIUMS = frozenset(("display", "banner", "expandable", "interstitial", "cpm"))
_EMAIL_SOURCES = frozenset(("email", "e-mail", "e_mail", "e mail"))
_EMAIL_MEDIUMS = _EMAIL_SOURCES | {"newsletter", "mail"}
_SOCIAL_MEDIUMS = frozenset(("social", "social-network", "social-media", "sm", "social network", "social media"))
_AI_MEDIUMS = frozenset(("ai", "llm", "chatbot"))
_DIRECT_MEDIUMS = frozenset(("", "none", "(none)", "(not set)"))
_STRONG_CATEGORIES = {
    "search": "Organic Search",
    "social": "Organic Social",
    "video": "Organic Video",
    "ai": "AI Assistants",
    "email": "Email",
    "audio": "Audio",
    "affiliate": "Affiliates",
    "ads": "Display",
}
_PAID_CATEGORIES = {"search": "Paid Search", "social": "Paid Social", "video": "Paid Video"}

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ASCII_HOST = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*")
_ANDROID_PACKAGE = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+")
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class TrafficSource:
    referrer_host: str  # without "www."; "" for none, self-referrals and payment pages
    referrer: str  # scheme://host[:port]/path, no credentials, query or fragment, ≤ 500 chars
    source: str  # a named source, the referrer host, a tagged value, or DIRECT
    channel: str  # one of CHANNELS
    utm_source: str = ""
    utm_medium: str = ""
    utm_campaign: str = ""
    utm_content: str = ""
    utm_term: str = ""
    click_id: str = ""  # the name of the click id parameter ("gclid"), never its value


def load_data(path=DATA_FILE):
    """(hosts, source mediums, aliases) from the generated data file."""
    with open(path, encoding="utf-8") as file:
        data = json.load(file)
    hosts = {host: (source, medium) for host, (source, medium) in data["hosts"].items()}
    return hosts, data["sources"], data["aliases"]


_HOSTS, _SOURCE_MEDIUMS, _ALIASES = load_data()


CACHE_SIZE = 16_384
_cache = {}


def classify(*, page_url, referrer, site_domain):
    """The TrafficSource of one page view. Never raises: bad input degrades to Direct / None.

    Only the URL's query string, the referrer and the site's domain decide it, and the same few
    combinations repeat across most traffic: results are cached per process (bounded).
    """
    query = page_url[:MAX_INPUT].partition("?")[2].partition("#")[0] if isinstance(page_url, str) else None
    key = (query, referrer, site_domain)
    try:
        found = _cache.get(key)
    except TypeError:  # an unhashable referrer (not a string): not worth caching
        return _classify(page_url=page_url, referrer=referrer, site_domain=site_domain)
    if found is None:
        if len(_cache) >= CACHE_SIZE:
            _cache.clear()
        found = _cache[key] = _classify(page_url=page_url, referrer=referrer, site_domain=site_domain)
    return found


def _classify(*, page_url, referrer, site_domain):
    params = _query_params(page_url)
    click_id = next((name for name in CLICK_IDS if name in params), "")
    tagged = params.get("utm_source") or params.get("ref") or params.get("source") or ""

    referrer_host, referrer_url, referrer_entry = "", "", None
    parsed = _parse_referrer(referrer)
    if parsed is not None:
        host, url = parsed
        bare = strip_www(host)
        own = strip_www(site_domain.strip().lower()) if isinstance(site_domain, str) else ""
        referrer_entry = _lookup_host(bare)
        is_own = bool(own) and (bare == own or bare.endswith("." + own))
        if is_own or (referrer_entry is not None and referrer_entry[1] in NEVER_A_SOURCE):
            referrer_entry = None
        else:
            referrer_host, referrer_url = bare, url

    category = referrer_entry[1] if referrer_entry else None
    if tagged:
        source, tagged_category = _named(tagged)
        category = tagged_category or category
    elif click_id in PAID_CLICK_CHANNELS:
        source = CLICK_ID_SOURCES[click_id]
        category = _SOURCE_MEDIUMS.get(source)
    elif referrer_entry:
        source = referrer_entry[0]
    elif referrer_host:
        source = referrer_host
    elif click_id:
        source = CLICK_ID_SOURCES[click_id]
        category = _SOURCE_MEDIUMS.get(source)
    else:
        source = DIRECT

    channel = _channel(
        medium=params.get("utm_medium", "").lower(),
        tagged=tagged.lower(),
        campaign=params.get("utm_campaign", "").lower(),
        category=category,
        click_id=click_id,
        has_referrer=bool(referrer_host),
        has_tags=bool(params),
    )
    return TrafficSource(
        referrer_host=referrer_host,
        referrer=referrer_url,
        source=source[:MAX_VALUE],
        channel=channel,
        click_id=click_id,
        **{field: params.get(field, "") for field in UTM_FIELDS},
    )


def _channel(*, medium, tagged, campaign, category, click_id, has_referrer, has_tags):
    if tagged in ("direct", "(direct)") and medium in _DIRECT_MEDIUMS:
        return "Direct"
    if "cross-network" in campaign or medium == "cross-network":
        return "Cross-network"
    if _PAID_MEDIUM.match(medium) or click_id in PAID_CLICK_CHANNELS:
        if category in _PAID_CATEGORIES:
            return _PAID_CATEGORIES[category]
        if not tagged and click_id in PAID_CLICK_CHANNELS:
            return PAID_CLICK_CHANNELS[click_id]
        return "Display" if medium in _DISPLAY_MEDIUMS else "Paid Other"
    if medium in _DISPLAY_MEDIUMS:
        return "Display"
    if medium in _EMAIL_MEDIUMS or tagged in _EMAIL_SOURCES:
        return "Email"
    if medium in ("affiliate", "affiliates"):
        return "Affiliates"
    if medium == "sms" or tagged == "sms":
        return "SMS"
    if medium in ("audio", "podcast"):
        return "Audio"
    if medium.endswith("push") or "mobile" in medium or "notification" in medium or tagged == "firebase":
        return "Push"
    if medium in _AI_MEDIUMS:
        return "AI Assistants"
    if category in _STRONG_CATEGORIES:
        return _STRONG_CATEGORIES[category]
    if medium in _SOCIAL_MEDIUMS:
        return "Organic Social"
    if "video" in medium:
        return "Organic Video"
    if medium == "organic":
        return "Organic Search"
    if medium in ("referral", "app", "link") or category == "referral" or has_referrer:
        return "Referral"
    return "Unassigned" if has_tags else "Direct"


def _named(value):
    """(source name, medium category or None) for a utm_source / ref / source value."""
    key = value.lower()
    name = _ALIASES.get(key)
    if name is not None:
        return name, _SOURCE_MEDIUMS.get(name)
    if "." in key:
        entry = _lookup_host(strip_www(key))
        if entry is not None and entry[1] not in NEVER_A_SOURCE:
            return entry
    return value, None


def _lookup_host(host):
    """(source, medium) for the host or its nearest listed parent domain ("images.google.de" -> google.de)."""
    while True:
        entry = _HOSTS.get(host)
        if entry is not None:
            return entry
        host = host.partition(".")[2]
        if "." not in host:  # a bare TLD is never a listed host
            return None


def _query_params(page_url):
    """The first non-empty value of each parameter we care about, cleaned; keys case-insensitive."""
    if not isinstance(page_url, str):
        return {}
    query = page_url[:MAX_INPUT].partition("?")[2].partition("#")[0]
    found = {}
    if not query:
        return found
    for pair in query.split("&", MAX_PARAMS)[:MAX_PARAMS]:
        key, _, value = pair.partition("=")
        key = (unquote_plus(key) if "%" in key or "+" in key else key).strip().lower()
        if key in _WANTED and key not in found:
            value = _clean(unquote_plus(value))
            if value:
                found[key] = value
    return found


def _parse_referrer(referrer):
    """(host, normalised URL) for an http(s) or android-app referrer, or None."""
    if not isinstance(referrer, str):
        return None
    referrer = _CONTROL.sub("", referrer[:MAX_INPUT]).strip()
    scheme = referrer[:14].lower()
    if scheme.startswith("android-app://"):
        package = referrer[14:].partition("/")[0].lower()
        if len(package) <= 253 and _ANDROID_PACKAGE.fullmatch(package):
            return package, f"android-app://{package}"
        return None
    if not scheme.startswith(("http://", "https://")):
        return None
    try:
        parts = urlsplit(referrer)
        host, port = parts.hostname, parts.port
    except ValueError:  # a bad port or a broken IPv6 literal
        return None
    host = _clean_host(host)
    if host is None:
        return None
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[parts.scheme.lower()]:
        netloc = f"{netloc}:{port}"
    return host, f"{parts.scheme.lower()}://{netloc}{parts.path or '/'}"[:MAX_REFERRER]


def _clean_host(host):
    """A lower-case host name (Unicode for IDNs), an IP address, or None if it is not a plausible host."""
    if not host:
        return None
    host = host.rstrip(".")
    if not host or len(host) > 253:
        return None
    if _ASCII_HOST.fullmatch(host):
        if "xn--" in host:
            try:
                return host.encode("ascii").decode("idna")
            except UnicodeError:
                return None
        return host
    if ":" in host:  # urlsplit() has already checked IPv6 literals
        return host if all(c in "0123456789abcdef:." for c in host) else None
    if ".." in host or not all(c.isalnum() or c in "-_." for c in host):
        return None
    try:
        host.encode("idna")
    except UnicodeError:
        return None
    return host


def _clean(value):
    return _CONTROL.sub("", value).strip()[:MAX_VALUE].strip()
