"""Stats API authentication: `Authorization: Bearer <site API key>`, nothing else (no session, no CSRF).

The key authenticates a site, not a person: `request.auth` is the ApiKey (with `.site`), `request.user`
stays None. Every failure is a 401 carrying `WWW-Authenticate: Bearer`, with a message that says
what to fix but never whether a key exists.
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission

from sites.services import apikey_authenticate

MISSING = "Missing API key: send the header Authorization: Bearer <your site API key>"
MALFORMED = "Malformed Authorization header: use Authorization: Bearer <your site API key>"
INVALID = "Invalid API key: it is unknown or has been revoked"


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header.strip():
            raise AuthenticationFailed(MISSING)
        parts = header.split()
        if len(parts) != 2 or parts[0].lower() != "bearer":
            raise AuthenticationFailed(MALFORMED)
        api_key = apikey_authenticate(key=parts[1])
        if api_key is None:
            raise AuthenticationFailed(INVALID)
        return (None, api_key)

    def authenticate_header(self, request):
        return "Bearer"


class HasApiKey(BasePermission):
    """Belt and braces: authentication above already refuses requests without a valid key."""

    def has_permission(self, request, view):
        return request.auth is not None


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "dashboard.authentication.ApiKeyAuthentication"
    name = "siteApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A site API key (hly_…), issued on the site's API keys settings tab.",
        }
