"""API key material: `crm_<random>` so secret scanners can spot a leaked one; stored as SHA-256."""

import hashlib
import secrets

PREFIX = "crm_"


def new_key() -> str:
    """A fresh API key (256 random bits)."""
    return PREFIX + secrets.token_urlsafe(32)


def key_hash(key: str) -> bytes:
    """What is stored: a SHA-256 digest (keys are random, so no slow hash is needed)."""
    return hashlib.sha256(key.encode()).digest()


def display_prefix(key: str) -> str:
    """The first characters, shown in lists so people can tell keys apart."""
    return key[:12]
