"""Secrets at rest (access tokens, provider credentials, VAPID keys) sealed under RECLAIM_SECRET_KEY."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken


class SecretBox:
    """Encrypts tokens and credentials at rest (Fernet: AES-128-CBC + HMAC-SHA256).

    The key is derived from RECLAIM_SECRET_KEY so operators manage one secret; `purpose`
    gives each use its own key, so a value sealed for one use never opens for another.
    """

    def __init__(self, secret_key: str, purpose: str = "at-rest"):
        label = f"reclaim-{purpose}:".encode()
        self._fernet = Fernet(base64.urlsafe_b64encode(hashlib.sha256(label + secret_key.encode()).digest()))

    def seal(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken as exc:  # wrong key or tampered value
            raise ValueError("stored secret cannot be decrypted with RECLAIM_SECRET_KEY") from exc
