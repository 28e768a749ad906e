import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from tracking import geo
from tracking.geo import Location, lookup

ROOT = Path(__file__).resolve().parents[2]

# A tiny City database in GeoLite2's layout, plus one DB-IP-style record (names, no ISO codes).
NETWORKS = {
    "81.169.145.0/24": {
        "country": {"iso_code": "DE", "names": {"en": "Germany"}},
        "subdivisions": [{"iso_code": "BE", "names": {"en": "Land Berlin"}}],
        "city": {"names": {"en": "Berlin", "de": "Berlin"}},
    },
    "2a00:1450::/32": {
        "country": {"iso_code": "DE"},
        "subdivisions": [{"iso_code": "HE", "names": {"en": "Hesse"}}],
        "city": {"names": {"en": "Frankfurt am Main"}},
    },
    "1.1.1.0/24": {
        "country": {"iso_code": "AU"},
        "subdivisions": [{"names": {"en": "New South Wales"}}],
        "city": {"names": {"en": "Sydney"}},
    },
    "8.8.8.0/24": {"country": {"iso_code": "US"}},
    "5.5.5.0/24": {"registered_country": {"iso_code": "FR"}},
    "9.9.9.0/24": {"continent": {"code": "EU"}},
    # Real databases have nothing here; this proves private ranges are never looked up.
    "10.0.0.0/8": {"country": {"iso_code": "NL"}},
    "fc00::/7": {"country": {"iso_code": "NL"}},
}


@pytest.fixture(scope="session")
def test_database(tmp_path_factory):
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="Humblytics-Test-City")
    for network, record in NETWORKS.items():
        writer.insert_network(IPSet([network]), record)
    path = tmp_path_factory.mktemp("geoip") / "test-city.mmdb"
    writer.to_db_file(str(path))
    return str(path)


@pytest.fixture
def use_database(settings):
    def use(path):
        settings.GEOIP_DATABASE = path
        geo.reset()

    yield use
    geo.reset()


@pytest.fixture
def test_db(use_database, test_database):
    use_database(test_database)


@pytest.mark.parametrize(
    ("ip", "expected"),
    [
        ("81.169.145.1", Location("DE", "DE-BE", "Berlin")),
        ("81.169.145.254", Location("DE", "DE-BE", "Berlin")),
        ("2a00:1450:4001:80b::200e", Location("DE", "DE-HE", "Frankfurt am Main")),
        ("::ffff:81.169.145.1", Location("DE", "DE-BE", "Berlin")),
        (" 81.169.145.1 ", Location("DE", "DE-BE", "Berlin")),
        ("1.1.1.1", Location("AU", "New South Wales", "Sydney")),
        ("8.8.8.8", Location("US", "", "")),
        ("5.5.5.5", Location("FR", "", "")),
        ("9.9.9.9", Location()),
        ("81.169.146.1", Location()),
    ],
)
def test_it_places_public_addresses(test_db, ip, expected):
    assert lookup(ip) == expected


@pytest.mark.parametrize(
    "ip",
    ["10.1.2.3", "127.0.0.1", "192.168.1.1", "172.16.0.1", "100.64.0.1", "169.254.1.1", "0.0.0.0", "224.0.0.1",  # noqa: S104
     "255.255.255.255", "::1", "::", "fe80::1", "fd12:3456::1", "::ffff:10.1.2.3", "2001:db8::1"],
)  # fmt: skip
def test_it_gives_no_location_for_private_and_reserved_addresses(test_db, ip):
    assert lookup(ip) == Location()


@pytest.mark.parametrize(
    "ip",
    ["", None, "not an ip", "81.169.145", "81.169.145.1.5", "999.1.1.1", "81.169.145.1:443", "[2a00:1450::1]",
     "81.169.145.1, 8.8.8.8", "٨١.١٦٩.١٤٥.١", "2a00:1450::1::1", "x" * 10_000, 1234],
)  # fmt: skip
def test_it_gives_no_location_for_garbage(test_db, ip):
    assert lookup(ip) == Location()


def test_the_edge_country_header_wins_over_a_different_database_country(test_db):
    assert lookup("81.169.145.1", headers_country="fr") == Location("FR", "", "")
    assert lookup("10.1.2.3", headers_country="CH") == Location("CH", "", "")


def test_the_edge_country_header_keeps_region_and_city_when_it_agrees(test_db):
    assert lookup("81.169.145.1", headers_country="DE") == Location("DE", "DE-BE", "Berlin")


@pytest.mark.parametrize("header", [None, "", "XX", "T1", "ZZ", "EU", "A1", "XK1", "D", "1A", "Ü1", "de-BE", "  "])
def test_unknown_tor_and_junk_country_headers_are_ignored(test_db, header):
    assert lookup("81.169.145.1", headers_country=header) == Location("DE", "DE-BE", "Berlin")


def test_it_reads_the_country_header_named_in_settings(settings):
    settings.GEOIP_COUNTRY_HEADER = "CF-IPCountry"
    assert geo.header_country({"CF-IPCountry": "DE"}) == "DE"
    assert geo.header_country({}) is None
    settings.GEOIP_COUNTRY_HEADER = None
    assert geo.header_country({"CF-IPCountry": "DE"}) is None


def test_the_packaged_default_database_answers_offline(use_database):
    use_database(None)
    assert lookup("8.8.8.8").country == "US"
    assert lookup("81.169.145.1") == Location("DE", "DE-BE", "Berlin")
    assert lookup("2a00:1450:4001:80b::200e").country == "DE"
    assert geo._database.reader().metadata().database_type == "GeoLite2-City"


def test_a_database_that_cannot_be_opened_degrades_to_unknown_and_never_logs_the_ip(use_database, tmp_path, caplog):
    broken = tmp_path / "broken.mmdb"
    broken.write_bytes(b"this is not a MaxMind database")
    use_database(str(broken))
    with caplog.at_level(logging.ERROR, logger="tracking.geo"):
        assert lookup("81.169.145.1") == Location()
        assert lookup("81.169.145.2") == Location()
    assert len(caplog.records) == 1
    assert "broken.mmdb" in caplog.text
    assert "81.169.145" not in caplog.text


def test_an_ipv4_only_database_answers_ipv6_with_no_location(use_database, tmp_path):
    writer = MMDBWriter(ip_version=4, database_type="Humblytics-Test-Country")
    writer.insert_network(IPSet(["81.169.145.0/24"]), {"country": {"iso_code": "DE"}})
    path = tmp_path / "v4.mmdb"
    writer.to_db_file(str(path))
    use_database(str(path))
    assert lookup("81.169.145.1") == Location("DE", "", "")
    assert lookup("2a00:1450:4001:80b::200e") == Location()


def test_the_reader_uses_the_c_extension(test_db):
    assert lookup("8.8.8.8").country == "US"
    assert type(geo._database.reader()).__module__ == "maxminddb.extension"


def _settings_check(**env):
    base = {key: value for key, value in os.environ.items() if not key.startswith("GEOIP_")}
    base.pop("DATABASE_URL", None)
    base.update(DEBUG="true", **env)
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=base, capture_output=True, text=True, timeout=60
    )


def test_settings_refuse_a_geoip_database_that_does_not_exist(tmp_path):
    missing = str(tmp_path / "GeoLite2-City.mmdb")
    result = _settings_check(GEOIP_DATABASE=missing)
    assert result.returncode != 0
    assert f"GEOIP_DATABASE points at {missing!r}, which is not a file" in result.stderr


def test_settings_refuse_a_country_header_that_is_not_a_header_name():
    result = _settings_check(GEOIP_COUNTRY_HEADER="CF IPCountry")
    assert result.returncode != 0
    assert "GEOIP_COUNTRY_HEADER must be a header name like CF-IPCountry, got 'CF IPCountry'" in result.stderr


def test_settings_accept_an_existing_database_and_a_header_name(test_database):
    result = _settings_check(GEOIP_DATABASE=test_database, GEOIP_COUNTRY_HEADER="CF-IPCountry")
    assert result.returncode == 0, result.stderr
