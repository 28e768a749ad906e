"""Stats API keys: generation and hashing. Pure: no Django imports.

A key looks like `hly_<prefix><secret>`: a 12-character lookup prefix (stored in clear, indexed,
shown in the UI) and a 32-character secret. The database keeps only the prefix and
HMAC-SHA256(pepper, whole key), so a leaked table cannot be replayed and, unlike a slow password
hash, checking a key costs microseconds on every API call.
"""

import hashlib
import hmac
import re
import secrets
import string

KEY_PREFIX = "hly_"
PREFIX_LENGTH = 12
SECRET_LENGTH = 32
_ALPHABET = string.ascii_letters + string.digits
_KEY_RE = re.compile(rf"^{KEY_PREFIX}[A-Za-z0-9]{{{PREFIX_LENGTH + SECRET_LENGTH}}}$")


def generate_key():
    """Returns (key, prefix)."""
    body = "".join(secrets.choice(_ALPHABET) for _ in range(PREFIX_LENGTH + SECRET_LENGTH))
    key = KEY_PREFIX + body
    return key, body[:PREFIX_LENGTH]


def digest_key(key, pepper):
    return hmac.new(pepper.encode(), key.encode(), hashlib.sha256).hexdigest()


def split_key(key):
    """The lookup prefix of a well-formed key, or None for anything else."""
    if not isinstance(key, str) or not _KEY_RE.fullmatch(key):  # fullmatch: `$` accepts a trailing newline
        return None
    return key[len(KEY_PREFIX) : len(KEY_PREFIX) + PREFIX_LENGTH]


def digests_match(key, pepper, stored_digest):
    return hmac.compare_digest(digest_key(key, pepper), stored_digest)
