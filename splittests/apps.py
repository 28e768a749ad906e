from django.apps import AppConfig


class SplittestsConfig(AppConfig):
    name = "splittests"
    verbose_name = "Split tests"
