"""Encryption of credentials at rest (AES-256-GCM), with the key from settings or the data folder."""

from __future__ import annotations

import base64
import os
from functools import lru_cache
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from crm_api.config import Settings

_VERSION = b"\x01"


def _key_bytes(settings: Settings) -> bytes:
    return _load_key(settings.secret_key, str(Path(settings.data_dir).resolve()))


@lru_cache(maxsize=8)
def _load_key(secret_key: str | None, data_dir: str) -> bytes:
    if secret_key:
        key = base64.b64decode(secret_key)
    else:
        path = Path(data_dir) / "secret-key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(base64.b64encode(os.urandom(32)).decode() + "\n")
            path.chmod(0o600)
        key = base64.b64decode(path.read_text().strip())
    if len(key) != 32:
        raise RuntimeError("CRM_SECRET_KEY must be the base64 encoding of 32 bytes")
    return key


@lru_cache(maxsize=8)
def _cipher(key: bytes) -> AESGCM:
    return AESGCM(key)


def encrypt_bytes(settings: Settings, plaintext: bytes) -> bytes:
    """Version byte, 12-byte nonce, ciphertext with tag."""
    nonce = os.urandom(12)
    return _VERSION + nonce + _cipher(_key_bytes(settings)).encrypt(nonce, plaintext, None)


def decrypt_bytes(settings: Settings, blob: bytes) -> bytes:
    if blob[:1] != _VERSION:
        raise ValueError("unknown ciphertext version")
    return _cipher(_key_bytes(settings)).decrypt(blob[1:13], blob[13:], None)


def encrypt(settings: Settings, plaintext: str) -> bytes:
    return encrypt_bytes(settings, plaintext.encode())


def decrypt(settings: Settings, blob: bytes) -> str:
    return decrypt_bytes(settings, blob).decode()
