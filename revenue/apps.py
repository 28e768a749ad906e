from django.apps import AppConfig


class RevenueConfig(AppConfig):
    name = "revenue"
    verbose_name = "Revenue"

    def ready(self):
        # Registers the revenue metrics with the query engine and their cards with the dashboard.
        from revenue import metrics  # noqa: F401
