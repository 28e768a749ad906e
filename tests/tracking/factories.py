"""Build enriched records as tracking.ingest produces them, for store and flusher tests."""

import itertools
from datetime import UTC, datetime

_counter = itertools.count(1)
T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC).timestamp()


def view_id():
    return f"view{next(_counter):018d}"


def record(site, *, kind="pageview", ts=T0, visitor=111, prev_visitor=None, path="/", name=None, view=None, **extra):
    data = {
        "kind": kind, "site": site.pk, "ts": ts, "view_id": view or view_id(),
        "name": name or ("pageview" if kind == "pageview" else "engagement" if kind == "engagement" else "Signup"),
        "visitor": visitor, "prev_visitor": prev_visitor, "hostname": site.domain, "pathname": path, "props": {},
        "interactive": kind != "engagement", "revenue_amount": None, "revenue_currency": "", "scroll_depth": None,
        "engaged_ms": None, "checkout_session_id": "", "referrer": "", "referrer_host": "", "source": "Direct / None",
        "channel": "Direct", "utm_source": "", "utm_medium": "", "utm_campaign": "", "utm_content": "",
        "utm_term": "", "click_id": "", "country": "DE", "region": "DE-BE", "city": "Berlin", "browser": "Firefox",
        "browser_version": "130.0", "os": "Linux", "os_version": "", "device": "Desktop", "screen_class": "Desktop",
    }  # fmt: skip
    data.update(extra)
    return data
