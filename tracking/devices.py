"""Browser, OS, device class and bot verdict from a User-Agent string.

Pure (no Django) and on the ingestion hot path: a warm call is one LRU hit. The raw UA is
only a cache key in this process; what leaves this module is the derived `Device`, whose
free-text fields are capped so a crafted UA cannot smuggle an identifier through them.

Detection order (cheapest and most specific first): empty / too long -> headless browsers
-> HTTP libraries and CLI tools -> ua-parser's "Spider" device -> crawlerdetect's list.
"""

import functools
import math
import re
from dataclasses import dataclass

import ua_parser
from crawlerdetect.providers.crawlers import data as _CRAWLER_PATTERNS
from crawlerdetect.providers.exclusions import data as _CRAWLER_EXCLUSIONS
from ua_parser import Domain

try:  # the Rust regex engine behind ua-parser's fast resolver; optional, checked at import
    import ua_parser_rs
except ImportError:  # pragma: no cover - exercised only where the wheel is unavailable
    ua_parser_rs = None

MAX_UA_LENGTH = 1000
CACHE_SIZE = 10_000
_FIELD_CAP = 40  # longest browser/OS name kept; ua-parser can echo UA fragments into names
_VERSION_CAP = 16

DESKTOP, MOBILE, TABLET, OTHER = "Desktop", "Mobile", "Tablet", "Other"


@dataclass(frozen=True, slots=True)
class Device:
    browser: str = ""
    browser_version: str = ""
    os: str = ""
    os_version: str = ""
    device: str = OTHER
    bot_reason: str | None = None

    @property
    def is_bot(self) -> bool:
        return self.bot_reason is not None


NO_USER_AGENT = Device(bot_reason="no-user-agent")
TOO_LONG = Device(bot_reason="too-long")
HEADLESS = Device(bot_reason="headless")
AUTOMATION = Device(bot_reason="automation")
CRAWLER = Device(bot_reason="crawler")

# Browsers driven by scripts. Playwright's and Puppeteer's Chromium say "HeadlessChrome" by
# default (our own browser tests set a normal UA on the context for that reason).
_HEADLESS_PATTERNS = [
    r"Headless", r"PhantomJS", r"SlimerJS", r"Puppeteer", r"Playwright", r"Lighthouse", r"Electron/",
    r"jsdom", r"HtmlUnit", r"Nightmare", r"Selenium", r"WebDriver", r"Cypress",
]  # fmt: skip
# HTTP libraries and command-line tools: anchored where the name is a common word.
_AUTOMATION_PATTERNS = [
    r"^(?:curl|wget|httpie|python|aiohttp|httpx|node|undici|got|java|dart|deno|bun|ruby|perl|php|faraday"
    r"|guzzlehttp|reqwest|restsharp|insomnia|scrapy|dalvik|cfnetwork|powershell)\b",
    r"python-requests", r"python-urllib", r"go-http-client", r"axios/", r"node-fetch", r"okhttp",
    r"apache-httpclient", r"postmanruntime", r"libwww-perl", r"http_request2", r"winhttp", r"wininet",
]  # fmt: skip
_TV_OR_CONSOLE_PATTERNS = [
    r"(?i:smart-?tv)", r"\bTV (?:Safari|Build)", r"HbbTV", r"Web0S", r"webOS\.TV", r"CrKey", r"\bAFT[A-Z]",
    r"Android TV", r"GoogleTV", r"BRAVIA", r"PlayStation", r"Xbox", r"Nintendo", r"Large Screen",
]  # fmt: skip
_MOBILE_HINTS = ("Mobile", "iPhone", "iPod", "Windows Phone", "BlackBerry", "BB10", "KaiOS", "Opera Mini")
_TABLET_HINTS = ("iPad", "Kindle", "Silk/")

# Plausible's naming: mobile variants collapse into their desktop brand, web views count as an app.
_BROWSER_NAMES = {
    "Chrome Mobile": "Chrome",
    "Chrome Mobile iOS": "Chrome",
    "Chromium": "Chrome",
    "Mobile Safari": "Safari",
    "Firefox Mobile": "Firefox",
    "Firefox iOS": "Firefox",
    "Edge Mobile": "Edge",
    "Opera Mobile": "Opera",
    "Opera Mini": "Opera",
    "Opera Touch": "Opera",
    "IE": "Internet Explorer",
    "IE Mobile": "Internet Explorer",
    "Yandex Browser Lite": "Yandex Browser",
    "DuckDuckGo Mobile": "DuckDuckGo",
    "Chrome Mobile WebView": "Mobile App",
    "Mobile Safari UI/WKWebView": "Mobile App",
}
_OS_NAMES = {
    "Mac OS X": "Mac",
    "Ubuntu": "Linux",
    "Debian": "Linux",
    "Fedora": "Linux",
    "Red Hat": "Linux",
    "Linux Mint": "Linux",
    "Arch Linux": "Linux",
    "openSUSE": "Linux",
    "Gentoo": "Linux",
    "Kubuntu": "Linux",
    "Mandriva": "Linux",
    "Slackware": "Linux",
}
_DESKTOP_OS = frozenset({"Windows", "Mac", "Linux", "Chrome OS", "FreeBSD", "OpenBSD", "NetBSD", "Solaris"})


class _Engines:
    """Built on first use (about 0.6 s, mostly ua-parser's matchers and the crawler list)."""

    def __init__(self):
        resolver = ua_parser.BestAvailableResolver
        # The compiled resolvers (Rust, re2) want the lazy matchers; the pure-Python one the eager.
        lazy = resolver is not ua_parser.BasicResolver
        matchers = ua_parser.load_lazy_builtins() if lazy else ua_parser.load_builtins()
        # No ua-parser cache: parse_user_agent() caches the whole verdict instead.
        self.ua_parser = ua_parser.Parser(resolver(matchers))
        self.is_headless = any_match(_HEADLESS_PATTERNS, ignore_case=True)
        self.is_automation = any_match(_AUTOMATION_PATTERNS, ignore_case=True)
        self.is_tv_or_console = any_match(_TV_OR_CONSOLE_PATTERNS)
        self.looks_like_crawler = any_match(_CRAWLER_PATTERNS, ignore_case=True)
        self.crawler_exclusions = re.compile("|".join(_CRAWLER_EXCLUSIONS), re.IGNORECASE)

    def is_crawler(self, ua):
        # crawlerdetect first strips the tokens every browser sends ("Mozilla/5.0", "Linux", and
        # phone models such as "cubot"), then looks for bot names. Stripping costs ~35 µs in
        # Python's re, so only UAs that already look like a crawler pay for it.
        if not self.looks_like_crawler(ua):
            return False
        agent = self.crawler_exclusions.sub("", ua)
        return bool(agent) and self.looks_like_crawler(agent)


def any_match(patterns, *, ignore_case=False):
    """A fast "does any of these patterns match?" test over many regexes.

    Python's `re` takes ~20 µs per UA for a dozen case-insensitive alternatives and ~400 µs for
    crawlerdetect's ~1,500; ua-parser-rs (a Rust regex set, already here for ua-parser's speed)
    takes 1-6 µs. Patterns Rust's syntax cannot express (look-arounds) stay in a Python regex.
    """
    prefix = "(?i)" if ignore_case else ""
    rust, python = [], []
    for pattern in patterns:
        entry = (prefix + pattern, "match", None, None, None, None)
        if ua_parser_rs is None:
            python.append(pattern)
            continue
        try:
            ua_parser_rs.UserAgentExtractor([entry])
        except ValueError:
            python.append(pattern)
        else:
            rust.append(entry)
    rust_set = ua_parser_rs.UserAgentExtractor(rust) if rust else None
    python_re = re.compile("|".join(python), re.IGNORECASE if ignore_case else 0) if python else None

    def matches(text):
        if rust_set is not None and rust_set.extract(text) is not None:
            return True
        return python_re is not None and python_re.search(text) is not None

    return matches


@functools.lru_cache(maxsize=1)
def _engines():
    return _Engines()


def warm_up():
    """Build the parsers now (e.g. in a gunicorn worker before its first request)."""
    _engines()


def parse_user_agent(ua: str | None) -> Device:
    if not ua:
        return NO_USER_AGENT
    if len(ua) > MAX_UA_LENGTH:  # checked before the cache so huge strings are never kept
        return TOO_LONG
    return _parse(ua)


@functools.lru_cache(maxsize=CACHE_SIZE)
def _parse(ua: str) -> Device:
    ua = ua.strip()
    if not ua:
        return NO_USER_AGENT
    engines = _engines()
    if engines.is_headless(ua):
        return HEADLESS
    if engines.is_automation(ua):
        return AUTOMATION
    result = engines.ua_parser(ua, Domain.ALL)
    device = result.device
    if (device is not None and device.family == "Spider") or engines.is_crawler(ua):
        return CRAWLER

    browser = browser_version = os_name = os_version = ""
    if result.user_agent is not None:
        family = result.user_agent.family
        browser = _BROWSER_NAMES.get(family, family)[:_FIELD_CAP]
        if browser != "Mobile App":
            browser_version = _major_minor(result.user_agent.major, result.user_agent.minor)
    if result.os is not None:
        os_name = _OS_NAMES.get(result.os.family, result.os.family)[:_FIELD_CAP]
        os_version = _major_minor(result.os.major, result.os.minor)
    if browser == "Other":
        browser = ""
    if os_name == "Other":
        os_name = ""
    return Device(
        browser=browser,
        browser_version=browser_version,
        os=os_name,
        os_version=os_version,
        device=_device_class(ua, os_name, device, engines),
    )


def _major_minor(major, minor):
    if not major:
        return ""
    version = f"{major}.{minor}" if minor else major
    return version[:_VERSION_CAP]


def _device_class(ua, os_name, device, engines):
    family = device.family if device is not None else ""
    brand = (device.brand or "") if device is not None else ""
    if engines.is_tv_or_console(ua):
        return OTHER
    if family in ("iPad", "Kindle") or brand.endswith("Tablet") or any(hint in ua for hint in _TABLET_HINTS):
        return TABLET
    if "Tablet" in ua and "Tablet PC" not in ua:  # "Tablet PC" is Windows pen input on laptops
        return TABLET
    if os_name == "Android":
        # Android browsers put "Mobile" in phone UAs and leave it out on tablets.
        return MOBILE if "Mobile" in ua else TABLET
    if os_name == "iOS" or any(hint in ua for hint in _MOBILE_HINTS):
        return MOBILE
    if os_name in _DESKTOP_OS:
        return DESKTOP
    return OTHER


def screen_class(width) -> str:
    """Plausible's screen-size buckets from the viewport width in CSS pixels ("" when unusable)."""
    if isinstance(width, bool) or not isinstance(width, int | float):
        return ""
    if not math.isfinite(width) or width <= 0 or width > 100_000:
        return ""
    if width < 576:
        return "Mobile"
    if width < 992:
        return "Tablet"
    if width < 1440:
        return "Laptop"
    return "Desktop"
