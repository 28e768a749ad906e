from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="sites:list", permanent=False)),
    path("", include("tracking.urls")),
    path("", include("splittests.tracker_urls")),
    path("accounts/", include("accounts.urls")),
    path("sites/", include("sites.urls")),
    path("sites/", include("dashboard.urls")),
    path("sites/", include("splittests.urls")),
    path("api/v2/splittests/", include("splittests.api_urls")),
    path("api/v2/", include("dashboard.api_urls")),
    path("admin/", admin.site.urls),
]
