from django.urls import include, path

from sites import views

app_name = "sites"

# <domain> is a normalised, dot-containing host name, so it can never be "new".
urlpatterns = [
    path("", views.site_list, name="list"),
    path("new/", views.site_add, name="new"),
    path("<str:domain>/install/", views.site_install, name="install"),
    path("<str:domain>/settings/", views.settings_index, name="settings"),
    path("<str:domain>/settings/general/", views.settings_general, name="settings_general"),
    path("<str:domain>/settings/tracking/", views.settings_tracking, name="settings_tracking"),
    path("<str:domain>/settings/revenue/", include("revenue.urls")),
    path("<str:domain>/settings/goals/", views.settings_goals, name="settings_goals"),
    path("<str:domain>/settings/goals/<int:goal_id>/delete/", views.goal_delete, name="goal_delete"),
    path("<str:domain>/settings/api-keys/", views.settings_api_keys, name="settings_api_keys"),
    path("<str:domain>/settings/api-keys/<int:key_id>/revoke/", views.apikey_revoke, name="apikey_revoke"),
    path("<str:domain>/settings/members/", views.settings_members, name="settings_members"),
    path("<str:domain>/settings/members/<int:membership_id>/role/", views.member_role, name="member_role"),
    path("<str:domain>/settings/members/<int:membership_id>/remove/", views.member_remove, name="member_remove"),
    path("<str:domain>/settings/members/invites/<int:invite_id>/cancel/", views.invite_cancel, name="invite_cancel"),
    path("<str:domain>/settings/danger/", views.settings_danger, name="settings_danger"),
]
