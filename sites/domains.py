"""Normalising and validating a site's domain. Pure: no Django imports.

A site is identified by its bare host name: lowercase, no scheme, user info, port, path, query
or fragment, no trailing dot, IDN converted to punycode (IDNA 2008 with UTS #46 mapping), and
the leading `www.` removed so that `www.example.com` and `example.com` are one site — the
tracker applies the same rule to `data-domain` and to page URLs.
"""

import ipaddress
import re

import idna

MAX_INPUT_LENGTH = 300
MAX_DOMAIN_LENGTH = 253
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


class DomainError(ValueError):
    """The text cannot be a site's domain; the message says why, for a form or CLI."""


def normalize_domain(text):
    if text is None:
        raise DomainError("Enter a domain, like example.com.")
    if not isinstance(text, str):
        raise DomainError("A domain must be text.")
    if len(text) > MAX_INPUT_LENGTH:
        raise DomainError(f"That is too long for a domain (at most {MAX_DOMAIN_LENGTH} characters).")
    host = text.strip()
    if not host:
        raise DomainError("Enter a domain, like example.com.")
    host = _SCHEME.sub("", host)
    if host.startswith("//"):
        host = host[2:]
    # Cut the path, query and fragment, then any user info and port.
    host = re.split(r"[/?#\\]", host, maxsplit=1)[0]
    host = host.rsplit("@", 1)[-1]
    if host.startswith("["):
        raise DomainError("Use a domain name, not an IP address.")
    if ":" in host:
        host, _, port = host.partition(":")
        if port and not port.isdigit():
            raise DomainError("That does not look like a domain.")
    host = host.strip().rstrip(".")
    if any(ch.isspace() for ch in host) or not host:
        raise DomainError("That does not look like a domain.")
    if _is_ip(host):
        raise DomainError("Use a domain name, not an IP address.")
    if len(host) > MAX_DOMAIN_LENGTH:
        raise DomainError(f"That is too long for a domain (at most {MAX_DOMAIN_LENGTH} characters).")
    try:
        host = idna.encode(host, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        raise DomainError("That domain contains characters that are not allowed.") from None
    host = strip_www(host.lower())
    _validate_ascii_host(host)
    return host


def strip_www(host):
    """`www.example.com` -> `example.com`, but `www.com` stays itself."""
    return host[4:] if host.startswith("www.") and host.count(".") >= 2 else host


def _is_ip(host):
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _validate_ascii_host(host):
    if len(host) > MAX_DOMAIN_LENGTH:
        raise DomainError(f"That is too long for a domain (at most {MAX_DOMAIN_LENGTH} characters).")
    labels = host.split(".")
    if len(labels) < 2:
        raise DomainError("Enter a full domain with a dot, like example.com.")
    for label in labels:
        if not _LABEL.match(label):
            raise DomainError("That does not look like a domain: use letters, digits, hyphens and dots.")
    if labels[-1].isdigit():
        raise DomainError("Use a domain name, not an IP address.")
