"""Where the IP address and the User-Agent die. Pure: no Django imports.

The visitor id is a keyed BLAKE2b hash of (site, IP, User-Agent) under a random salt that rotates
every day at midnight UTC and is deleted after 48 hours. Once a salt is gone nobody, us included, can
link a visitor id back to an IP or across days. Neither the IP nor the User-Agent leaves this module's
callers: only the hash and parsed, coarse fields are queued or stored.
"""

import hashlib
import ipaddress
import re

_MASK_63 = (1 << 63) - 1
# A dotted-quad IPv4 address in canonical form (no leading zeros): what ipaddress would print back.
_IPV4 = re.compile(r"(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)")


def visitor_id(*, salt, site_id, ip, user_agent):
    """A stable, non-reversible 63-bit id for one visitor of one site on one salt day."""
    digest = hashlib.blake2b(
        f"{site_id}|{ip}|{user_agent}".encode("utf-8", "surrogatepass"), key=salt, digest_size=8
    ).digest()
    return int.from_bytes(digest, "big") & _MASK_63


def client_ip(meta, trusted_proxy_count):
    """The client's IP: REMOTE_ADDR, or X-Forwarded-For read through exactly `trusted_proxy_count` hops.

    Each trusted proxy appends the address it saw, so with N trusted proxies the client is the Nth
    entry from the right; anything further left was written by the client and cannot be trusted.
    """
    remote = meta.get("REMOTE_ADDR", "")
    if trusted_proxy_count <= 0:
        return _valid_ip(remote) or ""
    forwarded = [part.strip() for part in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if not forwarded:
        return _valid_ip(remote) or ""
    candidate = forwarded[-trusted_proxy_count] if len(forwarded) >= trusted_proxy_count else forwarded[0]
    return _valid_ip(candidate) or _valid_ip(remote) or ""


def _valid_ip(text):
    if _IPV4.fullmatch(text):  # the common case, ~10x cheaper than ipaddress
        return text
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None
