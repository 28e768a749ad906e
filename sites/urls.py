from django.urls import path
from django.views.generic import TemplateView

app_name = "sites"

urlpatterns = [
    path("", TemplateView.as_view(template_name="base.html"), name="list"),  # replaced by the sites UI work
]
