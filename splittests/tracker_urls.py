"""The split tests' tracker endpoint, beside /api/event (the per-site script is /js/script.js?site=…)."""

from django.urls import path

from splittests import tracker_views

urlpatterns = [path("api/exposure", tracker_views.exposure, name="exposure")]
