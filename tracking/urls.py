from django.urls import path

from tracking import views
from tracking.script_view import serve_script

urlpatterns = [
    path("api/event", views.event, name="event"),
    path("js/script.js", serve_script, name="tracker-script"),
]
