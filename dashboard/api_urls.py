from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from dashboard import api

app_name = "stats_api"

urlpatterns = [
    path("query", api.QueryView.as_view(), name="query"),
    path("schema", SpectacularAPIView.as_view(), name="schema"),
]
