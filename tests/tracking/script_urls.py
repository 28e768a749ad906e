"""A URLconf with only the tracker route, so the view's tests do not depend on how the root URLconf is wired."""

from django.urls import path

from tracking.script_view import serve_script

urlpatterns = [path("js/script.js", serve_script)]
