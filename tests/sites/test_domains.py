"""normalize_domain against what people paste and what attackers send."""

import pytest

from sites.domains import MAX_DOMAIN_LENGTH, DomainError, normalize_domain, strip_www


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("example.com", "example.com"),
        ("http://example.com", "example.com"),
        ("https://example.com", "example.com"),
        ("ftp://example.com", "example.com"),
        ("HTTPS://EXAMPLE.COM", "example.com"),
        ("//example.com/path", "example.com"),
        ("https://example.com/pricing/annual", "example.com"),
        ("https://example.com?utm_source=x", "example.com"),
        ("https://example.com#top", "example.com"),
        ("https://example.com/a?b=c#d", "example.com"),
        ("example.com\\windows\\path", "example.com"),
        ("example.com:8080", "example.com"),
        ("https://example.com:443/", "example.com"),
        ("example.com:", "example.com"),
        ("https://user:secret@example.com/", "example.com"),
        ("https://evil.com@example.com/", "example.com"),
        ("example.com.", "example.com"),
        ("example.com..", "example.com"),
        ("Example.COM", "example.com"),
        ("  example.com \n", "example.com"),
        ("www.example.com", "example.com"),
        ("WWW.Example.com", "example.com"),
        ("https://www.shop.example.com/", "shop.example.com"),
        ("www.com", "www.com"),
        ("www.www.example.com", "www.example.com"),
        ("wwwexample.com", "wwwexample.com"),
        ("bücher.de", "xn--bcher-kva.de"),
        ("BÜCHER.de", "xn--bcher-kva.de"),
        ("https://www.bücher.de/kasse", "xn--bcher-kva.de"),
        ("xn--bcher-kva.de", "xn--bcher-kva.de"),
        ("пример.рф", "xn--e1afmkfd.xn--p1ai"),
        ("例え.jp", "xn--r8jz45g.jp"),
        ("my-shop.example.com", "my-shop.example.com"),
        ("a.b.c.d.example.com", "a.b.c.d.example.com"),
        ("123.example.com", "123.example.com"),
        ("javascript://example.com/%0aalert(1)", "example.com"),
    ],
)
def test_it_normalizes(text, expected):
    assert normalize_domain(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "javascript:alert(1)",
        "javascript:alert(document.cookie)//example.com",
        "data:text/html,<script>alert(1)</script>",
        "<script>alert(1)</script>.com",
        "example.com:abc",
        "exa mple.com",
        "example .com",
        "exam\tple.com",
        "example..com",
        ".example.com",
        "-example.com",
        "example-.com",
        "example.-com.org",
        "sub.-leading.com",
        "trailing-.example.com",
        "under_score.com",
        "a_b.example.com",
        "ex%41mple.com",
        "example.com;drop table sites",
        "😀.com",
        "shop😀.example.com",
        "☃.net",
        "localhost",
        "com",
        "https://localhost:8000/",
        "1.2.3.4",
        "http://127.0.0.1:8000/",
        "10.0.0.1",
        "1.2.3",
        "example.123",
        "::1",
        "[::1]",
        "http://[::1]:8000/",
        "[2001:db8::1]",
        "2001:db8::1",
        "https://",
        "http:///path",
        "@",
        ".",
        "..",
        "www.",
        "/",
    ],
)
def test_it_rejects_what_cannot_be_a_domain(text):
    with pytest.raises(DomainError):
        normalize_domain(text)


@pytest.mark.parametrize("text", ["", " ", "\t\n", "\u3000", None])
def test_it_asks_for_a_domain_when_there_is_none(text):
    with pytest.raises(DomainError) as raised:
        normalize_domain(text)
    assert str(raised.value) in ("Enter a domain, like example.com.", "That does not look like a domain.")


@pytest.mark.parametrize("text", [123, 1.5, b"example.com", ["example.com"], {"domain": "example.com"}, True])
def test_it_rejects_non_strings(text):
    with pytest.raises(DomainError, match="must be text"):
        normalize_domain(text)


@pytest.mark.parametrize("text", ["1.2.3.4", "[::1]", "http://[2001:db8::1]/"])
def test_it_explains_that_ip_addresses_are_not_domains(text):
    with pytest.raises(DomainError, match="not an IP address"):
        normalize_domain(text)


def test_it_explains_a_single_label():
    with pytest.raises(DomainError, match="with a dot"):
        normalize_domain("localhost")


def _domain_of_length(length):
    """Labels of 63 characters joined by dots, then a shorter last label, `length` characters in all."""
    labels = []
    remaining = length
    while remaining > 63:
        labels.append("a" * 63)
        remaining -= 64
    labels.append("b" * remaining)
    domain = ".".join(labels)
    assert len(domain) == length
    return domain


def test_it_accepts_the_longest_domain():
    domain = _domain_of_length(MAX_DOMAIN_LENGTH)
    assert normalize_domain(domain) == domain


def test_it_rejects_a_254_character_domain():
    with pytest.raises(DomainError, match="too long"):
        normalize_domain(_domain_of_length(254))


def test_it_rejects_a_300_character_string():
    with pytest.raises(DomainError, match="too long"):
        normalize_domain("a" * 296 + ".com")


def test_it_rejects_a_huge_string_before_parsing_it():
    with pytest.raises(DomainError, match="too long"):
        normalize_domain("https://" + "a." * 50_000 + "com")


def test_it_rejects_a_punycode_result_that_grows_too_long():
    # 60 two-byte characters fit in a label, but their punycode does not.
    with pytest.raises(DomainError):
        normalize_domain("ü" * 60 + ".example.com")


def test_it_accepts_a_63_character_label():
    assert normalize_domain("a" * 63 + ".com") == "a" * 63 + ".com"


def test_it_rejects_a_64_character_label():
    with pytest.raises(DomainError):
        normalize_domain("a" * 64 + ".com")


def test_it_is_idempotent():
    for text in ["https://www.Bücher.de/x", "WWW.Shop.Example.com.", "www.com"]:
        once = normalize_domain(text)
        assert normalize_domain(once) == once


def test_strip_www_leaves_a_www_domain_itself():
    assert strip_www("www.com") == "www.com"
    assert strip_www("www.example.com") == "example.com"
    assert strip_www("example.com") == "example.com"
