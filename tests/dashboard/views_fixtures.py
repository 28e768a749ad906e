"""Shared data and HTML readers for the dashboard view tests (imported by tests/dashboard/test_views_*.py).

The site's timezone is Europe/Berlin and the clock stands at 12 March 2026, 12:00 UTC. The visits are
the engine test's (tests/dashboard/test_engine.py), plus one on 8 March for the comparison period:
  A  visitor 1, 10 Mar (Berlin), Google, DE, Chrome, campaign "spring": /, /pricing, Signup
  B  visitor 2, 10 Mar, Hacker News, US, Firefox: /pricing (bounce)
  C  visitor 3, 10 Mar, Direct, DE, Safari: /blog/a (bounce)
  D  visitor 3, 11 Mar, Direct, DE, Safari: /blog/b (bounce)
  E  visitor 4, 11 Mar, Google, GB, Chrome: /, /blog/a (10 min)
  P  visitor 5,  8 Mar, Google, DE, Chrome: / (bounce)            — the period before 10–11 Mar
"""

import html
import re
from datetime import UTC, datetime

import pytest

from dashboard import views
from sites import services as site_services
from tests.tracking.factories import record
from tracking import services

NOW = datetime(2026, 3, 12, 12, 0, tzinfo=UTC)
URL = "/sites/example.com/"
RANGE = "period=custom&from=2026-03-10&to=2026-03-11"


def ts(day, hour, minute):
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC).timestamp()


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    monkeypatch.setattr(views, "now", lambda: NOW)
    return NOW


@pytest.fixture
def seeded(site):
    google = {"source": "Google", "channel": "Organic Search", "referrer_host": "google.com"}
    hn = {"source": "Hacker News", "channel": "Referral", "referrer_host": "news.ycombinator.com"}
    direct = {"source": "Direct / None", "channel": "Direct"}
    chrome = {"browser": "Chrome", "os": "Windows", "device": "Desktop"}
    safari = {"browser": "Safari", "os": "iOS", "device": "Mobile"}
    firefox = {"browser": "Firefox", "os": "Linux", "device": "Desktop"}
    spring = {"utm_campaign": "spring", **google}
    rows = [
        record(site, visitor=1, ts=ts(9, 23, 30), path="/", view="view-a-1-0000000000", country="DE", **spring, **chrome),
        record(site, visitor=1, ts=ts(9, 23, 35), path="/pricing", view="view-a-2-0000000000", country="DE", **spring, **chrome),
        record(site, kind="event", name="Signup", visitor=1, ts=ts(9, 23, 36), path="/pricing", view="view-a-2-0000000000", props={"plan": "pro"}, country="DE", **spring, **chrome),
        record(site, visitor=2, ts=ts(10, 10, 0), path="/pricing", view="view-b-1-0000000000", country="US", **hn, **firefox),
        record(site, visitor=3, ts=ts(10, 22, 59), path="/blog/a", view="view-c-1-0000000000", country="DE", **direct, **safari),
        record(site, visitor=3, ts=ts(10, 23, 30), path="/blog/b", view="view-d-1-0000000000", country="DE", **direct, **safari),
        record(site, visitor=4, ts=ts(11, 12, 0), path="/", view="view-e-1-0000000000", country="GB", **google, **chrome),
        record(site, visitor=4, ts=ts(11, 12, 10), path="/blog/a", view="view-e-2-0000000000", country="GB", **google, **chrome),
        record(site, visitor=5, ts=ts(8, 12, 0), path="/", view="view-p-1-0000000000", country="DE", **google, **chrome),
    ]  # fmt: skip
    services.events_store(rows)
    site.refresh_from_db()
    return site


@pytest.fixture
def goals(seeded):
    site_services.goal_create(site=seeded, kind="page", page_path="/pricing")
    site_services.goal_create(site=seeded, kind="event", event_name="Signup")
    return seeded


# --- reading the HTML
def text(fragment):
    return html.unescape(re.sub(r"<[^>]+>", "", fragment)).strip()


def cards(body):
    """{metric: (value, delta text or None, delta classes or None)} of the top cards."""
    found = {}
    for name, inner in re.findall(
        r'<div class="card" data-metric="([^"]+)">(.*?)</div>\s*(?=<div class="card"|</section>)', body, re.S
    ):
        value = text(re.search(r'<strong class="card-value">(.*?)</strong>', inner, re.S).group(1))
        delta = re.search(r'<span class="delta ([^"]+)"[^>]*>(.*?)</span>', inner, re.S)
        found[name] = (value, text(delta.group(2)) if delta else None, delta.group(1) if delta else None)
    return found


def card_labels(body):
    return [text(label) for label in re.findall(r'<div class="card-label">(.*?)</div>', body, re.S)]


def section(body, panel):
    match = re.search(rf'<section class="panel breakdown" id="panel-{panel}">(.*?)</section>', body, re.S)
    assert match, f"no panel {panel}"
    return match.group(1)


def rows(fragment):
    """[(row label, {metric: shown value})] of a breakdown table, in order."""
    found = []
    for label, inner in re.findall(r'<tr data-label="([^"]*)">(.*?)</tr>', fragment, re.S):
        values = dict(re.findall(r'<td class="num" data-metric="([^"]+)">([^<]*)</td>', inner))
        found.append((html.unescape(label), values))
    return found


def headers(fragment):
    return [text(h) for h in re.findall(r"<th[^>]*>(.*?)</th>", fragment, re.S)]


def link_of(fragment, label):
    """The href of the row link whose text is `label`."""
    match = re.search(rf'<a href="([^"]+)"[^>]*>{re.escape(html.escape(label, quote=False))}</a>', fragment)
    assert match, f"no link {label!r}"
    return html.unescape(match.group(1))


def chips(body):
    """[(chip text, removal href)]."""
    found = re.findall(r'<li class="chip">(.*?) <a class="chip-remove" href="([^"]+)"', body, re.S)
    return [(text(label), html.unescape(href)) for label, href in found]
