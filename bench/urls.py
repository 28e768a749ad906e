"""The app's URLs plus /bench/ceiling; used only by bench/settings.py."""

from django.urls import path

from bench.ceiling import ceiling
from humblytics.urls import urlpatterns as app_urlpatterns

# First, so the ceiling pays the least URL resolving: the comparison errs against our view.
urlpatterns = [path("bench/ceiling", ceiling), *app_urlpatterns]
