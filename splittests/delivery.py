"""The per-site tracker: /js/script.js?site=DOMAIN = the split-test runtime, this visitor's assignments, the core.

Sites without running tests get exactly the core script (tracking/script_view.py). With tests, the response is
decided per visitor (the assignment is in it), so it is `Cache-Control: private, max-age=60`: the visitor's own
browser reuses it for a minute (a redirect and the variant page it lands on see the same answer), no shared cache
may. Bots get the core alone: they never enter a test.

The running tests of a site are cached in this process for CACHE_SECONDS; a lifecycle change forgets them here at
once and reaches the other processes within that time.
"""

import functools
import json
import time
from dataclasses import dataclass
from pathlib import Path

from splittests import assignment

# The minified build of tracker/runtime.js (splittests/tracker/build.mjs, `make build-tracker`).
RUNTIME_PATH = Path(__file__).resolve().parent / "tracker" / "dist" / "runtime.js"
CACHE_SECONDS = 10


@dataclass(frozen=True)
class VariantInfo:
    id: int
    kind: str
    weight: int
    redirect_url: str
    changes: tuple


@dataclass(frozen=True)
class TestInfo:
    id: int
    page_path: str
    randomization: str
    traffic_percent: int
    variants: tuple[VariantInfo, ...]


@dataclass(frozen=True)
class SiteTests:
    site_id: int
    respect_gpc: bool
    tests: tuple[TestInfo, ...]


_cache: dict[str, tuple[SiteTests | None, float]] = {}


def forget(domain=None):
    if domain is None:
        _cache.clear()
    else:
        _cache.pop(domain, None)


def running_tests(domain, *, now=None) -> SiteTests | None:
    """The site's running tests (None for an unknown domain), cached briefly."""
    from splittests.selectors import running_tests_of

    now = now or time.monotonic()
    cached = _cache.get(domain)
    if cached is not None and cached[1] > now:
        return cached[0]
    found = running_tests_of(domain=domain)
    if len(_cache) > 10_000:  # the domain comes from the query string: bound the cache
        _cache.clear()
    _cache[domain] = (found, now + CACHE_SECONDS)
    return found


_KIND_CODES = {"control": "c", "redirect": "r", "changes": "n"}


def config(tests: SiteTests, *, choices: dict[int, int | None]) -> dict:
    """The runtime's CONFIG (runtime.js): every running test, with this visitor's variant (or None)."""
    out = []
    for test in tests.tests:
        chosen = choices.get(test.id)
        variant = next((v for v in test.variants if v.id == chosen), None)
        out.append(
            {
                "i": test.id,
                "p": test.page_path,
                "a": variant.id if variant else None,
                "k": _KIND_CODES[variant.kind] if variant else "c",
                "u": variant.redirect_url if variant and variant.kind == "redirect" else "",
                "x": [[c["selector"], c["action"], c["name"], c["value"]] for c in variant.changes]
                if variant and variant.kind == "changes"
                else [],
                "r": {str(v.id): v.redirect_url for v in test.variants if v.kind == "redirect"},
            }
        )
    return {"t": out}


def choose(test: TestInfo, *, visitor_id: int | None, pinned: int | None = None, visit_key: str | None = None):
    """This visitor's variant id, or None outside the test's traffic share.

    User-level: from the visitor id. Session-level: the variant the visit already saw (pinned), else from the
    visit (visit_key: its start), else — the first page of a new visit — a fresh random draw.
    """
    if pinned is not None and any(v.id == pinned for v in test.variants):
        return pinned
    if test.randomization == "user" and visitor_id is not None:
        draws = assignment.draws_for_visitor(test_id=test.id, visitor_id=visitor_id)
    elif visit_key is not None and visitor_id is not None:
        draws = assignment.draws_for_visitor(test_id=test.id, visitor_id=f"{visitor_id}|{visit_key}")
    else:
        draws = assignment.random_draws()
    index = assignment.assign(
        weights=[v.weight for v in test.variants], traffic_percent=test.traffic_percent, draws=draws
    )
    return None if index is None else test.variants[index].id


@functools.cache
def runtime_source() -> str:
    return RUNTIME_PATH.read_text().strip()


def script_body(config_: dict, core: bytes) -> bytes:
    """One function scope around both, so the runtime's one name stays out of the page's globals."""
    data = json.dumps(config_, separators=(",", ":"), ensure_ascii=True)
    banner = "/*! Humblytics split tests + tracker */"
    head = f"{banner}\n(function(){{{runtime_source()}\nif(humblyticsSplit({data}))return;\n"
    return head.encode() + core + b"})();\n"
