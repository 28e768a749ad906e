"""From a validated payload and the request's headers to records ready to store.

This is the hot path's enrichment: cheap, cached lookups only. The IP address and the User-Agent are
used here to hash the visitor and to derive coarse fields, and go no further: records carry neither.
"""

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings

from sites.domains import strip_www
from sites.models import Site
from tracking import devices, geo, privacy, sources
from tracking.services import salt_for_day

SITE_CACHE_SECONDS = 60
MISSING_SITE_CACHE_SECONDS = 10
LOCATION_CACHE_SIZE = 16_384
_LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]", "::1", "0.0.0.0")  # noqa: S104 - a host name, not a bind


@dataclass(frozen=True)
class SiteInfo:
    id: int
    domain: str
    respect_gpc: bool


class Dropped(Exception):
    """The event is accepted (202) but not stored; `reason` goes into X-Humblytics-Dropped."""

    def __init__(self, reason, site_ids=()):
        super().__init__(reason)
        self.reason = reason
        self.site_ids = site_ids


_sites = {}


def site_lookup(domain, *, now=None):
    now = now or time.monotonic()
    cached = _sites.get(domain)
    if cached is not None and cached[1] > now:
        return cached[0]
    row = Site.objects.filter(domain=domain).values_list("id", "domain", "respect_gpc").first()
    info = SiteInfo(*row) if row else None
    if len(_sites) > 10_000:  # unknown domains are attacker-controlled: bound the cache
        _sites.clear()
    _sites[domain] = (info, now + (SITE_CACHE_SECONDS if info else MISSING_SITE_CACHE_SECONDS))
    return info


def site_cache_clear():
    _sites.clear()


_location_key = secrets.token_bytes(16)  # per process, never stored
_locations = {}


def _locate(ip):
    """geo.lookup of an address (~50 µs: the reader builds a dict of every name in every language).

    A visitor's page views, events and engagement come from one address within minutes, so most lookups
    repeat. The cache is keyed by a keyed hash of the address, not the address: no IP outlives its request,
    even in memory.
    """
    key = hashlib.blake2b(ip.encode(), key=_location_key, digest_size=16).digest()
    location = _locations.get(key)
    if location is None:
        if len(_locations) >= LOCATION_CACHE_SIZE:
            _locations.clear()
        location = _locations[key] = geo.lookup(ip)
    return location


def location_cache_clear():
    _locations.clear()


def is_local_host(host):
    return host in _LOCAL_HOSTS or host.endswith(".localhost") or host.startswith("127.")


def build_records(incoming, meta, *, now=None):
    """Records for every known site the event names, or raises Dropped.

    `meta` is the WSGI environ (request.META).
    """
    now = now or time.time()
    sites = [site for site in (site_lookup(domain) for domain in incoming.domains) if site is not None]
    if not sites:
        raise Dropped("unknown-domain")
    site_ids = tuple(site.id for site in sites)
    day = datetime.fromtimestamp(now, UTC).date()

    def drop(reason):
        return Dropped(reason, site_ids)

    if is_local_host(incoming.hostname):
        raise drop("localhost")
    user_agent = meta.get("HTTP_USER_AGENT", "")
    device = devices.parse_user_agent(user_agent)
    if device.bot_reason:
        raise drop("bot")
    if meta.get("HTTP_SEC_GPC") == "1" and all(site.respect_gpc for site in sites):
        raise drop("opted-out")

    kind = "pageview" if incoming.is_pageview else "engagement" if incoming.is_engagement else "event"
    if kind == "engagement":
        if incoming.view_id is None:
            raise drop("engagement-without-view")
        # Engagement only raises its page view's engaged time and scroll depth (services._store_engagements):
        # no visitor hash, location or source to compute, and a small record to queue.
        return [
            {
                "kind": kind,
                "site": site.id,
                "ts": now,
                "view_id": incoming.view_id,
                "name": incoming.name,
                "scroll_depth": incoming.scroll_depth,
                "engaged_ms": incoming.engaged_ms,
            }
            for site in sites
        ]

    ip = privacy.client_ip(meta, settings.TRUSTED_PROXY_COUNT)
    location = geo.lookup(ip, meta.get(_country_meta_key())) if settings.GEOIP_COUNTRY_HEADER else _locate(ip)
    salt = salt_for_day(day)
    previous_salt = salt_for_day(day - timedelta(days=1), create=False)

    view_id = incoming.view_id or secrets.token_urlsafe(16)
    records = []
    for site in sites:
        source = sources.classify(page_url=incoming.url, referrer=incoming.referrer, site_domain=site.domain)
        records.append(
            {
                "kind": kind,
                "site": site.id,
                "ts": now,
                "view_id": view_id,
                "name": incoming.name,
                "visitor": privacy.visitor_id(salt=salt, site_id=site.id, ip=ip, user_agent=user_agent),
                "prev_visitor": privacy.visitor_id(salt=previous_salt, site_id=site.id, ip=ip, user_agent=user_agent)
                if previous_salt
                else None,
                "hostname": strip_www(incoming.hostname),
                "pathname": incoming.pathname,
                "props": incoming.props,
                "interactive": incoming.interactive,
                "revenue_amount": str(incoming.revenue_amount) if incoming.revenue_amount is not None else None,
                "revenue_currency": incoming.revenue_currency,
                "scroll_depth": incoming.scroll_depth,
                "engaged_ms": incoming.engaged_ms,
                "checkout_session_id": incoming.checkout_session_id,
                "referrer": source.referrer,
                "referrer_host": source.referrer_host,
                "source": source.source,
                "channel": source.channel,
                "utm_source": source.utm_source,
                "utm_medium": source.utm_medium,
                "utm_campaign": source.utm_campaign,
                "utm_content": source.utm_content,
                "utm_term": source.utm_term,
                "click_id": source.click_id,
                "country": location.country,
                "region": location.region,
                "city": location.city,
                "browser": device.browser,
                "browser_version": device.browser_version,
                "os": device.os,
                "os_version": device.os_version,
                "device": device.device,
                "screen_class": devices.screen_class(incoming.screen_width),
            }
        )
    return records


def drop_records(dropped, *, now=None):
    day = datetime.fromtimestamp(now or time.time(), UTC).date().isoformat()
    return [{"kind": "drop", "site": site_id, "day": day, "reason": dropped.reason} for site_id in dropped.site_ids]


def _country_meta_key():
    return "HTTP_" + settings.GEOIP_COUNTRY_HEADER.upper().replace("-", "_")
