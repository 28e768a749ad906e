"""The control page and redirect targets of a test: what the marketer types, as what the tracker compares. Pure."""

from urllib.parse import urlsplit


class PathError(ValueError):
    pass


def _on_site(host: str, domain: str) -> bool:
    host = host.lower().removeprefix("www.")
    return host == domain or host.endswith("." + domain)


def normalize_path(path: str) -> str:
    """/pricing/ and /pricing are one page; the root stays /."""
    return path.rstrip("/") or "/"


def control_path(value: str, *, domain: str) -> str:
    """`/pricing` or `https://example.com/pricing` → `/pricing` (the tracker matches location.pathname)."""
    value = (value or "").strip()
    if not value:
        raise PathError("Enter the control page's path, like /pricing.")
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        if parts.scheme not in ("http", "https") or not parts.hostname or not _on_site(parts.hostname, domain):
            raise PathError(f"The control page must be on {domain}: a path like /pricing or a URL on that domain.")
    elif not value.startswith("/"):
        raise PathError("Start the path with /, like /pricing.")
    if parts.query or parts.fragment:
        raise PathError("Leave out the query string and #fragment: the test runs on the path, whatever follows it.")
    if len(parts.path) > 2000:
        raise PathError("The path is longer than 2,000 characters.")
    return normalize_path(parts.path or "/")


def redirect_target(value: str, *, domain: str, control: str) -> str:
    """A path (`/pricing-b`) or an absolute URL on the site's domain (or a subdomain); never the control itself."""
    value = (value or "").strip()
    if not value:
        raise PathError("Enter the URL this variant redirects to, like /pricing-b.")
    if len(value) > 2000:
        raise PathError("The URL is longer than 2,000 characters.")
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise PathError("Use a path like /pricing-b or an http(s) URL.")
        if not _on_site(parts.hostname, domain):
            raise PathError(f"Redirect within {domain} (or its subdomains), where the tracker records the exposure.")
    elif not value.startswith("/") or value.startswith("//"):
        raise PathError("Start the path with /, like /pricing-b.")
    if any(ch.isspace() for ch in value) or "\\" in value:
        raise PathError("The URL may not contain spaces or backslashes.")
    # The control page by path, or by URL on the site's own host (a subdomain may have its own page at that path).
    same_host = not (parts.scheme or parts.netloc) or parts.hostname.lower().removeprefix("www.") == domain
    if same_host and normalize_path(parts.path) == control:
        raise PathError("A redirect to the control page itself would loop.")
    return value
