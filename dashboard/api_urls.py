from django.urls import path  # noqa: F401 - the Stats API routes are added here

app_name = "stats_api"

urlpatterns = []
