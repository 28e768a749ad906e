"""GET /js/script.js: the built tracker, cacheable, gzipped when asked, for any origin, without a cookie."""

import gzip

import pytest
from django.test import override_settings

from tracking import script_view
from tracking.script_view import SCRIPT_PATH, _accepts_gzip

pytestmark = pytest.mark.django_db
URL = "/js/script.js"


@pytest.fixture(autouse=True)
def _tiny_urlconf():
    with override_settings(ROOT_URLCONF="tests.tracking.script_urls"):
        yield


@pytest.fixture
def script_bytes():
    return SCRIPT_PATH.read_bytes()


def _etag(client):
    return client.get(URL)["ETag"]


def test_it_serves_the_built_script_with_its_headers(client, script_bytes):
    response = client.get(URL)

    assert response.status_code == 200
    assert response.content == script_bytes
    assert response["Content-Type"] == "application/javascript; charset=utf-8"
    assert response["Content-Length"] == str(len(script_bytes))
    assert response["Cache-Control"] == "public, max-age=3600, stale-while-revalidate=86400"
    assert response["Access-Control-Allow-Origin"] == "*"
    assert response["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert response["Vary"] == "Accept-Encoding"
    assert response["ETag"].startswith('W/"') and len(response["ETag"]) > 10
    assert not response.has_header("Content-Encoding")
    assert not response.has_header("Set-Cookie")
    assert response.cookies == {}


def test_it_gzips_when_the_client_accepts_it(client, script_bytes):
    response = client.get(URL, headers={"Accept-Encoding": "br, gzip;q=0.8, deflate"})

    assert response.status_code == 200
    assert response["Content-Encoding"] == "gzip"
    assert response["Content-Length"] == str(len(response.content))
    assert len(response.content) < len(script_bytes)
    assert gzip.decompress(response.content) == script_bytes
    assert response["Vary"] == "Accept-Encoding"
    assert response["Content-Type"] == "application/javascript; charset=utf-8"


def test_it_gzips_once_per_process(client, monkeypatch):
    client.get(URL, headers={"Accept-Encoding": "gzip"})
    calls = []
    monkeypatch.setattr(script_view.gzip, "compress", lambda *a, **k: calls.append(a) or b"")

    response = client.get(URL, headers={"Accept-Encoding": "gzip"})

    assert response.status_code == 200
    assert gzip.decompress(response.content) == SCRIPT_PATH.read_bytes()
    assert calls == []


@pytest.mark.parametrize("accept", ["", "br", "identity", "gzip;q=0", "gzip;q=0.0, br", "*, gzip;q=0"])
def test_it_sends_plain_bytes_when_gzip_is_not_accepted(client, script_bytes, accept):
    response = client.get(URL, headers={"Accept-Encoding": accept})

    assert response.content == script_bytes
    assert not response.has_header("Content-Encoding")


@pytest.mark.parametrize(
    ("header", "expected"),
    [("gzip", True), ("GZIP", True), ("deflate, gzip", True), ("gzip;q=0.001", True), ("*", True),
     ("*;q=0", False), ("gzip;q=0", False), ("gzip;q=nonsense", False), ("x-gzip", False), ("", False)],
)  # fmt: skip
def test_it_reads_accept_encoding_q_values(header, expected):
    assert _accepts_gzip(header) is expected


def test_the_etag_is_the_same_for_both_encodings(client):
    plain = client.get(URL)
    zipped = client.get(URL, headers={"Accept-Encoding": "gzip"})

    assert plain["ETag"] == zipped["ETag"]


@pytest.mark.parametrize("form", ["{etag}", "{bare}", '"other", {etag}', "*"])
def test_it_answers_304_when_the_etag_matches(client, form):
    etag = _etag(client)
    header = form.format(etag=etag, bare=etag.removeprefix("W/"))

    response = client.get(URL, headers={"If-None-Match": header, "Accept-Encoding": "gzip"})

    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == etag
    assert response["Cache-Control"] == "public, max-age=3600, stale-while-revalidate=86400"
    assert response["Access-Control-Allow-Origin"] == "*"
    assert not response.has_header("Content-Encoding")
    assert not response.has_header("Set-Cookie")


def test_it_serves_the_script_again_when_the_etag_is_old(client, script_bytes):
    response = client.get(URL, headers={"If-None-Match": 'W/"0123456789abcdef0123"'})

    assert response.status_code == 200
    assert response.content == script_bytes


def test_head_gets_the_headers_without_the_body(client, script_bytes):
    response = client.head(URL)

    assert response.status_code == 200
    assert response.content == b""
    assert response["Content-Length"] == str(len(script_bytes))
    assert response["Content-Type"] == "application/javascript; charset=utf-8"
    assert not response.has_header("Set-Cookie")


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete", "options"])
def test_it_refuses_other_methods_with_405(client, method):
    response = getattr(client, method)(URL)

    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
    assert not response.has_header("Set-Cookie")


def test_it_sets_no_cookie_even_for_a_logged_in_user(login, charlie):
    # Anyone may load the script, members or not; it never touches the session.
    client = login(charlie)

    response = client.get(URL, headers={"Accept-Encoding": "gzip"})

    assert response.status_code == 200
    assert not response.has_header("Set-Cookie")
    assert response.cookies == {}
