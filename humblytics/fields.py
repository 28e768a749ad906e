"""The one module that imports the encryption library.

Third-party secrets (a merchant's Stripe key) are encrypted at rest with a key derived from
ENCRYPTION_KEY (settings.CRYPTOGRAPHY_KEY), never SECRET_KEY, so rotating SECRET_KEY keeps them readable.
"""

from django.db import models
from django_cryptography.fields import encrypt


def EncryptedTextField(**kwargs):
    """A TextField whose column holds ciphertext only."""
    return encrypt(models.TextField(**kwargs))
