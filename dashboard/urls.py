from django.urls import path

from dashboard import views

app_name = "dashboard"

# Included under sites/ after sites.urls: <domain>/install/ and <domain>/settings/… are matched there first.
urlpatterns = [
    path("<str:domain>/", views.dashboard, name="dashboard"),
    path("<str:domain>/details/<str:breakdown>/", views.details, name="details"),
    path("<str:domain>/export.csv", views.export_csv, name="export"),
    path("<str:domain>/realtime.json", views.realtime, name="realtime"),
]
