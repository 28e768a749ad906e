"""The one module that imports the encryption library.

Third-party secrets (a merchant's Stripe key) are encrypted at rest with a key derived from
ENCRYPTION_KEY (settings.CRYPTOGRAPHY_KEY), never SECRET_KEY, so rotating SECRET_KEY keeps them readable.
"""

from django_cryptography.fields import encrypt
from django.db import models


def EncryptedTextField(**kwargs):  # noqa: N802 - reads like a field class at the call site
    """A TextField whose column holds ciphertext only."""
    return encrypt(models.TextField(**kwargs))
