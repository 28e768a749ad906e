"""tracking.sources: referrer, UTM tags and click ids -> source and channel. Pure: no database."""

import dataclasses
import importlib.util
import json
import time
from pathlib import Path

import pytest

from tracking import sources
from tracking.sources import CHANNELS, DIRECT, TrafficSource, classify

SITE = "example.com"
PAGE = "https://example.com/pricing"


def result(**fields):
    return TrafficSource(**{"referrer_host": "", "referrer": "", "source": DIRECT, "channel": "Direct", **fields})


def visit(query="", referrer="", site_domain=SITE):
    return classify(page_url=f"{PAGE}?{query}" if query else PAGE, referrer=referrer, site_domain=site_domain)


# Every named source the dashboards promise, found from a real-looking referrer.
NAMED = [
    ("https://www.google.com/", "google.com", "https://www.google.com/", "Google", "Organic Search"),
    (
        "https://www.google.co.uk/search?q=x",
        "google.co.uk",
        "https://www.google.co.uk/search",
        "Google",
        "Organic Search",
    ),
    (
        "https://images.google.de/imgres?x=1",
        "images.google.de",
        "https://images.google.de/imgres",
        "Google",
        "Organic Search",
    ),
    ("https://www.bing.com/search?q=x", "bing.com", "https://www.bing.com/search", "Bing", "Organic Search"),
    ("https://duckduckgo.com/", "duckduckgo.com", "https://duckduckgo.com/", "DuckDuckGo", "Organic Search"),
    ("https://yandex.ru/search/?text=x", "yandex.ru", "https://yandex.ru/search/", "Yandex", "Organic Search"),
    ("https://www.baidu.com/link?url=x", "baidu.com", "https://www.baidu.com/link", "Baidu", "Organic Search"),
    ("https://www.ecosia.org/search?q=x", "ecosia.org", "https://www.ecosia.org/search", "Ecosia", "Organic Search"),
    (
        "https://l.facebook.com/l.php?u=x",
        "l.facebook.com",
        "https://l.facebook.com/l.php",
        "Facebook",
        "Organic Social",
    ),
    ("https://m.facebook.com/", "m.facebook.com", "https://m.facebook.com/", "Facebook", "Organic Social"),
    ("https://l.instagram.com/?u=x", "l.instagram.com", "https://l.instagram.com/", "Instagram", "Organic Social"),
    ("https://t.co/abc123", "t.co", "https://t.co/abc123", "X (Twitter)", "Organic Social"),
    ("https://twitter.com/someone", "twitter.com", "https://twitter.com/someone", "X (Twitter)", "Organic Social"),
    ("https://x.com/someone/status/1", "x.com", "https://x.com/someone/status/1", "X (Twitter)", "Organic Social"),
    ("https://www.linkedin.com/feed/", "linkedin.com", "https://www.linkedin.com/feed/", "LinkedIn", "Organic Social"),
    ("https://lnkd.in/abc", "lnkd.in", "https://lnkd.in/abc", "LinkedIn", "Organic Social"),
    (
        "https://old.reddit.com/r/django/",
        "old.reddit.com",
        "https://old.reddit.com/r/django/",
        "Reddit",
        "Organic Social",
    ),
    (
        "https://news.ycombinator.com/item?id=1",
        "news.ycombinator.com",
        "https://news.ycombinator.com/item",
        "Hacker News",
        "Organic Social",
    ),
    ("https://github.com/org/repo", "github.com", "https://github.com/org/repo", "GitHub", "Organic Social"),
    ("https://www.youtube.com/watch?v=1", "youtube.com", "https://www.youtube.com/watch", "YouTube", "Organic Video"),
    ("https://m.youtube.com/", "m.youtube.com", "https://m.youtube.com/", "YouTube", "Organic Video"),
    ("https://youtu.be/abc", "youtu.be", "https://youtu.be/abc", "YouTube", "Organic Video"),
    (
        "https://www.pinterest.co.uk/pin/1/",
        "pinterest.co.uk",
        "https://www.pinterest.co.uk/pin/1/",
        "Pinterest",
        "Organic Social",
    ),
    ("https://www.tiktok.com/@someone", "tiktok.com", "https://www.tiktok.com/@someone", "TikTok", "Organic Social"),
    ("https://chatgpt.com/", "chatgpt.com", "https://chatgpt.com/", "ChatGPT", "AI Assistants"),
    ("https://chat.openai.com/c/1", "chat.openai.com", "https://chat.openai.com/c/1", "ChatGPT", "AI Assistants"),
    (
        "https://www.perplexity.ai/search/x",
        "perplexity.ai",
        "https://www.perplexity.ai/search/x",
        "Perplexity",
        "AI Assistants",
    ),
    ("https://claude.ai/chat/1", "claude.ai", "https://claude.ai/chat/1", "Claude", "AI Assistants"),
    ("https://gemini.google.com/app", "gemini.google.com", "https://gemini.google.com/app", "Gemini", "AI Assistants"),
    (
        "https://copilot.microsoft.com/",
        "copilot.microsoft.com",
        "https://copilot.microsoft.com/",
        "Copilot",
        "AI Assistants",
    ),
    (
        "https://someone.substack.com/p/post",
        "someone.substack.com",
        "https://someone.substack.com/p/post",
        "Substack",
        "Email",
    ),
    (
        "https://link.mail.beehiiv.com/ss/c/x",
        "link.mail.beehiiv.com",
        "https://link.mail.beehiiv.com/ss/c/x",
        "Beehiiv",
        "Email",
    ),
    (
        "https://us5.list-manage.com/track/click",
        "us5.list-manage.com",
        "https://us5.list-manage.com/track/click",
        "Mailchimp",
        "Email",
    ),
    ("https://mail.google.com/", "mail.google.com", "https://mail.google.com/", "Gmail", "Email"),
    (
        "https://www.producthunt.com/posts/x",
        "producthunt.com",
        "https://www.producthunt.com/posts/x",
        "Product Hunt",
        "Referral",
    ),
    (
        "https://docs.google.com/document/d/1",
        "docs.google.com",
        "https://docs.google.com/document/d/1",
        "Google",
        "Referral",
    ),
    (
        "https://blog.example.org/post?x=1",
        "blog.example.org",
        "https://blog.example.org/post",
        "blog.example.org",
        "Referral",
    ),
]


@pytest.mark.parametrize(
    ("referrer", "host", "url", "source", "channel"), NAMED, ids=[case[3] + ":" + case[1] for case in NAMED]
)
def test_it_names_the_source_of_known_referrers(referrer, host, url, source, channel):
    assert visit(referrer=referrer) == result(referrer_host=host, referrer=url, source=source, channel=channel)


CHANNEL_CASES = [
    pytest.param("", "", result(), id="Direct: nothing at all"),
    pytest.param(
        "utm_source=(direct)&utm_medium=(none)",
        "",
        result(utm_source="(direct)", utm_medium="(none)", source="(direct)"),
        id="Direct: GA4's own tag",
    ),
    pytest.param(
        "",
        "https://www.google.com/",
        result(
            referrer_host="google.com", referrer="https://www.google.com/", source="Google", channel="Organic Search"
        ),
        id="Organic Search: referrer",
    ),
    pytest.param(
        "utm_source=myengine&utm_medium=organic",
        "",
        result(utm_source="myengine", utm_medium="organic", source="myengine", channel="Organic Search"),
        id="Organic Search: medium",
    ),
    pytest.param(
        "gclid=Cj0abc",
        "https://www.google.com/",
        result(
            referrer_host="google.com",
            referrer="https://www.google.com/",
            source="Google",
            channel="Paid Search",
            click_id="gclid",
        ),
        id="Paid Search: gclid",
    ),
    pytest.param(
        "gclid=Cj0abc",
        "https://www.youtube.com/watch?v=1",
        result(
            referrer_host="youtube.com",
            referrer="https://www.youtube.com/watch",
            source="Google",
            channel="Paid Search",
            click_id="gclid",
        ),
        id="Paid Search: gclid names Google whatever the referrer",
    ),
    pytest.param(
        "msclkid=abc", "", result(source="Bing", channel="Paid Search", click_id="msclkid"), id="Paid Search: msclkid"
    ),
    pytest.param(
        "utm_source=bing&utm_medium=cpc",
        "",
        result(utm_source="bing", utm_medium="cpc", source="Bing", channel="Paid Search"),
        id="Paid Search: utm",
    ),
    pytest.param(
        "utm_source=facebook&utm_medium=paid_social",
        "",
        result(utm_source="facebook", utm_medium="paid_social", source="Facebook", channel="Paid Social"),
        id="Paid Social: utm",
    ),
    pytest.param(
        "fbclid=IwAR1&utm_medium=cpc",
        "",
        result(utm_medium="cpc", source="Facebook", channel="Paid Social", click_id="fbclid"),
        id="Paid Social: fbclid with cpc",
    ),
    pytest.param(
        "ttclid=abc", "", result(source="TikTok", channel="Paid Social", click_id="ttclid"), id="Paid Social: ttclid"
    ),
    pytest.param(
        "li_fat_id=abc",
        "",
        result(source="LinkedIn", channel="Paid Social", click_id="li_fat_id"),
        id="Paid Social: li_fat_id",
    ),
    pytest.param(
        "twclid=abc",
        "",
        result(source="X (Twitter)", channel="Paid Social", click_id="twclid"),
        id="Paid Social: twclid",
    ),
    pytest.param(
        "",
        "https://www.reddit.com/r/x/",
        result(
            referrer_host="reddit.com",
            referrer="https://www.reddit.com/r/x/",
            source="Reddit",
            channel="Organic Social",
        ),
        id="Organic Social: referrer",
    ),
    pytest.param(
        "fbclid=IwAR1",
        "",
        result(source="Facebook", channel="Organic Social", click_id="fbclid"),
        id="Organic Social: fbclid alone is not paid",
    ),
    pytest.param(
        "fbclid=IwAR1",
        "https://l.instagram.com/",
        result(
            referrer_host="l.instagram.com",
            referrer="https://l.instagram.com/",
            source="Instagram",
            channel="Organic Social",
            click_id="fbclid",
        ),
        id="Organic Social: fbclid keeps the referrer's source",
    ),
    pytest.param(
        "utm_source=mycommunity&utm_medium=social",
        "",
        result(utm_source="mycommunity", utm_medium="social", source="mycommunity", channel="Organic Social"),
        id="Organic Social: medium",
    ),
    pytest.param(
        "",
        "https://vimeo.com/1",
        result(referrer_host="vimeo.com", referrer="https://vimeo.com/1", source="Vimeo", channel="Organic Video"),
        id="Organic Video: referrer",
    ),
    pytest.param(
        "utm_source=mychannel&utm_medium=video",
        "",
        result(utm_source="mychannel", utm_medium="video", source="mychannel", channel="Organic Video"),
        id="Organic Video: medium",
    ),
    pytest.param(
        "utm_source=youtube&utm_medium=cpv",
        "",
        result(utm_source="youtube", utm_medium="cpv", source="YouTube", channel="Paid Video"),
        id="Paid Video",
    ),
    pytest.param(
        "utm_source=newsletter&utm_medium=email&utm_campaign=june",
        "",
        result(utm_source="newsletter", utm_medium="email", utm_campaign="june", source="newsletter", channel="Email"),
        id="Email: medium, source kept as is",
    ),
    pytest.param(
        "utm_source=newsletter",
        "",
        result(utm_source="newsletter", source="newsletter", channel="Unassigned"),
        id="Unassigned: newsletter without an email medium",
    ),
    pytest.param(
        "utm_source=Email", "", result(utm_source="Email", source="Email", channel="Email"), id="Email: source"
    ),
    pytest.param(
        "ref=newsletter",
        "https://mail.google.com/",
        result(
            referrer_host="mail.google.com", referrer="https://mail.google.com/", source="newsletter", channel="Email"
        ),
        id="Email: unknown ref, the referrer decides the channel",
    ),
    pytest.param(
        "utm_source=facebook&utm_medium=email",
        "",
        result(utm_source="facebook", utm_medium="email", source="Facebook", channel="Email"),
        id="Email: an explicit medium beats the source list",
    ),
    pytest.param(
        "",
        "https://blog.example.org/",
        result(
            referrer_host="blog.example.org",
            referrer="https://blog.example.org/",
            source="blog.example.org",
            channel="Referral",
        ),
        id="Referral: unknown host",
    ),
    pytest.param(
        "utm_source=partnersite&utm_medium=referral",
        "",
        result(utm_source="partnersite", utm_medium="referral", source="partnersite", channel="Referral"),
        id="Referral: medium",
    ),
    pytest.param(
        "utm_source=partnersite",
        "https://partner.example.net/",
        result(
            referrer_host="partner.example.net",
            referrer="https://partner.example.net/",
            utm_source="partnersite",
            source="partnersite",
            channel="Referral",
        ),
        id="Referral: unknown tag with a referrer",
    ),
    pytest.param(
        "",
        "https://chatgpt.com/",
        result(referrer_host="chatgpt.com", referrer="https://chatgpt.com/", source="ChatGPT", channel="AI Assistants"),
        id="AI Assistants: referrer",
    ),
    pytest.param(
        "utm_source=chatgpt.com",
        "",
        result(utm_source="chatgpt.com", source="ChatGPT", channel="AI Assistants"),
        id="AI Assistants: ChatGPT's own utm_source",
    ),
    pytest.param(
        "utm_source=partner42&utm_medium=affiliate",
        "",
        result(utm_source="partner42", utm_medium="affiliate", source="partner42", channel="Affiliates"),
        id="Affiliates: medium",
    ),
    pytest.param(
        "",
        "https://www.awin1.com/cread.php?a=1",
        result(
            referrer_host="awin1.com", referrer="https://www.awin1.com/cread.php", source="Awin", channel="Affiliates"
        ),
        id="Affiliates: network referrer",
    ),
    pytest.param(
        "utm_source=adnetwork&utm_medium=display",
        "",
        result(utm_source="adnetwork", utm_medium="display", source="adnetwork", channel="Display"),
        id="Display: medium",
    ),
    pytest.param(
        "utm_source=adnetwork&utm_medium=cpm",
        "",
        result(utm_source="adnetwork", utm_medium="cpm", source="adnetwork", channel="Display"),
        id="Display: cpm from an unknown source",
    ),
    pytest.param(
        "",
        "https://ad.doubleclick.net/ddm/x",
        result(
            referrer_host="ad.doubleclick.net",
            referrer="https://ad.doubleclick.net/ddm/x",
            source="Doubleclick",
            channel="Display",
        ),
        id="Display: ad server referrer",
    ),
    pytest.param(
        "utm_source=google&utm_medium=cpc&utm_campaign=pmax-cross-network",
        "",
        result(
            utm_source="google",
            utm_medium="cpc",
            utm_campaign="pmax-cross-network",
            source="Google",
            channel="Cross-network",
        ),
        id="Cross-network",
    ),
    pytest.param("utm_source=sms", "", result(utm_source="sms", source="sms", channel="SMS"), id="SMS: source"),
    pytest.param(
        "utm_source=twilio&utm_medium=SMS",
        "",
        result(utm_source="twilio", utm_medium="SMS", source="twilio", channel="SMS"),
        id="SMS: medium",
    ),
    pytest.param(
        "utm_source=mypodcast&utm_medium=podcast",
        "",
        result(utm_source="mypodcast", utm_medium="podcast", source="mypodcast", channel="Audio"),
        id="Audio: medium",
    ),
    pytest.param(
        "",
        "https://open.spotify.com/episode/1",
        result(
            referrer_host="open.spotify.com",
            referrer="https://open.spotify.com/episode/1",
            source="Spotify",
            channel="Audio",
        ),
        id="Audio: referrer",
    ),
    pytest.param(
        "utm_source=onesignal&utm_medium=web-push",
        "",
        result(utm_source="onesignal", utm_medium="web-push", source="onesignal", channel="Push"),
        id="Push: medium",
    ),
    pytest.param(
        "utm_source=firebase", "", result(utm_source="firebase", source="firebase", channel="Push"), id="Push: firebase"
    ),
    pytest.param(
        "utm_source=partner&utm_medium=paid",
        "",
        result(utm_source="partner", utm_medium="paid", source="partner", channel="Paid Other"),
        id="Paid Other",
    ),
    pytest.param(
        "utm_source=flyer-qr",
        "",
        result(utm_source="flyer-qr", source="flyer-qr", channel="Unassigned"),
        id="Unassigned: unknown source",
    ),
    pytest.param(
        "utm_campaign=spring",
        "",
        result(utm_campaign="spring", channel="Unassigned"),
        id="Unassigned: a campaign alone",
    ),
]


@pytest.mark.parametrize(("query", "referrer", "expected"), CHANNEL_CASES)
def test_it_assigns_the_channel(query, referrer, expected):
    assert visit(query, referrer) == expected


def test_the_channel_table_covers_every_channel():
    covered = {case.values[2].channel for case in CHANNEL_CASES} | {case[4] for case in NAMED}
    assert covered == set(CHANNELS)


def test_utm_source_overrides_the_referrer_case_insensitively():
    assert visit("utm_source=GOOGLE", "https://www.bing.com/") == result(
        referrer_host="bing.com",
        referrer="https://www.bing.com/",
        utm_source="GOOGLE",
        source="Google",
        channel="Organic Search",
    )


@pytest.mark.parametrize(
    ("value", "source", "channel"),
    [
        ("fb", "Facebook", "Organic Social"),
        ("Facebook", "Facebook", "Organic Social"),
        ("ig", "Instagram", "Organic Social"),
        ("twitter", "X (Twitter)", "Organic Social"),
        ("t.co", "X (Twitter)", "Organic Social"),
        ("linkedin", "LinkedIn", "Organic Social"),
        ("hn", "Hacker News", "Organic Social"),
        ("news.ycombinator.com", "Hacker News", "Organic Social"),
        ("www.reddit.com", "Reddit", "Organic Social"),
        ("duckduckgo", "DuckDuckGo", "Organic Search"),
        ("yt", "YouTube", "Organic Video"),
        ("perplexity", "Perplexity", "AI Assistants"),
        ("substack", "Substack", "Email"),
        ("beehiiv", "Beehiiv", "Email"),
        ("mailchimp", "Mailchimp", "Email"),
        ("producthunt", "Product Hunt", "Referral"),
        ("checkout.stripe.com", "checkout.stripe.com", "Unassigned"),
    ],
)
def test_it_maps_known_utm_source_values(value, source, channel):
    assert visit(f"utm_source={value}") == result(utm_source=value, source=source, channel=channel)


def test_ref_and_source_parameters_name_the_source():
    assert visit("ref=producthunt") == result(source="Product Hunt", channel="Referral")
    assert visit("source=hackernews", "https://example.org/") == result(
        referrer_host="example.org", referrer="https://example.org/", source="Hacker News", channel="Organic Social"
    )


def test_utm_source_wins_over_ref_which_wins_over_source():
    assert visit("source=reddit&ref=producthunt&utm_source=fb").source == "Facebook"
    assert visit("source=reddit&ref=producthunt").source == "Product Hunt"


def test_it_trims_and_cuts_utm_values():
    long = "x" * 300
    assert visit(f"utm_source=+%20Google%20+&utm_campaign={long}&utm_content=%E2%9C%93&utm_term=a+b") == result(
        utm_source="Google",
        utm_campaign="x" * 200,
        utm_content="✓",
        utm_term="a b",
        source="Google",
        channel="Organic Search",
    )


def test_it_reads_parameter_names_case_insensitively_and_ignores_empty_ones():
    assert visit("UTM_SOURCE=&utm_source=bing&Utm_Medium=CPC&gclid=") == result(
        utm_source="bing", utm_medium="CPC", source="Bing", channel="Paid Search"
    )


@pytest.mark.parametrize("name", ["gclid", "gbraid", "wbraid", "fbclid", "msclkid", "ttclid", "li_fat_id", "twclid"])
def test_it_records_the_click_id_name_but_never_its_value(name):
    found = visit(f"{name}=SECRET-VALUE-123")
    assert found.click_id == name
    assert "SECRET" not in repr(found)


def test_a_paid_click_id_beats_fbclid():
    assert visit("fbclid=a&gclid=b") == result(source="Google", channel="Paid Search", click_id="gclid")


@pytest.mark.parametrize(
    ("referrer", "site_domain"),
    [
        ("https://example.com/features", "example.com"),
        ("https://www.example.com/features", "example.com"),
        ("https://example.com/features", "www.example.com"),
        ("https://blog.example.com/post", "example.com"),
        ("https://a.b.example.com/", "example.com"),
        ("https://EXAMPLE.com:8443/", "Example.com "),
    ],
)
def test_self_referrals_are_direct(referrer, site_domain):
    assert visit(referrer=referrer, site_domain=site_domain) == result()


@pytest.mark.parametrize(
    "referrer", ["https://notexample.com/", "https://example.com.evil.net/", "https://example.co/"]
)
def test_lookalike_domains_are_not_self_referrals(referrer):
    host = referrer.split("/")[2]
    assert visit(referrer=referrer) == result(referrer_host=host, referrer=referrer, source=host, channel="Referral")


def test_a_self_referral_with_utm_tags_follows_the_tags():
    assert visit("utm_source=newsletter&utm_medium=email", "https://example.com/") == result(
        utm_source="newsletter", utm_medium="email", source="newsletter", channel="Email"
    )


@pytest.mark.parametrize(
    "referrer",
    [
        "https://checkout.stripe.com/c/pay/cs_live_a1b2#fid=x",
        "https://billing.stripe.com/p/session/abc",
        "https://pay.stripe.com/receipts/abc",
        "https://hooks.stripe.com/3d_secure_2/hosted",
        "https://www.paypal.com/checkoutnow?token=x",
        "https://paypal.com/",
        "https://checkout.paddle.com/checkout/custom/x",
        "https://buy.paddle.com/product/1",
        "https://mystore.lemonsqueezy.com/checkout/buy/x",
        "https://app.gumroad.com/checkout",
        "https://gumroad.com/l/x",
        "https://accounts.google.com/o/oauth2/auth",
        "https://login.microsoftonline.com/common/oauth2",
    ],
)
def test_payment_and_sign_in_returns_are_direct(referrer):
    assert visit(referrer=referrer) == result()


def test_a_stripe_return_with_utm_tags_follows_the_tags():
    assert visit("utm_source=stripe&utm_medium=checkout", "https://checkout.stripe.com/c/pay/x") == result(
        utm_source="stripe", utm_medium="checkout", source="stripe", channel="Unassigned"
    )


def test_stripe_marketing_pages_are_an_ordinary_referral():
    assert visit(referrer="https://stripe.com/customers").channel == "Referral"


@pytest.mark.parametrize(
    ("page_url", "referrer", "site_domain"),
    [
        (None, None, None),
        ("", "", ""),
        (42, b"https://google.com/", 7),
        ("not a url", "not a url", SITE),
        (PAGE, "javascript:alert(document.cookie)", SITE),
        (PAGE, "JAVASCRIPT://google.com/%0aalert(1)", SITE),
        (PAGE, "data:text/html,<script>alert(1)</script>", SITE),
        (PAGE, "file:///etc/passwd", SITE),
        (PAGE, "ftp://google.com/", SITE),
        (PAGE, "//google.com/", SITE),
        (PAGE, "https://", SITE),
        (PAGE, "https:///path", SITE),
        (PAGE, "http://[::1", SITE),
        (PAGE, "https://google.com:99999/", SITE),
        (PAGE, "https://google.com:port/", SITE),
        (PAGE, "https://exa mple.com/", SITE),
        (PAGE, "https://<script>.com/", SITE),
        (PAGE, "https://a..b.com/", SITE),
        (PAGE, "https://xn--a.com/", SITE),
        (PAGE, "https://" + "a" * 300 + ".com/", SITE),
        (PAGE, "android-app://", SITE),
        (PAGE, "android-app://not a package/", SITE),
        (PAGE, "android-app://" + "a." * 200 + "b", SITE),
        ("?" * 5000, "?" * 5000, SITE),
    ],
)
def test_hostile_input_is_direct(page_url, referrer, site_domain):
    assert classify(page_url=page_url, referrer=referrer, site_domain=site_domain) == result()


def test_five_thousand_character_urls_are_cut():
    referrer = "https://blog.example.org/" + "p" * 5000 + "?q=" + "x" * 5000
    page_url = f"{PAGE}?utm_source={'s' * 5000}&utm_medium=email&pad={'z' * 5000}"
    found = classify(page_url=page_url, referrer=referrer, site_domain=SITE)
    assert found == result(
        referrer_host="blog.example.org",
        referrer=("https://blog.example.org/" + "p" * 5000)[:500],
        utm_source="s" * 200,
        utm_medium="email",
        source="s" * 200,
        channel="Email",
    )


def test_it_strips_credentials_and_default_ports_but_keeps_others():
    assert visit(referrer="https://user:hunter2@news.ycombinator.com:443/item?id=1") == result(
        referrer_host="news.ycombinator.com",
        referrer="https://news.ycombinator.com/item",
        source="Hacker News",
        channel="Organic Social",
    )
    assert visit(referrer="http://User@Blog.Example.org:8080/a#frag") == result(
        referrer_host="blog.example.org",
        referrer="http://blog.example.org:8080/a",
        source="blog.example.org",
        channel="Referral",
    )


def test_it_accepts_ip_address_referrers():
    assert visit(referrer="http://[2001:db8::1]:8080/x").referrer == "http://[2001:db8::1]:8080/x"
    assert visit(referrer="http://192.0.2.10/x").referrer_host == "192.0.2.10"


def test_unicode_and_punycode_hosts_are_the_same_host():
    unicode = visit(referrer="https://www.Bücher.de/a")
    punycode = visit(referrer="https://xn--bcher-kva.de/a")
    assert unicode == result(
        referrer_host="bücher.de", referrer="https://www.bücher.de/a", source="bücher.de", channel="Referral"
    )
    assert punycode.referrer_host == unicode.referrer_host == punycode.source


def test_it_removes_control_characters_that_postgres_would_refuse():
    found = visit("utm_source=a%00b%0Ac&utm_campaign=%01%7F", "https://blog.example.org/\x00x\r\n")
    assert found == result(
        referrer_host="blog.example.org",
        referrer="https://blog.example.org/x",
        utm_source="abc",
        source="abc",
        channel="Referral",
    )


def test_it_ignores_parameters_past_the_hundredth():
    assert visit("&".join(["pad=1"] * 200) + "&utm_source=google") == result()


@pytest.mark.parametrize(
    ("referrer", "host", "source", "channel"),
    [
        ("android-app://com.google.android.gm/", "com.google.android.gm", "Gmail", "Email"),
        (
            "android-app://com.google.android.googlequicksearchbox/https/www.google.com",
            "com.google.android.googlequicksearchbox",
            "Google",
            "Organic Search",
        ),
        ("android-app://com.linkedin.android", "com.linkedin.android", "LinkedIn", "Organic Social"),
        ("android-app://com.Slack/", "com.slack", "Slack", "Organic Social"),
        ("android-app://org.example.reader/", "org.example.reader", "org.example.reader", "Referral"),
    ],
)
def test_android_app_referrers_are_looked_up_by_package(referrer, host, source, channel):
    assert visit(referrer=referrer) == result(
        referrer_host=host, referrer=f"android-app://{host}", source=source, channel=channel
    )


def test_the_result_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        visit().source = "Google"


def test_the_data_file_has_hundreds_of_hosts_and_loads_fast():
    started = time.perf_counter()
    hosts, mediums, aliases = sources.load_data()
    assert time.perf_counter() - started < 0.5
    assert len(hosts) > 1500
    assert len({source for source, _ in hosts.values()}) > 400
    data = json.loads(sources.DATA_FILE.read_text(encoding="utf-8"))
    assert data["upstream"]["commit"] == "a88dd39879847265ed1738a6acdffda7872cc9ee"
    assert {medium for _, medium in hosts.values()} == set(data["mediums"])
    assert all(host == host.lower() and not host.startswith("www.") and "/" not in host for host in hosts)
    assert all(name in mediums for name in aliases.values())


def test_it_classifies_in_microseconds():
    started = time.perf_counter()
    for _ in range(1000):
        visit("utm_source=fb&utm_medium=paid&gclid=x", "https://www.images.google.co.uk/search?q=x")
        visit(referrer="https://deep.sub.domain.unknown-blog.example.org/post")
    assert (time.perf_counter() - started) / 2000 < 0.0002  # ~15 µs here; generous for a slow CI machine


def _load_generator():
    path = Path(__file__).resolve().parents[2] / "scripts" / "build_referrers.py"
    spec = importlib.util.spec_from_file_location("build_referrers", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_generator_keeps_hosts_drops_paths_and_lets_additions_win():
    generator = _load_generator()
    upstream = {
        "search": {
            "Google Images": {"parameters": ["q"], "domains": ["www.google.zz", "google.zz/imgres", "WWW.CNN.COM"]},
        },
        "social": {"Youtube": {"domains": ["youtube.com"]}, "Windows Live Spaces": {"domains": ["login.live.com"]}},
        "unknown": {"Google": {"domains": ["support.google.com"]}},
        "paid": {"Doubleclick": {"domains": ["ad.doubleclick.net"]}},
    }
    hosts, mediums, aliases, overrides = generator.build(upstream)
    assert hosts["google.zz"] == ["Google", "search"]
    assert "cnn.com" not in hosts
    assert not any("/" in host for host in hosts)
    assert hosts["youtube.com"] == ["YouTube", "video"]
    assert hosts["support.google.com"] == ["Google", "referral"]
    assert hosts["ad.doubleclick.net"] == ["Doubleclick", "ads"]
    assert hosts["login.live.com"] == ["Microsoft Sign-in", "auth"]
    assert overrides == ["login.live.com: ['Windows Live Spaces', 'social'] -> ['Microsoft Sign-in', 'auth']"]
    assert hosts["chatgpt.com"] == ["ChatGPT", "ai"]
    assert mediums["Google"] == "search"
    assert "Stripe" not in mediums
    assert aliases["fb"] == "Facebook"
    assert aliases["doubleclick"] == "Doubleclick"
    rendered = json.loads(generator.render(hosts, mediums, aliases, "0" * 64))
    assert rendered["hosts"] == hosts
    assert rendered["upstream"]["input_sha256"] == "0" * 64


def test_repeated_classifications_come_from_a_bounded_cache(monkeypatch):
    monkeypatch.setattr(sources, "_cache", {})
    monkeypatch.setattr(sources, "CACHE_SIZE", 3)
    first = classify(page_url="https://example.com/a?utm_source=news", referrer=None, site_domain="example.com")
    # Only the query string, the referrer and the domain decide: another path reuses the same answer.
    again = classify(page_url="https://example.com/b?utm_source=news#x", referrer=None, site_domain="example.com")
    assert again is first and first.source == "news"
    for n in range(5):
        classify(page_url=f"https://example.com/?ref=r{n}", referrer=None, site_domain="example.com")
    assert len(sources._cache) <= 3
    # Inputs that cannot be a dict key (a hostile JSON referrer) are classified, not cached.
    assert classify(page_url="https://example.com/", referrer=["x"], site_domain="example.com").source == DIRECT
