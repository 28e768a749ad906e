"""Included by humblytics/urls.py at api/v2/splittests/ (before the Stats API's own api/v2/ routes)."""

from django.urls import path

from splittests import api

app_name = "splittests_api"

urlpatterns = [
    path("", api.TestListView.as_view(), name="list"),
    path("<int:test_id>/results", api.TestResultsView.as_view(), name="results"),
]
