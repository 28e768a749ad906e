import pytest

from tracking.privacy import client_ip, visitor_id

SALT = b"s" * 32


def test_it_hashes_the_same_visitor_to_the_same_id_within_a_salt():
    one = visitor_id(salt=SALT, site_id=1, ip="203.0.113.7", user_agent="UA")
    assert one == visitor_id(salt=SALT, site_id=1, ip="203.0.113.7", user_agent="UA")
    assert 0 < one < 2**63


def test_it_gives_other_ids_for_another_salt_site_ip_or_user_agent():
    base = visitor_id(salt=SALT, site_id=1, ip="203.0.113.7", user_agent="UA")
    assert base != visitor_id(salt=b"t" * 32, site_id=1, ip="203.0.113.7", user_agent="UA")
    assert base != visitor_id(salt=SALT, site_id=2, ip="203.0.113.7", user_agent="UA")
    assert base != visitor_id(salt=SALT, site_id=1, ip="203.0.113.8", user_agent="UA")
    assert base != visitor_id(salt=SALT, site_id=1, ip="203.0.113.7", user_agent="UA2")


def test_it_survives_lone_surrogates_in_the_user_agent():
    assert visitor_id(salt=SALT, site_id=1, ip="203.0.113.7", user_agent="\ud800bad")


def test_it_uses_remote_addr_when_no_proxy_is_trusted():
    meta = {"REMOTE_ADDR": "198.51.100.1", "HTTP_X_FORWARDED_FOR": "6.6.6.6"}
    assert client_ip(meta, 0) == "198.51.100.1"


def test_it_reads_forwarded_for_through_exactly_the_trusted_hops():
    meta = {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "6.6.6.6, 203.0.113.9, 10.1.1.1"}
    assert client_ip(meta, 1) == "10.1.1.1"
    assert client_ip(meta, 2) == "203.0.113.9"
    # A client-forged entry further left is never used.
    assert client_ip({"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "6.6.6.6, 203.0.113.9"}, 1) == "203.0.113.9"


def test_it_falls_back_on_garbage_forwarded_for():
    meta = {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "not-an-ip"}
    assert client_ip(meta, 1) == "10.0.0.1"
    assert client_ip({"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "[2001:db8::1]:443"}, 1) == "2001:db8::1"
    assert client_ip({"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.5:8080"}, 1) == "203.0.113.5"
    assert client_ip({}, 0) == ""


@pytest.mark.parametrize(
    ("forwarded", "expected"),
    [
        ("203.0.113.5", "203.0.113.5"),
        ("0.0.0.0", "0.0.0.0"),  # noqa: S104 - an address to parse, not a bind
        ("255.255.255.255", "255.255.255.255"),
        (" 203.0.113.5 ", "203.0.113.5"),
        ("203.0.113.005", "10.0.0.1"),  # leading zeros: ambiguous (octal?), refused like ipaddress does
        ("256.1.1.1", "10.0.0.1"),
        ("1.2.3", "10.0.0.1"),
        ("1.2.3.4.5", "10.0.0.1"),
        ("2001:DB8::1", "2001:db8::1"),  # IPv6 goes through ipaddress: canonical lower case
    ],
)
def test_its_fast_ipv4_check_agrees_with_the_ipaddress_module(forwarded, expected):
    assert client_ip({"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": forwarded}, 1) == expected
