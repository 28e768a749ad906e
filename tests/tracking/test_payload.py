"""The Events API body: ours and Plausible's shapes, and every malformed input's answer."""

import json
from decimal import Decimal

import pytest

from tracking.payload import PayloadError, parse

VIEW = "AbCdEfGhIjKlMnOpQrStUv"


def body(**fields):
    return json.dumps(fields).encode()


def test_it_reads_our_short_keys():
    incoming = parse(
        body(
            n="pageview", u="https://www.example.com/pricing?utm_source=hn#top", d="example.com",
            r="https://news.ycombinator.com/", w=1280, v=VIEW,
        )
    )  # fmt: skip
    assert incoming.name == "pageview"
    assert incoming.hostname == "www.example.com"
    assert incoming.pathname == "/pricing"
    assert incoming.query == {"utm_source": "hn"}
    assert incoming.domains == ("example.com",)
    assert incoming.referrer == "https://news.ycombinator.com/"
    assert incoming.screen_width == 1280
    assert incoming.view_id == VIEW
    assert incoming.interactive is True


def test_it_reads_plausibles_long_keys_and_json_string_props():
    incoming = parse(
        body(
            name="Signup", url="https://example.com/join", domain="example.com,www.other.org", referrer=None,
            screen_width=390, props=json.dumps({"plan": "pro"}), revenue={"amount": "19.99", "currency": "eur"},
            interactive=False,
        )
    )  # fmt: skip
    assert incoming.domains == ("example.com", "other.org")
    assert incoming.props == {"plan": "pro"}
    assert incoming.revenue_amount == Decimal("19.99")
    assert incoming.revenue_currency == "EUR"
    assert incoming.interactive is False
    assert incoming.view_id is None


def test_it_keeps_the_fragment_in_hash_mode():
    incoming = parse(body(n="pageview", u="https://example.com/app#/settings", d="example.com", h=1))
    assert incoming.pathname == "/app#/settings"


def test_it_reads_engagement_and_clamps_it():
    incoming = parse(body(n="engagement", u="https://example.com/", d="example.com", v=VIEW, sd=140, e=-5))
    assert (incoming.scroll_depth, incoming.engaged_ms, incoming.interactive) == (100, 0, False)


def test_it_picks_up_a_checkout_session_from_the_url():
    incoming = parse(
        body(n="pageview", u="https://example.com/thanks?session_id=cs_test_a1B2c3D4e5F6g7", d="example.com")
    )
    assert incoming.checkout_session_id == "cs_test_a1B2c3D4e5F6g7"
    hostile = parse(body(n="pageview", u="https://example.com/thanks?session_id=cs_<script>", d="example.com"))
    assert hostile.checkout_session_id == ""


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b"not json", "body"),
        (b"\xff\xfe", "body"),
        (b"[1, 2]", "body"),
        (body(u="https://example.com/", d="example.com"), "name"),
        (body(n="", u="https://example.com/", d="example.com"), "name"),
        (body(n="x" * 121, u="https://example.com/", d="example.com"), "name"),
        (body(n="pageview", d="example.com"), "url"),
        (body(n="pageview", u="javascript:alert(1)", d="example.com"), "url"),
        (body(n="pageview", u="ftp://example.com/", d="example.com"), "url"),
        (body(n="pageview", u="/relative", d="example.com"), "url"),
        (body(n="pageview", u="https://example.com/" + "a" * 2000, d="example.com"), "url"),
        (body(n="pageview", u="http://[::1/", d="example.com"), "url"),
        (body(n="pageview", u="https://example.com/"), "domain"),
        (body(n="pageview", u="https://example.com/", d=" , "), "domain"),
        (body(n="pageview", u="https://example.com/", d=",".join(f"d{i}.com" for i in range(11))), "domain"),
        (body(n="pageview", u="https://example.com/", d="example.com", r=42), "referrer"),
        (body(n="pageview", u="https://example.com/", d="example.com", w="wide"), "screen_width"),
        (body(n="pageview", u="https://example.com/", d="example.com", w=-1), "screen_width"),
        (body(n="x", u="https://example.com/", d="example.com", p={f"k{i}": "v" for i in range(31)}), "props"),
        (body(n="x", u="https://example.com/", d="example.com", p={"n": 1}), "props"),
        (body(n="x", u="https://example.com/", d="example.com", p={"n": {"nested": "x"}}), "props"),
        (body(n="x", u="https://example.com/", d="example.com", p=["a"]), "props"),
        (body(n="x", u="https://example.com/", d="example.com", p="{not json"), "props"),
        (body(n="x", u="https://example.com/", d="example.com", p={"": "v"}), "props"),
        (body(n="x", u="https://example.com/", d="example.com", p={"k": "v" * 2001}), "props"),
        (
            body(n="x", u="https://example.com/", d="example.com", **{"$": {"amount": "abc", "currency": "USD"}}),
            "revenue",
        ),
        (body(n="x", u="https://example.com/", d="example.com", **{"$": {"amount": 5, "currency": "XXX1"}}), "revenue"),
        (body(n="x", u="https://example.com/", d="example.com", **{"$": {"amount": 5, "currency": "ZZZ"}}), "revenue"),
        (
            body(n="x", u="https://example.com/", d="example.com", **{"$": {"amount": True, "currency": "USD"}}),
            "revenue",
        ),
        (
            body(n="x", u="https://example.com/", d="example.com", **{"$": {"amount": "1e20", "currency": "USD"}}),
            "revenue",
        ),
        (
            body(n="x", u="https://example.com/", d="example.com", **{"$": {"amount": "NaN", "currency": "USD"}}),
            "revenue",
        ),
        (body(n="x", u="https://example.com/", d="example.com", **{"$": 12}), "revenue"),
        (body(n="x", u="https://example.com/", d="example.com", i="yes"), "interactive"),
        (body(n="x", u="https://example.com/", d="example.com", v="short"), "view_id"),
        (body(n="x", u="https://example.com/", d="example.com", v="has spaces in it....."), "view_id"),
        (body(n="x", u="https://example.com/", d="example.com", v="<script>alert(1)</script>"), "view_id"),
        (body(n="x", u="https://example.com/", d="example.com", v=12345678901234567890), "view_id"),
        (b"{" + b'"n":"x",' * 2000 + b"}", "body"),
    ],
)
def test_it_rejects_malformed_input_naming_the_field(raw, field):
    with pytest.raises(PayloadError) as error:
        parse(raw)
    assert error.value.message.startswith(f"{field}:")
