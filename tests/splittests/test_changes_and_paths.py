"""What a marketer types for no-code changes and pages, checked before anything reaches a visitor's browser."""

import pytest

from splittests import changes, paths


def test_it_parses_one_change_per_line():
    parsed = changes.parse("h1.hero | text | Start today\n\na.cta | attr:href | /signup\n.banner | style:color | #c00")
    assert parsed == [
        {"selector": "h1.hero", "action": "text", "name": "", "value": "Start today"},
        {"selector": "a.cta", "action": "attr", "name": "href", "value": "/signup"},
        {"selector": ".banner", "action": "style", "name": "color", "value": "#c00"},
    ]
    assert changes.parse(changes.to_text(parsed)) == parsed


def test_a_value_may_contain_the_separator():
    assert changes.parse("p | text | a | b")[0]["value"] == "a | b"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("h1 text only", "selector | action | value"),
        ("h1 | html | <b>x</b>", "unknown action"),
        ("a | attr:onclick | alert(1)", "could run script"),
        ("a | attr:href | javascript:alert(1)", "could run script"),
        # A browser drops tabs anywhere in a URL and control characters and spaces before it.
        ("a | attr:href | java\tscript:alert(1)", "could run script"),
        ("a | attr:href | \x01 JavaScript:alert(1)", "could run script"),
        ("iframe | attr:src | data:text/html,<script>alert(1)</script>", "could run script"),
        ("a | attr:ONCLICK | alert(1)", "could run script"),
        ("h1 | text | nul\x00", "NUL"),  # PostgreSQL's jsonb refuses it: it would be a 500 in the admin
        ("a | attr:bad name | x", "not an attribute name"),
        (".x | style:color | red; background:url(x)", "style values"),
        ("<script> | text | x", "not a CSS selector"),
        (" | text | x", "selector is empty"),
    ],
)
def test_it_refuses_broken_or_hostile_changes(line, message):
    with pytest.raises(changes.ChangeError, match=message):
        changes.parse(line)


def test_it_refuses_too_many_changes():
    with pytest.raises(changes.ChangeError, match="at most 20"):
        changes.parse("\n".join(f"p{i} | text | x" for i in range(21)))


@pytest.mark.parametrize(
    ("value", "path"),
    [("/pricing", "/pricing"), ("/pricing/", "/pricing"), ("https://www.example.com/pricing", "/pricing"),
     ("https://example.com", "/"), ("https://shop.example.com/a", "/a")],
)  # fmt: skip
def test_the_control_page_is_a_path_on_the_site(value, path):
    assert paths.control_path(value, domain="example.com") == path


@pytest.mark.parametrize(
    ("value", "message"),
    [("", "Enter"), ("pricing", "Start the path"), ("https://other.org/pricing", "must be on example.com"),
     ("/pricing?x=1", "query string"), ("ftp://example.com/x", "must be on")],
)  # fmt: skip
def test_it_refuses_other_control_pages(value, message):
    with pytest.raises(paths.PathError, match=message):
        paths.control_path(value, domain="example.com")


@pytest.mark.parametrize(
    ("value", "message"),
    [("https://evil.org/x", "Redirect within example.com"), ("//evil.org/x", "path like"),
     ("/pricing/", "loop"), ("javascript:alert(1)", "path like"), ("/a b", "spaces")],
)  # fmt: skip
def test_it_refuses_redirects_off_the_site_or_back_to_the_control(value, message):
    with pytest.raises(paths.PathError, match=message):
        paths.redirect_target(value, domain="example.com", control="/pricing")


def test_a_redirect_may_go_to_a_path_or_a_url_on_the_site():
    assert paths.redirect_target("/pricing-b?x=1", domain="example.com", control="/pricing") == "/pricing-b?x=1"
    assert paths.redirect_target("https://www.example.com/b", domain="example.com", control="/") == (
        "https://www.example.com/b"
    )
