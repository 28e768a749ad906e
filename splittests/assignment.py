"""Which variant a visitor gets: pure, deterministic, no Django.

The tracker stores nothing in the browser, so assignment is decided on the server when it answers the per-site
script (splittests/delivery.py) and handed to the page inside that script:

- user-level: from a hash of the test and the visitor's cookie-free id (tracking.privacy.visitor_id), which is
  keyed with the day's salt. The same visitor gets the same variant on every page load and visit until the salt
  rotates at midnight UTC (or their IP address or browser changes): then they are a new visitor, possibly in
  another variant. That is as long as "user-level" can last without cookies.
- session-level: a fresh random draw on the first page of a visit; later page loads of the visit keep the variant
  its first exposure recorded, or (when it recorded none) draw from the visit's start (selectors.session_state).

Two independent 32-bit draws: one decides whether the visitor enters the test at all (the traffic share), the other
which variant, so changing the share never reshuffles the split among those who are in.
"""

import hashlib
import secrets
from collections.abc import Sequence

SCALE = 2**32


def draws_for_visitor(*, test_id: int, visitor_id: int | str) -> tuple[float, float]:
    """Two draws from the visitor id (or, session-level, the visitor id and their visit's start)."""
    digest = hashlib.blake2b(f"splittest|{test_id}|{visitor_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest[:4], "big") / SCALE, int.from_bytes(digest[4:], "big") / SCALE


def random_draws() -> tuple[float, float]:
    return secrets.randbelow(SCALE) / SCALE, secrets.randbelow(SCALE) / SCALE


def pick(weights: Sequence[int], draw: float) -> int:
    """The index of the variant that `draw` (0 ≤ draw < 1) falls on, each taking a share by its weight."""
    total = sum(weights)
    if total <= 0 or any(w < 0 for w in weights):
        raise ValueError(f"weights must be non-negative and sum to more than 0, got {list(weights)}")
    if not 0 <= draw < 1:
        raise ValueError(f"draw must be in [0, 1), got {draw}")
    point = draw * total
    running = 0
    for index, weight in enumerate(weights):
        running += weight
        if point < running:
            return index
    return max(i for i, w in enumerate(weights) if w > 0)  # float edge: the last variant with a weight


def assign(*, weights: Sequence[int], traffic_percent: int, draws: tuple[float, float]) -> int | None:
    """The variant index, or None when the visitor is outside the share of traffic that enters the test."""
    enter, which = draws
    if enter * 100 >= traffic_percent:
        return None
    return pick(weights, which)
