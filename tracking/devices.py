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
_HEADLESS = re.compile(
    r"HeadlessChrome|Headless|PhantomJS|SlimerJS|Puppeteer|Playwright|Lighthouse|Electron/"
    r"|jsdom|HtmlUnit|Nightmare|Selenium|WebDriver|Cypress",
    re.IGNORECASE,
)
# HTTP libraries and command-line tools: anchored where the name is a common word.
_AUTOMATION = re.compile(
    r"^(?:curl|wget|httpie|python|aiohttp|httpx|node|undici|got|java|dart|deno|bun|ruby|perl|php"
    r"|faraday|guzzlehttp|reqwest|restsharp|insomnia|scrapy|dalvik|cfnetwork|powershell)\b"
    r"|python-requests|python-urllib|go-http-client|axios/|node-fetch|okhttp|apache-httpclient"
    r"|postmanruntime|libwww-perl|http_request2|winhttp|wininet",
    re.IGNORECASE,
)

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
_TV_OR_CONSOLE = re.compile(
    r"Smart-?TV|\bTV (?:Safari|Build)|HbbTV|Web0S|webOS\.TV|CrKey|\bAFT[A-Z]|Android TV|GoogleTV|BRAVIA"
    r"|PlayStation|Xbox|Nintendo|Large Screen",
    re.IGNORECASE,
)
_TABLET = re.compile(r"Tablet(?! PC)|\biPad\b|Kindle|\bSilk/")  # "Tablet PC" is Windows pen input
_MOBILE = re.compile(r"Mobile|iPhone|iPod|Windows Phone|BlackBerry|BB10|KaiOS|Opera Mini")


class _Engines:
    """Built on first use (about 0.6 s: ua-parser's matchers and the crawler list)."""

    def __init__(self):
        resolver = ua_parser.BestAvailableResolver
        # The compiled resolvers (Rust, re2) want the lazy matchers; the pure-Python one the eager.
        lazy = resolver is not ua_parser.BasicResolver
        matchers = ua_parser.load_lazy_builtins() if lazy else ua_parser.load_builtins()
        # No ua-parser cache: parse_user_agent() caches the whole verdict instead.
        self.ua_parser = ua_parser.Parser(resolver(matchers))
        self.exclusions = re.compile("|".join(_CRAWLER_EXCLUSIONS), re.IGNORECASE)
        self.is_crawler = _crawler_matcher(_CRAWLER_PATTERNS)


def _crawler_matcher(patterns):
    """One fast test over crawlerdetect's ~1,500 patterns.

    Python's `re` takes ~400 µs per UA on the combined alternation; ua-parser-rs (a Rust regex
    set, already a dependency for ua-parser's speed) takes ~2 µs. The few patterns Rust's regex
    syntax cannot express (look-arounds) stay in a small Python regex.
    """
    rust, python = [], []
    for pattern in patterns:
        if ua_parser_rs is None:
            python.append(pattern)
            continue
        try:
            ua_parser_rs.UserAgentExtractor([("(?i)" + pattern, "crawler", None, None, None, None)])
        except ValueError:
            python.append(pattern)
        else:
            rust.append(("(?i)" + pattern, "crawler", None, None, None, None))
    rust_set = ua_parser_rs.UserAgentExtractor(rust) if rust else None
    python_re = re.compile("|".join(python), re.IGNORECASE) if python else None

    def is_crawler(agent):
        if rust_set is not None and rust_set.extract(agent) is not None:
            return True
        return python_re is not None and python_re.search(agent) is not None

    return is_crawler


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
    if _HEADLESS.search(ua):
        return HEADLESS
    if _AUTOMATION.search(ua):
        return AUTOMATION
    engines = _engines()
    result = engines.ua_parser(ua, Domain.ALL)
    device = result.device
    if device is not None and device.family == "Spider":
        return CRAWLER
    # crawlerdetect strips the tokens every browser sends before it looks for bot names.
    agent = engines.exclusions.sub("", ua).strip()
    if agent and engines.is_crawler(agent):
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
        device=_device_class(ua, os_name, device),
    )


def _major_minor(major, minor):
    if not major:
        return ""
    version = f"{major}.{minor}" if minor else major
    return version[:_VERSION_CAP]


def _device_class(ua, os_name, device):
    family = device.family if device is not None else ""
    brand = (device.brand or "") if device is not None else ""
    if _TV_OR_CONSOLE.search(ua):
        return OTHER
    if family in ("iPad", "Kindle") or brand.endswith("Tablet") or _TABLET.search(ua):
        return TABLET
    if os_name == "Android":
        # Android browsers put "Mobile" in phone UAs and leave it out on tablets.
        return MOBILE if "Mobile" in ua else TABLET
    if os_name == "iOS" or _MOBILE.search(ua):
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
