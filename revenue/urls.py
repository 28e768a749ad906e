"""The Revenue settings tab. Included by sites/urls.py under <domain>/settings/revenue/, so these names live
in the "sites" namespace beside the other tabs (sites:settings_revenue is what the tab bar links to)."""

from django.urls import path

from revenue import views

urlpatterns = [
    path("", views.revenue_tab, name="settings_revenue"),
    path("sync/", views.revenue_sync, name="revenue_sync"),
    path("disconnect/", views.revenue_disconnect, name="revenue_disconnect"),
    path("payments/", views.revenue_payments, name="revenue_payments"),
]
