"""Bulk demo traffic for one site, written straight into the tracking tables with COPY.

`make bench-dashboard` seeds 10 million page views in about 3 million visits over 90 days; `python
bench/seed.py --pageviews 200000` seeds a smaller site into the database of DATABASE_URL. The shape:
- volume: a page view budget per UTC day, growing 50% over the period, weekends at ~65%, a US+EU
  hour-of-day curve; a day's visitors are drawn until its budget is spent (so the total is exact);
- visitors: ids change every UTC day (the daily salt), each id makes 1-5 visits that day (mean 1.44),
  31+ minutes apart, from the same country and device; repeat visits are mostly Direct;
- visits: 49% one page (a few of those with an event, so ~45% bounce), the rest 2 + geometric pages;
- Zipf-like long tails: ~2,000 pages (entry pages weighted to the blog and landing pages), ~200 sources
  (real search/social/AI/email hosts plus referring blogs; utm campaigns on 15% of visits) whose source
  and channel come from tracking.sources.classify, so they are exactly what ingestion would store;
  ~100 countries with regions and cities; browser/OS/device combinations with realistic shares;
- custom events on a few % of visits: Signup {plan}, Purchase {plan, billing} with revenue, and
  Outbound Link: Click {url}.
Every random choice comes from a Random seeded with (seed, day), so a seed and an end date give the
same rows, whichever order the days are generated in.

Speed (a 2-core machine): the day's rows are pre-formatted COPY text lines. For a big load the
tables' indexes, unique and foreign keys are dropped first and rebuilt after the COPY in one transaction, so a
crash or Ctrl-C rolls back to the tables exactly as they were; then VACUUM ANALYZE (visibility map, statistics).
"""

import argparse
import bisect
import itertools
import os
import random
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

# --- what the site looks like -------------------------------------------------------------------
HOSTNAME = "benchdash.example"
TIMEZONE = "Europe/Berlin"
GOALS = [("event", "Signup"), ("event", "Purchase"), ("page", "/pricing"), ("page", "/blog/*")]

# UTC hours: Europe's morning, then the Americas' day.
HOUR_WEIGHTS = [25, 18, 14, 12, 12, 16, 28, 45, 62, 72, 76, 78, 80, 86, 96, 100, 98, 92, 84, 74, 62, 50, 40, 31]
WEEKDAY_WEIGHTS = [1.0, 1.04, 1.03, 1.0, 0.9, 0.64, 0.66]  # Monday first
GROWTH = 0.5  # the last day has 50% more traffic than the first
VISITS_PER_VISITOR = [0.72, 0.17, 0.07, 0.03, 0.01]  # 1..5 visits per daily visitor id
SINGLE_PAGE_SHARE = 0.49
EXTRA_PAGES_MEAN = 3.9  # multi-page visits: 2 + floor(exponential) more pages (mean ~3.4)
MAX_PAGES = 60
UTM_SHARE = 0.17  # repeat visits are mostly Direct: ~15% of all visits carry a campaign
REPEAT_DIRECT_SHARE = 0.55
SIGNUP_SHARE, PURCHASE_SHARE, OUTBOUND_SHARE = 0.025, 0.008, 0.04
UNKNOWN_GEO_SHARE = 0.03


def _zipf(n, s=1.07, offset=1.0):
    return [1.0 / (i + offset) ** s for i in range(n)]


# --- pages --------------------------------------------------------------------------------------
_WORDS = [
    "analytics", "privacy", "cookie", "consent", "growth", "funnel", "retention", "revenue", "stripe", "churn",
    "pricing", "launch", "seo", "content", "marketing", "dashboard", "metrics", "conversion", "startup", "saas",
    "bootstrapped", "indie", "founder", "email", "newsletter", "landing", "page", "speed", "performance", "tracking",
    "goals", "campaign", "attribution", "referral", "traffic", "source", "channel", "django", "python", "postgres",
    "redis", "scaling", "caching", "deploy", "docker", "kubernetes", "serverless", "edge", "cdn",
]  # fmt: skip
CORE_PAGES = [
    "/", "/pricing", "/features", "/blog", "/docs", "/signup", "/login", "/about", "/contact", "/changelog",
    "/integrations", "/customers", "/security", "/privacy", "/terms", "/checkout", "/checkout/success",
    "/compare/google-analytics", "/compare/plausible", "/compare/fathom", "/careers", "/press", "/status",
]  # fmt: skip


def build_pages(n_pages, rng):
    """(pages, entry cumulative weights, next-page cumulative weights), ~n_pages paths."""
    pages = list(CORE_PAGES)
    seen = set(pages)
    sections = [("/blog/", 0.55), ("/docs/", 0.3), ("/integrations/", 0.05), ("/customers/", 0.05), ("/guides/", 0.05)]
    docs_groups = ["getting-started", "tracking", "api", "goals", "revenue", "self-hosting", "account", "dashboard"]
    while len(pages) < n_pages:
        prefix = rng.choices([s for s, _ in sections], weights=[w for _, w in sections])[0]
        slug = "-".join(rng.sample(_WORDS, rng.randint(2, 5)))
        path = f"{prefix}{rng.choice(docs_groups)}/{slug}" if prefix == "/docs/" else prefix + slug
        if path not in seen:
            seen.add(path)
            pages.append(path)
    # A Zipf tail over a shuffled order, with the core pages at the head.
    tail = pages[len(CORE_PAGES) :]
    rng.shuffle(tail)
    pages = CORE_PAGES + tail
    base = _zipf(len(pages), s=1.1, offset=2.0)
    entry = list(base)
    following = list(base)
    for i, path in enumerate(pages):
        if path.startswith("/blog/"):
            entry[i] *= 4.0  # people land on articles from search and social
        if path in ("/signup", "/login", "/checkout", "/checkout/success"):
            entry[i] *= 0.05
        if path in ("/pricing", "/features", "/signup", "/docs"):
            following[i] *= 3.0  # and then look around
    return pages, list(itertools.accumulate(entry)), list(itertools.accumulate(following))


# --- sources ------------------------------------------------------------------------------------
# (referrer URL, weight) for named sources; classify turns them into source, channel and host.
NAMED_REFERRERS = [
    ("", 3300), ("https://www.google.com/", 2900), ("https://www.bing.com/", 260), ("https://duckduckgo.com/", 230),
    ("https://search.yahoo.com/", 60), ("https://www.ecosia.org/", 55), ("https://yandex.ru/", 40),
    ("https://www.baidu.com/", 15), ("https://search.brave.com/", 45), ("https://www.qwant.com/", 20),
    ("https://www.startpage.com/", 18), ("https://www.google.de/", 120), ("https://www.google.co.uk/", 90),
    ("https://www.google.fr/", 50), ("https://www.google.co.in/", 60), ("https://www.google.ca/", 40),
    ("https://news.ycombinator.com/", 260), ("https://www.reddit.com/", 240), ("https://t.co/", 200),
    ("https://www.linkedin.com/", 150), ("https://www.facebook.com/", 140), ("https://l.facebook.com/", 60),
    ("https://www.youtube.com/", 70), ("https://www.instagram.com/", 40), ("https://www.pinterest.com/", 15),
    ("https://bsky.app/", 45), ("https://mastodon.social/", 35), ("https://www.threads.net/", 15),
    ("https://chatgpt.com/", 180), ("https://www.perplexity.ai/", 70), ("https://claude.ai/", 40),
    ("https://gemini.google.com/", 35), ("https://copilot.microsoft.com/", 15),
    ("https://mail.google.com/", 60), ("https://outlook.live.com/", 25), ("https://substack.com/", 20),
    ("https://github.com/", 160), ("https://stackoverflow.com/", 70), ("https://dev.to/", 60),
    ("https://medium.com/", 55), ("https://www.producthunt.com/", 60), ("https://www.indiehackers.com/", 50),
    ("https://lobste.rs/", 20), ("https://en.wikipedia.org/", 25), ("https://alternativeto.net/", 40),
    ("https://www.g2.com/", 30), ("https://www.capterra.com/", 15), ("https://open.spotify.com/", 6),
]  # fmt: skip
_BLOG_TLDS = ["com", "io", "dev", "net", "org", "co", "blog", "de", "fr", "app"]

# (utm_source, utm_medium, campaigns, referrer, extra page-URL parameter, weight): 15% of visits.
UTM_PROFILES = [
    ("newsletter", "email", ["weekly-digest", "product-update", "onboarding-day3", "winback"], "", "", 30),
    ("google", "cpc", ["brand", "generic-analytics", "competitor-ga4", "retargeting"], "https://www.google.com/",
     "gclid", 25),
    ("facebook", "paid_social", ["spring-sale", "lookalike-founders", "video-demo"], "https://www.facebook.com/",
     "fbclid", 12),
    ("linkedin", "cpc", ["b2b-q1", "cmo-persona"], "https://www.linkedin.com/", "li_fat_id", 8),
    ("twitter", "social", ["launch-thread", "feature-friday"], "https://t.co/", "", 8),
    ("producthunt", "referral", ["launch-day"], "https://www.producthunt.com/", "", 4),
    ("partner-blog", "affiliate", ["partner-q1", "partner-review"], "", "", 5),
    ("bing", "cpc", ["brand", "generic-analytics"], "https://www.bing.com/", "msclkid", 4),
    ("youtube", "video", ["tutorial-series"], "https://www.youtube.com/", "", 3),
    ("sms", "sms", ["cart-reminder"], "", "", 1),
]  # fmt: skip


def _escape(value):
    """A COPY text field: backslash, tab, newline and carriage return escaped."""
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _traffic_segment(classified):
    fields = (
        classified.referrer, classified.referrer_host, classified.source, classified.channel, classified.utm_source,
        classified.utm_medium, classified.utm_campaign, classified.utm_content, classified.utm_term,
        classified.click_id,
    )  # fmt: skip
    return "\t".join(_escape(value) for value in fields)


def build_sources(n_sources, rng):
    """(plain segments, their cumulative weights, utm segments, their cumulative weights, direct segment).

    A segment is the visit's traffic columns as COPY text, classified exactly as ingestion would.
    """
    from tracking.sources import classify

    referrers = list(NAMED_REFERRERS)
    tail = n_sources - len(referrers)
    tail_weights = _zipf(max(tail, 0), s=1.0, offset=3.0)
    seen = {url for url, _ in referrers}
    i = 0
    while len(referrers) < n_sources:
        host = f"{'-'.join(rng.sample(_WORDS, 2))}.{rng.choice(_BLOG_TLDS)}"
        url = f"https://{host}/"
        if url not in seen:
            seen.add(url)
            referrers.append((url, 40 * tail_weights[i]))
            i += 1
    page = f"https://{HOSTNAME}/"
    plain = []
    for referrer, _ in referrers:
        if referrer and "/" not in referrer[8:].rstrip("/"):
            referrer = referrer + rng.choice(["", "", "search?q=web+analytics", "r/analytics/", "post/123"])
        plain.append(_traffic_segment(classify(page_url=page, referrer=referrer, site_domain=HOSTNAME)))
    direct = plain[0]
    utm, utm_weights = [], []
    for source, medium, campaigns, referrer, click_param, weight in UTM_PROFILES:
        for rank, campaign in enumerate(campaigns):
            for content in ("", "hero-cta", "footer"):
                query = f"utm_source={source}&utm_medium={medium}&utm_campaign={campaign}"
                if content:
                    query += f"&utm_content={content}"
                if medium == "cpc":
                    query += "&utm_term=" + rng.choice(["web+analytics", "google+analytics+alternative", "gdpr"])
                if click_param:
                    query += f"&{click_param}=Cj0KCQ"
                classified = classify(page_url=f"{page}?{query}", referrer=referrer, site_domain=HOSTNAME)
                utm.append(_traffic_segment(classified))
                utm_weights.append(weight / (rank + 1) / (3 if content else 1))
    plain_weights = list(itertools.accumulate(weight for _, weight in referrers))
    return plain, plain_weights, utm, list(itertools.accumulate(utm_weights)), direct


# --- places -------------------------------------------------------------------------------------
# code weight: region city | region city …  (ISO 3166-2 regions, as GeoLite2 gives them; weight + continues a line)
PLACES = """
US 300: US-CA Los Angeles|US-CA San Francisco|US-NY New York|US-TX Austin|US-TX Houston|US-WA Seattle
US +: US-IL Chicago|US-MA Boston|US-FL Miami|US-CO Denver|US-GA Atlanta|US-OR Portland
DE 80: DE-BE Berlin|DE-BY Munich|DE-HH Hamburg|DE-NW Cologne|DE-HE Frankfurt am Main|DE-BW Stuttgart|DE-SN Leipzig
GB 70: GB-ENG London|GB-ENG Manchester|GB-SCT Edinburgh|GB-ENG Bristol|GB-WLS Cardiff
IN 60: IN-KA Bengaluru|IN-MH Mumbai|IN-DL New Delhi|IN-TG Hyderabad|IN-TN Chennai|IN-MH Pune
FR 40: FR-IDF Paris|FR-ARA Lyon|FR-OCC Toulouse|FR-PAC Marseille|FR-NAQ Bordeaux
CA 40: CA-ON Toronto|CA-BC Vancouver|CA-QC Montreal|CA-AB Calgary
NL 28: NL-NH Amsterdam|NL-ZH Rotterdam|NL-UT Utrecht
BR 25: BR-SP São Paulo|BR-RJ Rio de Janeiro|BR-MG Belo Horizonte
ES 22: ES-MD Madrid|ES-CT Barcelona|ES-VC Valencia
AU 22: AU-NSW Sydney|AU-VIC Melbourne|AU-QLD Brisbane
IT 18: IT-25 Milan|IT-62 Rome|IT-21 Turin
PL 16: PL-14 Warsaw|PL-12 Kraków|PL-02 Wrocław
SE 14: SE-AB Stockholm|SE-O Gothenburg
CH 13: CH-ZH Zurich|CH-GE Geneva|CH-BE Bern
JP 13: JP-13 Tokyo|JP-27 Osaka
AT 11: AT-9 Vienna|AT-6 Graz
BE 10: BE-BRU Brussels|BE-VAN Antwerp
SG 10: SG-01 Singapore
IE 9: IE-L Dublin|IE-M Cork
DK 9: DK-84 Copenhagen|DK-82 Aarhus
NO 8: NO-03 Oslo|NO-46 Bergen
FI 7: FI-18 Helsinki|FI-11 Tampere
PT 7: PT-11 Lisbon|PT-13 Porto
CZ 7: CZ-10 Prague|CZ-64 Brno
IL 6: IL-TA Tel Aviv|IL-JM Jerusalem
MX 8: MX-CMX Mexico City|MX-JAL Guadalajara
AR 6: AR-C Buenos Aires|AR-X Córdoba
UA 6: UA-30 Kyiv|UA-46 Lviv
RO 5: RO-B Bucharest|RO-CJ Cluj-Napoca
TR 5: TR-34 Istanbul|TR-06 Ankara
ZA 5: ZA-GP Johannesburg|ZA-WC Cape Town
NZ 4: NZ-AUK Auckland|NZ-WGN Wellington
KR 5: KR-11 Seoul|KR-26 Busan
ID 5: ID-JK Jakarta
PH 4: PH-00 Manila
VN 4: VN-SG Ho Chi Minh City|VN-HN Hanoi
NG 4: NG-LA Lagos
PK 4: PK-PB Lahore|PK-SD Karachi
EG 3: EG-C Cairo
BD 3: BD-13 Dhaka
KE 3: KE-30 Nairobi
CO 3: CO-DC Bogotá|CO-ANT Medellín
CL 3: CL-RM Santiago
PE 2: PE-LIM Lima
GR 3: GR-I Athens
HU 3: HU-BU Budapest
BG 3: BG-22 Sofia
RS 2: RS-00 Belgrade
HR 2: HR-21 Zagreb
SK 2: SK-BL Bratislava
SI 2: SI-061 Ljubljana
LT 2: LT-VL Vilnius
LV 2: LV-RIX Riga
EE 2: EE-37 Tallinn
TW 3: TW-TPE Taipei
HK 3: HK-HCW Hong Kong
TH 3: TH-10 Bangkok
MY 3: MY-14 Kuala Lumpur
AE 3: AE-DU Dubai
SA 2: SA-01 Riyadh
MA 1.5: MA-04 Casablanca
TN 1: TN-11 Tunis
GH 1: GH-AA Accra
ET 1: ET-AA Addis Ababa
UY 1: UY-MO Montevideo
EC 1: EC-P Quito
VE 1: VE-A Caracas
CR 1: CR-SJ San José
GT 0.8: GT-01 Guatemala City
DO 0.8: DO-01 Santo Domingo
PR 0.8: PR-SJ San Juan
LU 1: LU-LU Luxembourg
IS 0.6: IS-1 Reykjavík
CY 0.6: CY-01 Nicosia
MT 0.5: MT-60 Valletta
BA 0.7: BA-BIH Sarajevo
MK 0.5: MK-85 Skopje
AL 0.5: AL-11 Tirana
MD 0.5: MD-CU Chișinău
BY 1: BY-HM Minsk
GE 0.8: GE-TB Tbilisi
AM 0.7: AM-ER Yerevan
AZ 0.6: AZ-BA Baku
KZ 1: KZ-75 Almaty
UZ 0.7: UZ-TK Tashkent
LK 1: LK-1 Colombo
NP 0.8: NP-P3 Kathmandu
QA 0.5: QA-DA Doha
KW 0.5: KW-KU Kuwait City
JO 0.5: JO-AM Amman
LB 0.5: LB-BA Beirut
DZ 0.7: DZ-16 Algiers
TZ 0.6: TZ-02 Dar es Salaam
UG 0.5: UG-C Kampala
RW 0.4: RW-01 Kigali
SN 0.4: SN-DK Dakar
CM 0.4: CM-CE Yaoundé
CI 0.4: CI-AB Abidjan
ZW 0.3: ZW-HA Harare
MU 0.3: MU-PL Port Louis
BO 0.5: BO-L La Paz
PY 0.5: PY-ASU Asunción
PA 0.5: PA-8 Panama City
JM 0.4: JM-01 Kingston
MN 0.3: MN-1 Ulaanbaatar
KH 0.4: KH-12 Phnom Penh
"""


def build_places():
    """(geo segments 'country\\tregion\\tcity', cumulative weights) — cities of a country share its weight."""
    countries = []
    for line in PLACES.strip().splitlines():
        head, cities = line.split(":", 1)
        code, weight = head.split()
        entries = [entry.strip().split(" ", 1) for entry in cities.split("|")]
        if weight == "+":
            countries[-1][2].extend(entries)
        else:
            countries.append((code, weight, entries))
    segments, weights = [], []
    for code, weight, entries in countries:
        city_weights = _zipf(len(entries), s=1.0, offset=1.0)
        total = sum(city_weights)
        for (region, city), city_weight in zip(entries, city_weights, strict=True):
            segments.append("\t".join(_escape(v) for v in (code, region, city)))
            weights.append(float(weight) * (1 - UNKNOWN_GEO_SHARE) * city_weight / total)
        segments.append(f"{code}\t\t")  # the country known, not the city
        weights.append(float(weight) * UNKNOWN_GEO_SHARE)
    segments.append("\t\t")
    weights.append(sum(weights) * 0.01)
    return segments, list(itertools.accumulate(weights))


# --- devices ------------------------------------------------------------------------------------
# (device, share, [(os, share, [os versions], [(browser, share, [versions])])], [screen classes])
DEVICES = [
    ("Desktop", 55, ["Desktop", "Desktop", "Laptop"], [
        ("Windows", 58, ["10", "11", "11"], [
            ("Chrome", 68, ["131.0", "132.0", "130.0"]), ("Edge", 19, ["131.0", "132.0"]),
            ("Firefox", 10, ["133.0", "134.0", "128.0"]), ("Opera", 3, ["115.0"]),
        ]),
        ("Mac", 30, ["10.15", "14.7", "15.2"], [
            ("Chrome", 52, ["131.0", "132.0"]), ("Safari", 38, ["18.2", "17.6", "18.1"]), ("Firefox", 7, ["134.0"]),
            ("Edge", 3, ["131.0"]),
        ]),
        ("Linux", 8, [""], [("Chrome", 55, ["131.0", "132.0"]), ("Firefox", 45, ["134.0", "128.0"])]),
        ("Chrome OS", 4, ["14541.0"], [("Chrome", 100, ["131.0"])]),
    ]),
    ("Mobile", 42, ["Mobile"], [
        ("iOS", 56, ["18.2", "18.1", "17.7", "16.7"], [
            ("Safari", 84, ["18.2", "18.1", "17.6"]), ("Chrome", 12, ["131.0"]), ("Mobile App", 4, [""]),
        ]),
        ("Android", 44, ["14", "15", "13", "12"], [
            ("Chrome", 78, ["131.0", "132.0", "130.0"]), ("Samsung Internet", 15, ["27.0", "26.0"]),
            ("Firefox", 3, ["134.0"]), ("Mobile App", 4, [""]),
        ]),
    ]),
    ("Tablet", 3, ["Tablet"], [
        ("iOS", 70, ["18.2", "17.7"], [("Safari", 90, ["18.2"]), ("Chrome", 10, ["131.0"])]),
        ("Android", 30, ["14", "13"], [("Chrome", 80, ["131.0"]), ("Samsung Internet", 20, ["27.0"])]),
    ]),
]  # fmt: skip


def build_devices():
    """(device segments 'browser\\tversion\\tos\\tos_version\\tdevice\\tscreen', cumulative weights)."""
    segments, weights = [], []
    for device, share, screens, systems in DEVICES:
        os_total = sum(s for _, s, _, _ in systems)
        for os_name, os_share, os_versions, browsers in systems:
            browser_total = sum(s for _, s, _ in browsers)
            for browser, browser_share, versions in browsers:
                combos = [(v, ov, sc) for v in versions for ov in os_versions for sc in screens]
                tail = _zipf(len(combos), s=0.8)
                tail_total = sum(tail)
                for (version, os_version, screen), w in zip(combos, tail, strict=True):
                    values = (browser, version, os_name, os_version, device, screen)
                    segments.append("\t".join(_escape(v) for v in values))
                    weights.append(share * os_share / os_total * browser_share / browser_total * w / tail_total)
    return segments, list(itertools.accumulate(weights))


# --- the generator ------------------------------------------------------------------------------
VISIT_COLUMNS = (
    "id", "site_id", "visitor_id", "started_at", "last_seen_at", "duration", "pageviews", "events", "is_bounce",
    "hostname", "entry_page", "exit_page", "referrer", "referrer_host", "source", "channel", "utm_source",
    "utm_medium", "utm_campaign", "utm_content", "utm_term", "click_id", "country", "region", "city", "browser",
    "browser_version", "os", "os_version", "device", "screen_class",
)  # fmt: skip
PAGEVIEW_COLUMNS = (
    "site_id", "view_id", "visit_id", "visitor_id", "timestamp", "hostname", "pathname", "props", "engaged_ms",
    "scroll_depth", "checkout_session_id",
)  # fmt: skip
EVENT_COLUMNS = (
    "site_id", "view_id", "visit_id", "visitor_id", "name", "timestamp", "pathname", "props", "interactive",
    "revenue_amount", "revenue_currency",
)  # fmt: skip
PLANS = [("starter", 9, 90), ("growth", 19, 190), ("business", 49, 490)]
OUTBOUND = ["https://github.com/humblytics/humblytics", "https://twitter.com/humblytics", "https://docs.stripe.com/"]


@dataclass
class Config:
    pageviews: int = 10_000_000
    days: int = 90
    end: date = field(default_factory=lambda: datetime.now(UTC).date() - timedelta(days=1))  # the last full day
    seed: int = 42
    until: int = 22 * 3600  # seconds into the last day at which its traffic stops: the bench's clock, no rows after it
    pages: int = 2000
    sources: int = 200

    @property
    def start(self):
        return self.end - timedelta(days=self.days - 1)

    def describe(self):
        """Stored as the site's name: a reused seed must match it."""
        return (
            f"bench seed pv={self.pageviews} days={self.days} end={self.end.isoformat()} seed={self.seed} "
            f"until={self.until}"
        )

    @property
    def now(self):
        """The moment the seed ends: its last day at `until`, UTC (the bench pins its clock here)."""
        return datetime.combine(self.end, datetime.min.time(), tzinfo=UTC) + timedelta(seconds=self.until)

    def day_budgets(self):
        """Page views per UTC day: growth x weekday x a little noise, summing exactly to `pageviews`."""
        rng = random.Random(f"{self.seed}:budgets")
        weights = []
        for i in range(self.days):
            day = self.start + timedelta(days=i)
            growth = 1 + GROWTH * i / max(self.days - 1, 1)
            weights.append(growth * WEEKDAY_WEIGHTS[day.weekday()] * rng.uniform(0.93, 1.07))
        total = sum(weights)
        budgets = [int(self.pageviews * w / total) for w in weights]
        budgets[-1] += self.pageviews - sum(budgets)
        return budgets


class Tables:
    """The lookup tables every day draws from (built once from the seed)."""

    def __init__(self, config):
        rng = random.Random(f"{config.seed}:tables")
        self.pages, self.entry_cw, self.next_cw = build_pages(config.pages, rng)
        self.plain, self.plain_cw, self.utm, self.utm_cw, self.direct = build_sources(config.sources, rng)
        self.geo, self.geo_cw = build_places()
        self.devices, self.devices_cw = build_devices()
        self.escaped_pages = [_escape(p) for p in self.pages]
        self.signup = self.pages.index("/signup")
        self.success = self.pages.index("/checkout/success")
        self.hour_cw = list(itertools.accumulate(HOUR_WEIGHTS))
        self.visits_cw = list(itertools.accumulate(VISITS_PER_VISITOR))
        # "HH:MM:SS" for every second of a day: formatting timestamps is the generator's hottest path.
        self.clock = [f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}" for s in range(86400)]
        self.millis = [f".{ms:03d}+00" for ms in range(1000)]


def generate_day(config, tables, site_id, index, budget):
    """COPY text of one UTC day: (visit lines, page view lines, event lines, visits, events)."""
    rng = random.Random(f"{config.seed}:day:{index}")
    day = config.start + timedelta(days=index)
    day_names = [(day + timedelta(days=k)).isoformat() + " " for k in range(3)]
    clock, millis = tables.clock, tables.millis
    pages, escaped = tables.pages, tables.escaped_pages
    n_pages = len(pages)
    random_, expovariate, getrandbits = rng.random, rng.expovariate, rng.getrandbits
    bisect_right = bisect.bisect_right
    entry_cw, next_cw = tables.entry_cw, tables.next_cw
    entry_total, next_total = entry_cw[-1], next_cw[-1]
    plain, plain_cw, utm, utm_cw = tables.plain, tables.plain_cw, tables.utm, tables.utm_cw
    geo, geo_cw, devices, devices_cw = tables.geo, tables.geo_cw, tables.devices, tables.devices_cw
    hour_cw, visits_cw = tables.hour_cw, tables.visits_cw
    site, host = str(site_id), HOSTNAME
    pv_prefix = f"{site}\t"
    visit_lines, pv_lines, event_lines = [], [], []
    add_visit, add_pv, add_event = visit_lines.append, pv_lines.append, event_lines.append
    n_visits = n_events = 0
    left = budget
    # The last day stops at the seed's clock: no visit, page view or event after it (nor engaged time past it).
    limit = config.until * 1000 if index == config.days - 1 else 3 * 86_400_000

    def stamp(ms):
        seconds, milli = divmod(ms, 1000)
        k, sod = divmod(seconds, 86400)
        return day_names[k] + clock[sod] + millis[milli]

    while left > 0:
        visitor = str(getrandbits(63))
        geo_segment = geo[bisect_right(geo_cw, random_() * geo_cw[-1])]
        device_segment = devices[bisect_right(devices_cw, random_() * devices_cw[-1])]
        n_visits_today = bisect_right(visits_cw, random_() * visits_cw[-1]) + 1
        hour = bisect_right(hour_cw, random_() * hour_cw[-1])
        at = (hour * 3600 + int(random_() * 3600)) * 1000 + int(random_() * 1000)  # ms since the day began
        for visit_number in range(n_visits_today):
            if at >= min(86_400_000, limit) or left <= 0:
                break
            if visit_number and random_() < REPEAT_DIRECT_SHARE:
                traffic = tables.direct
            elif random_() < UTM_SHARE:
                traffic = utm[bisect_right(utm_cw, random_() * utm_cw[-1])]
            else:
                traffic = plain[bisect_right(plain_cw, random_() * plain_cw[-1])]
            n = 1 if random_() < SINGLE_PAGE_SHARE else min(2 + int(expovariate(1 / EXTRA_PAGES_MEAN)), MAX_PAGES)
            n = min(n, left)
            left -= n
            visit_id = str(getrandbits(63) or 1)
            path_ids = [min(bisect_right(entry_cw, random_() * entry_total), n_pages - 1)]
            for _ in range(n - 1):
                path_ids.append(min(bisect_right(next_cw, random_() * next_total), n_pages - 1))
            events = []  # (page index in the visit, name, props, revenue)
            roll = random_()
            if roll < PURCHASE_SHARE:
                plan, monthly, yearly = PLANS[int(random_() * len(PLANS))]
                billing = "yearly" if random_() < 0.3 else "monthly"
                amount = yearly if billing == "yearly" else monthly
                path_ids[-1] = tables.success
                props = f'{{"plan": "{plan}", "billing": "{billing}"}}'
                events.append((n - 1, "Purchase", props, f"{amount}.000000\tUSD"))
                if n > 1:
                    path_ids[-2] = tables.signup
                    events.append((n - 2, "Signup", f'{{"plan": "{plan}"}}', "\\N\t"))
            elif roll < PURCHASE_SHARE + SIGNUP_SHARE:
                path_ids[-1] = tables.signup
                plan = PLANS[int(random_() * len(PLANS))][0] if random_() < 0.4 else "free"
                events.append((n - 1, "Signup", f'{{"plan": "{plan}"}}', "\\N\t"))
            if random_() < OUTBOUND_SHARE:
                url = OUTBOUND[int(random_() * len(OUTBOUND))]
                events.append((int(random_() * n), "Outbound Link: Click", f'{{"url": "{url}"}}', "\\N\t"))

            started = at
            ts = at
            view_ids = []
            last_seen = at
            for position, page in enumerate(path_ids):
                if ts >= limit:  # the rest of this visit would be after the seed's clock: not spent
                    left += n - position
                    n = position
                    break
                view_id = f"{getrandbits(96):024x}"
                view_ids.append((view_id, ts, page))
                engaged = min(int(expovariate(1 / 35_000)), 1_500_000, limit - 1 - ts)
                depth = "\\N" if random_() < 0.1 else str(min(100, int(random_() * 110)))
                add_pv(
                    f"{pv_prefix}{view_id}\t{visit_id}\t{visitor}\t{stamp(ts)}\t{host}\t{escaped[page]}\t{{}}\t"
                    f"{engaged}\t{depth}\t\n"
                )
                last_seen = ts + engaged
                if position < n - 1:
                    ts = last_seen + 500 + int(random_() * 15_000)
            path_ids = path_ids[:n]
            kept = []
            for position, name, props, revenue in events:
                if position >= n:
                    continue
                view_id, view_ts, page = view_ids[position]
                event_ts = view_ts + 1000 + int(random_() * 20_000)
                if event_ts >= limit:
                    continue
                kept.append(name)
                last_seen = max(last_seen, event_ts)
                add_event(
                    f"{pv_prefix}{view_id}\t{visit_id}\t{visitor}\t{name}\t{stamp(event_ts)}\t{escaped[page]}\t"
                    f"{props}\tt\t{revenue}\n"
                )
            events = kept
            n_events += len(events)
            bounce = "t" if n == 1 and not events else "f"
            add_visit(
                f"{visit_id}\t{site}\t{visitor}\t{stamp(started)}\t{stamp(last_seen)}\t{(last_seen - started) // 1000}"
                f"\t{n}\t{len(events)}\t{bounce}\t{host}\t{escaped[path_ids[0]]}\t{escaped[path_ids[-1]]}\t"
                f"{traffic}\t{geo_segment}\t{device_segment}\n"
            )
            n_visits += 1
            # The next visit of this visitor starts after more than 30 idle minutes.
            at = last_seen + 1_860_000 + int(expovariate(1 / 7_200_000))
    return "".join(visit_lines), "".join(pv_lines), "".join(event_lines), n_visits, n_events


# --- loading ------------------------------------------------------------------------------------
TABLES = ("tracking_visit", "tracking_pageview", "tracking_event")
BULK_THRESHOLD = 500_000  # below this many page views, loading with the indexes in place is fast enough


def _say(message):
    print(f"[seed] {message}", flush=True)


def site_prepare(config):
    """The bench site (created or emptied), its owner and goals. Returns the Site."""
    from accounts.models import User
    from sites.models import Goal, Membership, Role, Site

    owner = User.objects.filter(email=f"owner@{HOSTNAME}").first()
    if owner is None:
        owner = User.objects.create_user(email=f"owner@{HOSTNAME}", password=None)
    site, _ = Site.objects.get_or_create(domain=HOSTNAME, defaults={"timezone": TIMEZONE})
    Membership.objects.get_or_create(site=site, user=owner, defaults={"role": Role.OWNER})
    for kind, value in GOALS:
        Goal.objects.get_or_create(
            site=site, kind=kind, page_path=value if kind == "page" else "", event_name=value if kind == "event" else ""
        )
    return site


def _empty(cursor, site_id):
    """Delete the site's rows: TRUNCATE when nothing else would go with them (fast), else DELETE."""
    names = ", ".join(f"'{t}'::regclass" for t in TABLES)
    cursor.execute(
        f"""SELECT DISTINCT conrelid::regclass::text FROM pg_constraint
            WHERE contype = 'f' AND confrelid IN ({names}) AND conrelid NOT IN ({names})"""  # noqa: S608
    )
    referencing = [row[0] for row in cursor.fetchall()]  # revenue_payment → page views, …
    checks = [("tracking_visit", "site_id <> %s", [site_id])] + [(table, "TRUE", []) for table in referencing]
    others = False
    for table, condition, params in checks:
        cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {table} WHERE {condition})", params)  # noqa: S608
        others = others or cursor.fetchone()[0]
    if others:
        for table in reversed(TABLES):
            cursor.execute(f"DELETE FROM {table} WHERE site_id = %s", [site_id])  # noqa: S608 - our table names
    else:  # the referencing tables are empty: truncating them along changes nothing
        cursor.execute(f"TRUNCATE {', '.join([*TABLES, *referencing])}")


def _drop_indexes(cursor):
    """Drop the tracking tables' indexes, unique/primary keys and foreign keys; return the SQL that restores them."""
    names = ", ".join(f"'{t}'::regclass" for t in TABLES)
    cursor.execute(
        f"""SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), contype FROM pg_constraint
            WHERE contype IN ('p', 'u', 'f') AND (conrelid IN ({names}) OR confrelid IN ({names}))"""  # noqa: S608
    )
    constraints = cursor.fetchall()
    cursor.execute(
        f"""SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i
            WHERE i.indrelid IN ({names}) AND NOT EXISTS (
              SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.contype IN ('p', 'u'))"""  # noqa: S608
    )
    indexes = cursor.fetchall()
    for table, name, _, _kind in sorted(constraints, key=lambda c: c[3] != "f"):  # foreign keys first
        cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, _ in indexes:
        cursor.execute(f"DROP INDEX {name}")
    keys = [f'ALTER TABLE {t} ADD CONSTRAINT "{n}" {d}' for t, n, d, k in constraints if k != "f"]
    foreign = [f'ALTER TABLE {t} ADD CONSTRAINT "{n}" {d}' for t, n, d, k in constraints if k == "f"]
    return keys + [definition for _, definition in indexes] + foreign


def seed(config=None, *, bulk=None, progress=_say):
    """Replace the bench site's traffic with a generated one. Returns the Site and the row counts."""
    from django.db import connection, transaction

    from tracking.rollups import rollups_reset

    config = config or Config()
    bulk = config.pageviews >= BULK_THRESHOLD if bulk is None else bulk
    started = time.monotonic()
    tables = Tables(config)
    budgets = config.day_budgets()
    counts = {"visits": 0, "pageviews": 0, "events": 0}
    with transaction.atomic():
        site = site_prepare(config)
        rollups_reset(site)  # they summarise the traffic being replaced
        site.name = ""
        site.first_event_at = datetime.combine(config.start, datetime.min.time(), tzinfo=UTC)
        site.save(update_fields=["name", "first_event_at"])
        with connection.cursor() as cursor:
            _empty(cursor, site.pk)
            restore = _drop_indexes(cursor) if bulk else []
            if bulk:
                cursor.execute("SET LOCAL maintenance_work_mem = '1GB'")
            else:  # page views are written before their visits: check the foreign keys after both
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        raw = connection.connection  # psycopg 3: COPY goes through the driver connection
        spool = {name: _spool() for name in ("visits", "events")}
        with raw.cursor() as cur, cur.copy(f"COPY tracking_pageview ({', '.join(PAGEVIEW_COLUMNS)}) FROM STDIN") as cp:
            for index, budget in enumerate(budgets):
                visits, pageviews, events, n_visits, n_events = generate_day(config, tables, site.pk, index, budget)
                cp.write(pageviews)
                spool["visits"].write(visits)
                spool["events"].write(events)
                counts["visits"] += n_visits
                counts["pageviews"] += budget
                counts["events"] += n_events
                if progress and (index % 10 == 9 or index == len(budgets) - 1):
                    rate = counts["pageviews"] / (time.monotonic() - started)
                    progress(
                        f"day {index + 1}/{len(budgets)}: {counts['pageviews']:,} page views, {counts['visits']:,} "
                        f"visits, {counts['events']:,} events ({rate:,.0f} page views/s)"
                    )
        for name, table, columns in (
            ("visits", "tracking_visit", VISIT_COLUMNS),
            ("events", "tracking_event", EVENT_COLUMNS),
        ):
            _copy_spool(raw, spool[name], table, columns)
        if progress:
            progress(f"loaded in {time.monotonic() - started:.0f} s")
        with connection.cursor() as cursor:
            for statement in restore:
                step = time.monotonic()
                cursor.execute(statement)
                if progress:
                    progress(f"{statement[:90]}… {time.monotonic() - step:.1f} s")
            if not bulk:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # check the deferred foreign keys now, not at commit
        site.name = config.describe()
        site.save(update_fields=["name"])
    # VACUUM too (outside a transaction only): it sets the visibility map, without which no index-only scan
    # happens until autovacuum gets round to 10 M fresh rows — the dashboard's plans would not be production's.
    command = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(f"{command} {table}")
    if progress:
        progress(f"done in {time.monotonic() - started:.0f} s: {counts}")
    return site, counts


def _spool():
    import tempfile

    return tempfile.TemporaryFile(mode="w+", encoding="utf-8")  # closed by _copy_spool


def _copy_spool(raw, spool, table, columns):
    with spool:
        spool.seek(0)
        with raw.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as cp:
            while chunk := spool.read(1 << 20):
                cp.write(chunk)


def seeded(config):
    """The bench site if it holds exactly this config's seed, else None."""
    from sites.models import Site
    from tracking.models import PageView

    site = Site.objects.filter(domain=HOSTNAME).first()
    if site is None or site.name != config.describe():
        return None
    if PageView.objects.filter(site_id=site.pk).count() != config.pageviews:
        return None
    return site


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pageviews", type=int, default=Config.pageviews)
    parser.add_argument("--days", type=int, default=Config.days)
    parser.add_argument("--end", type=date.fromisoformat, default=None, help="the last day (default: yesterday, UTC)")
    parser.add_argument("--seed", type=int, default=Config.seed)
    args = parser.parse_args(argv)
    if args.pageviews < 1 or args.days < 1:
        parser.error("--pageviews and --days must be at least 1")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "humblytics.settings")
    import django

    django.setup()
    config = Config(pageviews=args.pageviews, days=args.days, seed=args.seed)
    if args.end:
        config.end = args.end
    seed(config)


if __name__ == "__main__":
    main()
