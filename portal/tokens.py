"""Secret tokens (invitations, re-entry links, password resets).

A token is 32 bytes from ``secrets`` (256 bits), shown once, and stored only as its
SHA-256 hash: a copy of the database does not let anyone in.
"""

from __future__ import annotations

import hashlib
import secrets

TOKEN_BYTES = 32


def new_token() -> tuple[str, str]:
    """Return ``(token, hash)``; keep the hash, hand out the token."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
