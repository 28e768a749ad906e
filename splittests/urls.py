"""The Split tests tab, under /sites/<domain>/split-tests/ (included by humblytics/urls.py)."""

from django.urls import path

from splittests import views

app_name = "splittests"

urlpatterns = [
    path("<str:domain>/split-tests/", views.test_list, name="list"),
    path("<str:domain>/split-tests/new/", views.test_new, name="new"),
    path("<str:domain>/split-tests/calculator/", views.calculator, name="calculator"),
    path("<str:domain>/split-tests/<int:test_id>/", views.test_detail, name="detail"),
    path("<str:domain>/split-tests/<int:test_id>/edit/", views.test_edit, name="edit"),
    path("<str:domain>/split-tests/<int:test_id>/results.csv", views.test_csv, name="csv"),
    path("<str:domain>/split-tests/<int:test_id>/declare/", views.test_declare, name="declare"),
    path("<str:domain>/split-tests/<int:test_id>/<slug:action>/", views.test_action, name="action"),
]
