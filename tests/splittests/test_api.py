"""Split-test results through the Stats API: site API keys, 401/403/404/400, and whole answers."""

import pytest
from django.test import Client

from tests.splittests.conftest import control_of, expose, variant_named


@pytest.fixture(autouse=True)
def _isolated_cache(isolated_cache):
    pass


def get(key, path, **params):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"} if key else {}
    return Client().get(f"/api/v2/splittests/{path}", params, **headers)


def test_it_answers_a_tests_results(key, running):
    for visitor in range(3):
        expose(running, control_of(running), visitor)
    expose(running, variant_named(running, "B"), 10)
    response = get(key, f"{running.pk}/results", site_id="example.com")
    assert response.status_code == 200
    body = response.json()
    assert body["test"] | {"started_at": None} == {
        "id": running.pk, "name": "Pricing headline", "status": "running", "page": "/pricing", "goal": "Any revenue",
        "randomization": "user", "started_at": None, "stopped_at": None, "winner": None,
    }  # fmt: skip
    assert body["results"] == "sequential" and body["fixed_horizon_available"] is False
    assert body["currency"] == "USD"
    control, b = body["variants"]
    assert (control["name"], control["control"], control["visitors"], control["conversions"]) == ("Control", True, 3, 0)
    assert control["conversion_rate"] == {"value": 0.0, "low": 0.0, "high": pytest.approx(0.5615, abs=1e-4),
                                          "reason": None}  # fmt: skip
    assert (b["visitors"], b["revenue"], b["can_declare"]) == (1, "0.00", False)
    assert b["uplift"] == {"value": None, "low": None, "high": None, "reason": "no conversions in control"}
    assert b["p_value"]["value"] is None and b["p_value"]["reason"] == "no conversions in either variant"
    assert body["sample_ratio_mismatch"]["mismatch"] is False


def test_it_lists_the_sites_tests(key, running, draft):
    body = get(key, "").json()
    assert [(t["id"], t["status"]) for t in body["results"]] == [(running.pk, "running")]


@pytest.mark.parametrize(
    ("header", "message"),
    [(None, "Missing API key"), ("nope", "Invalid API key")],
)
def test_it_refuses_requests_without_a_valid_key(running, header, message):
    response = get(header, f"{running.pk}/results")
    assert response.status_code == 401
    assert response.json()["error"].startswith(message)
    assert response["WWW-Authenticate"] == "Bearer"


def test_another_sites_key_cannot_read_the_test(charlies_key, running):
    response = get(charlies_key, f"{running.pk}/results")
    assert response.status_code == 404
    assert response.json() == {"error": f"No split test {running.pk} on charlie.dev"}
    assert get(charlies_key, f"{running.pk}/results", site_id="example.com").status_code == 403


def test_another_site_id_is_a_403(key, running):
    response = get(key, f"{running.pk}/results", site_id="other.example")
    assert (response.status_code, response.json()) == (403, {"error": "This API key cannot read other.example"})


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"results": "bayesian"}, "results: 'bayesian' is not one of sequential, fixed-horizon"),
        ({"results": "fixed-horizon"}, "results: fixed-horizon results are available once every variant"),
        ({"site_id": "not a domain"}, "site_id: "),
        ({"limit": "5"}, "limit: unknown parameter"),
    ],
)
def test_bad_parameters_are_a_400_naming_them(key, running, params, message):
    response = get(key, f"{running.pk}/results", **params)
    assert response.status_code == 400
    assert response.json()["error"].startswith(message)


def test_an_unknown_test_is_a_404(key, running):
    assert get(key, "999999/results").status_code == 404
    assert get(key, f"{10**30}/results").status_code == 404  # beyond bigint: not a DataError


def test_another_sites_key_lists_none_of_its_tests(charlies_key, running):
    assert get(charlies_key, "").json() == {"results": []}
    assert get(charlies_key, "", site_id="example.com").status_code == 403


def test_it_is_rate_limited_per_key(key, running, settings):
    settings.STATS_API_BURST = 2
    assert [get(key, f"{running.pk}/results").status_code for _ in range(3)] == [200, 200, 429]
